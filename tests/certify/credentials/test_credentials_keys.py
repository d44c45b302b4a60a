"""Key loading, generation and export."""

from __future__ import annotations

from pathlib import Path

import base58
import pytest

from certify.credentials.keys import (
    Ed25519SigningKey,
    Ed25519VerificationKey,
    KeyFormatError,
    RsaSigningKey,
    RsaVerificationKey,
    generate_ed25519,
    generate_rsa,
    load_signing_key_pem,
    load_verification_key_pem,
)

from .credentials_support import interop, interop_json


def test_divoc_ed25519_keys_load_and_round_trip(divoc_ed_key: Ed25519SigningKey) -> None:
    published = interop_json("ed25519-keys.json")
    assert divoc_ed_key.public_key_base58 == published["publicKeyBase58"]
    assert divoc_ed_key.private_key_base58 == published["privateKeyBase58"]
    assert divoc_ed_key.verification_method == "did:india"
    public = Ed25519VerificationKey.from_base58(published["publicKeyBase58"], "did:india")
    assert public.verify(divoc_ed_key.sign(b"x"), b"x")
    assert not public.verify(divoc_ed_key.sign(b"x"), b"y")


def test_ed25519_seed_only_and_mismatch() -> None:
    published = interop_json("ed25519-keys.json")
    raw = base58.b58decode(published["privateKeyBase58"])
    seed_only = Ed25519SigningKey.from_base58(base58.b58encode(raw[:32]).decode())
    assert seed_only.public_key_base58 == published["publicKeyBase58"]
    other = generate_ed25519()
    with pytest.raises(KeyFormatError, match="does not match"):
        Ed25519SigningKey.from_base58(base58.b58encode(raw[:32] + base58.b58decode(other.public_key_base58)).decode())
    with pytest.raises(KeyFormatError):
        Ed25519SigningKey.from_base58(published["privateKeyBase58"], public_key_base58=other.public_key_base58)
    with pytest.raises(KeyFormatError):
        Ed25519SigningKey.from_base58("0OIl")  # not base58
    with pytest.raises(KeyFormatError):
        Ed25519VerificationKey.from_base58(base58.b58encode(b"short").decode())


def test_rsa_keys_from_text_bytes_and_path(divoc_rsa_key: RsaSigningKey, divoc_rsa_public: RsaVerificationKey) -> None:
    text = interop("rsa-private.pem").read_text()
    assert RsaSigningKey.from_pem(text).public_key_pem() == divoc_rsa_public.public_key_pem()
    assert RsaSigningKey.from_pem(text.encode()).public_key_pem() == divoc_rsa_public.public_key_pem()
    assert divoc_rsa_key.public_key_pem() == RsaVerificationKey.from_pem(interop("rsa-public.pem").read_bytes()).public_key_pem()
    sig = divoc_rsa_key.sign(b"data")
    assert divoc_rsa_public.verify(sig, b"data")
    assert not divoc_rsa_public.verify(sig, b"other")
    with pytest.raises(KeyFormatError):
        RsaSigningKey.from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFormatError):
        RsaVerificationKey.from_pem(generate_ed25519().public_key_pem())


def test_generated_keys_persist_and_reload(tmp_path: Path) -> None:
    ed = generate_ed25519("did:example:issuer#ed")
    rsa_key = generate_rsa("did:example:issuer#rsa")
    for key in (ed, rsa_key):
        path = tmp_path / f"{key.proof_type}.pem"
        path.write_text(key.private_key_pem())
        loaded = load_signing_key_pem(path, key.verification_method)
        assert type(loaded) is type(key)
        assert loaded.public_key_pem() == key.public_key_pem()
        public = load_verification_key_pem(key.public_key_pem(), key.verification_method)
        assert public.verify(loaded.sign(b"m"), b"m")
    assert Ed25519SigningKey.from_base58(ed.private_key_base58).public_key_base58 == ed.public_key_base58


def test_keys_are_frozen() -> None:
    key = generate_ed25519()
    with pytest.raises(AttributeError):
        key.verification_method = "did:other"  # type: ignore[misc]
