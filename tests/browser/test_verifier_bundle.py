"""DivocVerifier (static/vendor/divoc-verifier.js) in the browser, on DIVOC's own vectors.

The page's verifier must agree with DIVOC's (jsonld-signatures 6 / rdf-canonize 1.2): a TAB
or another control character in a name is not escaped in canonical N-Quads there, while
rdf-canonize >= 4 escapes it, so a bundle built with it would reject such credentials.
"""
from __future__ import annotations

import io
import json
import zipfile

import pytest

from certify.credentials import (
    build_vaccination_credential,
    context_alias,
    generate_ed25519,
    generate_rsa,
    load_context,
    make_document_loader,
    pack_qr_payload,
    sign_credential,
)
from tests.conftest import INTEROP

from .pages import VerifyPage

DIVOC = INTEROP / "divoc"
CTX = "https://divoc.test/credentials/vaccination/v2"
BASE_CONTEXTS = {
    "https://www.w3.org/2018/credentials/v1": "credentials-v1",
    "https://w3id.org/security/v1": "security-v1",
    "https://w3id.org/security/v2": "security-v2",
}


def vector(name: str) -> dict:
    return json.loads((DIVOC / name).read_text())


@pytest.fixture
def verifier(page, live_server):
    VerifyPage(page, live_server.url).open()

    def run(script: str, *args):
        return page.evaluate(script, list(args))

    return run


def divoc_trust() -> dict:
    contexts = {url: load_context(name) for url, name in BASE_CONTEXTS.items()}
    contexts["https://divoc.dev/credentials/vaccination/v1"] = json.loads(
        (DIVOC / "context-vaccination-v1.json").read_text())
    keys = json.loads((DIVOC / "ed25519-keys.json").read_text())
    return {"keys": [
        {"id": "did:india", "type": "Ed25519VerificationKey2018", "publicKeyBase58": keys["publicKeyBase58"]},
        {"id": "did:india", "type": "RsaVerificationKey2018", "publicKeyPem": (DIVOC / "rsa-public.pem").read_text()},
    ], "contexts": contexts}


VERIFY = "([c, t, r]) => DivocVerifier.verify(c, t, r)"


def test_divoc_vectors(verifier):
    trust = divoc_trust()
    none = {"entries": []}
    assert verifier(VERIFY, vector("ed25519-signed-valid.json"), trust, none)["status"] == "valid"
    assert verifier(VERIFY, vector("rsa-signed-valid.json"), trust, none)["status"] == "valid"
    tampered = verifier(VERIFY, vector("rsa-signed-tampered.json"), trust, none)
    assert tampered["status"] == "invalid"
    assert [r["code"] for r in tampered["reasons"]] == ["bad_signature"]
    assert tampered["certificate"] is None


def test_specific_reasons(verifier):
    trust = divoc_trust()
    cred = vector("ed25519-signed-valid.json")

    def code(c, t=trust):
        return verifier(VERIFY, c, t, {"entries": []})["reasons"][0]["code"]

    assert code(cred, {**trust, "keys": []}) == "unknown_key"
    assert code({**cred, "type": ["VerifiableCredential"]}) == "not_divoc"
    assert code({**cred, "@context": ["https://example.org/x"]}) == "not_divoc"
    unknown_ctx = {**cred, "@context": [cred["@context"][0], "https://evil.example/ctx"]}
    assert code(unknown_ctx) == "unknown_context"
    # an inline context could show one name and sign another
    remapped = json.loads(json.dumps(cred))
    remapped["credentialSubject"]["@context"] = {"name": None}
    assert code(remapped) == "not_divoc"
    assert code({k: v for k, v in cred.items() if k != "proof"}) == "no_signature"
    assert verifier(VERIFY, cred, None, None)["reasons"][0]["code"] == "trust_missing"
    revoked = verifier(VERIFY, cred, trust, {"entries": [
        {"certificateId": "undefined", "status": "revoked", "time": "2021-09-01T00:00:00Z", "reason": ""}]})
    assert revoked["status"] == "valid"  # DIVOC's v1 vector has no certificate id to match


@pytest.mark.parametrize("name", ["Tab\tName", "Ctrl\x01\x7f\x08\x0c", "Quote \"Q\" O'Brien\\", "Emoji 😀 𝒜",
                                  "देवनागरी नाम", "Line\u2028Sep\r\n"])
def test_python_signed_credentials_verify_in_the_browser(verifier, name):
    """Signed by certify.credentials (rdf-canonize 1.2 escaping), checked by the bundle."""
    from tests.factories import certify_item

    loader = make_document_loader(context_alias(CTX, "vaccination-v2"))
    ed, rsa = generate_ed25519("did:divoc:test#k1"), generate_rsa("did:divoc:test#k2")
    trust = {"keys": [
        {"id": ed.verification_method, "type": "Ed25519VerificationKey2018", "publicKeyBase58": ed.public_key_base58},
        {"id": rsa.verification_method, "type": "RsaVerificationKey2018", "publicKeyPem": rsa.public_key_pem()},
    ], "contexts": {**{u: load_context(n) for u, n in BASE_CONTEXTS.items()}, CTX: load_context("vaccination-v2")}}
    cred = build_vaccination_credential(
        certify_item(name=name), certificate_id="C1", issuer="https://divoc.test/", context_url=CTX,
        issuance_date="2021-08-27T10:57:57.237Z", evidence_base_url="https://divoc.test/vaccine/")
    for key in (ed, rsa):
        signed = sign_credential(cred, key, loader=loader)
        result = verifier(VERIFY, signed, trust, {"entries": []})
        assert result["status"] == "valid", (key.proof_type, result["reasons"])
        assert result["certificate"]["name"] == name


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
    return buf.getvalue()


def _understate_size(archive: bytes, size: int) -> bytes:
    """Patch the uncompressed size in the local header and the central directory."""
    out = bytearray(archive)
    out[22:26] = size.to_bytes(4, "little")
    cd = out.rindex(b"PK\x01\x02")
    out[cd + 24:cd + 28] = size.to_bytes(4, "little")
    return bytes(out)


def test_unpack_accepts_divoc_payload_forms_and_refuses_bombs(verifier):
    cred = vector("ed25519-signed-valid.json")
    raw = pack_qr_payload(cred)
    mangled = raw.decode("latin-1").encode("utf-8")  # DIVOC's Node path
    plain = json.dumps(cred).encode()
    unpack = "([b]) => { try { return DivocVerifier.unpack(new Uint8Array(b)).credentialSubject.name }" \
             " catch (e) { return 'ERR ' + e.message } }"
    for payload in (raw, mangled, plain):
        assert verifier(unpack, list(payload)) == "Bhaya Mitra"
    bomb = _zip({"certificate.json": b"{" + b" " * 5_000_000 + b"}"})
    assert len(bomb) < 16 * 1024
    assert verifier(unpack, list(bomb)).startswith("ERR certificate.json declares 5000002 bytes")
    liar = _understate_size(bomb, 100)  # the declared size is never trusted
    assert verifier(unpack, list(liar)).startswith("ERR certificate is larger than 65536 bytes")
    assert verifier(unpack, list(b"hello")) == "ERR payload is neither a ZIP archive nor JSON"
    result = verifier("([b, t]) => DivocVerifier.verifyPayload(new Uint8Array(b), t, {entries: []})",
                      list(b"PK\x03\x04garbage"), divoc_trust())
    assert result["status"] == "invalid" and result["reasons"][0]["code"] == "unreadable_qr"
