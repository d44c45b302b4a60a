"""SMART Health Cards: our encoder against the spec's worked examples, and our verifier
against the spec examples and the official validator's fixtures (shared/interop/shc)."""
from __future__ import annotations

import base64
import io
import json
import zlib
from pathlib import Path

import pytest
import qrcode
import zxingcpp
from fhir.resources.R4B.bundle import Bundle
from PIL import Image
from qrcode.util import MODE_8BIT_BYTE, MODE_NUMBER, QRData

from certify.credentials import build_vaccination_credential, shc
from certify.credentials.keys import KeyFormatError
from tests.conftest import INTEROP
from tests.factories import SAMPLE_ITEM

EXAMPLES = INTEROP / "shc" / "examples"
FIXTURES = INTEROP / "shc" / "validator-testdata"
SPEC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
SPEC_KID = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
NBF = 1687450764.657  # the examples' issue time; example 03 expires a year later
NOW = NBF + 86400


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def trusted() -> dict:
    return {SPEC_ISSUER: json.loads(text(EXAMPLES / "issuer" / ".well-known" / "jwks.json"))}


@pytest.fixture(scope="module")
def spec_key() -> shc.ShcSigningKey:
    return shc.load_shc_key(text(EXAMPLES / "issuer" / "issuer.jwks.private.json"), kid=SPEC_KID)


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def credential(item=SAMPLE_ITEM, certificate_id="10000000000000000001", **sections) -> dict:
    item = json.loads(json.dumps(item))
    for section, values in sections.items():
        item[section].update(values)
    return build_vaccination_credential(
        item, certificate_id=certificate_id, issuer="https://divoc.test/",
        context_url="https://divoc.test/credentials/vaccination/v2",
        issuance_date="2021-10-17T13:20:00.000Z", evidence_base_url="https://divoc.test/vaccine/")


# --- the encoder reproduces the spec's examples ------------------------------------------

@pytest.mark.parametrize("example", ["00", "01", "03"])
def test_encoder_reproduces_the_spec_example_payload_and_header(trusted, example):
    spec_header = text(EXAMPLES / f"example-{example}-d-jws.txt").strip().split(".")[0]
    kid = json.loads(b64url_decode(spec_header))["kid"]  # example 01 uses the spec's second (x5c) key
    key = shc.load_shc_key(text(EXAMPLES / "issuer" / "issuer.jwks.private.json"), kid=kid)
    bundle = json.loads(text(EXAMPLES / f"example-{example}-a-fhirBundle.json"))
    want = (EXAMPLES / f"example-{example}-c-jws-payload-minified.json").read_bytes().strip()
    spec = json.loads(want)
    payload = shc.build_shc_payload(bundle, issuer=spec["iss"], nbf=spec["nbf"], rid=spec["vc"].get("rid"))
    if "exp" in spec:
        payload["exp"] = spec["exp"]

    jws = shc.sign_health_card(payload, key)

    header, body, signature = jws.split(".")
    assert header == spec_header  # {"zip":"DEF","alg":"ES256","kid":"3Kfdg-..."} byte for byte
    assert zlib.decompress(b64url_decode(body), -15) == want  # the minified payload, exactly
    assert len(b64url_decode(signature)) == 64
    assert shc.verify_shc(jws, trusted, now=NOW).status == "valid"  # ES256 is randomised elsewhere: verify


def test_numeric_qr_of_the_spec_jws_is_exactly_the_spec_qr():
    for example in ("00", "01", "03"):
        jws = text(EXAMPLES / f"example-{example}-d-jws.txt").strip()
        assert shc.qr_chunks(jws) == [text(EXAMPLES / f"example-{example}-f-qr-code-numeric-value-0.txt").strip()]
    long_jws = text(EXAMPLES / "example-02-d-jws.txt").strip()
    assert shc.qr_chunks(long_jws) == [
        text(EXAMPLES / f"example-02-f-qr-code-numeric-value-{i}.txt").strip() for i in range(3)]


