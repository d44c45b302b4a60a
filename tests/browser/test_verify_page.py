"""The /verify page verifies certificates in the browser, online and offline."""
from __future__ import annotations

import copy

from playwright.sync_api import expect

from certify.credentials import pack_qr_payload, qr_png

from .conftest import write_y4m
from .pages import VerifyPage, VerifyResult


def test_uploaded_qr_of_an_issued_certificate_is_valid(page, live_server, issuer, shot):
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
    shot(page, "verify-02-valid")
    shot(page, "verify-02-valid-viewport", full_page=False)

    result.verify_another()
    expect(result.panel).to_have_count(0)
    expect(verify.scan_button).to_be_focused()


def test_works_offline_and_rejects_a_tampered_qr(page, context, live_server, issuer, shot, tmp_path):
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


def test_revoked_certificate_shows_red_once_the_list_syncs(page, live_server, issuer, shot):
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
