"""The system admin's certificate-template editor in a real browser, at a phone and a desktop size.

Sign-in goes through the real OTP flow: the code is read from the SMS outbox table, as a
phone would receive it. Screenshots of every step go to test-artifacts/.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from certify.models import ConfigVersion
from core.extensions import db
from core.models import OutboxMessage, User

from .pages import ConfigEditorPage, SignInPage

VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 900}}
KEY = "template:vaccination"
PILOT = "<p>PILOT EDITION</p>"


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request, page) -> str:
    page.set_viewport_size(VIEWPORTS[request.param])
    return request.param


@pytest.fixture
def make_user(app):
    def _make(mobile: str, roles: str) -> None:
        with app.app_context():
            db.session.add(User(mobile=mobile, name="Test user", roles=roles))
            db.session.commit()
            db.session.remove()

    return _make


@pytest.fixture
def read_code(app):
    """The code in the latest sign-in SMS to ``mobile`` (the outbox backend keeps it in the DB)."""

    def _read(mobile: str) -> str:
        with app.app_context():
            body = db.session.scalars(select(OutboxMessage.body)
                                      .where(OutboxMessage.to == mobile, OutboxMessage.event == "otp")
                                      .order_by(OutboxMessage.id.desc())).first()
            db.session.remove()
        assert body, f"no sign-in SMS to {mobile} in the outbox"
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)

    return _read


def stored_versions(app) -> list[tuple[int, bool]]:
    with app.app_context():
        rows = db.session.execute(select(ConfigVersion.version, ConfigVersion.active)
                                  .where(ConfigVersion.key == KEY).order_by(ConfigVersion.version)).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def test_sign_in_pages(page, live_server, shot, make_user, read_code, viewport):
    """The OTP pages themselves, including their error states."""
    make_user("9000000201", "system_admin")
    sign_in = SignInPage(page, live_server.url).open()
    expect(sign_in.heading).to_have_text("Sign in to the facility app")
    shot(page, f"signin-{viewport}-1-mobile")
    sign_in.mobile_input.fill("12ab")
    sign_in.send_code_button.click()
    expect(page.get_by_role("alert")).to_contain_text("10 to 15 digits")
    expect(sign_in.mobile_input).to_have_attribute("aria-invalid", "true")
    shot(page, f"signin-{viewport}-2-mobile-error")

    sign_in.request_code("9000000201")
    expect(page.get_by_text(re.compile(r"ending 0201"))).to_be_visible()
    shot(page, f"signin-{viewport}-3-code")
    sign_in.enter_code("000000" if read_code("9000000201") != "000000" else "111111")
    expect(page.get_by_role("alert")).to_contain_text("The code is wrong")
    shot(page, f"signin-{viewport}-4-code-error")
    sign_in.enter_code(read_code("9000000201"))
    expect(page).to_have_url(re.compile(r"/facility/?$"))


def test_admin_edits_previews_publishes_and_rolls_back(page, live_server, shot, app, make_user, read_code,
                                                       viewport):
    make_user("9000000101", "system_admin")
    SignInPage(page, live_server.url).open(next_path="/facility/admin/config").sign_in("9000000101", read_code)
    expect(page.get_by_role("heading", level=1)).to_have_text("Certificate configuration")
    shot(page, f"config-{viewport}-0-list")
    page.get_by_role("link", name=KEY, exact=True).click()

    editor = ConfigEditorPage(page, live_server.url)
    expect(editor.content).to_be_visible()
    expect(editor.heading).to_contain_text(KEY)
    expect(editor.active_version).to_contain_text("shipped default")
    shot(page, f"config-{viewport}-1-open", full_page=False)

    # an edit, previewed: the server renders page 1 of the certificate as an image
    edited = editor.replace_content(lambda text: text.replace("</body>", PILOT + "</body>", 1))
    assert PILOT in edited
    editor.preview()
    assert editor.wait_preview_loaded() > 0
    expect(page.get_by_text("The template is valid.")).to_be_visible()
    expect(editor.field_error).to_have_count(0)
    editor.preview_image.scroll_into_view_if_needed()
    shot(page, f"config-{viewport}-2-preview")

    # a syntax error: rejected next to the field, with its line, and nothing is saved
    broken = editor.replace_content(lambda text: text.replace("</body>", "{% if %}</body>", 1))
    line = broken[:broken.index("{% if %}")].count("\n") + 1
    editor.preview()
    expect(editor.field_error).to_contain_text(re.compile(rf"Rejected: line {line}\b"))
    expect(editor.content).to_have_accessible_description(re.compile(rf"line {line}\b"))
    expect(editor.content).to_have_attribute("aria-invalid", "true")
    expect(editor.preview_image).to_have_count(0)
    field_box, error_box = editor.content.bounding_box(), editor.field_error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40, (field_box, error_box)
    editor.field_error.scroll_into_view_if_needed()
    shot(page, f"config-{viewport}-3-rejected", full_page=False)
    assert stored_versions(app) == []
    expect(editor.content).to_have_value(broken)  # the user's text is kept
    expect(editor.history).to_contain_text("No versions yet")

    # fixed again, the error goes away on the next preview
    editor.replace_content(lambda text: text.replace("{% if %}", "", 1))
    editor.preview()
    assert editor.wait_preview_loaded() > 0
    expect(editor.field_error).to_have_count(0)
    expect(editor.content).not_to_have_attribute("aria-invalid", "true")

    # publish: version 1 is active and listed in the history
    editor.publish("pilot edition")
    expect(editor.flash).to_have_text(f"Published version 1 of {KEY}.")
    expect(editor.active_version).to_contain_text("1")
    expect(editor.history_row(1)).to_contain_text("active")
    expect(editor.history_row(1)).to_contain_text("pilot edition")
    expect(editor.content).to_have_value(re.compile(re.escape(PILOT)))
    assert stored_versions(app) == [(1, True)]
    shot(page, f"config-{viewport}-4-published")

    # roll back to the shipped default
    editor.roll_back_to(0)
    expect(editor.flash).to_have_text(f"Version 0 of {KEY} is active again.")
    expect(editor.active_version).to_contain_text("shipped default")
    expect(editor.history_row(1).get_by_role("button", name="Roll back to this version")).to_be_visible()
    expect(editor.content).not_to_have_value(re.compile(re.escape(PILOT)))
    assert stored_versions(app) == [(1, False)]
    shot(page, f"config-{viewport}-5-rolled-back")


def test_a_user_without_the_role_gets_403(page, live_server, shot, make_user, read_code, viewport):
    make_user("9000000102", "vaccinator")
    SignInPage(page, live_server.url).open().sign_in("9000000102", read_code)
    for path in ("/facility/admin/config", f"/facility/admin/config/{KEY}"):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 403, path
    expect(page.get_by_role("heading", level=1)).to_contain_text("403")
    expect(page.get_by_role("textbox", name="Content")).to_have_count(0)
    shot(page, f"config-{viewport}-forbidden")