def test_kid_is_the_rfc7638_thumbprint_and_keys_load_from_pem_and_jwk(spec_key):
    assert spec_key.kid == SPEC_KID
    assert spec_key.public_jwk() == {k: v for k, v in json.loads(text(
        EXAMPLES / "issuer" / ".well-known" / "jwks.json"))["keys"][0].items() if k != "crlVersion"}
    assert shc.load_shc_key(spec_key.private_key_pem()).kid == SPEC_KID
    jwk = next(k for k in json.loads(text(EXAMPLES / "issuer" / "issuer.jwks.private.json"))["keys"]
               if k["kid"] == SPEC_KID)
    assert shc.load_shc_key(json.dumps(jwk)).kid == SPEC_KID
    with pytest.raises(KeyFormatError):  # two signing keys in the spec's JWKS: name one
        shc.load_shc_key(text(EXAMPLES / "issuer" / "issuer.jwks.private.json"))
    with pytest.raises(KeyFormatError):
        shc.load_shc_key(json.dumps({**jwk, "d": json.loads(text(FIXTURES / "private_key.json"))["keys"][0]["d"]}))


def test_signatures_are_deterministic(spec_key):
    payload = json.loads(text(EXAMPLES / "example-00-c-jws-payload-minified.json"))
    assert shc.sign_health_card(payload, spec_key) == shc.sign_health_card(payload, spec_key)


# --- our card, from a DIVOC credential ----------------------------------------------------

def test_bundle_from_a_divoc_credential_is_minimal_valid_fhir():
    first = credential()
    second = credential(certificate_id="10000000000000000002",
                        vaccination={"dose": 2, "date": "2021-11-20T09:00", "batch": "4120Z005"})

    bundle = shc.build_fhir_bundle([first, second])

    Bundle.model_validate(bundle)  # FHIR structure: required elements, types, no unknown elements
    assert shc.check_fhir_bundle(bundle) == ([], [])  # and the spec's own rules, without a warning
    patient, dose1, dose2 = (e["resource"] for e in bundle["entry"])
    assert [e["fullUrl"] for e in bundle["entry"]] == ["resource:0", "resource:1", "resource:2"]
    assert patient == {"resourceType": "Patient", "name": [{"text": "John Doe"}], "birthDate": "1987-04-21"}
    assert dose1 == {"resourceType": "Immunization", "status": "completed",
                     "vaccineCode": {"coding": [{"system": shc.CVX_SYSTEM, "code": "210"}]},
                     "patient": {"reference": "resource:0"}, "occurrenceDateTime": "2021-10-17",
                     "performer": [{"actor": {"display": "MOH Gothatuwa"}}], "lotNumber": "41202025"}
    assert (dose2["occurrenceDateTime"], dose2["lotNumber"]) == ("2021-11-20", "4120Z005")


def test_vaccine_codes_cvx_where_known_else_icd11():
    assert shc.vaccine_coding("Covaxin", "XM1NL1") == {"system": shc.CVX_SYSTEM, "code": "502"}
    assert shc.vaccine_coding("sputnik v", "XM9QW8") == {"system": shc.CVX_SYSTEM, "code": "505"}
    assert shc.vaccine_coding("Pfizer-BioNTech", "XM0GQ8")["code"] == "208"
    assert shc.vaccine_coding("Gemcovac-19", "XM0GQ8") == {"system": shc.ICD11_SYSTEM, "code": "XM0GQ8"}
    with pytest.raises(ValueError):
        shc.vaccine_coding("Unknown", "")
    gemcovac = credential(vaccination={"name": "Gemcovac-19"})
    assert gemcovac["evidence"][0]["icd11Code"] == "XM0GQ8"
    coding = shc.build_fhir_bundle([gemcovac])["entry"][1]["resource"]["vaccineCode"]["coding"]
    assert coding == [{"system": "http://id.who.int/icd/release/11/mms", "code": "XM0GQ8"}]


