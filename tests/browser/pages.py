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
