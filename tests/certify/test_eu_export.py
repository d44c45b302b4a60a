"""POST /certificate/api/eu-certificate (DIVOC's path) over HTTP, real PostgreSQL and Redis."""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from certify.credentials.eudcc import (
    DscSigner,
    decode_hc1,
    uvci_is_valid,
    verify_hc1,
)
from certify.models import Certificate
from core.extensions import db
from tests.certify.credentials.eudcc_support import assert_valid_dcc, read_qr
from tests.factories import api_client, certify_item, seed_vaccines

URL = "/certificate/api/eu-certificate"


def bearer(client, roles=("fetch",)) -> dict[str, str]:
    cid, secret = api_client(roles)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                              "client_secret": secret}).json["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def issued(app, client, run_jobs):
    """Certify items through the API, sign them with a worker; returns a function."""
    with app.app_context():
        seed_vaccines()
        certify_headers = bearer(client, ("certify",))

    def issue(*items):
        resp = client.post("/v3/certify", json=list(items), headers=certify_headers)
        assert resp.status_code == 202, resp.json
        run_jobs()
        return items[0]["preEnrollmentCode"]

    return issue


@pytest.fixture
def headers(app, client):
    with app.app_context():
        return bearer(client)


def export(client, headers, code, body=None, fmt="qr", **params):
    query = {"refId": code, "type": fmt, **params}
    return client.post(URL, query_string=query, json={"fn": "Doe", "gn": "John"} if body is None else body,
                       headers=headers)


def test_qr_is_a_png_holding_a_valid_signed_eu_certificate(app, client, dsc, issued, headers):
    code = issued(certify_item("EU-0001", name="John Doe", dose=1), certify_item("EU-0001", name="John Doe", dose=2))

    resp = export(client, headers, code)
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.headers["Cache-Control"] == "private, no-store"
    text = read_qr(resp.data)
    assert text.startswith("HC1:")

    result = verify_hc1(text, [dsc.certificate])
    assert result.valid, result.reasons
    dcc = result.dcc
    assert_valid_dcc(dcc)
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.dose == 2))
        assert dcc["v"][0]["ci"] == f"URN:UVCI:01:IN:{cert.certificate_id}#" + dcc["v"][0]["ci"][-1]
    assert uvci_is_valid(dcc["v"][0]["ci"])
    assert dcc["nam"] == {"fn": "Doe", "fnt": "DOE", "gn": "John", "gnt": "JOHN"}
    assert dcc["dob"] == "1987-04-21"
    assert {k: dcc["v"][0][k] for k in ("mp", "ma", "dn", "sd", "dt", "co", "is")} == {
        "mp": "Covishield", "ma": "ORG-100001981", "dn": 2, "sd": 2, "dt": "2021-10-17", "co": "LK",
        "is": app.config["CERTIFICATE_ISSUER_NAME"]}
    assert result.issuer_country == "IN"
    assert result.expires_at - result.issued_at == dt.timedelta(days=365)

    first = export(client, headers, code, dose=1)
    assert decode_hc1(read_qr(first.data)).dcc["v"][0]["dn"] == 1


def test_pdf_renders_the_eu_certificate(app, client, dsc, issued, headers, tmp_path):
    code = issued(certify_item(name="प्रिया शर्मा (Priya Sharma)"))
    resp = export(client, headers, code, {"fn": "शर्मा", "gn": "प्रिया"}, fmt="pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    (tmp_path / "eu.pdf").write_bytes(resp.data)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "eu.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = subprocess.run(["pdfinfo", str(tmp_path / "eu.pdf")], capture_output=True, text=True,
                           check=True).stdout
    assert re.search(r"^Pages:\s+1$", pages, re.M)
    for expected in ("COVID-19 Vaccination Certificate", "EU Digital COVID Certificate", "SHARMA<<PRIYA",
                     "Serum Institute Of India Private Limited (ORG-100001981)", "URN:UVCI:01:IN:", "Sri Lanka",
                     "1987-04-21", "शर्मा प्रिया"):
        assert expected in text, expected
    assert re.search(r"Number in a series of doses.*\b1\s*/\s*2\b", text, re.S)
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-singlefile", str(tmp_path / "eu.pdf"),
                    str(tmp_path / "page")], check=True)
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [f.text[:4] for f in found] == ["HC1:"]
    assert verify_hc1(found[0].text, [dsc.certificate]).valid


def test_unknown_beneficiary_is_404_json(client, dsc, headers, issued):
    resp = export(client, headers, "nobody")
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"