def test_holder_stated_name_split_goes_into_family_and_given():
    bundle = shc.build_fhir_bundle([credential()], family="Doe", given=["John"])
    assert bundle["entry"][0]["resource"]["name"] == [{"family": "Doe", "given": ["John"]}]


def test_our_card_round_trips_through_jws_numeric_qr_and_png(spec_key):
    bundle = shc.build_fhir_bundle([credential(), credential(certificate_id="2", vaccination={"dose": 2})])
    jws = shc.sign_health_card(shc.build_shc_payload(bundle, issuer="https://divoc.test", nbf=1634476800), spec_key)
    trust = {"https://divoc.test": {"keys": [spec_key.public_jwk()]}}
    [content] = shc.qr_chunks(jws)
    png = shc.shc_qr_png(content)
    [symbol] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)

    result = shc.verify_shc(symbol.text, trust, now=1634476900)

    assert symbol.text == content and int(symbol.extra["Version"]) <= 22 and symbol.ec_level == "L"
    assert result.status == "valid", result.reasons
    assert (result.name, result.birth_date, result.issuer, result.kid) == (
        "John Doe", "1987-04-21", "https://divoc.test", spec_key.kid)
    assert [(i.date, i.code, i.lot) for i in result.immunizations] == [
        ("2021-10-17", "210", "41202025"), ("2021-10-17", "210", "41202025")]


def test_qr_has_a_byte_segment_then_a_numeric_segment():
    """The symbol equals one built from exactly those two segments (same version and mask)."""
    content = text(EXAMPLES / "example-00-f-qr-code-numeric-value-0.txt").strip()
    png = shc.shc_qr_png(content, box_size=1, border=0)
    [symbol] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).resize((89 * 4, 89 * 4)), formats=zxingcpp.BarcodeFormat.QRCode)
    reference = qrcode.QRCode(version=int(symbol.extra["Version"]), error_correction=qrcode.constants.ERROR_CORRECT_L,
                              mask_pattern=int(symbol.extra["DataMask"]), border=0)
    reference.add_data(QRData(b"shc:/", mode=MODE_8BIT_BYTE))
    reference.add_data(QRData(content[5:].encode(), mode=MODE_NUMBER))
    reference.make(fit=False)

    image = Image.open(io.BytesIO(png)).convert("L")
    ours = [[image.getpixel((x, y)) == 0 for x in range(image.width)] for y in range(image.height)]
    assert symbol.extra["Version"] == "18"  # a byte-mode QR of 1,613 characters would need version 31
    assert ours == reference.get_matrix()


def test_a_card_longer_than_one_qr_is_chunked_and_each_chunk_fits_version_22(spec_key):
    jws = text(EXAMPLES / "example-02-d-jws.txt").strip()
    chunks = shc.qr_chunks(jws)
    symbols = [zxingcpp.read_barcodes(Image.open(io.BytesIO(shc.shc_qr_png(c))), formats=zxingcpp.BarcodeFormat.QRCode)
               for c in chunks]
    versions = [int(symbol.extra["Version"]) for [symbol] in symbols]
    assert len(chunks) == 3 and max(versions) <= 22
    assert shc.qr_chunks("A" * 1195) == [shc.qr_numeric("A" * 1195)]
    assert len(shc.qr_chunks("A" * 1196)) == 2


# --- the spec examples verify --------------------------------------------------------------

