"""The /verify page verifies certificates in the browser, online and offline."""
from __future__ import annotations

import copy
import json
import time

from playwright.sync_api import expect

from certify.credentials import pack_qr_payload, qr_png

from .conftest import write_y4m
from .pages import VerifyPage, VerifyResult


def page_events(app, expected: int, timeout: float = 10.0) -> list[tuple]:
    """The verification_events rows of channel "page", once there are ``expected`` of them."""
    from sqlalchemy import select

    from certify.models import VerificationEvent
    from core.extensions import db

    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            rows = [(e.channel, e.format, e.status, e.reason, e.certificate_id) for e in db.session.scalars(
                select(VerificationEvent).where(VerificationEvent.channel == "page").order_by(VerificationEvent.id))]
            db.session.remove()
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_uploaded_qr_of_an_issued_certificate_is_valid(app, page, live_server, issuer, shot):
    cert = issuer.issue(name="Asha Verma")
    verify = VerifyPage(page, live_server.url).open()
    expect(verify.heading).to_have_text("Verify a vaccination certificate")
    expect(verify.sync_status).to_contain_text("Revocation list updated")
    shot(page, "verify-01-start")

    result = verify.upload(cert.qr_png)
    expect(result.title).to_have_text("Valid certificate")
    assert result.status == "valid"
    expect(result.detail("Name")).to_have_text("Asha Verma")
    expect(result.detail("Certificate ID")).to_have_text(cert.certificate_id)
    expect(result.detail("Dose")).to_have_text("1 of 2")
    expect(result.panel).to_be_focused()
    # the page recorded the verification: status and certificate id, nothing personal
    assert page_events(app, 1) == [("page", "divoc", "valid", "", cert.certificate_id)]
    shot(page, "verify-02-valid")
    shot(page, "verify-02-valid-viewport", full_page=False)

    result.verify_another()
    expect(result.panel).to_have_count(0)
    expect(verify.scan_button).to_be_focused()


def test_works_offline_and_rejects_a_tampered_qr(app, page, context, live_server, issuer, shot, tmp_path):
    cert = issuer.issue(name="Ravi O'Brien \"Kumar\"")
    verify = VerifyPage(page, live_server.url).open()
    verify.wait_offline_ready()

    tampered = copy.deepcopy(cert.credential)
    tampered["credentialSubject"]["name"] = "Somebody Else"
    tampered_png = tmp_path / "tampered.png"
    tampered_png.write_bytes(qr_png(pack_qr_payload(tampered), box_size=4))

    context.set_offline(True)
    mark = live_server.mark()
    verify.reload()
    expect(verify.sync_status).to_contain_text("Offline")

    result = verify.upload(cert.qr_png)
    expect(result.title).to_have_text("Valid certificate")
    expect(result.detail("Name")).to_have_text("Ravi O'Brien \"Kumar\"")
    shot(page, "verify-03-offline-valid")

    result = verify.upload(tampered_png)
    expect(result.title).to_have_text("Invalid certificate")
    assert result.status == "invalid"
    expect(result.reasons).to_have_count(1)
    assert result.reasons.first.get_attribute("data-code") == "bad_signature"
    expect(result.reasons.first).to_contain_text("signature does not match")
    expect(result.panel.locator(".result-details")).to_be_hidden()  # never show a forged holder
    shot(page, "verify-04-offline-tampered")

    assert live_server.requests_since(mark) == [], "the page reached the server while offline"
    assert page_events(app, 1, timeout=1) == []  # offline: no verification events sent


def test_revoked_certificate_shows_red_once_the_list_syncs(app, page, live_server, issuer, shot):
    cert = issuer.issue(name="प्रिया शर्मा")
    verify = VerifyPage(page, live_server.url).open()
    assert verify.upload(cert.qr_png).status == "valid"

    issuer.revoke(cert, reason="issued with a wrong name")

    verify.reload()  # online: the revocation list is fetched again
    result = verify.upload(cert.qr_png)
    expect(result.title).to_have_text("Certificate revoked")
    assert result.status == "revoked"
    expect(result.reasons.first).to_contain_text("Revoked on")
    expect(result.reasons.first).to_contain_text("Reason: issued with a wrong name")
    expect(result.detail("Name")).to_have_text("प्रिया शर्मा")
    shot(page, "verify-05-revoked")
    assert page_events(app, 2) == [("page", "divoc", "valid", "", cert.certificate_id),
                                   ("page", "divoc", "revoked", "revoked", cert.certificate_id)]


