"""The notification service: one message per (event, recipient, subject), templates per language,
quiet hours, facility recipients, resend, and the sweep."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from sqlalchemy import func, select, update

from core import jobs, notify
from core.errors import ValidationError
from core.extensions import db
from core.models import Facility, NotificationSettings, OutboxMessage, User
from tests.factories import program

ISSUED = {"name": "Asha", "dose": 2, "kind": "vaccination", "code": "C-9", "link": "https://divoc.test/c"}


def count(model=OutboxMessage) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_same_cause_makes_one_message(app, ctx):
    first = notify.notify("certificate_issued", to_mobile="9812345678", context=ISSUED, key="cert-9")
    again = notify.notify("certificate_issued", to_mobile="9812345678", context=ISSUED, key="cert-9")
    other = notify.notify("certificate_issued", to_mobile="9812345679", context=ISSUED, key="cert-9")
    jobs.commit()
    assert first[0].id == again[0].id != other[0].id and count() == 2
    assert Queue("notify", connection=app.extensions["redis"]).count == 1  # one job for the transaction
    with pytest.raises(ValueError):
        notify.notify("no_such_event", to_mobile="1", context={}, key="x")


def test_every_event_renders_in_english_and_hindi_with_its_sample(app, ctx):
    for event in notify.EVENTS:
        for lang in ("en", "hi"):
            p = notify.preview(event, lang)
            assert p.body and p.subject and p.body in p.email_body, (event, lang)
            assert "%(" not in p.body and "{{" not in p.body
            assert (p.count.encoding == "UCS-2") == (lang == "hi"), (event, lang, p.body)
    booked = notify.preview("appointment_booked", "en")
    assert "Dec 3, 2026, 10:00-11:00" in booked.body
    assert "3 दिस॰ 2026" in notify.preview("appointment_booked", "hi").body  # the date in Hindi too


def test_unknown_language_falls_back_to_the_default(app, ctx):
    [m] = notify.notify("certificate_issued", to_mobile="9812345678", language="xx", context=ISSUED, key="k")
    assert m.language == "en" and m.body.startswith("DIVOC: Asha, your certificate for dose 2 is ready")


def test_quiet_hours_hold_messages_until_they_end(app, ctx, run_jobs):
    tz = ZoneInfo(app.config["CERTIFICATE_TIMEZONE"])
    local = dt.datetime.now(tz)
    start, end = (local - dt.timedelta(hours=1)).time().replace(microsecond=0), \
        (local + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    pid = program(quiet_start=start, quiet_end=end)
    [held] = notify.notify("certificate_issued", to_mobile="9812345678", context=ISSUED, key="q", program_id=pid)
    [otp] = notify.notify("otp", to_mobile="9812345678", context={"code": "123456", "minutes": 5}, key="o",
                          program_id=pid)
    jobs.commit()
    assert held.next_attempt_at.astimezone(tz).time() == end and held.enqueued_at is None
    run_jobs(["notify"])
    db.session.expire_all()
    assert (held.status, otp.status) == ("queued", "sent")  # sign-in codes never wait
    assert notify.sweep() == 0
    # the quiet hours end
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == held.id)
                       .values(next_attempt_at=dt.datetime.now(dt.timezone.utc)))
    assert notify.sweep() == 1
    jobs.commit()
    run_jobs(["notify"])
    db.session.expire_all()
    assert held.status == "sent" and held.attempts == 1


def test_quiet_window_across_midnight(app, ctx):
    tz = ZoneInfo(app.config["CERTIFICATE_TIMEZONE"])
    s = NotificationSettings(quiet_start=dt.time(21, 0), quiet_end=dt.time(8, 0))
    at = lambda h, m=0, day=5: dt.datetime(2026, 12, day, h, m, tzinfo=tz)  # noqa: E731
    assert notify.quiet_until(s, at(22)) == at(8, day=6)
    assert notify.quiet_until(s, at(3)) == at(8)
    assert notify.quiet_until(s, at(8)) is None and notify.quiet_until(s, at(20, 59)) is None


def test_settings_are_validated(app, ctx):
    pid = program()
    with pytest.raises(ValidationError) as bad:
        notify.save_settings(pid, events=["otp", "nope"], sender_id="THIS IS TOO LONG!", quiet_start=dt.time(22),
                             quiet_end=None, default_language="zz")
    assert {f.path for f in bad.value.fields} == {"events", "sender_id", "quiet_start", "default_language"}
    row = notify.save_settings(pid, events=["certificate_issued"], sender_id="DIVOC", quiet_start=None,
                               quiet_end=None, default_language="hi")
    assert (row.events, row.sender_id) == (["certificate_issued"], "DIVOC")
    assert notify.notify("appointment_booked", to_mobile="9812345678", context={}, key="z", program_id=pid) == []


def test_facility_events_go_to_the_facility_admins_in_their_language(app, ctx):
    fac = Facility(code="FAC-1", name="PHC Gothatuwa", district="Colombo")
    db.session.add(fac)
    db.session.flush()
    db.session.add_all([User(mobile="9000000001", roles="facility_admin", facility_id=fac.id, locale="hi"),
                        User(mobile="9000000002", roles="vaccinator", facility_id=fac.id),
                        User(mobile="9000000003", roles="facility_admin", facility_id=fac.id, active=False)])
    db.session.flush()
    sent = notify.notify_facility("side_effect_reported", fac.id, key="report-1", reference="C-1", context={
        "facility": fac.name, "code": "C-1", "symptoms": "fever", "reported_on": dt.date(2026, 12, 4)})
    assert [(m.to, m.language) for m in sent] == [("9000000001", "hi")]
    notices = notify.facility_notice(district="Colombo", message="Stock arrives Monday.", program_id=None,
                                     author="user:1")
    assert [m.to for m in notices] == ["9000000001"] and "Stock arrives Monday." in notices[0].body
    with pytest.raises(ValidationError) as bad:
        notify.facility_notice(facility_codes=["NOPE"], message="x", program_id=None, author="user:1")
    assert "NOPE" in bad.value.fields[0].reason


def test_resend_makes_a_new_message_with_the_same_text(app, ctx, run_jobs):
    [m] = notify.notify("certificate_issued", to_mobile="9812345678", context=ISSUED, key="r", reference="C-9")
    jobs.commit()
    again = notify.resend(m.id)
    twice = notify.resend(again.id)
    jobs.commit()
    run_jobs(["notify"])
    rows = notify.search("C-9")
    assert len(rows) == 3 and {r.body for r in rows} == {m.body} and {r.status for r in rows} == {"sent"}
    assert twice.idempotency_key.count(":resend:") == 1
    assert [r.id for r in notify.search("+919812345678")] == [r.id for r in rows]  # by number, any form
    assert notify.mask("9812345678") == "••••••5678" and notify.mask("asha@example.org") == "a•••@example.org"


def test_otp_uses_the_otp_template_in_the_page_language(app, client):
    client.post("/login?purpose=portal&lang=hi", data={"mobile": "9876500009", "next": "/portal/"})
    out = app.test_cli_runner().invoke(args=["notifications", "list", "--json", "--search", "9876500009"])
    [m] = json.loads(out.output)
    assert (m["event"], m["language"], m["status"]) == ("otp", "hi", "queued")
    assert "DIVOC" in m["body"] and any(ch.isdigit() for ch in m["body"])