@pytest.mark.parametrize("example", ["00", "01", "02", "03"])
def test_spec_examples_verify_in_every_form(trusted, example):
    chunks = sorted(EXAMPLES.glob(f"example-{example}-f-qr-code-numeric-value-*.txt"))
    forms = {
        "jws": text(EXAMPLES / f"example-{example}-d-jws.txt"),
        "file": text(EXAMPLES / f"example-{example}-e-file.smart-health-card"),
        "qr": [text(p) for p in chunks],
        "qr reversed": [text(p) for p in reversed(chunks)],
    }
    for form, data in forms.items():
        result = shc.verify_shc(data, trusted, now=NOW)
        assert result.status == "valid", (form, result.reasons)
    assert result.issuer == SPEC_ISSUER
    assert result.kid in {k["kid"] for k in trusted[SPEC_ISSUER]["keys"]}


def test_example_03_is_revoked_by_the_spec_crl_and_expires(trusted):
    crl = json.loads(text(EXAMPLES / "issuer" / ".well-known" / "crl" / f"{SPEC_KID}.json"))
    jws = text(EXAMPLES / "example-03-d-jws.txt")
    assert shc.verify_shc(jws, trusted, now=NOW, crls={SPEC_ISSUER: [crl]}).status == "revoked"
    assert shc.verify_shc(text(EXAMPLES / "example-00-d-jws.txt"), trusted, now=NOW,
                          crls={SPEC_ISSUER: [crl]}).status == "valid"  # its rid is not listed
    expired = shc.verify_shc(jws, trusted, now=NBF + 400 * 86400)
    assert (expired.status, expired.reasons) == ("invalid", ("the card has expired",))


def test_tampering_and_unknown_issuers_are_rejected(trusted, spec_key):
    jws = text(EXAMPLES / "example-00-d-jws.txt").strip()
    header, body, signature = jws.split(".")
    payload = json.loads(zlib.decompress(b64url_decode(body), -15))
    payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["birthDate"] = "1961-01-20"
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    forged_body = base64.urlsafe_b64encode(compressor.compress(shc.minified(payload)) + compressor.flush())
    forged = f"{header}.{forged_body.rstrip(b'=').decode()}.{signature}"

    assert shc.verify_shc(forged, trusted, now=NOW).reasons[0].startswith("bad signature")
    assert shc.verify_shc(jws, {}, now=NOW).reasons[0].startswith("unknown issuer")
    other = {SPEC_ISSUER: {"keys": [shc.generate_shc_key().public_jwk()]}}
    assert shc.verify_shc(jws, other, now=NOW).reasons[0].startswith("unknown key")
    for garbage in ("", "shc:/", "a.b", "x" * 300_000, b"\xff\xfe", "shc:/99", "{", "[]"):
        assert shc.verify_shc(garbage, trusted, now=NOW).status == "invalid"
    assert "at most 64 chunks" in shc.verify_shc("shc:/1/999999999999/5656", trusted, now=NOW).reasons[0]
    bomb = f"{header}.{base64.urlsafe_b64encode(zlib.compress(b'0' * 5_000_000)[2:-4]).rstrip(b'=').decode()}.{signature}"
    assert "more than" in shc.verify_shc(bomb, trusted, now=NOW).reasons[0]


def test_odd_shapes_in_a_signed_card_are_reported_not_raised(spec_key):
    trust = {"https://divoc.test": {"keys": [spec_key.public_jwk()]}}

    def card(payload) -> shc.ShcVerification:
        return shc.verify_shc(shc.sign_health_card(payload, spec_key), trust, now=NOW)

    bundle = shc.build_fhir_bundle([credential()])
    bundle["entry"][1]["resource"]["vaccineCode"] = "210"
    bundle["entry"][1]["resource"]["performer"] = ["ABC"]
    odd = card(shc.build_shc_payload(bundle, issuer="https://divoc.test", nbf=NBF))
    assert odd.status == "invalid" and "vaccineCode.coding is required" in " ".join(odd.reasons)
    assert odd.name == "John Doe" and odd.immunizations[0].code == ""

    nan = shc.build_shc_payload(shc.build_fhir_bundle([credential()]), issuer="https://divoc.test", nbf=NBF)
    jws = shc.sign_health_card(nan, spec_key)
    header, body, _ = jws.split(".")
    raw = shc.minified(nan).replace(str(NBF).encode(), b"NaN")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    forged_body = base64.urlsafe_b64encode(compressor.compress(raw) + compressor.flush()).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(spec_key.sign(f"{header}.{forged_body}".encode())).rstrip(b"=").decode()
    assert "is not JSON" in shc.verify_shc(f"{header}.{forged_body}.{signature}", trust, now=NOW).reasons[0]

    deep: dict = {}
    node = deep
    for _ in range(900):  # about as deep as JSON parsers go
        node["x"] = {}
        node = node["x"]
    nested = card(shc.build_shc_payload({"resourceType": "Bundle", "type": "collection", "entry": [deep]},
                                        issuer="https://divoc.test", nbf=NBF))
    assert nested.status == "invalid" and max(len(r) for r in nested.reasons) < 300


