"""DIVOC proofs: the published vectors, re-signing, our own credentials, bad input."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from certify.credentials.contexts import DocumentLoader, make_document_loader
from certify.credentials.keys import (
    Ed25519SigningKey,
    RsaSigningKey,
    RsaVerificationKey,
    generate_ed25519,
)
from certify.credentials.proofs import (
    Reason,
    VerificationResult,
    sign_credential,
    sign_many,
    verify_credential,
)

from .credentials_support import TRICKY_ITEMS, build, interop_json


def test_divoc_ed25519_vector_verifies(divoc_ed_key: Ed25519SigningKey) -> None:
    # the vectors use https://divoc.dev/credentials/vaccination/v1, bundled as v1
    result = verify_credential(interop_json("ed25519-signed-valid.json"), {"did:india": divoc_ed_key.public})
    assert result == VerificationResult(True, Reason.OK, "did:india")


def test_divoc_rsa_vector_verifies(divoc_rsa_public: RsaVerificationKey) -> None:
    result = verify_credential(interop_json("rsa-signed-valid.json"), {"did:india": divoc_rsa_public}, make_document_loader())
    assert result.valid and result.reason == "ok"


def test_divoc_rsa_tampered_vector_fails(divoc_rsa_public: RsaVerificationKey) -> None:
    result = verify_credential(interop_json("rsa-signed-tampered.json"), {"did:india": divoc_rsa_public})
    assert not result.valid
    assert result.reason == Reason.BAD_SIGNATURE == "bad signature"
    assert result.verification_method == "did:india"


def test_resigning_ed25519_vector_gives_identical_jws(divoc_ed_key: Ed25519SigningKey) -> None:
    vector = interop_json("ed25519-signed-valid.json")
    proof = vector.pop("proof")
    signed = sign_credential(vector, divoc_ed_key, created=proof["created"], loader=make_document_loader())
    assert signed["proof"] == proof
    assert signed["proof"]["jws"] == proof["jws"]


def test_resigned_rsa_vector_verifies_with_published_key(
    divoc_rsa_key: RsaSigningKey, divoc_rsa_public: RsaVerificationKey
) -> None:
    vector = interop_json("rsa-signed-valid.json")
    proof = vector.pop("proof")
    signed = sign_credential(vector, divoc_rsa_key, created=proof["created"])
    assert signed["proof"]["jws"].startswith("eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..")
    assert signed["proof"]["jws"] != proof["jws"]  # PSS is randomised
    assert verify_credential(signed, divoc_rsa_public).valid


@pytest.mark.parametrize("name", sorted(TRICKY_ITEMS))
def test_our_credentials_round_trip(
    loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey, divoc_rsa_key: RsaSigningKey, name: str
) -> None:
    credential = build(TRICKY_ITEMS[name])
    for key in (divoc_ed_key, divoc_rsa_key):
        signed = sign_credential(credential, key, loader=loader)
        assert "proof" not in credential
        assert signed["proof"]["type"] == key.proof_type
        assert signed["proof"]["created"].endswith("Z") and len(signed["proof"]["created"]) == 20
        assert verify_credential(signed, {"did:india": key.public}, loader).valid
        # survives a JSON round trip (what is stored and put in the QR code)
        assert verify_credential(json.loads(json.dumps(signed)), key, loader).valid


def _signed(loader: DocumentLoader, key: Ed25519SigningKey) -> dict[str, Any]:
    return sign_credential(build(TRICKY_ITEMS["plain"]), key, created="2021-08-27T10:57:57Z", loader=loader)


def test_sign_many_shares_created(loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey) -> None:
    creds = [build(TRICKY_ITEMS[n], certificate_id=str(i)) for i, n in enumerate(("plain", "hindi", "tamil"))]
    signed = sign_many(creds, divoc_ed_key, loader=loader)
    assert len({s["proof"]["created"] for s in signed}) == 1
    assert all(verify_credential(s, divoc_ed_key, loader).valid for s in signed)


def test_one_changed_value_or_byte_invalidates(loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey) -> None:
    signed = _signed(loader, divoc_ed_key)
    keys = {"did:india": divoc_ed_key.public}
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["name"] = "Bhaya Mitrb"
    assert verify_credential(changed, keys, loader).reason == Reason.BAD_SIGNATURE
    changed = copy.deepcopy(signed)
    changed["evidence"][0]["dose"] = 2
    assert verify_credential(changed, keys, loader).reason == Reason.BAD_SIGNATURE
    changed = copy.deepcopy(signed)
    changed["proof"]["created"] = "2021-08-27T10:57:58Z"
    assert verify_credential(changed, keys, loader).reason == Reason.BAD_SIGNATURE
    # flip one bit of the signature
    header, _, sig = signed["proof"]["jws"].split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[10] ^= 0x01
    changed = copy.deepcopy(signed)
    changed["proof"]["jws"] = header + ".." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert verify_credential(changed, keys, loader).reason == Reason.BAD_SIGNATURE


def _mutate(signed: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(signed)
    node = doc
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("proof", ..., Reason.NO_PROOF),
        ("proof", [], Reason.NO_PROOF),
        ("proof", "string", Reason.MALFORMED_PROOF),
        ("proof.type", "BbsBlsSignature2020", Reason.UNSUPPORTED_PROOF_TYPE),
        ("proof.type", "RsaSignature2018", Reason.KEY_TYPE_MISMATCH),
        ("proof.proofPurpose", "authentication", Reason.UNSUPPORTED_PROOF_PURPOSE),
        ("proof.verificationMethod", "did:other", Reason.UNKNOWN_KEY),
        ("proof.verificationMethod", ..., Reason.MALFORMED_PROOF),
        ("proof.created", "yesterday", Reason.MALFORMED_PROOF),
        ("proof.jws", ..., Reason.MALFORMED_JWS),
        ("proof.jws", "abc", Reason.MALFORMED_JWS),
        ("proof.jws", "a.b.c", Reason.MALFORMED_JWS),
        ("proof.jws", "!!!..###", Reason.MALFORMED_JWS),
        ("proof.jws", "eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..AAAA", Reason.MALFORMED_JWS),
        ("@context", ["https://www.w3.org/2018/credentials/v1", "https://nowhere.example/ctx"], Reason.CANONICALISATION_FAILED),
        ("@context", {"@version": 7}, Reason.CANONICALISATION_FAILED),
    ],
)
def test_bad_input_gives_specific_reason(
    loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey, path: str, value: Any, reason: Reason
) -> None:
    doc = _mutate(_signed(loader, divoc_ed_key), path, value)
    result = verify_credential(doc, {"did:india": divoc_ed_key.public}, loader)
    assert not result.valid
    assert result.reason == reason, result


@pytest.mark.parametrize("junk", [None, 42, "text", [], {"proof": None}, {"proof": {"type": None}}])
def test_never_raises_on_junk(junk: Any, divoc_ed_key: Ed25519SigningKey) -> None:
    result = verify_credential(junk, {"did:india": divoc_ed_key.public})
    assert not result.valid and isinstance(result.reason, str)


def test_key_resolver_and_wrong_key(loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey) -> None:
    signed = _signed(loader, divoc_ed_key)
    assert verify_credential(signed, lambda vm: divoc_ed_key.public if vm == "did:india" else None, loader).valid
    other = generate_ed25519("did:india")
    assert verify_credential(signed, other, loader).reason == Reason.BAD_SIGNATURE

    def broken(vm: str) -> None:
        raise RuntimeError("db down")

    assert verify_credential(signed, broken, loader).reason == Reason.UNKNOWN_KEY


def test_sign_rejects_already_signed_and_bad_json_ld(loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey) -> None:
    from certify.credentials.canonical import CanonicalizationError

    with pytest.raises(ValueError, match="already has a proof"):
        sign_credential(_signed(loader, divoc_ed_key), divoc_ed_key, loader=loader)
    with pytest.raises(CanonicalizationError):
        sign_credential({"@context": "https://unknown.example/"}, divoc_ed_key, loader=loader)