def test_a_vaccine_without_an_eu_code_is_refused_with_its_path(client, dsc, issued, headers):
    code = issued(certify_item(vaccination={"name": "Corbevax"}))
    resp = export(client, headers, code)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "not_exportable"
    assert resp.json["error"]["fields"] == [
        {"path": "evidence[0].vaccine", "reason": "Corbevax has no EU-DCC codes (vp, mp, ma) in the EU map"}]


def test_the_eu_map_is_editable_at_run_time(app, client, dsc, issued, headers):
    from certify import config_store
    from core import jobs

    code = issued(certify_item(vaccination={"name": "Covishield"}))
    with app.app_context():
        doc = config_store.json_document("map:eu")
        doc["Covishield"]["vp"] = "1119305005"
        config_store.publish("map:eu", json.dumps(doc), author="test")
        jobs.commit()
    assert decode_hc1(read_qr(export(client, headers, code).data)).dcc["v"][0]["vp"] == "1119305005"


@pytest.mark.parametrize("body,query,fields", [
    ({}, {}, ["fn", "gn"]),
    ({"fn": "Doe"}, {}, ["gn"]),
    ({"fn": "", "gn": " "}, {}, ["fn"]),
    ({"fn": 1, "gn": ["John"]}, {}, ["fn", "gn"]),
    ([], {}, ["$"]),
    ({"fn": "Doe", "gn": "John"}, {"type": "svg"}, ["type"]),
    ({"fn": "Doe", "gn": "John"}, {"refId": ""}, ["refId"]),
])
def test_bad_requests_are_400_with_paths(client, dsc, issued, headers, body, query, fields):
    code = issued(certify_item())
    params = {"refId": code, "type": "qr", **query}
    resp = client.post(URL, query_string=params, json=body, headers=headers)
    assert resp.status_code == 400
    assert [f["path"] for f in resp.json["error"]["fields"]] == fields


def test_names_must_be_the_name_on_the_certificate(client, dsc, issued, headers):
    code = issued(certify_item(name="John Doe"))
    resp = export(client, headers, code, {"fn": "Smith", "gn": "John"})
    assert resp.status_code == 422
    assert resp.json["error"]["fields"] == [
        {"path": "fn", "reason": "SMITH is not part of the name on the certificate"}]


def test_a_suspended_certificate_is_not_exported(app, client, dsc, issued, headers):
    code = issued(certify_item(name="John Doe"))
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        cert.status = "suspended"
        db.session.commit()
    assert export(client, headers, code).status_code == 409


def test_auth_is_required(app, client, dsc, issued):
    code = issued(certify_item(name="John Doe"))
    assert export(client, {}, code).status_code == 401
    assert export(client, {"Authorization": "Bearer forged"}, code).status_code == 401
    with app.app_context():
        admin_only = bearer(client, ("admin",))
        certify_role = bearer(client, ("certify",))
    assert export(client, admin_only, code).status_code == 403
    assert export(client, certify_role, code).status_code == 200


def test_validity_is_configurable(app, client, dsc, issued, headers, monkeypatch):
    code = issued(certify_item(name="John Doe"))
    monkeypatch.setitem(app.config, "EU_CERTIFICATE_EXPIRY", 30)
    decoded = decode_hc1(read_qr(export(client, headers, code).data))
    assert decoded.expires_at - decoded.issued_at == dt.timedelta(days=30)


def test_without_a_dsc_the_export_says_how_to_make_one(app, client, issued, headers, tmp_path, monkeypatch):
    code = issued(certify_item(name="John Doe"))
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.setitem(app.config, "EU_CERTIFICATE_PRIVATE_KEY_FILE", None)
    resp = export(client, headers, code)
    assert resp.status_code == 503
    assert "certify keys eu-dsc" in resp.json["error"]["message"]


def test_cli_generates_a_dev_dsc_once(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["certify", "keys", "eu-dsc", "--if-missing"])
    assert first.exit_code == 0 and "wrote a self-signed EU DSC" in first.output
    key, cert = (tmp_path / "eu-dsc-key.pem"), (tmp_path / "eu-dsc.pem")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    signer = DscSigner.from_pem(key.read_text(), cert.read_text())
    assert signer.certificate.subject.rfc4514_string().startswith("CN=DIVOC development DSC")
    again = runner.invoke(args=["certify", "keys", "eu-dsc", "--if-missing"])
    assert again.exit_code == 0 and "exists" in again.output
    assert runner.invoke(args=["certify", "keys", "eu-dsc"]).exit_code != 0
    assert DscSigner.from_pem(key.read_text(), cert.read_text()).kid == signer.kid