# --- the validator's fixtures --------------------------------------------------------------

#: Full cards (JWS, file, numeric QR, QR image) the official validator reports errors for.
REJECTED = {
    "test-example-00-d-jws-der-signature.txt": "64 bytes",
    "test-example-00-d-jws-der-signature-r-neg.txt": "64 bytes",
    "test-example-00-d-jws-der-signature-s-neg.txt": "64 bytes",
    "test-example-00-d-jws-der-signature-rs-neg.txt": "64 bytes",
    "test-example-00-d-jws-invalid-signature.txt": "bad signature",
    "test-example-00-d-jws-issuer-kid-mismatch.txt": "unknown key",
    "test-example-00-d-jws-issuer-not-valid-with-smart-key.txt": "unknown issuer",
    "test-example-00-d-jws-no_deflate.txt": "zip must be DEF",
    "test-example-00-d-jws-no_jws_header_alg.txt": "alg must be ES256",
    "test-example-00-d-jws-no_jws_header_kid.txt": "kid is required",
    "test-example-00-d-jws-no_jws_header_zip.txt": "zip must be DEF",
    "test-example-00-d-jws-utf8_bom_prefix.txt": "byte-order mark",
    "test-example-00-d-jws-wrong_jws_header_kid.txt": "unknown key",
    "test-example-00-d-jws-jws_too_long.txt": "unknown issuer",
    "test-example-00-e-file-bad_jwks.smart-health-card": "unknown issuer",
    "test-example-00-e-file-invalid_deflate.smart-health-card": "does not inflate",
    "test-example-00-e-file-invalid_issuer_url.smart-health-card": "unknown issuer",
    "test-example-00-e-file-invalid_issuer_url_http.smart-health-card": "unknown issuer",
    "test-example-00-e-file-issuer_url_with_trailing_slash.smart-health-card": "unknown issuer",
    "test-example-00-e-file-jws_too_long.smart-health-card": "unknown issuer",
    "test-example-00-e-file-multi-jws-issues.smart-health-card": "alg must be ES256",
    "test-example-00-e-file-no_deflate.smart-health-card": "zip must be DEF",
    "test-example-00-f-qr-code-numeric-value-0-number-too-big.txt": "above 77",
    "test-example-00-f-qr-code-numeric-value-0-odd-count.txt": "even number of digits",
    "test-example-00-f-qr-code-numeric-value-0-wrong_qr_header.txt": "expected shc:/",
    ("test-example-00-f-qr-code-numeric-value-0-index-out-of-range.txt",
     "../examples/example-02-f-qr-code-numeric-value-1.txt"): "out of range",
    ("test-example-02-f-qr-code-numeric-value-0-qr_chunk_too_big.txt",
     "test-example-02-f-qr-code-numeric-value-1-qr_chunk_too_big.txt"): "max 1191",
    ("../examples/example-02-f-qr-code-numeric-value-0.txt",
     "../examples/example-02-f-qr-code-numeric-value-2.txt"): "missing chunk",
    ("../examples/example-02-f-qr-code-numeric-value-0.txt", "../examples/example-02-f-qr-code-numeric-value-2.txt",
     "../examples/example-02-f-qr-code-numeric-value-0.txt"): "appears twice",
    "test-example-00-g-qr-code-0-bad_qr_version.png": "version 24",
    "test-example-00-g-qr-code-0-single_qr_segment.png": "version 29",
    "test-example-00-g-qr-code-0-too_many_qr_segment.png": "expected shc:/",
    "test-example-00-g-qr-code-0-corrupted.png": "no QR code",
    "test-invalid-jws-payload.png": "not a JSON object",
}