LIST_ROUTE = "**/certificate/api/revocationList*"


def test_tampered_revocation_list_is_rejected_and_the_last_good_one_kept(
        app, browser, browser_context_args, live_server, issuer, shot):
    """The page checks the list's detached JWS: a list with an entry dropped is never used."""
    first, second = issuer.issue(name="Asha Verma"), issuer.issue(name="Ravi Kumar")
    issuer.revoke(first, reason="issued with a wrong name")
    # page.route cannot see a service worker's requests: block it for this test
    context = browser.new_context(**{**browser_context_args, "service_workers": "block"})
    page = context.new_page()
    seen: list[str] = []

    def drop(certificate_id):
        def handler(route):
            seen.append(route.request.url)
            response = route.fetch()
            doc = response.json()
            doc["entries"] = [e for e in doc["entries"] if e["certificateId"] != certificate_id]
            route.fulfill(response=response, body=json.dumps(doc))
        return handler

    def genuine(route):
        seen.append(route.request.url)
        route.continue_()

    try:
        # 1. the very first list is tampered with: not used, so revocation cannot be checked
        page.route(LIST_ROUTE, drop(first.certificate_id))
        verify = VerifyPage(page, live_server.url).open()
        expect(verify.list_warning).to_be_visible()
        expect(verify.sync_status).to_contain_text("has not been downloaded yet")
        result = verify.upload(first.qr_png)
        assert result.status == "valid"
        expect(result.warnings).to_contain_text(["revocation list is not available", "failed its signature check"])
        assert "?since=" not in seen[-1]
        page.unroute(LIST_ROUTE)

        # 2. the genuine list is accepted
        page.route(LIST_ROUTE, genuine)
        verify.reload()
        expect(verify.list_warning).to_be_hidden()
        expect(verify.sync_status).to_contain_text("Revocation list updated")
        assert "?since=" not in seen[-1]
        result = verify.upload(first.qr_png)
        assert result.status == "revoked"
        expect(result.warnings).to_have_count(0)
        page.unroute(LIST_ROUTE)

        # 3. an incremental list with the new revocation dropped: rejected, the last good list stays
        issuer.revoke(second, reason="duplicate")
        page.route(LIST_ROUTE, drop(second.certificate_id))
        verify.reload()
        assert "?since=" in seen[-1], seen
        expect(verify.list_warning).to_be_visible()
        expect(verify.sync_status).to_contain_text("Revocation list updated")
        assert verify.upload(first.qr_png).status == "revoked"
        result.verify_another()
        result = verify.upload(second.qr_png)
        assert result.status == "valid"
        expect(result.warnings).to_have_text(["The latest revocation list failed its signature check and was not "
                                              "used, so a recently revoked certificate may show as valid."])
        shot(page, "verify-11-list-rejected")
        page.unroute(LIST_ROUTE)

        # 4. the genuine incremental list is merged into the local one
        page.route(LIST_ROUTE, genuine)
        verify.reload()
        assert "?since=" in seen[-1], seen
        expect(verify.list_warning).to_be_hidden()
        assert verify.upload(second.qr_png).status == "revoked"
        assert verify.upload(first.qr_png).status == "revoked"
        stored = page.evaluate("() => JSON.parse(localStorage.getItem('divoc-verify:revocations-v2')).list")
        assert sorted(e["certificateId"] for e in stored["entries"]) == sorted(
            [first.certificate_id, second.certificate_id])
        assert "signature" not in stored
    finally:
        context.close()


