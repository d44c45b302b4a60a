"""The notifications admin page: roles, search, masked recipients, preview, resend, notices, settings."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from core import jobs, notify
from core.extensions import db
from core.models import Facility, NotificationSettings, OutboxMessage, Program, User
from tests.facility.test_config_admin import sign_in

ISSUED = {"name": "Asha", "dose": 1, "kind": "vaccination", "code": "PEC-77", "link": "https://divoc.test/c"}


def seed(app) -> int:
    with app.app_context():
        [ok] = notify.notify("certificate_issued", to_mobile="9812345678", context=ISSUED, key="c1",
                             reference="PEC-77")
        [bad] = notify.notify("certificate_revoked", to_mobile="9811111111", key="c2", reference="PEC-78",
                              context={"name": "Ravi", "code": "PEC-78", "reason": "error"})
        [otp] = notify.notify("otp", to_mobile="9812345678", context={"code": "424242", "minutes": 5}, key="o")
        ok.status, ok.provider_id = "delivered", "SM" + "b" * 32
        bad.status, bad.attempts, bad.last_error = "failed", 1, "21211: The 'To' number is not valid"
        jobs.commit()
        return ok.id


def test_roles(app, client):
    assert client.get("/facility/admin/notifications").status_code == 302
    sign_in(app, client, roles="facility_staff")
    assert client.get("/facility/admin/notifications").status_code == 403


def test_program_admin_reads_the_log_but_cannot_resend(app, client):
    mid = seed(app)
    sign_in(app, client, roles="program_admin")
    page = client.get("/facility/admin/notifications")
    assert page.status_code == 200
    html = page.data.decode()
    assert "••••••5678" in html and "9812345678" not in html  # recipients are masked
    assert "21211: The &#39;To&#39; number is not valid" in html and "status-failed" in html
    assert "Resend" not in html
    assert "424242" not in html and "A sign-in code (not shown)." in html  # admins never see OTPs
    assert client.post(f"/facility/admin/notifications/{mid}/resend").status_code == 403


def test_search_by_mobile_or_enrolment_code_and_htmx_fragment(app, client):
    seed(app)
    sign_in(app, client, roles="system_admin")
    by_code = client.get("/facility/admin/notifications?q=PEC-78").data.decode()
    assert "••••••1111" in by_code and "••••••5678" not in by_code
    fragment = client.get("/facility/admin/notifications?q=%2B919812345678",
                          headers={"HX-Request": "true", "HX-Target": "messages"})
    body = fragment.data.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="messages"')
    assert "••••••5678" in body and "••••••1111" not in body and "HX-Request" in fragment.headers["Vary"]


def test_preview_shows_the_segment_count(app, client):
    sign_in(app, client, roles="program_admin")
    hi = client.get("/facility/admin/notifications/preview?event=certificate_issued&language=hi").data.decode()
    with app.app_context():
        expected = notify.preview("certificate_issued", "hi").count
    assert "UCS-2" in hi and f"{expected.segments} segments" in hi and expected.segments >= 2
    en = client.get("/facility/admin/notifications/preview?event=otp&language=en").data.decode()
    assert "GSM-7" in en and "1 segment" in en


def test_system_admin_resends(app, client):
    mid = seed(app)
    sign_in(app, client, roles="system_admin")
    resp = client.post(f"/facility/admin/notifications/{mid}/resend", data={"q": "PEC-77"})
    assert resp.status_code == 302 and "q=PEC-77" in resp.headers["Location"]
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.reference == "PEC-77")
                                  .order_by(OutboxMessage.id)).all()
        assert [r.status for r in rows] == ["delivered", "queued"] and rows[0].body == rows[1].body
    assert client.post("/facility/admin/notifications/999999/resend").status_code == 404


def test_program_admin_sends_a_facility_notice(app, client):
    with app.app_context():
        fac = Facility(code="FAC-9", name="CHC Kandy")
        db.session.add(fac)
        db.session.flush()
        db.session.add(User(mobile="9000000009", roles="facility_admin", facility_id=fac.id))
        jobs.commit()
    sign_in(app, client, roles="program_admin")
    empty = client.post("/facility/admin/notifications/notice", data={"facilities": "FAC-404", "message": "Hi"})
    assert empty.status_code == 400 and "unknown facility codes: FAC-404" in empty.data.decode()
    resp = client.post("/facility/admin/notifications/notice",
                       data={"facilities": "FAC-9", "program": "0", "message": "Cold chain check on Friday."})
    assert resp.status_code == 302
    with app.app_context():
        [m] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == "facility_notice")).all()
        assert m.to == "9000000009" and "Cold chain check on Friday." in m.body


def test_system_admin_edits_program_settings(app, client):
    with app.app_context():
        program = Program(name="COVID-19")
        db.session.add(program)
        jobs.commit()
        pid = program.id
    sign_in(app, client, roles="program_admin")
    assert client.get(f"/facility/admin/notifications/programs/{pid}").status_code == 403
    sign_in(app, client, roles="system_admin", mobile="9000000101")
    page = client.get(f"/facility/admin/notifications/programs/{pid}")
    assert page.status_code == 200
    assert re.search(r'<input checked[^>]*value="certificate_issued"', page.data.decode())
    bad = client.post(f"/facility/admin/notifications/programs/{pid}", data={
        "events": ["certificate_issued"], "sender_id": "NOT VALID!!", "default_language": "hi"})
    assert bad.status_code == 400 and "at least one letter" in bad.data.decode()
    ok = client.post(f"/facility/admin/notifications/programs/{pid}", data={
        "events": ["certificate_issued", "certificate_revoked"], "sender_id": "MOHFW",
        "quiet_start": "21:00", "quiet_end": "08:00", "default_language": "hi"})
    assert ok.status_code == 302
    with app.app_context():
        s = db.session.get(NotificationSettings, pid)
        assert (s.events, s.sender_id, s.quiet_start, s.quiet_end, s.default_language) == (
            ["certificate_issued", "certificate_revoked"], "MOHFW", dt.time(21), dt.time(8), "hi")
        assert db.session.scalar(select(func.count()).select_from(NotificationSettings)) == 1
