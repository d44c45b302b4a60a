"""COVID-19 test-result certificates through the whole path: certify, fetch, verify, update, revoke."""
from __future__ import annotations

import copy

import pytest

from tests.certify.credentials.test_credentials_testcert import BASE_TEST_ITEM
from tests.factories import api_client, seed_vaccines


def test_item(code: str, sample: str = "2021-10-17T09:30:00+05:30", **details) -> dict:
    item = copy.deepcopy(BASE_TEST_ITEM)
    item["preEnrollmentCode"] = code
    item["testDetails"]["sampleCollectionTimestamp"] = sample
    item["testDetails"].update(details)
    return item


test_item.__test__ = False  # a factory, not a test


@pytest.fixture
def headers(app, client):
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    return {"Authorization": f"Bearer {tok}"}


def test_test_certificate_is_issued_fetched_and_verified(client, headers, run_jobs):
    first = client.post("/v1/test/certify", json=[test_item("T-1")], headers=headers)
    assert first.status_code == 202 and first.json["items"][0]["status"] == "accepted"
    assert "dose" not in first.json["items"][0]
    # the same sample again is a duplicate; a later sample is a new test
    again = client.post("/v1/test/certify", json=[test_item("T-1"), test_item("T-1", "2021-11-01T10:00:00+05:30", resultTimestamp="2021-11-02T10:00:00+05:30")],
                        headers=headers).json["items"]
    assert [i["status"] for i in again] == ["duplicate", "accepted"]
    run_jobs()
    listing = client.get("/v1/certificates?preEnrollmentCode=T-1", headers=headers).json["certificates"]
    assert [(c["kind"], c["dose"], c["status"]) for c in listing] == [("test", None, "valid")] * 2
    cred = client.get(f"/v1/certificates/{listing[0]['certificateId']}", headers=headers).json
    assert cred["type"] == ["VerifiableCredential", "ProofOfTestCertificateCredential"]
    assert cred["@context"][1] == "https://divoc.test/credentials/testCertificate/v1"
    assert client.get("/credentials/testCertificate/v1").json["@context"]["TestDetails"]
    result = client.post("/api/v1/verify", json=cred).json
    assert result["status"] == "valid" and result["certificate"]["name"] == "Bhaya Mitra"
    pdf = client.get("/certificate/api/test/certificatePDF/T-1", headers=headers)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.head("/certificate/api/test/certificatePDF/nobody", headers=headers).status_code == 404
    # a vaccination certificate download does not serve a test report
    assert client.head("/certificate/api/certificatePDF/T-1", headers=headers).status_code == 404


def test_invalid_test_items_name_the_field(client, headers):
    bad = test_item("T-2", result="Maybe")
    resp = client.post("/v1/test/certify", json=[bad], headers=headers)
    assert resp.status_code == 400
    assert any(f["path"] == "[0].testDetails.result" for f in resp.json["error"]["fields"])


def test_test_certificate_update_and_revoke(client, headers, run_jobs):
    client.post("/v1/test/certify", json=[test_item("T-3")], headers=headers)
    run_jobs()
    old = client.get("/v1/certificates?preEnrollmentCode=T-3", headers=headers).json["certificates"][0]
    fixed = test_item("T-3", result="Positive")
    resp = client.put("/v1/test/certificate", json=[fixed], headers=headers)
    assert resp.status_code == 200, resp.json
    new_id = resp.json["items"][0]["certificateId"]
    old_cred = client.get(f"/v1/certificates/{old['certificateId']}", headers=headers).json
    assert client.post("/api/v1/verify", json=old_cred).json["status"] == "revoked"
    new_cred = client.get(f"/v1/certificates/{new_id}", headers=headers).json
    assert new_cred["evidence"][0]["result"] == "Positive"
    revoked = client.post(f"/v1/certificates/{new_id}/revoke", json={"reason": "wrong person"}, headers=headers)
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert client.post("/api/v1/verify", json=new_cred).json["status"] == "revoked"
    assert client.post(f"/v1/certificates/{new_id}/revoke", headers=headers).status_code == 409
