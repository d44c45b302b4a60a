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


# ------------------------------------------------------------- the signed revocation list
LIST_CHECK = "([l, t]) => DivocVerifier.verifyRevocationList(l, t)"
MERGE = "([a, b]) => DivocVerifier.mergeRevocations(a, b)"


def _revocation_list(serial: int, since, entries: list) -> dict:
    return {"type": "RevocationList", "issuer": "https://divoc.test/", "serial": serial, "since": since,
            "thisUpdate": "2026-01-01T00:00:00Z", "nextUpdate": "2026-01-02T00:00:00Z", "entries": entries}


def test_revocation_list_signatures_from_python_verify_in_the_browser(verifier):
    """certify.credentials.jws signs (Ed25519 and PS256); the bundle's canonical JSON must match byte for byte."""
    import copy

    from certify.credentials.jws import canonical_json, sign_document

    ed, rsa = generate_ed25519("did:divoc:test#k1"), generate_rsa("did:divoc:test#k2")
    trust = {"keys": [
        {"id": ed.verification_method, "type": "Ed25519VerificationKey2018", "publicKeyBase58": ed.public_key_base58},
        {"id": rsa.verification_method, "type": "RsaVerificationKey2018", "publicKeyPem": rsa.public_key_pem()},
    ], "contexts": {}}
    entries = [
        {"certificateId": "C1", "status": "revoked", "time": "2026-01-01T00:00:00Z",
         "reason": "नाम गलत था — wrong name 😀 \"quoted\" \\ tab\t nl\n ctl\x01 del\x7f \u2028 é", "zeta": {"b": 1, "a": [True, None]}},
        {"certificateId": "C2", "status": "suspended", "time": "2026-01-01T00:00:00Z", "reason": "", "until": "2026-02-01T00:00:00Z"},
    ]
    doc = _revocation_list(7, None, entries)
    assert verifier("([d]) => DivocVerifier.canonicalJson(d)", doc) == canonical_json(doc).decode("utf-8")
    for key in (ed, rsa):
        signed = sign_document(doc, key)
        assert verifier(LIST_CHECK, signed, trust) == {"ok": True}, key.jws_alg

        dropped = copy.deepcopy(signed)
        del dropped["entries"][0]
        forged = copy.deepcopy(signed)
        forged["entries"][0]["status"] = "valid"
        wrong_kid = copy.deepcopy(signed)
        wrong_kid["signature"]["kid"] = "did:divoc:test#other"
        for bad, code in ((dropped, "bad_signature"), (forged, "bad_signature"), (wrong_kid, "bad_signature")):
            result = verifier(LIST_CHECK, bad, trust)
            assert result["ok"] is False and result["code"] == code, result
    unsigned = verifier(LIST_CHECK, doc, trust)
    assert unsigned["ok"] is False and unsigned["code"] == "unsigned"
    untrusted = verifier(LIST_CHECK, sign_document(doc, generate_ed25519("did:other#k")), trust)
    assert untrusted["ok"] is False and untrusted["code"] == "unknown_key"
    no_trust = verifier(LIST_CHECK, sign_document(doc, ed), None)
    assert no_trust["ok"] is False and no_trust["code"] == "trust_missing"


def test_incremental_revocation_lists_merge(verifier):
    revoked = {"certificateId": "C1", "status": "revoked", "time": "t", "reason": "r"}
    suspended = {"certificateId": "C2", "status": "suspended", "time": "t", "reason": "r"}
    full = verifier(MERGE, None, _revocation_list(5, None, [revoked, suspended]))
    assert full["applied"] == "full" and [e["certificateId"] for e in full["list"]["entries"]] == ["C1", "C2"]
    assert "signature" not in full["list"] and full["list"]["serial"] == 5

    # C2 reinstated (status valid: dropped), C3 revoked
    delta = _revocation_list(8, 5, [{**suspended, "status": "valid"}, {**revoked, "certificateId": "C3"}])
    merged = verifier(MERGE, full["list"], delta)
    assert merged["applied"] == "delta" and merged["list"]["serial"] == 8
    assert sorted(e["certificateId"] for e in merged["list"]["entries"]) == ["C1", "C3"]

    assert verifier(MERGE, merged["list"], _revocation_list(9, 9, []))["applied"] == "gap"  # starts after 8
    assert verifier(MERGE, None, _revocation_list(9, 8, []))["applied"] == "gap"  # nothing to apply it to
    assert verifier(MERGE, merged["list"], _revocation_list(2, 8, []))["applied"] == "gap"  # server reset
    assert verifier(MERGE, merged["list"], _revocation_list(6, 5, []))["applied"] == "stale"
    older_full = verifier(MERGE, merged["list"], _revocation_list(3, None, [revoked]))
    assert older_full["applied"] == "stale" and older_full["list"]["serial"] == 8