def test_reinstated_certificate_leaves_the_local_list(page, live_server, issuer):
    cert = issuer.issue(name="Meera Iyer")
    issuer.suspend(cert, reason="under review")
    verify = VerifyPage(page, live_server.url).open()
    assert verify.upload(cert.qr_png).status == "suspended"
    resp = issuer.client.post(f"/v1/certificates/{cert.certificate_id}/reinstate", headers=issuer.headers)
    assert resp.status_code == 200, resp.data[:300]
    with page.expect_request(lambda r: "revocationList?since=" in r.url):
        verify.reload()
    assert verify.upload(cert.qr_png).status == "valid"
    stored = page.evaluate("() => JSON.parse(localStorage.getItem('divoc-verify:revocations-v2')).list")
    assert stored["entries"] == []


def test_suspended_certificate_shows_amber(page, live_server, issuer, shot):
    cert = issuer.issue(name="Meera Iyer")
    issuer.suspend(cert, reason="under review", until="2099-01-31T00:00:00Z")
    result = VerifyPage(page, live_server.url).open().upload(cert.qr_png)
    expect(result.title).to_have_text("Certificate suspended")
    assert result.status == "suspended"
    expect(result.reasons.first).to_contain_text("Suspended until")
    expect(result.detail("Name")).to_have_text("Meera Iyer")
    shot(page, "verify-07-suspended")


def test_an_image_without_a_qr_code_says_so(page, live_server, tmp_path):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), "white").save(blank)
    result = VerifyPage(page, live_server.url).open().upload(blank)
    assert result.status == "invalid"
    expect(result.reasons.first).to_contain_text("No QR code was found")


def test_page_in_hindi(page, live_server, issuer, shot):
    """Needs the compiled catalog (pybabel compile -d translations)."""
    cert = issuer.issue(name="अनीता देवी")
    page.goto(live_server.url + "/verify?lang=hi")
    verify = VerifyPage(page, live_server.url)
    verify.wait_synced()
    expect(page.locator(".verify")).to_have_attribute("lang", "hi")
    expect(verify.heading).to_have_text("टीकाकरण प्रमाणपत्र सत्यापित करें")
    expect(verify.sync_status).to_contain_text("रद्दीकरण सूची")
    shot(page, "verify-06-hindi")
    page.get_by_label("QR कोड की फ़ोटो अपलोड करें").set_input_files(str(cert.qr_png))
    result = VerifyResult(page)
    expect(result.title).to_have_text("मान्य प्रमाणपत्र")
    expect(result.detail("नाम")).to_have_text("अनीता देवी")
    shot(page, "verify-06-hindi-valid")


def test_camera_scan_reads_the_qr_code(camera_page, live_server, issuer, tmp_path, shot):
    cert = issuer.issue(name="Kavya Nair")
    page = camera_page(write_y4m(tmp_path / "qr.y4m", cert.qr_png))
    verify = VerifyPage(page, live_server.url).open()
    verify.scan_button.click()
    result = VerifyResult(page)
    expect(result.panel).to_be_visible(timeout=20_000)
    expect(result.title).to_have_text("Valid certificate")
    expect(result.detail("Name")).to_have_text("Kavya Nair")
    expect(page.locator("#scanner")).to_be_hidden()  # the camera is released
    shot(page, "verify-08-camera-valid", full_page=False)


def test_camera_scan_times_out_then_offers_try_again(app, camera_page, live_server, tmp_path, shot):
    page = camera_page(write_y4m(tmp_path / "blank.y4m", None))
    old = app.config.get("CERTIFICATE_SCAN_TIMEOUT")
    app.config["CERTIFICATE_SCAN_TIMEOUT"] = 5
    try:
        verify = VerifyPage(page, live_server.url).open()
    finally:
        app.config["CERTIFICATE_SCAN_TIMEOUT"] = old
    verify.scan_button.click()
    expect(page.get_by_role("button", name="Stop camera")).to_be_focused()
    expect(page.locator("#scan-status")).to_contain_text("s left")
    shot(page, "verify-09-camera-scanning", full_page=False)
    expect(verify.try_again_button).to_be_visible(timeout=15_000)
    expect(page.get_by_role("alert").filter(has_text="No QR code was found in 5 seconds")).to_be_visible()
    expect(verify.try_again_button).to_be_focused()
    shot(page, "verify-10-camera-timeout", full_page=False)
    verify.try_again_button.click()
    expect(page.get_by_role("button", name="Stop camera")).to_be_visible()
