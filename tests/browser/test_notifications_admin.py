"""The notifications admin page in a real browser: search, status, template preview with the
SMS segment count (htmx), resend. Screenshots at a phone and a desktop size go to test-artifacts/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from core import jobs, notify
from core.extensions import db
from core.models import OutboxMessage, User

from .pages import SignInPage

VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 900}}
ISSUED = {"name": "Asha Devi", "dose": 1, "kind": "vaccination", "code": "PEC-501",
          "link": "https://divoc.test/certificate/api/certificatePDF/PEC-501?dose=1&lang=hi"}


class NotificationsPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page, self.base_url = page, base_url

    def open(self) -> "NotificationsPage":
        self.page.goto(self.base_url + "/facility/admin/notifications")
        expect(self.page.get_by_role("heading", level=1)).to_have_text("Notifications")
        return self

    @property
    def rows(self) -> Locator:
        return self.page.locator("#messages tbody tr")

    def search(self, text: str) -> None:
        self.page.get_by_label("Mobile number or enrolment code").fill(text)
        self.page.get_by_role("button", name="Search").click()

    def preview(self, event: str, language: str) -> None:
        form = self.page.locator("form.preview-form")  # the footer's language menu is labelled "Language" too
        form.get_by_label("Event", exact=True).select_option(label=event)
        form.get_by_label("Language", exact=True).select_option(language)

    @property
    def segments(self) -> Locator:
        return self.page.locator(".segments")


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request, page) -> str:
    page.set_viewport_size(VIEWPORTS[request.param])
    return request.param


def seed(app) -> None:
    with app.app_context():
        db.session.add(User(mobile="9000000301", name="Admin", roles="system_admin"))
        notify.notify("certificate_issued", to_mobile="9812345678", language="hi", context=ISSUED, key="c1",
                      reference="PEC-501")
        [failed] = notify.notify("certificate_revoked", to_mobile="12345", key="c2", reference="PEC-502",
                                 context={"name": "Ravi", "code": "PEC-502", "reason": "entered twice"})
        failed.status, failed.attempts = "failed", 1
        failed.last_error = "21211: Unable to create record: The 'To' number +9112345 is not a valid phone number."
        jobs.commit()
        db.session.remove()


def read_code(app, mobile: str) -> str:
    with app.app_context():
        body = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == mobile)
                                  .order_by(OutboxMessage.id.desc())).first()
        db.session.remove()
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_admin_searches_previews_and_resends(page, live_server, shot, app, viewport):
    seed(app)
    SignInPage(page, live_server.url).open(next_path="/facility/admin/notifications").sign_in(
        "9000000301", lambda mobile: read_code(app, mobile))
    admin = NotificationsPage(page, live_server.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    revoked = admin.rows.filter(has_text="Certificate revoked")
    expect(revoked).to_contain_text("failed")
    expect(revoked).to_contain_text("21211")
    expect(page.get_by_text("9812345678")).to_have_count(0)  # masked
    sign_in_sms = admin.rows.filter(has_text="Sign-in code")  # the admin's own OTP
    expect(sign_in_sms).to_contain_text("not shown")
    expect(sign_in_sms).not_to_contain_text(read_code(app, "9000000301"))
    expect(sign_in_sms.get_by_role("button", name="Resend")).to_have_count(0)
    shot(page, f"notifications-{viewport}-1-log")

    admin.search("PEC-501")
    expect(admin.rows).to_have_count(1)
    expect(admin.rows.first).to_contain_text("••••••5678")
    expect(page).to_have_url(re.compile(r"q=PEC-501"))  # htmx pushed the search into the URL

    admin.preview("Certificate issued", "hi")
    expect(admin.segments).to_contain_text("UCS-2")
    expect(page.locator(".sms-bubble")).to_contain_text("प्रमाणपत्र")
    expect(admin.segments).to_contain_text(re.compile(r"\b[2-9] segments"))
    page.locator(".notify-preview").scroll_into_view_if_needed()
    shot(page, f"notifications-{viewport}-2-preview-hi", full_page=False)
    admin.preview("Sign-in code", "en")
    expect(admin.segments).to_contain_text("GSM-7")
    expect(admin.segments).to_contain_text("1 segment")

    admin.rows.first.get_by_role("button", name="Resend").click()
    expect(page.get_by_role("status").filter(has_text="Sent again to ••••••5678")).to_be_visible()
    expect(admin.rows).to_have_count(2)
    shot(page, f"notifications-{viewport}-3-resent")
