"""Bundled contexts and the offline document loader."""

from __future__ import annotations

import json

import pytest

from certify.credentials.contexts import (
    CONTEXT_DIR,
    CONTEXT_NAMES,
    WELL_KNOWN_CONTEXTS,
    ContextNotAvailableError,
    context_alias,
    load_context,
    make_document_loader,
)

from .credentials_support import INTEROP


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("vaccination-v1", "context-vaccination-v1.json"),
        ("vaccination-v2", "context-vaccination-v2.json"),
        ("test-certificate-v1", "context-test-certificate-v1.json"),
    ],
)
def test_divoc_contexts_match_interop_fixtures(name: str, fixture: str) -> None:
    assert load_context(name) == json.loads((INTEROP / fixture).read_text(encoding="utf-8"))


def test_every_bundled_file_is_indexed_and_parses() -> None:
    files = {p.name for p in CONTEXT_DIR.glob("*.json")}
    assert files == {f"{n}.json" for n in CONTEXT_NAMES}
    for name in CONTEXT_NAMES:
        assert "@context" in load_context(name)
    assert set(WELL_KNOWN_CONTEXTS.values()) == set(CONTEXT_NAMES)


def test_security_and_credentials_contexts_are_the_w3c_documents() -> None:
    sec_v2 = load_context("security-v2")["@context"]
    assert sec_v2[1] == "https://w3id.org/security/v1"
    assert sec_v2[2]["Ed25519Signature2018"] == "sec:Ed25519Signature2018"
    creds = load_context("credentials-v1")["@context"]
    assert creds["VerifiableCredential"]["@id"] == "https://www.w3.org/2018/credentials#VerifiableCredential"


def test_loader_serves_well_known_and_extra_urls() -> None:
    loader = make_document_loader(context_alias("https://example.org/ctx/v2", "vaccination-v2"))
    doc = loader("https://example.org/ctx/v2", {})
    assert doc["document"] == load_context("vaccination-v2")
    assert doc["documentUrl"] == "https://example.org/ctx/v2"
    assert doc["contextUrl"] is None
    assert loader("https://w3id.org/security/v2")["document"] == load_context("security-v2")
    assert "https://cowin.gov.in/credentials/vaccination/v2" in loader.urls


def test_loader_never_fetches_unknown_urls() -> None:
    loader = make_document_loader()
    with pytest.raises(ContextNotAvailableError, match="not bundled"):
        loader("https://example.com/unknown-context", {})


def test_unknown_url_in_a_document_fails_canonicalisation_clearly() -> None:
    from certify.credentials.canonical import CanonicalizationError, canonicalize

    with pytest.raises(CanonicalizationError):
        canonicalize({"@context": "https://example.com/not-bundled", "name": "x"}, make_document_loader())


def test_load_context_returns_independent_copies() -> None:
    a = load_context("vaccination-v2")
    a["@context"]["vac"] = "changed"
    assert load_context("vaccination-v2")["@context"]["vac"] == "https://cowin.gov.in/credentials/vaccination/v2"


def test_unknown_context_name_is_rejected() -> None:
    with pytest.raises(KeyError):
        context_alias("https://example.org/x", "no-such-context")
