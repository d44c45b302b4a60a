"""Twilio and SMTP delivery through real clients to local servers: retries with backoff,
permanent errors not retried, and what the delivery log shows."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, update

from core import jobs, notify
from core.extensions import db
from core.models import OutboxMessage
from tests.factories import program


def send(app, run_jobs, event="certificate_revoked", **kwargs) -> int:
    with app.app_context():
        context = {"name": "Asha", "code": "C-1", "reason": "test", **kwargs.pop("context", {})}
        [row] = notify.notify(event, context=context, key=kwargs.pop("key", "cert-1"), **kwargs)
        jobs.commit()
        message_id = row.id
        db.session.remove()
    run_jobs(["notify"])
    return message_id


def row(app, message_id) -> OutboxMessage:
    with app.app_context():
        r = db.session.get(OutboxMessage, message_id)
        db.session.expunge(r)
        db.session.remove()
        return r


def sweep(app, run_jobs) -> int:
    with app.app_context():
        count = notify.sweep()
        jobs.commit()
        db.session.remove()
    run_jobs(["notify"])
    return count


def test_twilio_send_records_the_provider_id(app, run_jobs, twilio):
    mid = send(app, run_jobs, to_mobile="9812345678", language="en")
    r = row(app, mid)
    [post] = twilio.posts
    assert post["To"] == "+919812345678" and post["From"] == "+15005550006"  # national → E.164
    assert post["StatusCallback"] == "https://divoc.test/notifications/twilio/status"
    assert (r.status, r.attempts, r.provider_id) == ("sent", 1, twilio.messages[0]["sid"])


def test_transient_failure_is_retried_with_backoff_then_succeeds(app, run_jobs, twilio, configured):
    configured(NOTIFY_RETRY_BASE_DELAY=60)
    twilio.fail_next(503, None, "Service Unavailable")
    mid = send(app, run_jobs, to_mobile="+919812345678")
    r = row(app, mid)
    assert (r.status, r.attempts) == ("queued", 1) and "HTTP 503" in r.last_error
    assert 59 <= (r.next_attempt_at - r.claimed_at).total_seconds() <= 61  # backoff: the first delay
    assert sweep(app, run_jobs) == 0 and len(twilio.posts) == 1  # not due yet: nothing sent
    with app.app_context():  # a minute passes
        t, minute = OutboxMessage, dt.timedelta(seconds=61)
        db.session.execute(update(t).values(created_at=t.created_at - minute, enqueued_at=t.enqueued_at - minute,
                                            claimed_at=t.claimed_at - minute, next_attempt_at=t.next_attempt_at - minute))
        jobs.commit()
    assert sweep(app, run_jobs) == 1
    r = row(app, mid)
    assert (r.status, r.attempts, r.last_error) == ("sent", 2, None)
    assert len(twilio.posts) == 2 and len(twilio.messages) == 1


def test_backoff_doubles_up_to_the_cap_and_attempts_are_capped(app, run_jobs, twilio, configured):
    configured(NOTIFY_RETRY_BASE_DELAY=0, NOTIFY_MAX_ATTEMPTS=3)
    with app.app_context():
        configured(NOTIFY_RETRY_BASE_DELAY=30, NOTIFY_RETRY_MAX_DELAY=200)
        assert [notify.backoff(n) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 200, 200]
        configured(NOTIFY_RETRY_BASE_DELAY=0)
    for _ in range(3):
        twilio.fail_next(429, 20429, "Too Many Requests")
    mid = send(app, run_jobs, to_mobile="+919812345678")
    for _ in range(2):
        sweep(app, run_jobs)
    r = row(app, mid)
    assert (r.status, r.attempts) == ("failed", 3) and r.last_error.startswith("gave up after 3 attempts: 20429")
    assert sweep(app, run_jobs) == 0 and len(twilio.posts) == 3


def test_permanent_errors_are_not_retried_and_stay_visible(app, run_jobs, twilio, configured):
    configured(NOTIFY_RETRY_BASE_DELAY=0)
    invalid = send(app, run_jobs, to_mobile="12345", key="a")  # Twilio answers 21211
    twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    stopped = send(app, run_jobs, to_mobile="+919800000001", key="b")
    for _ in range(3):
        assert sweep(app, run_jobs) == 0
    assert len(twilio.posts) == 2 and twilio.messages == []
    r1, r2 = row(app, invalid), row(app, stopped)
    assert (r1.status, r1.attempts) == ("failed", 1) and r1.last_error.startswith("21211:")
    assert "is not a valid phone number" in r1.last_error
    assert (r2.status, r2.attempts) == ("failed", 1) and r2.last_error.startswith("21610:")
    listed = app.test_cli_runner().invoke(args=["notifications", "list", "--json"])
    assert listed.exit_code == 0
    log = {m["to"]: m for m in json.loads(listed.output)}
    assert log["12345"]["status"] == "failed" and "21211" in log["12345"]["last_error"]
    assert {"to", "event", "language", "body", "status"} <= set(log["12345"])


def test_program_sender_id_is_the_from(app, run_jobs, twilio, configured):
    configured(TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32)
    with app.app_context():
        pid = program("Measles", sender_id="MOHFW")
    send(app, run_jobs, to_mobile="+919812345678", program_id=pid, key="x")
    send(app, run_jobs, to_mobile="+919812345678", key="y")
    with_sender, without = twilio.posts
    assert with_sender["From"] == "MOHFW" and with_sender["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in without and without["MessagingServiceSid"] == "MG" + "1" * 32


def test_email_goes_through_smtp_with_a_stable_message_id(app, run_jobs, smtp):
    mid = send(app, run_jobs, event="certificate_issued", to_email="asha@example.org", language="hi",
               context={"dose": 1, "kind": "vaccination", "link": "https://divoc.test/x"})
    [mail] = smtp.received
    assert mail["To"] == "asha@example.org" and mail["Subject"] == "आपका प्रमाणपत्र तैयार है"
    assert "https://divoc.test/x" in mail.get_content() and "DIVOC" in mail["From"]
    r = row(app, mid)
    assert (r.status, r.channel, r.provider_id) == ("sent", "email", mail["Message-ID"])


def test_smtp_refusals_5xx_fail_and_4xx_retry(app, run_jobs, smtp, configured):
    configured(NOTIFY_RETRY_BASE_DELAY=60)
    smtp.refuse = {"gone@example.org": "550 5.1.1 no such user", "full@example.org": "452 4.2.2 mailbox full"}
    gone = row(app, send(app, run_jobs, to_email="gone@example.org", key="g"))
    full = row(app, send(app, run_jobs, to_email="full@example.org", key="f"))
    assert gone.status == "failed" and "550" in gone.last_error
    assert full.status == "queued" and "452" in full.last_error and smtp.received == []


def test_a_lost_queue_is_refilled_by_the_sweep(app, run_jobs, configured):
    configured(SWEEP_GRACE=0)
    with app.app_context():
        [r] = notify.notify("otp", to_mobile="9812345678", context={"code": "123456", "minutes": 5}, key="k")
        jobs.commit()
        mid = r.id
    conn = app.extensions["redis"]
    conn.delete(*list(conn.scan_iter("rq:*")))  # Redis restarted empty
    assert sweep(app, run_jobs) == 1
    assert row(app, mid).status == "sent"
    with app.app_context():  # the sweep leaves sent messages alone
        db.session.execute(update(OutboxMessage).values(enqueued_at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)))
        jobs.commit()
    assert sweep(app, run_jobs) == 0
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.attempts)) == 1
