"""Every credential we issue must pass DIVOC's own verifier (certificate-signer-library).

Runs `npm install` (once, into tests/certify/credentials/node/node_modules)
and a node script that calls the library's setDocumentLoader + verifyJSON.
Missing node/npm is a failure, not a skip.
"""

from __future__ import annotations

import copy
from typing import Any

from certify.credentials.contexts import (
    DocumentLoader,
    context_alias,
    make_document_loader,
)
from certify.credentials.keys import Ed25519SigningKey, RsaSigningKey
from certify.credentials.proofs import sign_credential, verify_credential
from tests.certify.conftest import ed_config as _ed_config
from tests.certify.conftest import rsa_config as _rsa_config

from .credentials_support import OUR_CONTEXT_URL, TRICKY_ITEMS, build, interop_json


def _our_credentials() -> dict[str, dict[str, Any]]:
    creds = {name: build(item, certificate_id=str(1000 + i)) for i, (name, item) in enumerate(TRICKY_ITEMS.items())}
    # optional values omitted entirely instead of "" must verify too
    sparse = build(TRICKY_ITEMS["minimal"], certificate_id="2000")
    for key in ("dob", "nationality", "gender"):
        del sparse["credentialSubject"][key]
    del sparse["credentialSubject"]["address"]
    for key in ("batch", "manufacturer", "effectiveStart", "effectiveUntil", "icd11Code", "prophylaxis", "verifier"):
        del sparse["evidence"][0][key]
    creds["omitted_keys"] = sparse
    creds["with_urls"] = build(
        TRICKY_ITEMS["plain"], certificate_id="3000", info_base_url="https://example.org/?", feedback_base_url="https://example.org/?"
    )
    return creds


def test_divoc_vectors_sanity(divoc_verify: Any, divoc_ed_key: Ed25519SigningKey, divoc_rsa_key: RsaSigningKey) -> None:
    contexts = {"https://divoc.dev/credentials/vaccination/v1": "v1"}
    ed, rsa_results = divoc_verify(
        [
            {"config": _ed_config(divoc_ed_key), "contexts": contexts, "credentials": [interop_json("ed25519-signed-valid.json")]},
            {
                "config": _rsa_config(divoc_rsa_key),
                "contexts": contexts,
                "credentials": [interop_json("rsa-signed-valid.json"), interop_json("rsa-signed-tampered.json")],
            },
        ]
    )
    assert [r["verified"] for r in ed + rsa_results] == [True, True, False]


def test_divoc_verifier_accepts_everything_we_issue(
    divoc_verify: Any, loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey, divoc_rsa_key: RsaSigningKey
) -> None:
    from certify.credentials.keys import generate_ed25519, generate_rsa

    creds = _our_credentials()
    names = list(creds)
    groups = []
    keys: list[Ed25519SigningKey | RsaSigningKey] = [
        divoc_ed_key,
        divoc_rsa_key,
        generate_ed25519("did:example:issuer#key-1"),
        generate_rsa("did:example:issuer#key-2"),
    ]
    for key in keys:
        signed = [sign_credential(c, key, loader=loader) for c in creds.values()]
        for s in signed:
            assert verify_credential(s, key, loader).valid
        tampered = copy.deepcopy(signed[0])
        tampered["credentialSubject"]["name"] += "x"
        wrong_dose = copy.deepcopy(signed[0])
        wrong_dose["evidence"][0]["dose"] = 3
        config = _ed_config(key) if isinstance(key, Ed25519SigningKey) else _rsa_config(key)
        groups.append(
            {"config": config, "contexts": {OUR_CONTEXT_URL: "v2"}, "credentials": [*signed, tampered, wrong_dose]}
        )

    results = divoc_verify(groups)
    for key, group in zip(keys, results, strict=True):
        accepted = dict(zip(names, group[: len(names)], strict=True))
        failures = {n: r["error"] for n, r in accepted.items() if not r["verified"]}
        assert not failures, f"{type(key).__name__}: DIVOC rejected {failures}"
        assert [r["verified"] for r in group[len(names) :]] == [False, False], "DIVOC accepted a tampered credential"


def test_undefined_term_is_rejected_by_divoc_but_not_by_us(
    divoc_verify: Any, loader: DocumentLoader, divoc_ed_key: Ed25519SigningKey
) -> None:
    """Why every property must be in the v2 context: DIVOC's strict expansion fails."""
    cred = build(TRICKY_ITEMS["plain"])
    cred["credentialSubject"]["bloodGroup"] = "O+"
    signed = sign_credential(cred, divoc_ed_key, loader=loader)
    assert verify_credential(signed, divoc_ed_key, loader).valid  # pyld drops the term
    [[result]] = divoc_verify(
        [{"config": _ed_config(divoc_ed_key), "contexts": {OUR_CONTEXT_URL: "v2"}, "credentials": [signed]}]
    )
    assert not result["verified"]
    assert "bloodGroup" in (result["error"] or "")


def test_v1_context_alias_matches_divoc(
    divoc_verify: Any, divoc_ed_key: Ed25519SigningKey
) -> None:
    """A deployment serving v1 under its own URL: same bytes as DIVOC's v1 doc."""
    url = "https://example.org/credentials/vaccination/v1"
    loader = make_document_loader(context_alias(url, "vaccination-v1"))
    vector = interop_json("ed25519-signed-valid.json")
    vector.pop("proof")
    vector["@context"][1] = url
    signed = sign_credential(vector, divoc_ed_key, loader=loader)
    [[result]] = divoc_verify([{"config": _ed_config(divoc_ed_key), "contexts": {url: "v1"}, "credentials": [signed]}])
    assert result["verified"], result["error"]
