"""Update, revoke, suspend, reinstate, the signed revocation list and the audit trail."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from certify.credentials.jws import verify_document
from certify.models import Certificate
from core.extensions import db
from tests.factories import api_client, certify_item, seed_vaccines


@pytest.fixture
def api(app, client, run_jobs):
    """A small client for the bearer-token API, with a helper to issue certificates."""
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client(("certify", "admin"))
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]

    class Api:
        headers = {"Authorization": f"Bearer {tok}"}

        def issue(self, *items):
            assert client.post("/v3/certify", json=list(items), headers=self.headers).status_code == 202
            run_jobs()

        def listing(self, code):
            return client.get(f"/v1/certificates?preEnrollmentCode={code}", headers=self.headers).json["certificates"]

        def live(self, code, dose=1):
            return [c for c in self.listing(code) if c["status"] != "revoked" and c["dose"] == dose]

        def credential(self, cid):
            return client.get(f"/v1/certificates/{cid}", headers=self.headers).json

        def put(self, items):
            return client.put("/v3/certificate", json=items, headers=self.headers)

        def delete(self, code, query):
            return client.delete(f"/v1/certificates/{code}?{query}", headers=self.headers)

        def post(self, path, json=None):
            return client.post(path, json=json, headers=self.headers)

    return Api()


def verify_status(client, credential):
    return client.post("/api/v1/verify", json=credential).json


def test_update_reissues_with_a_new_id_and_revokes_the_old(app, client, api):
    item = certify_item("UPD-1", name="Jhon Doe")
    api.issue(item)
    [old] = api.live("UPD-1")
    old_cred = api.credential(old["certificateId"])
    pdf_before = client.get("/certificate/api/certificatePDF/UPD-1", headers=api.headers).data

    fixed = certify_item("UPD-1", name="John Doe")
    resp = api.put([fixed])
    assert resp.status_code == 200, resp.json
    [result] = resp.json["items"]
    assert result["previousCertificateId"] == old["certificateId"]
    assert result["certificateId"] != old["certificateId"] and result["revision"] == 1

    [live] = api.live("UPD-1")
    assert live["certificateId"] == result["certificateId"]
    new_cred = api.credential(live["certificateId"])
    assert new_cred["credentialSubject"]["name"] == "John Doe"
    assert verify_status(client, new_cred)["status"] == "valid"
    old_result = verify_status(client, old_cred)
    assert old_result["status"] == "revoked"
    assert "replaced" in old_result["reasons"][-1] or "updated" in old_result["reasons"][0]
    pdf_after = client.get("/certificate/api/certificatePDF/UPD-1", headers=api.headers).data
    assert pdf_after != pdf_before  # downloads serve the new certificate
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)
                                 .where(Certificate.status != "revoked")) == 1


def test_revoked_message_is_configurable(app, client, api):
    api.issue(certify_item("MSG-1"))
    old = api.credential(api.live("MSG-1")[0]["certificateId"])
    api.put([certify_item("MSG-1", name="New Name")])
    app.config["CERTIFICATE_REVOKED_MESSAGE"] = "certificate revoked, please download the updated certificate from the portal"
    try:
        result = verify_status(client, old)
    finally:
        app.config["CERTIFICATE_REVOKED_MESSAGE"] = ""
    assert result["reasons"][-1] == "certificate revoked, please download the updated certificate from the portal"


def test_update_limit(app, api):
    api.issue(certify_item("LIM-1"))
    app.config["CERTIFICATE_UPDATE_LIMIT"] = 2
    try:
        codes = [api.put([certify_item("LIM-1", name=f"Name {i}")]).status_code for i in range(3)]
        third = api.put([certify_item("LIM-1", name="Name x")])
    finally:
        app.config["CERTIFICATE_UPDATE_LIMIT"] = 100
    assert codes == [200, 200, 409]
    assert third.json["error"]["code"] == "update_limit_reached"
    assert third.json["error"]["fields"][0]["path"] == "[0]"
    assert len(api.live("LIM-1")) == 1


def test_update_of_unknown_dose_is_404_with_the_item_path(api):
    api.issue(certify_item("UNK-1"))
    resp = api.put([certify_item("UNK-1"), certify_item("UNK-1", dose=2)])
    assert resp.status_code == 404
    assert resp.json["error"]["fields"] == [
        {"path": "[1]", "reason": "no certificate for preEnrollmentCode UNK-1 dose 2"}]
    assert len(api.listing("UNK-1")) == 1  # nothing changed, not even item [0]


def test_concurrent_updates_leave_exactly_one_live_certificate(app, api):
    api.issue(certify_item("RACE-U"))
    barrier = threading.Barrier(4)
    codes = []

    def update(n):
        c = app.test_client()
        barrier.wait()
        codes.append(c.put("/v3/certificate", json=[certify_item("RACE-U", name=f"Racer {n}")],
                           headers=api.headers).status_code)

    threads = [threading.Thread(target=update, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4
    listing = api.listing("RACE-U")
    assert len(listing) == 5 and [c["status"] for c in listing].count("valid") == 1
    with app.app_context():
        revisions = sorted(db.session.scalars(select(Certificate.revision)))
        assert revisions == [0, 1, 2, 3, 4]  # the updates applied one after the other


def test_revoke_dose_list_rules(api):
    api.issue(*(certify_item("REV-1", dose=d) for d in (1, 2, 3)))
    not_latest = api.delete("REV-1", "doses=1&doses=2")
    gap = api.delete("REV-1", "doses=1&doses=3")
    nothing = api.delete("REV-1", "")
    assert (not_latest.status_code, gap.status_code, nothing.status_code) == (400, 400, 400)
    assert "latest dose (3)" in not_latest.json["error"]["fields"][0]["reason"]
    assert "sequential" in gap.json["error"]["fields"][0]["reason"]
    ok = api.delete("REV-1", "doses=2&doses=3&reason=entered+twice")
    assert ok.status_code == 200 and [r["dose"] for r in ok.json["revoked"]] == [2, 3]
    assert [c["dose"] for c in api.listing("REV-1") if c["status"] == "valid"] == [1]
    assert api.delete("REV-1", "allDoses=true").json["revoked"][0]["dose"] == 1
    assert api.delete("REV-1", "allDoses=true").status_code == 404


def test_a_revoked_dose_can_be_certified_again(client, api):
    item = certify_item("AGAIN-1")
    api.issue(item)
    old = api.live("AGAIN-1")[0]["certificateId"]
    assert api.delete("AGAIN-1", "doses=1").status_code == 200
    assert client.post("/v1/certificate/revoked", json={"certificateId": old}).json == {"revoked": True}
    api.issue(item)
    [new] = api.live("AGAIN-1")
    assert new["certificateId"] != old and new["status"] == "valid"
    assert client.post("/v1/certificate/revoked", json={"certificateId": new["certificateId"]}).json == {"revoked": False}


def test_suspend_then_reinstate(client, api):
    api.issue(certify_item("SUS-1"))
    cid = api.live("SUS-1")[0]["certificateId"]
    cred = api.credential(cid)
    assert api.post(f"/v1/certificates/{cid}/suspend", json={}).status_code == 400  # reason required
    resp = api.post(f"/v1/certificates/{cid}/suspend",
                    json={"reason": "under investigation", "until": "2099-01-01T00:00:00Z"})
    assert resp.status_code == 200 and resp.json["status"] == "suspended"
    result = verify_status(client, cred)
    assert result["status"] == "suspended" and "under investigation" in result["reasons"][0]
    status = client.get(f"/certificate/api/certificateStatus/{cid}").json
    assert status["status"] == "suspended" and status["until"] == "2099-01-01T00:00:00Z"
    assert api.post(f"/v1/certificates/{cid}/reinstate", json={"reason": "cleared"}).json["status"] == "valid"
    assert verify_status(client, cred)["status"] == "valid"
    assert api.post(f"/v1/certificates/{cid}/reinstate").status_code == 409


def test_expired_suspension_counts_as_valid(app, client, api):
    api.issue(certify_item("SUS-2"))
    cid = api.live("SUS-2")[0]["certificateId"]
    api.post(f"/v1/certificates/{cid}/suspend", json={"reason": "check"})
    with app.app_context():
        db.session.execute(text("UPDATE certificates SET suspended_until = now() - interval '1 minute'"))
        db.session.commit()
    assert verify_status(client, api.credential(cid))["status"] == "valid"


def trust_keys(app):
    from certify import verification

    with app.app_context():
        return verification.trust_store().keys


def test_revocation_list_is_signed_incremental_and_cacheable(app, client, api):
    api.issue(*(certify_item(f"RL-{i}") for i in range(3)))
    ids = [api.live(f"RL-{i}")[0]["certificateId"] for i in range(3)]
    empty = client.get("/certificate/api/revocationList").json
    assert empty["serial"] == 0 and empty["entries"] == []
    assert verify_document(empty, trust_keys(app))

    api.delete("RL-0", "doses=1")
    api.post(f"/v1/certificates/{ids[1]}/suspend", json={"reason": "check"})
    first = client.get("/certificate/api/revocationList")
    doc = first.json
    assert verify_document(doc, trust_keys(app))
    assert doc["serial"] > empty["serial"]
    assert {(e["certificateId"], e["status"]) for e in doc["entries"]} == {(ids[0], "revoked"), (ids[1], "suspended")}
    tampered = {**doc, "entries": doc["entries"][:1]}
    assert not verify_document(tampered, trust_keys(app))

    etag = first.headers["ETag"]
    assert client.get("/certificate/api/revocationList", headers={"If-None-Match": etag}).status_code == 304
    assert "max-age" in first.headers["Cache-Control"]

    api.post(f"/v1/certificates/{ids[1]}/reinstate")
    api.delete("RL-2", "doses=1")
    delta = client.get(f"/certificate/api/revocationList?since={doc['serial']}").json
    assert delta["serial"] > doc["serial"] and delta["since"] == doc["serial"]
    assert {(e["certificateId"], e["status"]) for e in delta["entries"]} == {(ids[1], "valid"), (ids[2], "revoked")}
    assert verify_document(delta, trust_keys(app))
    assert client.get("/certificate/api/revocationList?since=x").status_code == 400


def test_audit_trail_records_every_change_and_cannot_be_altered(app, client, api):
    api.issue(certify_item("AUD-1"))
    first = api.live("AUD-1")[0]["certificateId"]
    second = api.put([certify_item("AUD-1", name="Fixed")]).json["items"][0]["certificateId"]
    api.post(f"/v1/certificates/{second}/suspend", json={"reason": "check"})
    api.post(f"/v1/certificates/{second}/reinstate")
    api.delete("AUD-1", "doses=1")
    events = client.get("/v1/beneficiaries/AUD-1/history", headers=api.headers).json["events"]
    assert [(e["action"], e["beforeCertificateId"], e["afterCertificateId"]) for e in events] == [
        ("issue", None, first), ("update", first, second), ("suspend", second, second),
        ("reinstate", second, second), ("revoke", second, None)]
    assert all(e["actor"].startswith("client:") for e in events)
    with app.app_context():
        for sql in ("UPDATE audit_events SET actor = 'someone'", "DELETE FROM audit_events"):
            with pytest.raises(Exception, match="append-only"):
                db.session.execute(text(sql))
            db.session.rollback()


def test_history_needs_the_admin_role(app, client, api):
    with app.app_context():
        cid, secret = api_client(("certify",))
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    assert client.get("/v1/beneficiaries/X/history", headers={"Authorization": f"Bearer {tok}"}).status_code == 403
