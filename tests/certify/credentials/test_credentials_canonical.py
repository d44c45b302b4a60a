"""Fast canonicalisation must equal pyld's URDNA2015 output."""

from __future__ import annotations

import copy
import hashlib

import pytest
from pyld import jsonld

from certify.credentials import canonical
from certify.credentials.canonical import (
    CanonicalizationError,
    canonicalize,
    canonicalize_pyld,
    canonicalize_quads,
    to_quads,
)
from certify.credentials.contexts import SECURITY_V2_URL, DocumentLoader

from .credentials_support import TRICKY_ITEMS, build, interop_json

# TAB and astral-plane characters are where pyld and DIVOC's rdf-canonize differ.
PYLD_COMPATIBLE = sorted(k for k in TRICKY_ITEMS if k not in ("tab", "emoji_and_private_use"))


def _vectors() -> list[dict]:
    docs = []
    for name in ("ed25519-signed-valid.json", "rsa-signed-valid.json", "rsa-signed-tampered.json"):
        doc = interop_json(name)
        doc.pop("proof")
        docs.append(doc)
    return docs


def test_divoc_vectors_equal_pyld(loader: DocumentLoader) -> None:
    for doc in _vectors():
        assert canonicalize(doc, loader) == canonicalize_pyld(doc, loader)


@pytest.mark.parametrize("name", PYLD_COMPATIBLE)
def test_our_credentials_equal_pyld(loader: DocumentLoader, name: str) -> None:
    doc = build(TRICKY_ITEMS[name])
    fast = canonicalize(doc, loader)
    assert fast == canonicalize_pyld(doc, loader)
    assert "_:c14n0" in fast


def test_fast_path_is_actually_used(loader: DocumentLoader) -> None:
    doc = build(TRICKY_ITEMS["plain"])
    canonicalize(doc, loader)  # compile once
    before = dict(canonical.stats)
    for i in range(5):
        doc["credentialSubject"]["name"] = f"Person {i}"
        canonicalize(doc, loader)
    assert canonical.stats["fast"] - before["fast"] == 5
    assert canonical.stats["fallback"] == before["fallback"]


def test_same_value_in_two_slots_is_deduplicated(loader: DocumentLoader) -> None:
    # date == effectiveStart gives the same triple twice; RDF datasets are sets.
    doc = build(TRICKY_ITEMS["plain"])
    doc["evidence"][0]["date"] = doc["evidence"][0]["effectiveStart"]
    assert canonicalize(doc, loader) == canonicalize_pyld(doc, loader)


@pytest.mark.parametrize(
    "subject_id",
    ["", "relative/id", "_:b7", "schema:Thing", "sec:key", "did:has space", "https://example.org/\u00e9"],
)
def test_awkward_ids_fall_back_and_still_match(loader: DocumentLoader, subject_id: str) -> None:
    doc = build(TRICKY_ITEMS["plain"])
    canonicalize(doc, loader)
    doc["credentialSubject"]["id"] = subject_id
    assert canonicalize(doc, loader) == canonicalize_pyld(doc, loader)


def test_proof_options_and_keyword_values_match(loader: DocumentLoader) -> None:
    options = {
        "@context": SECURITY_V2_URL,
        "type": "RsaSignature2018",
        "created": "2021-08-28T11:35:43Z",
        "verificationMethod": "did:india",
        "proofPurpose": "assertionMethod",
    }
    assert canonicalize(options, loader) == canonicalize_pyld(options, loader)
    assert "<https://w3id.org/security#assertionMethod>" in canonicalize(options, loader)


def test_numbers_keep_their_json_types(loader: DocumentLoader) -> None:
    doc = build(TRICKY_ITEMS["plain"])
    ints = canonicalize(doc, loader)
    doc["evidence"][0]["dose"] = 1.5
    assert canonicalize(doc, loader) == canonicalize_pyld(doc, loader)
    assert canonicalize(doc, loader) != ints
    doc["evidence"][0]["dose"] = True
    assert canonicalize(doc, loader) == canonicalize_pyld(doc, loader)


def test_tab_is_not_escaped_like_divoc(loader: DocumentLoader) -> None:
    doc = build(TRICKY_ITEMS["tab"])
    ours = canonicalize(doc, loader)
    assert '"Tab\tSeparated"' in ours
    assert '"Tab\\tSeparated"' in canonicalize_pyld(doc, loader)
    # the slow path (pyld to_rdf + our URDNA2015) agrees with the fast path
    assert canonicalize_quads(canonical._pyld_quads(doc, loader)) == ours


def test_astral_characters_sort_like_javascript(loader: DocumentLoader) -> None:
    quads = [
        ("<urn:s>", "<urn:p>", '"\U0001F489"', ""),
        ("<urn:s>", "<urn:p>", '"\uFFFD"', ""),
    ]
    # UTF-16: U+1F489 is D83D DC89 < FFFD; code point order would be the reverse
    assert canonicalize_quads(quads).splitlines()[0].endswith('"\U0001F489" .')
    doc = build(TRICKY_ITEMS["emoji_and_private_use"])
    assert canonicalize(doc, loader) == canonicalize_quads(canonical._pyld_quads(doc, loader))


def _parse(nquads: str) -> list[tuple[str, str, str, str]]:
    out = []
    for line in nquads.splitlines():
        s, p, o = line.removesuffix(" .").split(" ", 2)
        out.append((s, p, o, ""))
    return out


@pytest.mark.parametrize(
    "nquads",
    [
        # two identical leaves under one parent
        '_:root <urn:p> _:x .\n_:root <urn:p> _:y .\n_:x <urn:q> "same" .\n_:y <urn:q> "same" .\n',
        # a three-cycle: every node ties
        "_:a <urn:p> _:b .\n_:b <urn:p> _:c .\n_:c <urn:p> _:a .\n",
        # two disjoint identical pairs plus a unique node
        '_:a <urn:p> _:b .\n_:c <urn:p> _:d .\n_:e <urn:q> "u" .\n',
    ],
)
def test_blank_node_ties_use_n_degree_hashing(monkeypatch: pytest.MonkeyPatch, nquads: str) -> None:
    calls = []
    real = canonical._n_degree_labels
    monkeypatch.setattr(canonical, "_n_degree_labels", lambda *a: calls.append(1) or real(*a))
    expected = jsonld.normalize(
        nquads, {"algorithm": "URDNA2015", "inputFormat": "application/n-quads", "format": "application/n-quads"}
    )
    assert canonicalize_quads(_parse(nquads)) == expected
    assert calls, "the tie-breaking path was not exercised"


def test_identical_addresses_without_subject_id(loader: DocumentLoader) -> None:
    doc = build(TRICKY_ITEMS["plain"])
    del doc["credentialSubject"]["id"]
    doc["evidence"][0]["facility"]["address"] = copy.deepcopy(doc["credentialSubject"]["address"])
    assert canonicalize(doc, loader) == canonicalize_pyld(doc, loader)


def test_bad_documents_raise_canonicalization_error(loader: DocumentLoader) -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize({"@context": {"@version": 2}, "a": 1}, loader)
    with pytest.raises(CanonicalizationError):
        to_quads(["not", "an", "object"], loader)  # type: ignore[arg-type]


def test_digest_matches_hash_of_text(loader: DocumentLoader) -> None:
    doc = build(TRICKY_ITEMS["hindi"])
    assert canonical.sha256_canonical(doc, loader) == hashlib.sha256(canonicalize(doc, loader).encode()).digest()
