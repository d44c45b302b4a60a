"""Shape and value types of the vaccination credential."""

from __future__ import annotations

from typing import Any

import pytest

from certify.credentials.contexts import load_context
from certify.credentials.vaccination import (
    DEFAULT_ICD11,
    Icd11Vaccine,
    build_vaccination_credential,
    lookup_icd11,
    subject_id,
)

from .credentials_support import OUR_CONTEXT_URL, TRICKY_ITEMS, build


def _terms(node: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(key)
            out |= _terms(value)
    elif isinstance(node, list):
        for value in node:
            out |= _terms(value)
    return out


def test_shape_matches_divoc(loader: Any) -> None:
    cred = build(TRICKY_ITEMS["plain"])
    assert cred["@context"] == ["https://www.w3.org/2018/credentials/v1", OUR_CONTEXT_URL]
    assert cred["type"] == ["VerifiableCredential", "ProofOfVaccinationCredential"]
    subject = cred["credentialSubject"]
    assert subject["type"] == "Person"
    assert subject["id"] == "did:in.gov.uidai.aadhaar:2342343334"
    assert subject["refId"] == "12346"
    assert subject["age"] == "26" and isinstance(subject["age"], str)
    assert subject["dob"] == "1994-11-30"
    assert subject["address"] == {
        "streetAddress": "12, MG Road",
        "streetAddress2": "",
        "district": "Bengaluru Urban",
        "city": "",
        "addressRegion": "Karnataka",
        "addressCountry": "IND",
        "postalCode": "560001",
    }
    evidence = cred["evidence"][0]
    assert evidence["id"] == "https://example.org/vaccine/1234567890"
    assert evidence["certificateId"] == "1234567890"
    assert evidence["type"] == ["Vaccination"]
    assert (evidence["dose"], evidence["totalDoses"]) == (1, 2)
    assert (evidence["icd11Code"], evidence["prophylaxis"]) == ("XM9QW8", "COVID-19 vaccine, non-replicating viral vector")
    assert evidence["verifier"] == {"name": "Sooraj Singh"}
    assert evidence["facility"]["name"] == "ABC Medical Center"
    assert "infoUrl" not in evidence and "feedbackUrl" not in evidence
    assert cred["nonTransferable"] == "true"


@pytest.mark.parametrize("name", sorted(TRICKY_ITEMS))
def test_only_v2_terms_no_nulls_integer_doses(name: str) -> None:
    cred = build(TRICKY_ITEMS[name])
    v2 = load_context("vaccination-v2")["@context"]
    defined = set(v2)
    for definition in v2.values():
        if isinstance(definition, dict):
            defined |= _terms(definition.get("@context", {}))
    credentials_terms = {"@context", "type", "credentialSubject", "issuer", "issuanceDate", "evidence", "id"}
    assert _terms(cred) <= defined | credentials_terms
    assert "null" not in repr(cred) and None not in _values(cred)
    dose, total = cred["evidence"][0]["dose"], cred["evidence"][0]["totalDoses"]
    assert type(dose) is int and type(total) is int


def _values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for value in node.values() for v in _values(value)]
    if isinstance(node, list):
        return [v for value in node for v in _values(value)]
    return [node]


def test_optional_urls_and_age_from_dob() -> None:
    cred = build(
        TRICKY_ITEMS["plain"],
        info_base_url="https://example.org/?",
        feedback_base_url="https://example.org/feedback/",
    )
    assert cred["evidence"][0]["infoUrl"] == "https://example.org/?1234567890"
    assert cred["evidence"][0]["feedbackUrl"] == "https://example.org/feedback/1234567890"
    # born 1994-11-30, issued 2021-08-27: 26 completed years
    assert cred["credentialSubject"]["age"] == "26"
    assert build(TRICKY_ITEMS["minimal"])["credentialSubject"]["age"] == ""


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ("did:in.gov.uidai.aadhaar:2342343334", "did:in.gov.uidai.aadhaar:2342343334"),
        ("https://example.org/people/1", "https://example.org/people/1"),
        ("aadhaar:1234", "did:aadhaar:1234"),
        ("in.gov.uidai.aadhaar:1234 5678", "did:in.gov.uidai.aadhaar:1234%205678"),
        ("123456789012", "did:divoc:123456789012"),
        ("राम", "did:divoc:%E0%A4%B0%E0%A4%BE%E0%A4%AE"),
        ("NA", "did:divoc:P-1"),
        ("x", "did:divoc:P-1"),
        (None, "did:divoc:P-1"),
        ("", "did:divoc:P-1"),
    ],
)
def test_subject_id_rule(identity: Any, expected: str) -> None:
    assert subject_id(identity, "P-1") == expected


def test_subject_id_needs_something() -> None:
    with pytest.raises(ValueError):
        subject_id(None, "")
    assert subject_id(None, "7", did_prefix="did:india") == "did:india:7"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Covaxin", "XM1NL1"),
        ("COVISHIELD", "XM9QW8"),
        ("covishield ", "XM9QW8"),
        ("Sputnik V", "XM9QW8"),
        ("SPUTNIK_V", "XM9QW8"),
        ("ZyCoV-D", "XM6AT1"),
        ("Comirnaty", "XM0GQ8"),
        ("Spikevax", "XM0GQ8"),
        ("Vaxzevria", "XM9QW8"),
        ("Coronavac", "XM1NL1"),
        ("Sinopharm", "XM1NL1"),
        ("Corbevax", "XM5JC5"),
        ("Covovax", "XM5JC5"),
        ("Janssen", "XM0CX4"),
        ("Gemcovac-19", "XM0GQ8"),
    ],
)
def test_icd11_lookup(name: str, code: str) -> None:
    found = lookup_icd11(name)
    assert found is not None and found[0] == code


def test_icd11_table_and_custom_lookup() -> None:
    assert len(DEFAULT_ICD11) == 14 and all(isinstance(r, Icd11Vaccine) for r in DEFAULT_ICD11)
    assert lookup_icd11("Gemcovac-19") == ("XM0GQ8", "COVID-19 Vaccine, Lyophilized mRNA vaccine")
    assert lookup_icd11("Unknown") is None
    cred = build(TRICKY_ITEMS["plain"], icd11={"covishield": ("X1", "term")})
    assert (cred["evidence"][0]["icd11Code"], cred["evidence"][0]["prophylaxis"]) == ("X1", "term")
    assert build(TRICKY_ITEMS["minimal"])["evidence"][0]["icd11Code"] == ""


@pytest.mark.parametrize(
    "bad",
    [
        {"issuance_date": "2021-08-27"},
        {"issuance_date": "27/08/2021 10:00"},
        {"issuer": "example.org"},
        {"evidence_base_url": "vaccine/"},
        {"certificate_id": ""},
    ],
)
def test_rejects_values_divoc_verifier_would_refuse(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build(TRICKY_ITEMS["plain"], **bad)


def test_bad_dose_is_rejected() -> None:
    item = dict(TRICKY_ITEMS["plain"])
    item["vaccination"] = {**item["vaccination"], "dose": "second"}
    with pytest.raises(ValueError, match="dose"):
        build_vaccination_credential(
            item,
            certificate_id="1",
            issuer="https://x.org/",
            context_url=OUR_CONTEXT_URL,
            issuance_date="2021-08-27T10:57:57Z",
            evidence_base_url="https://x.org/v/",
        )