#: Full cards the validator passes (with warnings at most), and what we warn about.
ACCEPTED = {
    "test-example-00-d-jws-trailing_chars.txt": "whitespace",
    "test-example-00-e-file-trailing_chars.smart-health-card": "whitespace",
    "test-example-00-f-qr-code-numeric-value-0-trailing_chars.txt": "whitespace",
    "test-example-00-d-jws-bad-fhir-metadata.txt": "meta may only carry security",
    "test-example-00-f-qr-code-numeric-value-0-wrong-multi-chunk.txt": "chunk header",
    "test-example-00-e-file-multi-jws.smart-health-card": None,
    "test-example-00-e-file.wrong-extension": None,
    "test-example-1195-byte-qrnumeric.txt": None,
    "test-example-00-fhirhealthcard.json": None,
    "test-example-00-fhirhealthcard-multi-jws.json": None,
    "test-example-00-fhirhealthcard-with-resource-link.json": None,
    "test-example-00-g-qr-code-inflated-to-v22.png": None,
    "test-example-00-g-qr-code-0-scaled-23.jpg": None,
    "test-example-00-g-qr-code-0-scaled-85.jpg": None,
    ("test-example-00-g-qr-code-0-qr_chunk_too_small.png",
     "test-example-00-g-qr-code-1-qr_chunk_too_small.png"): "chunked QR codes are deprecated",
    tuple(f"test-example-00-f-qr-code-numeric-value-{i}-qr_chunk_too_small.txt" for i in range(17)):
        "chunked QR codes are deprecated",
}


def verify_fixture(names, trusted) -> shc.ShcVerification:
    paths = [FIXTURES / n for n in ((names,) if isinstance(names, str) else names)]
    if paths[0].suffix in (".png", ".jpg"):
        return shc.verify_shc_images([p.read_bytes() for p in paths], trusted, now=NOW)
    return shc.verify_shc([text(p) for p in paths] if len(paths) > 1 else text(paths[0]), trusted, now=NOW)


@pytest.mark.parametrize("names", list(REJECTED), ids=str)
def test_validator_negative_cards_are_rejected(trusted, names):
    result = verify_fixture(names, trusted)
    assert result.status == "invalid"
    assert REJECTED[names] in " ".join(result.reasons), result.reasons


@pytest.mark.parametrize("names", list(ACCEPTED), ids=str)
def test_validator_positive_cards_are_accepted(trusted, names):
    result = verify_fixture(names, trusted)
    assert result.status == "valid", result.reasons
    assert ACCEPTED[names] is None or ACCEPTED[names] in " ".join(result.warnings), result.warnings


def test_every_card_fixture_is_classified():
    """A new fixture in the validator's set must be looked at, not silently skipped."""
    classified = {n for names in (*REJECTED, *ACCEPTED) for n in ((names,) if isinstance(names, str) else names)}
    cards = {p.name for p in FIXTURES.glob("test-*")
             if p.name != "test-issuers.json"  # a trusted-issuer directory, not a card
             and not any(t in p.name for t in ("-a-", "-b-", "non-dm", "short-refs", "jwspayload"))}
    assert cards - classified == set()


