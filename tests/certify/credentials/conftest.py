"""Fixtures for certify.credentials tests: loader and DIVOC's published keys."""

from __future__ import annotations

import pytest

from certify.credentials.contexts import (
    DocumentLoader,
    context_alias,
    make_document_loader,
)
from certify.credentials.keys import (
    Ed25519SigningKey,
    RsaSigningKey,
    RsaVerificationKey,
)

from .credentials_support import OUR_CONTEXT_URL, interop, interop_json


@pytest.fixture(scope="session")
def loader() -> DocumentLoader:
    """Bundled contexts plus our deployment's own v2 URL."""
    return make_document_loader(context_alias(OUR_CONTEXT_URL, "vaccination-v2"))


@pytest.fixture(scope="session")
def divoc_ed_key() -> Ed25519SigningKey:
    keys = interop_json("ed25519-keys.json")
    return Ed25519SigningKey.from_base58(
        keys["privateKeyBase58"], "did:india", public_key_base58=keys["publicKeyBase58"]
    )


@pytest.fixture(scope="session")
def divoc_rsa_key() -> RsaSigningKey:
    return RsaSigningKey.from_pem(interop("rsa-private.pem"), "did:india")


@pytest.fixture(scope="session")
def divoc_rsa_public() -> RsaVerificationKey:
    return RsaVerificationKey.from_pem(interop("rsa-public.pem"), "did:india")


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Override the suite-wide DB/Redis cleanup: this library needs neither."""
    return None
