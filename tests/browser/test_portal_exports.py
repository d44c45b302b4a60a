"""The citizen downloads the EU and SMART Health Card versions of a certificate from the portal,
on a 360 px phone, in English, Hindi and Tamil (screenshots test-artifacts/portal-<lang>-exports-*.png)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from certify.credentials import shc
from certify.credentials.eudcc import verify_hc1
from core import jobs
from tests.certify.credentials.eudcc_support import read_qr
from tests.factories import portal as f

from .test_portal import MOBILE, Portal, assert_fits_the_phone, lang, phone, seed  # noqa: F401 (fixtures)

TEXT = {
    "en": {"eu": "EU certificate", "family": "Family name (surname)", "given": "Given names", "eu_qr": "EU QR code",
           "shc": "SMART Health Card", "shc_qr": "SMART Health Card: QR code",
           "wrong": "SHARMA is not part of the name on the certificate (Asha Verma).",
           "no_code": "Corbevax has no EU vaccine code"},
    "hi": {"eu": "EU प्रमाणपत्र", "family": "उपनाम (कुलनाम)", "given": "दिया गया नाम", "eu_qr": "EU QR कोड",
           "shc": "SMART हेल्थ कार्ड", "shc_qr": "SMART हेल्थ कार्ड: QR कोड",
           "wrong": "SHARMA प्रमाणपत्र पर लिखे नाम (Asha Verma) का हिस्सा नहीं है।",
           "no_code": "Corbevax का कोई EU टीका कोड नहीं है"},
    "ta": {"eu": "EU சான்றிதழ்", "family": "குடும்பப் பெயர் (Surname)", "given": "முதல் பெயர்கள்",
           "eu_qr": "EU QR குறியீடு", "shc": "SMART Health Card", "shc_qr": "SMART Health Card: QR குறியீடு",
           "wrong": "SHARMA, சான்றிதழில் உள்ள பெயரின் (Asha Verma) பகுதி அல்ல.",
           "no_code": "Corbevax-க்கு EU தடுப்பூசிக் குறியீடு இல்லாததால்"},
}


def test_download_the_eu_certificate_and_the_health_card(phone, live_server, app, shot, seed, lang, dsc,  # noqa: F811
                                                          tmp_path):
    def make():
        program = f.program("COVID-19 Vaccination")
        asha, ravi = f.member(MOBILE, "Asha Verma"), f.member(MOBILE, "Ravi Verma")
        asha_code, ravi_code = f.enrolment(asha, program).code, f.enrolment(ravi, program).code
        jobs.commit()
        f.certificate(asha_code, dose=1, recipient={"name": "Asha Verma"})
        f.certificate(asha_code, dose=2, recipient={"name": "Asha Verma"})
        f.certificate(ravi_code, dose=1, recipient={"name": "Ravi Verma"}, vaccination={"name": "Corbevax"})

    seed(make)
    portal = Portal(phone, live_server.url, app, lang, shot)
    t = TEXT[lang]
    portal.sign_in()
    card = portal.member_card("Asha Verma")
    card.get_by_text(t["eu"], exact=True).click()
    family, given = card.get_by_label(t["family"]), card.get_by_label(t["given"])
    expect(family).to_have_value("Verma")  # the name on the certificate, split as a suggestion
    expect(given).to_have_value("Asha")
    card.get_by_text(t["shc"], exact=True).click()
    card.scroll_into_view_if_needed()
    assert_fits_the_phone(phone)
    portal.shot("exports-1-card")

    family.fill("Sharma")
    card.get_by_role("button", name=t["eu_qr"]).click()
    error = phone.get_by_label(t["family"])
    expect(error).to_have_attribute("aria-invalid", "true")
    expect(phone.get_by_role("alert").filter(has_text=t["wrong"])).to_be_visible()
    assert_fits_the_phone(phone)
    portal.shot("exports-2-name-error")

    error.fill("Verma")
    with phone.expect_download() as download:
        phone.get_by_role("button", name=t["eu_qr"]).click()
    eu_png = tmp_path / download.value.suggested_filename
    download.value.save_as(eu_png)
    assert re.fullmatch(r"eu-certificate-\d{20}\.png", eu_png.name)
    result = verify_hc1(read_qr(eu_png.read_bytes()), [dsc.certificate])
    assert result.valid and result.holder_name == "Asha Verma"

    phone.goto(live_server.url + "/portal/")
    card = portal.member_card("Asha Verma")
    card.get_by_text(t["shc"], exact=True).click()
    with phone.expect_download() as download:
        card.get_by_role("link", name=t["shc_qr"]).click()
    card_png = tmp_path / "card.png"
    download.value.save_as(card_png)
    jwks = {app.config["SHC_ISSUER_URL"]: phone.request.get(live_server.url + "/.well-known/jwks.json").json()}
    verified = shc.verify_shc_images([card_png.read_bytes()], jwks)
    assert verified.status == "valid" and verified.name == "Asha Verma" and len(verified.immunizations) == 2

    ravi = portal.member_card("Ravi Verma")
    ravi.get_by_text(t["eu"], exact=True).click()
    ravi.get_by_role("button", name=t["eu_qr"]).click()
    expect(phone.get_by_role("alert").filter(has_text=t["no_code"])).to_be_visible()
    portal.shot("exports-3-no-eu-code")