#: FHIR bundles (errors make a card invalid; warnings do not).
BUNDLES = {
    "test-example-00-a-fhirBundle-bad_meta_wrong_security.json": "is not a Coding",
    "test-example-00-a-fhirBundle-empty-values.json": "empty",
    "test-example-00-a-fhirBundle-occurrence-issues.json": "exactly one of occurrenceDateTime",
    "test-example-00-a-fhirBundle-profile-usa.json": "must be 'completed'",
    "test-example-00-a-fhirBundle-status-not-completed.json": "must be 'completed'",
    "test-example-00-a-short-refs.json": "is not resource:N",
    # the validator only warns here, but a string "meta" is not FHIR: we refuse it
    "test-example-00-a-non-dm-properties.json": "meta must be an object",
    "test-example-00-a-fhirBundle-bad_meta_extra_key.json": None,
    "test-example-00-a-fhirBundle-bad_meta_non_security.json": None,
    "test-example-00-a-fhirBundle-trailing_chars.json": None,
}

#: JWS payloads, checked at NOW.
PAYLOADS = {
    "test-example-00-b-jws-payload-expanded-exp_milliseconds.json": "milliseconds",
    "test-example-00-b-jws-payload-expanded-expired.json": "expired",
    "test-example-00-b-jws-payload-expanded-missing-coding.json": "empty",
    "test-example-00-b-jws-payload-expanded-missing-shc-vc-type.json": "must include",
    "test-example-00-b-jws-payload-expanded-nbf_milliseconds.json": "not yet valid",
    "test-example-00-b-jws-payload-expanded-nbf_not_yet_valid.json": "not yet valid",
    "test-example-00-b-jws-payload-expanded-pre-expired.json": "exp is before nbf",
    "test-example-00-b-jws-payload-expanded-missing-covid-vc-type.json": None,
    "test-example-00-b-jws-payload-expanded-missing-imm-vc-type.json": None,
    "test-example-00-b-jws-payload-expanded-optional-vc-type.json": None,
    "test-example-00-b-jws-payload-expanded-trailing_chars.json": None,
    "test-example-00-b-jws-payload-expanded-unknown-vc-types.json": None,
    "test-example-covid-lab-jwspayload-missing-lab-vc-type.json": None,
}


@pytest.mark.parametrize("name", list(BUNDLES))
def test_validator_bundle_fixtures(name):
    errors, _ = shc.check_fhir_bundle(json.loads(text(FIXTURES / name)))
    if BUNDLES[name] is None:
        assert errors == []
    else:
        assert BUNDLES[name] in " ".join(errors), errors


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_validator_payload_fixtures(name):
    errors, _ = shc.check_payload(json.loads(text(FIXTURES / name)), now=NOW)
    if PAYLOADS[name] is None:
        assert errors == []
    else:
        assert PAYLOADS[name] in " ".join(errors), errors


def test_spec_bundles_and_payloads_pass_the_same_checks():
    for example in ("00", "01", "02", "03"):
        assert shc.check_fhir_bundle(json.loads(text(EXAMPLES / f"example-{example}-a-fhirBundle.json")))[0] == []
        assert shc.check_payload(json.loads(text(EXAMPLES / f"example-{example}-b-jws-payload-expanded.json")),
                                 now=NOW)[0] == []


@pytest.mark.parametrize("name,usable", [
    ("valid_key.json", 1), ("valid_keys.json", 3), ("valid_key_with_x5c.json", 1),
    ("wrong_alg_key.json", 0), ("wrong_curve_key.json", 0), ("wrong_kid_key.json", 0),
    ("wrong_kty_key.json", 0), ("wrong_use_key.json", 0), ("private_key.json", 0),
])
def test_issuer_jwks_keys(name, usable):
    jwks = json.loads(text(FIXTURES / name))
    jwks = jwks if "keys" in jwks else {"keys": [jwks]}
    keys, problems = shc.usable_jwks_keys(jwks)
    assert len(keys) == usable
    assert (problems == []) == (usable == len(jwks["keys"]))
