"""COVID-19 test-result credentials: shape, idempotency key, validation, signing, DIVOC's verifier."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from certify.credentials import (
    TEST_RESULTS,
    build_test_credential,
    canonical_test_result,
    normalise_timestamp,
    sample_event_key,
    subject_id,
)
from certify.credentials.contexts import (
    DocumentLoader,
    context_alias,
    load_context,
    make_document_loader,
)
from certify.credentials.keys import (
    Ed25519SigningKey,
    RsaSigningKey,
    generate_ed25519,
    generate_rsa,
)
from certify.credentials.proofs import Reason, sign_credential, verify_credential
from certify.schemas import validate_test_batch, validate_test_item
from tests.certify.conftest import ed_config, rsa_config

from .credentials_support import interop_json

TEST_CONTEXT_URL = "https://example.org/credentials/testCertificate/v1"
ISSUER = "https://example.org/"
EVIDENCE_BASE = "https://example.org/test/"
TODAY = dt.date(2021, 10, 20)

BASE_TEST_ITEM: dict[str, Any] = {
    "preEnrollmentCode": "987456126",
    "recipient": {
        "name": "Bhaya Mitra",
        "dob": "1994-11-30",
        "gender": "Male",
        "nationality": "Indian",
        "identity": "did:in.gov.uidai.aadhaar:2342343334",
        "contact": ["tel:9880414888"],
        "address": {
            "addressLine1": "12, MG Road",
            "addressLine2": "",
            "district": "Bengaluru Urban",
            "state": "Karnataka",
            "pincode": "560001",
            "country": "IND",
        },
    },
    "testDetails": {
        "batch": "RTPCR-118",
        "testName": "SARS-CoV-2 RT-PCR",
        "testType": "RT-PCR",
        "disease": "COVID-19",
        "manufacturer": "ICMR",
        "sampleOrigin": "Nasopharyngeal swab",
        "sampleCollectionTimestamp": "2021-10-17T09:30:00+05:30",
        "resultTimestamp": "2021-10-18T14:05:00+05:30",
        "result": "Negative",
    },
    "verifier": {"name": "Sooraj Singh"},
    "facility": {
        "name": "ABC Diagnostics",
        "address": {
            "addressLine1": "123, Koramangala",
            "addressLine2": "",
            "district": "Bengaluru South",
            "state": "Karnataka",
            "pincode": "560034",
        },
    },
    "meta": {"source": "lab-system"},
}


def sample_item_with(**changes: Any) -> dict[str, Any]:
    """BASE_TEST_ITEM with ``a__b`` path changes; value None deletes the key."""
    item = copy.deepcopy(BASE_TEST_ITEM)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = item
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return item


sample_item_with.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test

TRICKY_TEST_ITEMS: dict[str, dict[str, Any]] = {
    "plain": sample_item_with(),
    "quotes": sample_item_with(recipient__name='Ravi "Rocky" Kumar'),
    "apostrophe": sample_item_with(recipient__name="D'Souza O'Brien", facility__name="St. Mary's Lab"),
    "hindi": sample_item_with(recipient__name="राम कुमार शर्मा", recipient__address__district="वाराणसी"),
    "tamil": sample_item_with(recipient__name="முருகன் செல்வம்", verifier__name="கார்த்திக்"),
    "backslash_newline": sample_item_with(recipient__name="Line\\One\nTwo\r\nThree"),
    "emoji": sample_item_with(recipient__name="Asha \U0001F489 \uFFFD"),
    "positive_lowercase": sample_item_with(testDetails__result="positive", testDetails__testType="RAT"),
    "inconclusive_upper": sample_item_with(testDetails__result="INCONCLUSIVE"),
    "naive_and_utc_times": sample_item_with(
        testDetails__sampleCollectionTimestamp="2021-10-17 09:30",
        testDetails__resultTimestamp="2021-10-17T10:00:00.123456Z",
    ),
    "no_identity": sample_item_with(recipient__identity=None),
    "minimal": {
        "preEnrollmentCode": "P-77",
        "recipient": {"name": "Minimal Person"},
        "testDetails": {"sampleCollectionTimestamp": "2021-10-17T09:30Z", "result": "Negative"},
        "facility": {"name": "Lab"},
    },
}


def build(item: dict[str, Any], certificate_id: str = "1234567890", **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "certificate_id": certificate_id,
        "issuer": ISSUER,
        "context_url": TEST_CONTEXT_URL,
        "issuance_date": "2021-10-18T10:00:00.000Z",
        "evidence_base_url": EVIDENCE_BASE,
    }
    options.update(kwargs)
    return build_test_credential(item, **options)


@pytest.fixture(scope="module")
def tc_loader() -> DocumentLoader:
    return make_document_loader(context_alias(TEST_CONTEXT_URL, "test-certificate-v1"))


# --------------------------------------------------------------------------- #
# Shape
# --------------------------------------------------------------------------- #


def test_shape() -> None:
    cred = build(TRICKY_TEST_ITEMS["plain"])
    assert cred["@context"] == ["https://www.w3.org/2018/credentials/v1", TEST_CONTEXT_URL]
    assert cred["type"] == ["VerifiableCredential", "ProofOfTestCertificateCredential"]
    assert cred["credentialSubject"] == {
        "type": "Person",
        "id": "did:in.gov.uidai.aadhaar:2342343334",
        "refId": "987456126",
        "name": "Bhaya Mitra",
        "gender": "Male",
        "dob": "1994-11-30",
        "nationality": "Indian",
        "address": {
            "streetAddress": "12, MG Road",
            "streetAddress2": "",
            "district": "Bengaluru Urban",
            "city": "",
            "addressRegion": "Karnataka",
            "addressCountry": "IND",
            "postalCode": "560001",
        },
    }
    assert cred["issuer"] == ISSUER
    assert cred["issuanceDate"] == "2021-10-18T10:00:00.000Z"
    assert cred["nonTransferable"] == "true"
    [evidence] = cred["evidence"]
    assert evidence == {
        "id": "https://example.org/test/1234567890",
        "type": ["TestDetails"],
        "certificateId": "1234567890",
        "batch": "RTPCR-118",
        "testName": "SARS-CoV-2 RT-PCR",
        "testType": "RT-PCR",
        "manufacturer": "ICMR",
        "disease": "COVID-19",
        "sampleOrigin": "Nasopharyngeal swab",
        "sampleCollectionTimestamp": "2021-10-17T04:00:00.000Z",
        "resultTimestamp": "2021-10-18T08:35:00.000Z",
        "result": "Negative",
        "verifier": {"name": "Sooraj Singh"},
        "facility": {
            "name": "ABC Diagnostics",
            "address": {
                "streetAddress": "123, Koramangala",
                "streetAddress2": "",
                "district": "Bengaluru South",
                "city": "",
                "addressRegion": "Karnataka",
                "addressCountry": "IND",
                "postalCode": "560034",
            },
        },
    }


def test_minimal_item_fills_blanks_and_defaults() -> None:
    cred = build(TRICKY_TEST_ITEMS["minimal"])
    subject, evidence = cred["credentialSubject"], cred["evidence"][0]
    assert subject["id"] == "did:divoc:P-77" == subject_id(None, "P-77")
    assert (subject["gender"], subject["dob"], subject["nationality"]) == ("", "", "")
    assert subject["address"]["addressCountry"] == "IND"
    assert evidence["disease"] == "COVID-19"
    assert evidence["resultTimestamp"] == ""
    assert evidence["verifier"] == {"name": ""}
    assert (evidence["batch"], evidence["testType"], evidence["testName"]) == ("", "", "")
    assert "age" not in subject


def test_subject_id_rule_matches_vaccination() -> None:
    for identity in ("did:in.gov.uidai.aadhaar:1", "passport:Z123", "872550100V", "NA", None):
        item = sample_item_with(recipient__identity=identity)
        assert build(item)["credentialSubject"]["id"] == subject_id(identity, "987456126")
    assert build(sample_item_with(), did_prefix="did:example")["credentialSubject"]["id"].startswith("did:in.gov")
    no_id = build(sample_item_with(recipient__identity=None), did_prefix="did:example")
    assert no_id["credentialSubject"]["id"] == "did:example:987456126"


def test_info_and_feedback_urls_optional() -> None:
    cred = build(TRICKY_TEST_ITEMS["plain"], info_base_url="https://example.org/i?c=",
                 feedback_base_url="https://example.org/f?c=")
    evidence = cred["evidence"][0]
    assert evidence["infoUrl"] == "https://example.org/i?c=1234567890"
    assert evidence["feedbackUrl"] == "https://example.org/f?c=1234567890"
    assert "infoUrl" not in build(TRICKY_TEST_ITEMS["plain"])["evidence"][0]


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


def _values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for value in node.values() for v in _values(value)]
    if isinstance(node, list):
        return [v for value in node for v in _values(value)]
    return [node]


@pytest.mark.parametrize("name", sorted(TRICKY_TEST_ITEMS))
def test_only_test_context_terms_and_string_values(name: str) -> None:
    cred = build(TRICKY_TEST_ITEMS[name], info_base_url="https://example.org/i/")
    context = load_context("test-certificate-v1")["@context"]
    defined = set(context) | _terms({k: v.get("@context", {}) for k, v in context.items() if isinstance(v, dict)})
    credentials_terms = {"@context", "type", "credentialSubject", "issuer", "issuanceDate", "evidence", "id"}
    assert _terms(cred) <= defined | credentials_terms
    assert "age" not in _terms(cred)
    assert all(isinstance(v, str) for v in _values(cred))  # never null, never a number


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("Negative", "Negative"), ("negative", "Negative"), (" POSITIVE ", "Positive"),
     ("inConclusive", "Inconclusive"), ("Detected", None), ("", None), (None, None), (1, None)],
)
def test_canonical_result(raw: Any, canonical: str | None) -> None:
    assert canonical_test_result(raw) == canonical


def test_result_is_stored_canonical() -> None:
    for raw, stored in (("positive", "Positive"), ("NEGATIVE", "Negative"), ("Inconclusive", "Inconclusive")):
        assert build(sample_item_with(testDetails__result=raw))["evidence"][0]["result"] == stored
    assert TEST_RESULTS == ("Positive", "Negative", "Inconclusive")


@pytest.mark.parametrize(
    "changes",
    [
        {"testDetails__result": "Detected"},
        {"testDetails__result": None},
        {"testDetails__sampleCollectionTimestamp": None},
        {"testDetails__sampleCollectionTimestamp": "2021-10-17"},
        {"testDetails__sampleCollectionTimestamp": "2021-13-17T10:00"},
        {"testDetails__resultTimestamp": "yesterday"},
    ],
    ids=["bad-result", "no-result", "no-sample-time", "date-only", "month-13", "bad-result-time"],
)
def test_builder_rejects_unusable_items(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build(sample_item_with(**changes))


@pytest.mark.parametrize(
    "kwargs",
    [{"issuance_date": "2021-10-18"}, {"issuer": "example"}, {"context_url": "v1"},
     {"certificate_id": ""}, {"evidence_base_url": "/relative/"}],
)
def test_builder_rejects_bad_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build(TRICKY_TEST_ITEMS["plain"], **kwargs)


# --------------------------------------------------------------------------- #
# Idempotency key
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "spelling",
    ["2021-10-17T13:10:00+05:30", "2021-10-17T13:10+0530", "2021-10-17T07:40:00Z", "2021-10-17 07:40:00.000z",
     "2021-10-17T13:10", "2021-10-17T13:10:00.0004", "2021-10-17T02:40:00-05:00"],
)
def test_event_key_is_the_normalised_sample_time(spelling: str) -> None:
    item = sample_item_with(testDetails__sampleCollectionTimestamp=spelling)
    assert sample_event_key(item) == "2021-10-17T07:40:00.000Z"
    assert build(item)["evidence"][0]["sampleCollectionTimestamp"] == sample_event_key(item)


def test_event_key_tells_samples_apart_and_ignores_other_fields() -> None:
    first = sample_item_with(testDetails__sampleCollectionTimestamp="2021-10-17T09:30+05:30")
    later = sample_item_with(testDetails__sampleCollectionTimestamp="2021-10-17T09:31+05:30")
    repost = sample_item_with(testDetails__sampleCollectionTimestamp="2021-10-17T04:00Z",
                            testDetails__result="positive", recipient__name="Other Spelling")
    assert sample_event_key(first) != sample_event_key(later)
    assert sample_event_key(first) == sample_event_key(repost)
    assert sample_event_key(sample_item_with(testDetails__sampleCollectionTimestamp="2021-10-17T09:30"),
                          naive_tz=dt.UTC) == "2021-10-17T09:30:00.000Z"


@pytest.mark.parametrize("value", [None, "", "2021-10-17", "17/10/2021 09:30", "2021-10-17T24:00", 5])
def test_event_key_needs_a_date_time(value: Any) -> None:
    with pytest.raises(ValueError):
        sample_event_key(sample_item_with(testDetails__sampleCollectionTimestamp=value))  # None: key absent
    assert normalise_timestamp(value) is None


# --------------------------------------------------------------------------- #
# Validation (certify.schemas)
# --------------------------------------------------------------------------- #


def _errors(item: Any, path: str = "[0]") -> list[str]:
    return [f"{e.path}: {e.reason}" for e in validate_test_item(item, path, TODAY)]


@pytest.mark.parametrize("name", sorted(TRICKY_TEST_ITEMS))
def test_valid_items_have_no_errors(name: str) -> None:
    assert _errors(TRICKY_TEST_ITEMS[name]) == []


def test_every_problem_is_listed_with_its_path() -> None:
    item = {
        "preEnrollmentCode": "",
        "recipient": {"name": 7, "dob": "2030-01-01", "contact": "tel:1", "address": {"pincode": 560001}},
        "testDetails": {
            "testType": ["RT-PCR"],
            "sampleCollectionTimestamp": "2021-10-17",
            "resultTimestamp": "2021-10-19T25:00",
            "result": "Detected",
        },
        "verifier": "Dr. X",
        "facility": {"address": {}},
        "meta": [],
    }
    assert _errors(item) == [
        "[0].preEnrollmentCode: must not be empty",
        "[0].meta: must be an object",
        "[0].recipient.name: must be a string",
        "[0].recipient.dob: must not be in the future",
        "[0].recipient.contact: must be an array of strings",
        "[0].recipient.address.pincode: must be a string",
        "[0].testDetails.testType: must be a string",
        "[0].testDetails.sampleCollectionTimestamp: must be a date-time as YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]",
        "[0].testDetails.resultTimestamp: must be a date-time as YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]",
        "[0].testDetails.result: must be one of Positive, Negative, Inconclusive",
        "[0].verifier: must be an object",
        "[0].facility.name: is required",
    ]


def test_required_parts() -> None:
    assert _errors({}) == [
        "[0].preEnrollmentCode: is required",
        "[0].recipient: is required",
        "[0].testDetails: is required",
        "[0].facility: is required",
    ]
    assert _errors(sample_item_with(testDetails={"result": ""}, recipient__name=None)) == [
        "[0].recipient.name: is required",
        "[0].testDetails.sampleCollectionTimestamp: is required",
        "[0].testDetails.result: must not be empty",
    ]
    assert _errors(sample_item_with(verifier=None)) == []  # verifier is optional
    assert _errors("x", "[3]") == ["[3]: must be an object"]


def test_result_before_sample_and_future_times() -> None:
    assert _errors(sample_item_with(testDetails__resultTimestamp="2021-10-17T03:59:59Z")) == [
        "[0].testDetails.resultTimestamp: must not be before sampleCollectionTimestamp"
    ]
    # the same instant in another zone is fine; a naive time is read as IST
    assert _errors(sample_item_with(testDetails__resultTimestamp="2021-10-17T04:00Z")) == []
    assert _errors(sample_item_with(testDetails__resultTimestamp="2021-10-17T09:29")) == [
        "[0].testDetails.resultTimestamp: must not be before sampleCollectionTimestamp"
    ]
    assert _errors(sample_item_with(testDetails__sampleCollectionTimestamp="2021-10-25T09:00Z",
                                  testDetails__resultTimestamp=None)) == [
        "[0].testDetails.sampleCollectionTimestamp: must not be in the future"
    ]


def test_batch_validation() -> None:
    bad = sample_item_with(testDetails__result="maybe")
    errors = validate_test_batch([BASE_TEST_ITEM, bad, {}], 10, TODAY)
    reasons = [f"{e.path}: {e.reason}" for e in errors]
    assert reasons[0] == "[1].testDetails.result: must be one of Positive, Negative, Inconclusive"
    assert "[2].recipient: is required" in reasons
    assert not any(r.startswith("[0]") for r in reasons)
    assert [e.path for e in validate_test_batch({}, 10, TODAY)] == ["$"]
    assert [e.reason for e in validate_test_batch([], 10, TODAY)] == [
        "must contain at least one test certification request"
    ]
    assert [e.reason for e in validate_test_batch([BASE_TEST_ITEM] * 3, 2, TODAY)] == [
        "has 3 items; at most 2 are allowed per request"
    ]
    assert validate_test_batch([BASE_TEST_ITEM] * 2, 2, TODAY) == []


# --------------------------------------------------------------------------- #
# Signing: our verifier and DIVOC's
# --------------------------------------------------------------------------- #


def _our_credentials() -> dict[str, dict[str, Any]]:
    creds = {name: build(item, certificate_id=str(5000 + i)) for i, (name, item) in enumerate(TRICKY_TEST_ITEMS.items())}
    creds["with_urls"] = build(TRICKY_TEST_ITEMS["plain"], certificate_id="6000",
                               info_base_url="https://example.org/?", feedback_base_url="https://example.org/?")
    return creds


def _tampered(signed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    flipped_result = copy.deepcopy(signed)
    flipped_result["evidence"][0]["result"] = "Positive"
    other_sample = copy.deepcopy(signed)
    other_sample["evidence"][0]["sampleCollectionTimestamp"] = "2021-10-16T04:00:00.000Z"
    renamed = copy.deepcopy(signed)
    renamed["credentialSubject"]["name"] += "x"
    return {"result": flipped_result, "sample": other_sample, "name": renamed}


@pytest.fixture(scope="module")
def keys() -> list[Ed25519SigningKey | RsaSigningKey]:
    return [generate_ed25519("did:example:issuer#key-1"), generate_rsa("did:example:issuer#key-2")]


def test_we_verify_what_we_sign_and_reject_flipped_values(
    tc_loader: DocumentLoader, keys: list[Ed25519SigningKey | RsaSigningKey], divoc_ed_key: Ed25519SigningKey
) -> None:
    for key in [*keys, divoc_ed_key]:
        for name, cred in _our_credentials().items():
            signed = sign_credential(cred, key, loader=tc_loader)
            result = verify_credential(signed, key, tc_loader)
            assert result.valid, (type(key).__name__, name, result)
        assert signed["evidence"][0]["result"] == "Negative"
        for what, bad in _tampered(signed).items():
            result = verify_credential(bad, key, tc_loader)
            assert not result.valid and result.reason == Reason.BAD_SIGNATURE, (what, result)


def test_bundled_test_context_is_divocs_published_document() -> None:
    assert load_context("test-certificate-v1") == interop_json("context-test-certificate-v1.json")


def test_divoc_verifier_accepts_our_test_credentials(
    divoc_verify: Any, tc_loader: DocumentLoader, keys: list[Ed25519SigningKey | RsaSigningKey],
    divoc_ed_key: Ed25519SigningKey, divoc_rsa_key: RsaSigningKey,
) -> None:
    creds = _our_credentials()
    names = list(creds)
    documents = {TEST_CONTEXT_URL: load_context("test-certificate-v1")}
    all_keys = [*keys, divoc_ed_key, divoc_rsa_key]
    groups = []
    for key in all_keys:
        signed = [sign_credential(c, key, loader=tc_loader) for c in creds.values()]
        # Why the builder writes no `age`: pyld drops the undefined term, DIVOC's
        # strict expansion rejects it.
        with_age = copy.deepcopy(creds["plain"])
        with_age["credentialSubject"]["age"] = "26"
        with_age = sign_credential(with_age, key, loader=tc_loader)
        assert verify_credential(with_age, key, tc_loader).valid
        config = ed_config(key) if isinstance(key, Ed25519SigningKey) else rsa_config(key)
        groups.append({
            "config": config,
            "documents": documents,
            "credentials": [*signed, *_tampered(signed[0]).values(), with_age],
        })

    results = divoc_verify(groups)

    for key, group in zip(all_keys, results, strict=True):
        accepted = dict(zip(names, group[: len(names)], strict=True))
        failures = {n: r["error"] for n, r in accepted.items() if not r["verified"]}
        assert not failures, f"{type(key).__name__}: DIVOC rejected {failures}"
        *tampered, age = group[len(names):]
        assert [r["verified"] for r in tampered] == [False, False, False], "DIVOC accepted a tampered credential"
        assert not age["verified"] and "age" in (age["error"] or "")


def test_signed_credential_survives_json_round_trip(tc_loader: DocumentLoader,
                                                    divoc_ed_key: Ed25519SigningKey) -> None:
    signed = sign_credential(build(TRICKY_TEST_ITEMS["tamil"]), divoc_ed_key, loader=tc_loader)
    again = json.loads(json.dumps(signed, ensure_ascii=False))
    assert verify_credential(again, divoc_ed_key, tc_loader).valid
