"""The certify and fetch APIs over HTTP against real PostgreSQL and Redis."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from certify.models import Certificate, CertifyRequest
from core.extensions import db
from tests.factories import api_client, certify_item, seed_vaccines


@pytest.fixture
def token(app, client):
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client(("certify",))
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                             "client_id": cid, "client_secret": secret})
    assert resp.status_code == 200, resp.json
    return resp.json["access_token"]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def certify(client, token, items):
    return client.post("/v3/certify", json=items, headers=auth(token))


def count(app, model, **where):
    with app.app_context():
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        n = db.session.scalar(stmt)
        db.session.remove()
        return n


# --- auth -------------------------------------------------------------------------------

def test_token_rejects_wrong_secret(app, client, token):
    with app.app_context():
        cid, _ = api_client()
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                             "client_id": cid, "client_secret": "wrong"})
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"


def test_token_requires_client_credentials_grant(client):
    resp = client.post("/oauth/token", data={"grant_type": "password", "client_id": "x",
                                             "client_secret": "y"})
    assert resp.status_code == 400
    assert resp.json["error"]["fields"] == [{"path": "grant_type", "reason": "must be client_credentials"}]


def test_certify_requires_bearer_token(client):
    resp = client.post("/v3/certify", json=[certify_item()])
    assert resp.status_code == 401
    resp = client.post("/v3/certify", json=[certify_item()], headers=auth("forged.token"))
    assert resp.status_code == 401


def test_certify_requires_certify_role(app, client, token):
    with app.app_context():
        cid, secret = api_client(("fetch",))
    fetch_token = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                    "client_id": cid, "client_secret": secret}).json["access_token"]
    assert certify(client, fetch_token, [certify_item()]).status_code == 403


def test_secrets_are_stored_hashed(app, token):
    from core.models import ApiClient

    with app.app_context():
        cid, secret = api_client()
        row = db.session.scalar(select(ApiClient).where(ApiClient.client_id == cid))
        assert secret not in row.secret_hash and len(row.secret_hash) == 64


# --- validation ------------------------------------------------------------------------

def test_invalid_items_list_every_problem_with_its_path(app, client, token):
    good = certify_item()
    bad = certify_item(vaccination={"dose": 0, "date": "yesterday"})
    del bad["recipient"]["name"]
    bad2 = certify_item(vaccination={"name": "NoSuchVax", "totalDoses": "2"})
    resp = certify(client, token, [good, good | {"preEnrollmentCode": "X"}, {}, bad, bad2])
    assert resp.status_code == 400
    fields = {(f["path"], f["reason"]) for f in resp.json["error"]["fields"]}
    assert ("[3].vaccination.dose", "must be an integer ≥ 1") in fields
    assert ("[3].recipient.name", "is required") in fields
    assert any(p == "[3].vaccination.date" for p, _ in fields)
    assert ("[2].preEnrollmentCode", "is required") in fields
    assert ("[2].recipient", "is required") in fields
    assert ("[4].vaccination.totalDoses", "must be an integer ≥ 1") in fields
    assert count(app, CertifyRequest) == 0  # nothing of a rejected batch is stored


def test_unknown_vaccine_is_refused(client, token):
    resp = certify(client, token, [certify_item(vaccination={"name": "Snake Oil"})])
    assert resp.status_code == 400
    assert resp.json["error"]["fields"][0]["path"] == "[0].vaccination.name"


@pytest.mark.parametrize("body,ctype,status", [
    (b"{not json", "application/json", 400),
    (b"[]", "application/json", 400),
    (b'{"preEnrollmentCode": "1"}', "application/json", 400),
    (b"preEnrollmentCode=1", "application/x-www-form-urlencoded", 415),
])
def test_malformed_requests_get_clear_4xx(client, token, body, ctype, status):
    resp = client.post("/v3/certify", data=body, content_type=ctype, headers=auth(token))
    assert resp.status_code == status
    assert resp.json["error"]["message"]


def test_oversized_batch_is_refused(app, client, token):
    items = [certify_item() for _ in range(app.config["CERTIFY_MAX_BATCH"] + 1)]
    resp = certify(client, token, items)
    assert resp.status_code == 400
    assert "at most" in resp.json["error"]["fields"][0]["reason"]


def test_oversized_body_is_413(client, token):
    resp = client.post("/v3/certify", data=b"[" + b" " * (9 * 1024 * 1024) + b"]",
                       content_type="application/json", headers=auth(token))
    assert resp.status_code == 413
    assert resp.json["error"]["code"]


# --- issuance, idempotency, fetch ---------------------------------------------------------

def test_certify_then_fetch_json_qr_pdf(app, client, token, run_jobs):
    item = certify_item(name='Priya "Pinky" D\'Souza')
    resp = certify(client, token, [item])
    assert resp.status_code == 202
    assert resp.json["items"][0]["status"] == "accepted"
    code = item["preEnrollmentCode"]

    run_jobs()

    listing = client.get(f"/v1/certificates?preEnrollmentCode={code}", headers=auth(token)).json
    assert [c["dose"] for c in listing["certificates"]] == [1]
    assert listing["certificates"][0]["status"] == "valid"
    cid = listing["certificates"][0]["certificateId"]
    cred = client.get(f"/v1/certificates/{cid}", headers=auth(token)).json
    assert cred["credentialSubject"]["name"] == 'Priya "Pinky" D\'Souza'
    assert cred["evidence"][0]["certificateId"] == cid
    assert cred["evidence"][0]["icd11Code"] == "XM9QW8"
    assert cred["proof"]["type"] == "Ed25519Signature2018"

    qr = client.get(f"/certificate/api/certificateQRCode/{code}", headers=auth(token))
    assert qr.status_code == 200 and qr.data.startswith(b"\x89PNG")
    pdf = client.get(f"/certificate/api/certificatePDF/{code}", headers=auth(token))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.head(f"/certificate/api/certificatePDF/{code}", headers=auth(token)).status_code == 200
    assert client.head("/certificate/api/certificatePDF/nobody", headers=auth(token)).status_code == 404


def test_fetch_requires_token(client):
    assert client.get("/certificate/api/certificatePDF/x").status_code == 401
    assert client.get("/v1/certificates/1").status_code == 401


def test_same_dose_twice_issues_once(app, client, token, run_jobs):
    item = certify_item()
    first = certify(client, token, [item]).json["items"][0]
    pending_dup = certify(client, token, [item]).json["items"][0]
    assert first["status"] == "accepted"
    assert pending_dup["status"] == "duplicate" and "being processed" in pending_dup["message"]
    run_jobs()
    after = certify(client, token, [item, item]).json
    assert [i["status"] for i in after["items"]] == ["duplicate", "duplicate"]
    assert after["items"][0]["certificateId"]
    run_jobs()
    assert count(app, Certificate, pre_enrollment_code=item["preEnrollmentCode"]) == 1


def test_revoked_dose_can_be_certified_again(app, client, token, run_jobs):
    item = certify_item()
    certify(client, token, [item])
    run_jobs()
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        cert.status = "revoked"
        db.session.commit()
        old = cert.certificate_id
    again = certify(client, token, [item]).json["items"][0]
    assert again["status"] == "accepted"
    run_jobs()
    listing = client.get(f"/v1/certificates?preEnrollmentCode={item['preEnrollmentCode']}",
                         headers=auth(token)).json["certificates"]
    assert sorted(c["status"] for c in listing) == ["revoked", "valid"]
    assert [c for c in listing if c["status"] == "valid"][0]["certificateId"] != old


def test_latest_dose_is_served_and_dose_param_selects(app, client, token, run_jobs):
    code = "LATEST-1"
    certify(client, token, [certify_item(code, dose=1), certify_item(code, dose=2)])
    run_jobs()
    with app.app_context():
        by_dose = {c.dose: c for c in db.session.scalars(select(Certificate))}
        db.session.remove()
    latest = client.get(f"/certificate/api/certificateQRCode/{code}", headers=auth(token))
    first = client.get(f"/certificate/api/certificateQRCode/{code}?dose=1", headers=auth(token))
    assert latest.status_code == first.status_code == 200
    assert latest.data != first.data
    assert client.get(f"/certificate/api/certificateQRCode/{code}?dose=3",
                      headers=auth(token)).status_code == 404
    assert client.get(f"/certificate/api/certificateQRCode/{code}?dose=x",
                      headers=auth(token)).status_code == 400
    scanned = scan_qr(latest.data)
    assert scanned["evidence"][0]["certificateId"] == by_dose[2].certificate_id
    assert scanned == by_dose[2].credential


def scan_qr(png: bytes) -> dict:
    """Read a QR PNG with an independent decoder (zxing-cpp), then unzip it."""
    import io

    import zxingcpp
    from PIL import Image

    from certify.credentials.qr import unpack_qr_payload

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1
    return unpack_qr_payload(results[0].bytes)


def test_public_key_and_context_are_public(client):
    key = client.get("/certificate/api/publicKey").json
    assert key["did"] == "did:divoc:test#key-1"
    assert key["type"] == "Ed25519VerificationKey2018" and key["publicKeyBase58"]
    ctx = client.get("/credentials/vaccination/v2")
    assert ctx.status_code == 200 and ctx.mimetype == "application/ld+json"
    assert "icd11Code" in json.dumps(ctx.json)


def test_pdf_language_and_bilingual_are_selectable_and_cached(app, client, token, run_jobs):
    import subprocess

    from certify.models import RenderedArtifact

    item = certify_item("LANG-1")
    certify(client, token, [item])
    run_jobs()

    def text(resp) -> str:
        assert resp.status_code == 200, resp.data[:200]
        return subprocess.run(["pdftotext", "-", "-"], input=resp.data, capture_output=True,
                              check=True).stdout.decode()

    hindi = text(client.get("/certificate/api/certificatePDF/LANG-1?lang=hi", headers=auth(token)))
    both = text(client.get("/certificate/api/certificatePDF/LANG-1?lang=hi&bilingual=1", headers=auth(token)))
    english = text(client.get("/certificate/api/certificatePDF/LANG-1", headers=auth(token)))
    assert "प्रमाणपत्र" in hindi.replace(" ", "") and "Certificate" not in hindi.split("\n")[0]
    assert "प्रमाणपत्र" in both.replace(" ", "") and "Certificate" in both
    assert "Certificate" in english and "प्रमाणपत्र" not in english
    again = client.get("/certificate/api/certificatePDF/LANG-1?lang=hi", headers=auth(token))
    assert text(again) == hindi
    with app.app_context():
        langs = sorted(db.session.scalars(select(RenderedArtifact.lang).where(RenderedArtifact.kind == "pdf")))
    assert langs == ["en", "hi", "hi+en"]  # each rendered once, then served from the cache
    bad = client.get("/certificate/api/certificatePDF/LANG-1?lang=xx", headers=auth(token))
    assert bad.status_code == 400 and bad.json["error"]["fields"][0]["path"] == "lang"
