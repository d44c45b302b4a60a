"""The /verify page reads EU Digital COVID Certificates and SMART Health Cards too: the QR codes our
export endpoints make, verified in the browser (online and offline), and other issuers' once trusted."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from certify.credentials import shc
from certify.eu_export import hc1_qr_png
from certify.shc_exports import _stacked
from tests.certify.credentials.eudcc_support import read_qr, tampered_hc1
from tests.conftest import INTEROP

from .conftest import Issued
from .pages import VerifyPage, VerifyResult
from .test_verify_page import page_events

SHC_EXAMPLES = INTEROP / "shc" / "examples"
SPEC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"


def eu_png(issuer, cert: Issued, fn: str, gn: str, path: Path) -> Path:
    resp = issuer.client.post("/certificate/api/eu-certificate", query_string={"refId": cert.code, "type": "qr"},
                              json={"fn": fn, "gn": gn}, headers=issuer.headers)
    assert resp.status_code == 200, resp.data[:300]
    path.write_bytes(resp.data)
    return path


def shc_png(issuer, cert: Issued, path: Path) -> Path:
    resp = issuer.client.get("/certificate/api/shc-certificate", query_string={"refId": cert.code, "type": "qr"},
                             headers=issuer.headers)
    assert resp.status_code == 200, resp.data[:300]
    path.write_bytes(resp.data)
    return path


def test_uploaded_eu_and_shc_qr_codes_of_our_exports_are_valid(app, page, live_server, issuer, dsc, shot, tmp_path):
    cert = issuer.issue(name="Asha Verma")
    verify = VerifyPage(page, live_server.url).open()

    result = verify.upload(eu_png(issuer, cert, "Verma", "Asha", tmp_path / "eu.png"))
    expect(result.title).to_have_text("Valid certificate")
    assert result.status == "valid"
    expect(result.detail("Certificate type")).to_have_text("EU Digital COVID Certificate")
    expect(result.detail("Name")).to_have_text("Asha Verma")
    expect(result.detail("Vaccine")).to_have_text("Covishield")
    expect(result.detail("Dose")).to_have_text("1 of 2")
    expect(result.detail("Certificate ID")).to_contain_text(f"URN:UVCI:01:IN:{cert.certificate_id}#")
    expect(result.detail("Valid until")).to_be_visible()
    shot(page, "verify-formats-01-eu-valid")
    result.verify_another()

    result = verify.upload(shc_png(issuer, cert, tmp_path / "shc.png"))
    expect(result.title).to_have_text("Valid certificate")
    assert result.status == "valid"
    expect(result.detail("Certificate type")).to_have_text("SMART Health Card")
    expect(result.detail("Name")).to_have_text("Asha Verma")
    expect(result.detail("Vaccinations")).to_contain_text("AstraZeneca / Covishield")
    expect(result.detail("Vaccinations")).to_contain_text("MOH Gothatuwa")
    expect(result.detail("Certificate ID")).to_have_text(cert.certificate_id)  # the server mapped our card
    expect(result.warnings).to_have_count(0)
    shot(page, "verify-formats-02-shc-valid")
    # the EU check is recorded by the page; our own card by the server it asked
    assert page_events(app, 2) == [("page", "eu-dcc", "valid", "", cert.certificate_id),
                                   ("page", "shc", "valid", "", cert.certificate_id)]


def test_offline_our_eu_and_shc_exports_verify_and_a_revocation_shows(
        app, page, context, live_server, issuer, dsc, shot, tmp_path):
    cert = issuer.issue(name="Ravi Kumar")
    eu, card = eu_png(issuer, cert, "Kumar", "Ravi", tmp_path / "eu.png"), shc_png(issuer, cert, tmp_path / "shc.png")
    issuer.revoke(cert, reason="issued with a wrong name")
    verify = VerifyPage(page, live_server.url).open()
    verify.wait_offline_ready()

    context.set_offline(True)
    mark = live_server.mark()
    verify.reload()
    expect(verify.sync_status).to_contain_text("Offline")

    result = verify.upload(eu)
    expect(result.title).to_have_text("Certificate revoked")  # the UVCI names our certificate
    expect(result.reasons.first).to_contain_text("Reason: issued with a wrong name")
    shot(page, "verify-formats-03-eu-offline-revoked")
    result.verify_another()

    result = verify.upload(card)
    expect(result.title).to_have_text("Valid certificate")  # the signature is good; the status needs the server
    expect(result.warnings).to_have_text(["Offline: whether this card's vaccinations were revoked could not be "
                                          "checked. Check again when online."])
    shot(page, "verify-formats-04-shc-offline")
    assert live_server.requests_since(mark) == [], "the page reached the server while offline"

    context.set_offline(False)
    result.verify_another()
    result = verify.upload(card)
    expect(result.title).to_have_text("Certificate revoked")
    expect(result.reasons.first).to_contain_text("Reason: issued with a wrong name")
    shot(page, "verify-formats-05-shc-online-revoked")


def test_a_tampered_eu_certificate_and_an_untrusted_health_card_are_invalid(
        app, page, live_server, issuer, dsc, shot, tmp_path):
    cert = issuer.issue(name="Asha Verma")
    forged = tmp_path / "forged.png"
    forged.write_bytes(hc1_qr_png(tampered_hc1(read_qr(eu_png(issuer, cert, "Verma", "Asha", tmp_path / "eu.png")
                                                       .read_bytes()))))
    example = tmp_path / "example.png"
    example.write_bytes(shc.shc_qr_png((SHC_EXAMPLES / "example-00-f-qr-code-numeric-value-0.txt").read_text()))
    verify = VerifyPage(page, live_server.url).open()

    result = verify.upload(forged)
    expect(result.title).to_have_text("Invalid certificate")
    assert result.reasons.first.get_attribute("data-code") == "bad_signature"
    expect(result.panel.locator(".result-details")).to_be_hidden()
    shot(page, "verify-formats-06-eu-tampered")
    result.verify_another()

    result = verify.upload(example)
    expect(result.title).to_have_text("Invalid certificate")
    expect(result.reasons.first).to_have_text("The certificate was not issued by a trusted issuer.")
    assert page_events(app, 2) == [("page", "eu-dcc", "invalid", "bad_signature", None),
                                   ("page", "shc", "invalid", "unknown_issuer", None)]


def test_another_issuers_health_card_verifies_once_trusted(app, page, live_server, shot, tmp_path):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["trust", "add-shc-issuer", SPEC_ISSUER,
                              str(SHC_EXAMPLES / "issuer" / ".well-known" / "jwks.json")])
    assert out.exit_code == 0, out.output
    chunks = [(SHC_EXAMPLES / f"example-02-f-qr-code-numeric-value-{i}.txt").read_text() for i in range(3)]
    stacked = tmp_path / "chunks.png"
    stacked.write_bytes(_stacked([shc.shc_qr_png(c) for c in chunks]))
    single = tmp_path / "example-00.png"
    single.write_bytes(shc.shc_qr_png((SHC_EXAMPLES / "example-00-f-qr-code-numeric-value-0.txt").read_text()))
    verify = VerifyPage(page, live_server.url).open()

    result = verify.upload(single)
    expect(result.title).to_have_text("Valid certificate")
    expect(result.detail("Name")).to_have_text("John B. Anyperson")
    expect(result.detail("Issued by")).to_have_text("spec.smarthealth.cards")
    expect(result.detail("Vaccinations").locator("li")).to_have_count(3)
    shot(page, "verify-formats-07-spec-example")
    result.verify_another()

    result = verify.upload(stacked)  # a card split over three QR codes, in one photo (a lab report)
    expect(result.title).to_have_text("Valid certificate")
    expect(result.detail("Certificate type")).to_have_text("SMART Health Card")


def test_an_eu_certificate_in_hindi(page, live_server, issuer, dsc, shot, tmp_path):
    cert = issuer.issue(name="Anita Devi")
    png = eu_png(issuer, cert, "Devi", "Anita", tmp_path / "eu.png")
    page.goto(live_server.url + "/verify?lang=hi")
    VerifyPage(page, live_server.url).wait_synced()
    page.get_by_label("QR कोड की फ़ोटो अपलोड करें").set_input_files(str(png))
    result = VerifyResult(page)
    expect(result.title).to_have_text("मान्य प्रमाणपत्र")
    expect(result.detail("प्रमाणपत्र का प्रकार")).to_have_text("EU डिजिटल COVID प्रमाणपत्र")
    expect(result.detail("कब तक मान्य")).to_be_visible()
    shot(page, "verify-formats-08-eu-hindi")
