"""Certify → exactly one "certificate issued" SMS in the recipient's language with a working link;
updates and revocations notify too; the portal's resend is rate-limited."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from certify import notifications
from core import jobs
from core.errors import NotFound
from core.extensions import db
from core.models import OutboxMessage, User
from core.ratelimit import RateLimited
from tests.factories import api_client, certify_item, program, seed_vaccines


def token(client, app, roles=("certify", "fetch")) -> dict:
    with app.app_context():
        cid, secret = api_client(roles)
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    return {"Authorization": f"Bearer {tok}"}


def messages(app, **where) -> list[OutboxMessage]:
    with app.app_context():
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(OutboxMessage, k) == v)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def sign_in(client, user_id: int) -> None:
    with client.session_transaction() as sess:
        sess.clear()
        sess["_user_id"], sess["_fresh"] = str(user_id), True


def test_certify_sends_one_issued_sms_in_the_recipients_language_with_a_working_link(app, client, run_jobs):
    with app.app_context():
        seed_vaccines()
        db.session.add(User(mobile="9812345678", locale="hi"))  # chose Hindi in the portal
        db.session.add(User(mobile="9800000000"))
        jobs.commit()
    auth = token(client, app)
    item = certify_item("NOTIFY-1", recipient={"contact": ["tel:9812345678"], "name": "Asha Devi"})
    assert client.post("/v3/certify", json=[item], headers=auth).status_code == 202
    # the same dose again (a source system retrying) is a duplicate: no second message
    assert client.post("/v3/certify", json=[item], headers=auth).json["duplicates"] == 1
    run_jobs(["certify"])
    assert [m.status for m in messages(app)] == ["queued"]  # written with the certificate
    run_jobs(["notify"])

    [sms] = messages(app, event="certificate_issued")
    assert (sms.channel, sms.to, sms.language, sms.status) == ("sms", "9812345678", "hi", "sent")
    assert sms.reference == "NOTIFY-1" and sms.template == "sms/certificate_issued.txt"
    assert "प्रमाणपत्र" in sms.body and "Asha Devi" in sms.body  # Hindi text, the recipient's name
    link = re.search(r"https://\S+", sms.body).group(0)
    assert link == "https://divoc.test/portal/c/NOTIFY-1?dose=1&lang=hi"  # the citizen's own link
    url = urlsplit(link)
    target = f"{url.path}?{url.query}"
    first = client.get(target)  # not signed in yet: the OTP sign-in, then back here
    assert first.status_code == 302 and "/login?" in first.headers["Location"]
    with app.app_context():
        owner, other = (db.session.scalar(select(User.id).where(User.mobile == m))
                        for m in ("9812345678", "9800000000"))
    sign_in(client, owner)
    pdf = client.get(target)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "-hi.pdf" in pdf.headers["Content-Disposition"]
    sign_in(client, other)
    assert client.get(target).status_code == 404  # another number gets nothing

    # the second dose is its own message; running the jobs again sends nothing twice
    item2 = certify_item("NOTIFY-1", dose=2, recipient={"contact": ["tel:9812345678"], "name": "Asha Devi"})
    client.post("/v3/certify", json=[item2], headers=auth)
    run_jobs(["certify"])
    run_jobs(["notify"])
    with app.app_context():
        from core import notify

        notify.deliver([m.id for m in messages(app)])
        jobs.commit()
    assert [(m.event, m.status, m.attempts) for m in messages(app)] == [
        ("certificate_issued", "sent", 1), ("certificate_issued", "sent", 1)]


def test_language_from_the_request_then_the_program_default(app, client, run_jobs):
    with app.app_context():
        seed_vaccines()
        program("Polio", default_language="hi", sender_id="DIVOC")
    auth = token(client, app)
    items = [certify_item("LANG-REQ", recipient={"contact": ["tel:9800000001", "mailto:a@example.org"],
                                                 "language": "en"}, ),
             certify_item("LANG-PROG", recipient={"contact": ["tel:9800000002"]})]
    items[0]["programId"] = items[1]["programId"] = "Polio"
    client.post("/v3/certify", json=items, headers=auth)
    run_jobs(["certify"])
    run_jobs(["notify"])
    by_ref = {(m.reference, m.channel): m for m in messages(app)}
    assert by_ref[("LANG-REQ", "sms")].language == "en" and "Download:" in by_ref[("LANG-REQ", "sms")].body
    assert by_ref[("LANG-REQ", "email")].to == "a@example.org"
    assert by_ref[("LANG-REQ", "email")].subject == "Your certificate is ready"
    assert by_ref[("LANG-PROG", "sms")].language == "hi" and by_ref[("LANG-PROG", "sms")].sender == "DIVOC"
    assert {m.status for m in by_ref.values()} == {"sent"}


def test_program_can_switch_the_issued_event_off(app, client, run_jobs):
    with app.app_context():
        seed_vaccines()
        program("Quiet", events=["certificate_revoked"])
    item = certify_item("OFF-1")
    item["programId"] = "Quiet"
    client.post("/v3/certify", json=[item], headers=token(client, app))
    run_jobs(["certify"])
    assert messages(app) == []


def test_update_and_revoke_notify_the_recipient(app, client, run_jobs):
    with app.app_context():
        seed_vaccines()
    auth = token(client, app)
    item = certify_item("LIFE-1", recipient={"contact": ["tel:9811111111"]})
    client.post("/v3/certify", json=[item], headers=auth)
    run_jobs(["certify"])
    fixed = certify_item("LIFE-1", recipient={"contact": ["tel:9811111111"], "name": "Jon Doe"})
    assert client.put("/v3/certificate", json=[fixed], headers=auth).status_code == 200
    assert client.delete("/v1/certificates/LIFE-1?allDoses=true&reason=entered+twice",
                         headers=auth).status_code == 200
    run_jobs(["notify"])
    rows = messages(app, reference="LIFE-1")
    assert [m.event for m in rows] == ["certificate_issued", "certificate_updated", "certificate_revoked"]
    assert "Jon Doe" in rows[1].body and "dose=1" in rows[1].body
    assert "entered twice" in rows[2].body and {m.status for m in rows} == {"sent"}


def test_portal_resend_of_certificate_ready_is_rate_limited(app, client, run_jobs):
    with app.app_context():
        seed_vaccines()
    client.post("/v3/certify", json=[certify_item("RESEND-1", recipient={"contact": ["tel:9822222222"]})],
                headers=token(client, app))
    run_jobs(["certify"])
    with app.app_context():
        with pytest.raises(NotFound) as wrong:
            notifications.resend_certificate_ready("RESEND-1", "9899999999")  # not the certificate's number
        assert wrong.value.status == 404
        jobs.rollback()
        for number in ("+919822222222", "9822222222", "0091 98222 22222")[:app.config["NOTIFY_RESENDS_PER_HOUR"]]:
            notifications.resend_certificate_ready("RESEND-1", number)
            jobs.commit()
        with pytest.raises(RateLimited):
            notifications.resend_certificate_ready("RESEND-1", "9822222222")
        jobs.rollback()
    run_jobs(["notify"])
    rows = messages(app, reference="RESEND-1")
    assert len(rows) == 1 + app.config["NOTIFY_RESENDS_PER_HOUR"]  # the original and three resends
    assert len({m.body for m in rows}) == 1 and {m.status for m in rows} == {"sent"}
