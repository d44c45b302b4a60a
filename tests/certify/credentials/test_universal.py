"""certify.credentials.universal: which format an input is, and one verdict shape for all three."""
from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from certify.credentials import pack_qr_payload
from certify.credentials.eudcc import (
    DscSigner,
    dsc_kid,
    encode_hc1,
    generate_dev_dsc,
    uvci,
)
from certify.credentials.universal import (
    DIVOC,
    EU_DCC,
    SHC,
    Trust,
    detect_format,
    our_certificate_id,
    vaccine_label,
    verify_bytes,
    verify_request_json,
)
from certify.credentials.verify import trust_store_from_documents
from tests.conftest import INTEROP

SHC_EXAMPLES = INTEROP / "shc" / "examples"
SPEC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
SPEC_JWKS = json.loads((SHC_EXAMPLES / "issuer" / ".well-known" / "jwks.json").read_text())
DIVOC_VECTOR = json.loads((INTEROP / "divoc" / "ed25519-signed-valid.json").read_text())
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def signer() -> DscSigner:
    return DscSigner.from_pem(*generate_dev_dsc("IN", now=NOW - dt.timedelta(days=1)))


def hc1(signer: DscSigner, certificate_id: str = "12345678901234567890") -> str:
    dcc = {"ver": "1.3.0", "dob": "1990-02-03", "nam": {"fn": "Rao", "fnt": "RAO", "gn": "Meena", "gnt": "MEENA"},
           "v": [{"tg": "840539006", "vp": "29061000087103", "mp": "Covishield", "ma": "ORG-100001981", "dn": 1,
                  "sd": 2, "dt": "2021-10-17", "co": "IN", "is": "Ministry of Health", "ci": uvci(certificate_id, "IN")}]}
    return encode_hc1(dcc, signer, issuer_country="IN", issued_at=NOW, validity=dt.timedelta(days=30)).text


def trust(signer: DscSigner | None = None, own: bool = False) -> Trust:
    certs = (signer.certificate,) if signer else ()
    return Trust(divoc=trust_store_from_documents([], {}), eu_dscs=certs,
                 shc_issuers={SPEC_ISSUER: SPEC_JWKS},
                 own_eu_kids=frozenset(dsc_kid(c) for c in certs) if own else frozenset())


@pytest.mark.parametrize("data,fmt", [
    (b"HC1:6BF+70790T9WJWG.FKY*4GO0.O1CV2", EU_DCC),
    (b"  HC1:NCF\n", EU_DCC),
    (b"shc:/5676290952432060346029243740", SHC),
    (b"SHC:/56762909", SHC),
    (b"shc:/1/2/5676\nshc:/2/2/2909", SHC),
    ((SHC_EXAMPLES / "example-00-d-jws.txt").read_bytes(), SHC),
    ((SHC_EXAMPLES / "example-00-e-file.smart-health-card").read_bytes(), SHC),
    (b'{"resourceType": "Parameters", "parameter": []}', SHC),
    (json.dumps(DIVOC_VECTOR).encode(), DIVOC),
    (pack_qr_payload(DIVOC_VECTOR), DIVOC),
    (b'{"verifiableCredential": "but also", "@context": ["x"]}', DIVOC),
    (b"a.b", DIVOC),
    (b"", DIVOC),
    (b"\xff\xfe garbage", DIVOC),
])
def test_the_format_is_told_by_prefix_or_shape(data: bytes, fmt: str) -> None:
    assert detect_format(data) == fmt


def test_an_eu_dcc_summary_has_the_common_fields(signer: DscSigner) -> None:
    verdict = verify_bytes(hc1(signer).encode(), trust(signer), now=NOW)
    assert (verdict.format, verdict.status, verdict.reasons) == (EU_DCC, "valid", ())
    summary = verdict.certificate
    assert {k: summary[k] for k in ("name", "dob", "vaccine", "manufacturer", "dose", "totalDoses", "date",
                                    "country", "issuer", "type")} == {
        "name": "Meena Rao", "dob": "1990-02-03", "vaccine": "Covishield",
        "manufacturer": "Serum Institute Of India Private Limited", "dose": 1, "totalDoses": 2,
        "date": "2021-10-17", "country": "IN", "issuer": "Ministry of Health", "type": "vaccination"}
    assert summary["expiresAt"] == "2026-01-31T00:00:00Z"


def test_only_our_own_dsc_maps_an_eu_dcc_to_our_certificate(signer: DscSigner) -> None:
    text = hc1(signer).encode()
    assert verify_bytes(text, trust(signer), now=NOW).certificate_id is None
    ours = verify_bytes(text, trust(signer, own=True), now=NOW)
    assert ours.own and ours.certificate_id == "12345678901234567890"
    assert verify_bytes(text, trust(None), now=NOW).certificate_id is None  # untrusted: never ours
    assert our_certificate_id({"v": [{"ci": "URN:UVCI:01:IN:123#X"}]}) is None  # wrong check character


def test_a_health_card_summary_has_the_common_fields() -> None:
    verdict = verify_bytes((SHC_EXAMPLES / "example-00-e-file.smart-health-card").read_bytes(), trust(), now=NOW)
    assert (verdict.format, verdict.status) == (SHC, "valid")
    summary = verdict.certificate
    assert (summary["name"], summary["dob"], summary["dose"], summary["date"], summary["issuer"]) == (
        "John B. Anyperson", "1951-01-20", 3, "2022-09-05", SPEC_ISSUER)
    assert not verdict.own


def test_json_bodies_of_every_format(signer: DscSigner) -> None:
    card = json.loads((SHC_EXAMPLES / "example-00-e-file.smart-health-card").read_text())
    assert verify_request_json(card, trust(), now=NOW).format == SHC
    assert verify_request_json({"payload": hc1(signer)}, trust(signer), now=NOW).valid
    assert verify_request_json(DIVOC_VECTOR, trust(), now=NOW).format == DIVOC
    assert verify_request_json({"qr": 5}, trust(), now=NOW).reasons == ("qr must be a base64 string",)


@pytest.mark.parametrize("system,code,label", [
    ("http://hl7.org/fhir/sid/cvx", "210", "AstraZeneca / Covishield"),
    ("http://hl7.org/fhir/sid/cvx", "999", "CVX 999"),
    ("http://id.who.int/icd/release/11/mms", "XM1NL1", "COVID-19 vaccine, inactivated virus (ICD-11 XM1NL1)"),
    ("http://snomed.info/sct", "28581000087106", "28581000087106 (http://snomed.info/sct)"),
])
def test_vaccine_labels(system: str, code: str, label: str) -> None:
    assert vaccine_label(system, code) == label


def test_mangled_eu_and_shc_inputs_give_reasons_never_exceptions(signer: DscSigner) -> None:
    rng = random.Random(7)
    seeds = [hc1(signer).encode(), (SHC_EXAMPLES / "example-00-f-qr-code-numeric-value-0.txt").read_bytes(),
             (SHC_EXAMPLES / "example-00-d-jws.txt").read_bytes()]
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data))
            data[pos:pos + rng.randint(0, 3)] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 3)))
        verdict = verify_bytes(bytes(data), trust(signer), now=NOW)
        assert verdict.status in ("valid", "invalid") and (verdict.valid or verdict.reasons)
