"""SMART Health Card and WHO DDCC exports over HTTP, at DIVOC's paths, against real PostgreSQL and Redis."""
from __future__ import annotations

import io
import json
import subprocess

import pytest
import zxingcpp
from fhir.resources.R4B.bundle import Bundle
from PIL import Image
from sqlalchemy import select

from certify.credentials import shc
from certify.models import Certificate, RenderedArtifact
from core.extensions import db
from tests.factories import api_client, certify_item, seed_vaccines

SHC = "/certificate/api/shc-certificate"
FHIR = "/certificate/api/fhir-certificate"


@pytest.fixture
def headers(app, client):
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client(("certify",))
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                              "client_secret": secret}).json["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def issued(client, headers, run_jobs):
    """A beneficiary with two doses (Covishield, then Covaxin as a mixed schedule)."""
    first = certify_item(name="Priya D'Souza")
    code = first["preEnrollmentCode"]
    second = certify_item(code, dose=2, name="Priya D'Souza",
                          vaccination={"name": "Covaxin", "batch": "BB2021", "date": "2021-12-01T10:00"})
    assert client.post("/v3/certify", json=[first, second], headers=headers).status_code == 202
    run_jobs()
    return code


def trusted_from_jwks(client) -> dict:
    resp = client.get("/.well-known/jwks.json")
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    return {"https://divoc.test": resp.json}


def test_jwks_publishes_only_the_public_es256_key(client):
    resp = client.get("/.well-known/jwks.json")
    [key] = resp.json["keys"]
    assert set(key) == {"kty", "kid", "use", "alg", "crv", "x", "y", "crlVersion"}  # no "d"
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert key["kid"] == shc.jwk_thumbprint(key)
    keys, problems = shc.usable_jwks_keys(resp.json)
    assert list(keys) == [key["kid"]] and problems == []
    assert "public" in resp.headers["Cache-Control"]


def test_qr_is_a_numeric_shc_qr_that_verifies_against_the_published_jwks(client, headers, issued):
    resp = client.get(f"{SHC}?refId={issued}&type=qr", headers=headers)

    assert resp.status_code == 200 and resp.mimetype == "image/png"
    [symbol] = zxingcpp.read_barcodes(Image.open(io.BytesIO(resp.data)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert symbol.text.startswith("shc:/") and symbol.text[5:].isdigit()
    assert int(symbol.extra["Version"]) <= 22 and symbol.ec_level == "L"
    result = shc.verify_shc(symbol.text, trusted_from_jwks(client))
    assert result.status == "valid", result.reasons
    assert (result.name, result.birth_date, result.issuer) == ("Priya D'Souza", "1987-04-21", "https://divoc.test")
    assert [(i.date, i.system, i.code, i.lot) for i in result.immunizations] == [
        ("2021-10-17", shc.CVX_SYSTEM, "210", "41202025"), ("2021-12-01", shc.CVX_SYSTEM, "502", "BB2021")]
    assert result.warnings == ()


def test_file_is_a_smart_health_card_that_verifies(client, headers, issued):
    resp = client.get(f"{SHC}?refId={issued}&type=file&fn=D%27Souza&gn=Priya", headers=headers)

    assert resp.status_code == 200 and resp.mimetype == "application/smart-health-card"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Content-Disposition"].endswith('.smart-health-card"')
    [jws] = json.loads(resp.data)["verifiableCredential"]
    result = shc.verify_shc(resp.data, trusted_from_jwks(client))
    assert result.status == "valid" and result.jws == (jws,)
    patient = result.payloads[0]["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]
    assert patient["name"] == [{"family": "D'Souza", "given": ["Priya"]}]
    bundle = result.payloads[0]["vc"]["credentialSubject"]["fhirBundle"]
    Bundle.model_validate(bundle)
    assert len(jws) <= shc.MAX_SINGLE_QR_JWS


def test_the_same_certificates_give_the_same_card(client, headers, issued):
    first = client.get(f"{SHC}?refId={issued}&type=file", headers=headers).data
    assert client.get(f"{SHC}?refId={issued}&type=file", headers=headers).data == first


def test_pdf_shows_the_card_and_is_cached(app, client, headers, issued, tmp_path):
    resp = client.get(f"{SHC}?refId={issued}&type=pdf", headers=headers)

    assert resp.status_code == 200 and resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    pdf = tmp_path / "card.pdf"
    pdf.write_bytes(resp.data)
    words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("SMART Health Card", "Priya D'Souza", "1987-04-21", "Covishield", "CVX 210", "Covaxin",
                     "CVX 502", "BB2021", "https://divoc.test"):
        assert expected in words, expected
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    [page] = tmp_path.glob("page*.png")
    [symbol] = zxingcpp.read_barcodes(Image.open(page), formats=zxingcpp.BarcodeFormat.QRCode)  # the printed QR scans
    assert shc.verify_shc(symbol.text, trusted_from_jwks(client)).status == "valid"
    with app.app_context():
        kinds = set(db.session.scalars(select(RenderedArtifact.kind)))
        db.session.remove()
    assert "shc-pdf" in kinds
    assert client.get(f"{SHC}?refId={issued}&type=pdf", headers=headers).data == resp.data


def test_revoked_and_suspended_doses_are_left_out(app, client, headers, issued):
    with app.app_context():
        second = db.session.scalar(select(Certificate).where(Certificate.dose == 2))
        second.status = "suspended"
        db.session.commit()
    resp = client.get(f"{SHC}?refId={issued}&type=file", headers=headers)
    result = shc.verify_shc(resp.data, trusted_from_jwks(client))
    assert [i.code for i in result.immunizations] == ["210"]
    with app.app_context():
        for cert in db.session.scalars(select(Certificate)):
            cert.status = "revoked"
        db.session.commit()
    assert client.get(f"{SHC}?refId={issued}&type=qr", headers=headers).status_code == 404
    assert client.get(f"{FHIR}?refId={issued}", headers=headers).status_code == 404


def test_fhir_certificate_is_a_ddcc_vs_document(client, headers, issued):
    resp = client.get(f"{FHIR}?refId={issued}", headers=headers)

    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    doc = resp.json
    Bundle.model_validate(doc)
    assert doc["type"] == "document"
    kinds = [e["resource"]["resourceType"] for e in doc["entry"]]
    assert kinds == ["Composition", "Patient", "Organization", "Immunization"]
    imm = doc["entry"][3]["resource"]
    assert imm["vaccineCode"]["coding"][0]["code"] == "XM1NL1"  # the newest dose: Covaxin
    assert imm["protocolApplied"][0]["doseNumberPositiveInt"] == 2
    assert doc["entry"][1]["resource"]["name"][0]["text"] == "Priya D'Souza"


def test_unknown_ref_id_is_404_and_bad_queries_are_400(client, headers):
    for path in (f"{SHC}?refId=nobody&type=qr", f"{SHC}?refId=nobody&type=pdf", f"{SHC}?refId=nobody&type=file",
                 f"{FHIR}?refId=nobody"):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    assert client.get(f"{SHC}?type=qr", headers=headers).json["error"]["fields"][0]["path"] == "refId"
    bad = client.get(f"{SHC}?refId=x&type=svg", headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["fields"] == [
        {"path": "type", "reason": "must be one of qr, pdf, file"}]
    assert client.get(f"{FHIR}", headers=headers).status_code == 400


def test_exports_require_a_bearer_token(client, issued):
    for path in (f"{SHC}?refId={issued}&type=qr", f"{SHC}?refId={issued}&type=file", f"{FHIR}?refId={issued}"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer forged"}).status_code == 401


def test_cli_generates_a_dev_key_once(app, tmp_path):
    path = tmp_path / "shc.pem"
    runner = app.test_cli_runner()

    first = runner.invoke(args=["certify", "keys", "generate-shc", "--out", str(path)])
    again = runner.invoke(args=["certify", "keys", "generate-shc", "--out", str(path), "--if-missing"])
    refused = runner.invoke(args=["certify", "keys", "generate-shc", "--out", str(path)])

    key = shc.load_shc_key(path.read_text())
    assert first.exit_code == 0 and key.kid in first.output
    assert again.exit_code == 0 and "key exists" in again.output
    assert refused.exit_code != 0 and "refusing to overwrite" in refused.output
    assert path.stat().st_mode & 0o077 == 0


def test_a_chunked_card_shows_every_chunk_in_the_png():
    from certify.shc_exports import _stacked
    from tests.certify.credentials.test_credentials_shc import EXAMPLES

    jws = (EXAMPLES / "example-02-d-jws.txt").read_text().strip()
    chunks = shc.qr_chunks(jws)
    png = _stacked([shc.shc_qr_png(c) for c in chunks])
    found = {s.text for s in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)}
    assert found == set(chunks) and len(chunks) == 3
