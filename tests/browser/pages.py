"""Page objects for the browser tests; locate by role and label, as a user would."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect


class VerifyPage:
    PATH = "/verify"

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # --- navigation --------------------------------------------------------------------
    def open(self, query: str = "") -> "VerifyPage":
        self.page.goto(self.base_url + self.PATH + query)
        self.wait_synced()
        return self

    def reload(self) -> "VerifyPage":
        self.page.reload()
        self.wait_synced()
        return self

    def wait_synced(self) -> None:
        """The trust document and revocation list have been loaded (network or cache)."""
        expect(self.page.locator(".verify[data-synced=true]")).to_have_count(1, timeout=15_000)

    def wait_offline_ready(self) -> None:
        """A service worker controls the page and has precached everything."""
        self.page.wait_for_function(
            "async () => { const r = await navigator.serviceWorker.ready;"
            " return !!(r.active && navigator.serviceWorker.controller); }", timeout=20_000)
        # install precached the assets before activating; the page is now controlled
        self.page.wait_for_function(
            "async () => (await caches.keys()).some(k => k.startsWith('divoc-verify-static-'))")

    # --- controls ----------------------------------------------------------------------
    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    @property
    def scan_button(self) -> Locator:
        return self.page.get_by_role("button", name="Scan QR code with camera")

    @property
    def upload_input(self) -> Locator:
        return self.page.get_by_label("Upload a photo of the QR code")

    @property
    def try_again_button(self) -> Locator:
        return self.page.get_by_role("button", name="Try again")

    @property
    def sync_status(self) -> Locator:
        return self.page.locator("#sync-status")

    @property
    def list_warning(self) -> Locator:
        """Shown while the last downloaded revocation list failed its signature check."""
        return self.page.get_by_role("alert").filter(has_text="revocation list failed its signature check")

    def upload(self, path: Path) -> "VerifyResult":
        self.upload_input.set_input_files(str(path))
        result = VerifyResult(self.page)
        expect(result.panel).to_be_visible(timeout=20_000)
        return result


class VerifyResult:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.panel = page.get_by_role("article")

    @property
    def title(self) -> Locator:
        return self.panel.get_by_role("heading", level=2)

    @property
    def status(self) -> str:
        return self.panel.get_attribute("data-status") or ""

    @property
    def reasons(self) -> Locator:
        return self.panel.locator(".result-reasons li")

    @property
    def warnings(self) -> Locator:
        return self.panel.locator(".result-warnings li")

    def detail(self, label: str) -> Locator:
        """The value next to a label in the holder details (a <dt>/<dd> pair)."""
        return self.panel.locator(".result-row").filter(
            has=self.page.get_by_text(re.compile(rf"^{re.escape(label)}$"))).locator("dd")

    def verify_another(self) -> None:
        self.panel.get_by_role("button", name="Verify another certificate").click()


class SignInPage:
    """/login and /login/code: a mobile number, then the 6-digit code from the SMS."""

    PATH = "/login"

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, purpose: str = "facility", next_path: str = "") -> "SignInPage":
        query = f"?purpose={purpose}" + (f"&next={next_path}" if next_path else "")
        self.page.goto(self.base_url + self.PATH + query)
        expect(self.heading).to_be_visible()
        return self

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    @property
    def mobile_input(self) -> Locator:
        return self.page.get_by_label("Mobile number")

    @property
    def send_code_button(self) -> Locator:
        return self.page.get_by_role("button", name="Send code")

    @property
    def code_input(self) -> Locator:
        return self.page.get_by_label("6-digit code")

    @property
    def sign_in_button(self) -> Locator:
        return self.page.get_by_role("button", name="Sign in")

    def request_code(self, mobile: str) -> "SignInPage":
        self.mobile_input.fill(mobile)
        self.send_code_button.click()
        expect(self.heading).to_have_text("Enter the code")
        return self

    def enter_code(self, code: str) -> None:
        self.code_input.fill(code)
        self.sign_in_button.click()

    def sign_in(self, mobile: str, read_code) -> None:
        """The whole flow; ``read_code(mobile)`` fetches the code that was "sent" by SMS."""
        self.request_code(mobile)
        self.enter_code(read_code(mobile))
        expect(self.page).not_to_have_url(re.compile(r"/login"))
        # the landing page's scripts (htmx) are set up only at "load"; a change event fired
        # before that sends no request (seen as a flaky filter test under load)
        self.page.wait_for_load_state("load")


class ConfigEditorPage:
    """/facility/admin/config/<key>: edit, preview, publish and roll back one document."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, key: str) -> "ConfigEditorPage":
        self.page.goto(f"{self.base_url}/facility/admin/config/{key}")
        expect(self.content).to_be_visible()
        return self

    # --- controls ----------------------------------------------------------------------
    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    @property
    def active_version(self) -> Locator:
        return self.page.get_by_text(re.compile(r"^Active version:"))

    @property
    def content(self) -> Locator:
        return self.page.get_by_role("textbox", name="Content")

    @property
    def comment(self) -> Locator:
        return self.page.get_by_label("What changed (optional)")

    @property
    def preview_button(self) -> Locator:
        return self.page.get_by_role("button", name="Preview")

    @property
    def publish_button(self) -> Locator:
        return self.page.get_by_role("button", name="Publish")

    @property
    def preview_image(self) -> Locator:
        return self.page.get_by_role("img", name="Preview of the certificate with sample data")

    @property
    def field_error(self) -> Locator:
        """The rejection shown under the Content field (after a preview or a refused publish)."""
        return self.page.get_by_role("alert").filter(has_text="Rejected:")

    @property
    def flash(self) -> Locator:
        return self.page.get_by_role("status").filter(has_text=re.compile(r"^(Published|Version)"))

    @property
    def history(self) -> Locator:
        return self.page.get_by_role("table", name="History")

    def history_row(self, version: int) -> Locator:
        return self.history.get_by_role("row").filter(
            has=self.page.get_by_role("cell", name=re.compile(rf"^{version}\b")))

    # --- actions -----------------------------------------------------------------------
    def replace_content(self, transform) -> str:
        """Apply ``transform`` to the textarea's text, as if the user typed it; return it."""
        text = transform(self.content.input_value())
        self.content.fill(text)
        return text

    def preview(self) -> None:
        with self.page.expect_response(re.compile(r"/preview$")):
            self.preview_button.click()

    def wait_preview_loaded(self, timeout: float = 30_000) -> int:
        """The preview <img> has decoded; return its natural width."""
        expect(self.preview_image).to_be_visible(timeout=timeout)
        self.preview_image.evaluate("img => img.decode()")
        return self.preview_image.evaluate("img => img.complete ? img.naturalWidth : 0")

    def publish(self, comment: str = "") -> None:
        if comment:
            self.comment.fill(comment)
        self.publish_button.click()

    def roll_back_to(self, version: int) -> None:
        name = "Roll back to the default" if version == 0 else "Roll back to this version"
        self.history_row(version).get_by_role("button", name=name).click()
