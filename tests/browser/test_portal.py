"""The citizen portal in a real browser on a 360 × 740 phone, in English and Hindi.

Sign-in goes through the real OTP flow (the code is read from the SMS outbox). Every step is
saved as a screenshot in test-artifacts/portal-<lang>-*.png. Controls are found by role and
label, in the page's language, so the tests also check that labels exist and are translated.
"""
from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from core import jobs
from core.extensions import db
from core.models import Enrolment, Member, OutboxMessage, SideEffectReport
from tests.factories import portal as f

from .conftest import ARTIFACTS

MOBILE = "9876543210"

#: What the citizen reads, per language (the Hindi and Tamil are the catalogs').
TEXT = {
    "en": {
        "mobile": "Mobile number", "send": "Send code", "code": "6-digit code", "sign_in": "Sign in",
        "family": "Your family", "add": "Add a member", "name": "Full name (as on the ID)", "female": "Female",
        "year": "Year of birth", "id_number": "ID number", "address": "House, street, village or town",
        "district": "District", "state": "State", "pincode": "PIN code", "save": "Add member",
        "pin_error": "Enter the 6-digit PIN code.", "register": "Check eligibility and register",
        "not_eligible": "Not eligible", "reason": "is for people aged 60 or older",
        "diabetes": "Diabetes", "fever": "Fever", "headache": "Headache", "enrolled": "Enrolment code:", "limit": "Member limit reached",
        "report": "Report side effects", "who": "Who has the symptoms?", "continue": "Continue",
        "review": "Please check before sending", "confirm": "Confirm and send", "sent": "Report sent",
        "worse": "If the symptoms get worse", "pdf": "Download PDF", "qr": "Download QR code",
        "language": "Certificate language", "earlier": "1 earlier certificate",
    },
    "hi": {
        "mobile": "मोबाइल नंबर", "send": "कोड भेजें", "code": "6 अंकों का कोड", "sign_in": "साइन इन करें",
        "family": "आपका परिवार", "add": "सदस्य जोड़ें", "name": "पूरा नाम (पहचान पत्र के अनुसार)", "female": "महिला",
        "year": "जन्म का वर्ष", "id_number": "पहचान पत्र संख्या", "address": "मकान, गली, गाँव या शहर",
        "district": "ज़िला", "state": "राज्य", "pincode": "पिन कोड", "save": "सदस्य जोड़ें",
        "pin_error": "6 अंकों का पिन कोड दर्ज करें।", "register": "पात्रता जाँचें और पंजीकरण करें",
        "not_eligible": "पात्र नहीं", "reason": "60 वर्ष या उससे अधिक आयु के लोगों के लिए है",
        "diabetes": "मधुमेह", "fever": "बुखार", "headache": "सिरदर्द", "enrolled": "नामांकन कोड:", "limit": "सदस्यों की सीमा पूरी हो गई",
        "report": "दुष्प्रभाव बताएँ", "who": "लक्षण किसे हैं?", "continue": "आगे बढ़ें",
        "review": "भेजने से पहले कृपया जाँच लें", "confirm": "पुष्टि करें और भेजें", "sent": "रिपोर्ट भेजी गई",
        "worse": "यदि लक्षण बढ़ जाएँ", "pdf": "PDF डाउनलोड करें", "qr": "QR कोड डाउनलोड करें",
        "language": "प्रमाणपत्र की भाषा", "earlier": "1 पुराना प्रमाणपत्र",
    },
    "ta": {
        "mobile": "மொபைல் எண்", "send": "குறியீட்டை அனுப்பவும்", "code": "6 இலக்கக் குறியீடு",
        "sign_in": "உள்நுழையவும்", "family": "உங்கள் குடும்பம்", "add": "உறுப்பினரைச் சேர்க்கவும்",
        "name": "முழுப் பெயர் (அடையாள அட்டையில் உள்ளபடி)", "female": "பெண்", "year": "பிறந்த ஆண்டு",
        "id_number": "அடையாள அட்டை எண்", "address": "வீடு, தெரு, கிராமம் அல்லது நகரம்", "district": "மாவட்டம்",
        "state": "மாநிலம்", "pincode": "பின்கோடு", "save": "உறுப்பினரைச் சேர்க்கவும்",
        "pin_error": "6 இலக்கப் பின்கோடை உள்ளிடவும்.", "register": "தகுதியைச் சரிபார்த்துப் பதிவு செய்யவும்",
        "not_eligible": "தகுதியில்லை", "reason": "60 வயது அல்லது அதற்கு மேற்பட்டவர்களுக்கானது",
        "diabetes": "நீரிழிவு நோய்", "fever": "காய்ச்சல்", "headache": "தலைவலி",
        "enrolled": "பதிவுக் குறியீடு:", "limit": "உறுப்பினர் வரம்பை எட்டிவிட்டீர்கள்",
        "report": "பக்க விளைவுகளைத் தெரிவிக்கவும்", "who": "யாருக்கு அறிகுறிகள் உள்ளன?", "continue": "தொடரவும்",
        "review": "அனுப்பும் முன் சரிபார்க்கவும்", "confirm": "உறுதிசெய்து அனுப்பவும்",
        "sent": "அறிக்கை அனுப்பப்பட்டது", "worse": "அறிகுறிகள் மோசமானால்", "pdf": "PDF-ஐப் பதிவிறக்கவும்",
        "qr": "QR குறியீட்டைப் பதிவிறக்கவும்", "language": "சான்றிதழ் மொழி", "earlier": "1 முந்தைய சான்றிதழ்",
    },
}


@pytest.fixture(params=["en", "hi", "ta"])
def lang(request) -> str:
    return request.param


@pytest.fixture
def phone(browser, browser_context_args, lang) -> Page:
    """A page in a phone-sized browser whose language is ``lang`` (Accept-Language)."""
    context = browser.new_context(**(browser_context_args | {"locale": f"{lang}-IN", "accept_downloads": True}))
    yield context.new_page()
    context.close()


@pytest.fixture
def seed(app):
    """Run ``fn`` with the factories in a request context and commit; return its result."""

    def _seed(fn):
        with app.test_request_context():
            result = fn()
            jobs.commit()
            db.session.remove()
        return result

    return _seed


def read_code(app, mobile: str) -> str:
    with app.app_context():
        body = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == mobile,
                                                                   OutboxMessage.event == "otp")
                                  .order_by(OutboxMessage.id.desc())).first()
        db.session.remove()
    assert body, f"no sign-in SMS to {mobile}"
    return re.search(r"\b(\d{6})\b", body).group(1)


def count(app, model, *where) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return n


class Portal:
    """The portal as a citizen uses it, in one language."""

    def __init__(self, page: Page, base_url: str, app, lang: str, shot) -> None:
        self.page, self.base_url, self.app, self.lang, self._shot = page, base_url, app, lang, shot
        self.t = TEXT[lang]

    def shot(self, name: str) -> None:
        """Save a screenshot; the shot fixture checks the page with axe-core (WCAG 2.1 A and AA)."""
        self._shot(self.page, f"portal-{self.lang}-{name}")

    def sign_in(self, path: str = "/portal/") -> None:
        """Open a portal page signed out: sign-in asks for the number and the SMS code, then lands there."""
        self.page.goto(self.base_url + path)
        expect(self.page).to_have_url(re.compile(r"/login\?"))
        self.page.get_by_label(self.t["mobile"]).fill(MOBILE)
        self.page.get_by_role("button", name=self.t["send"]).click()
        self.page.get_by_label(self.t["code"]).fill(read_code(self.app, MOBILE))
        self.page.get_by_role("button", name=self.t["sign_in"]).click()
        expect(self.page).to_have_url(re.compile(re.escape(path) + r"(\?|#|$)"))

    def member_card(self, name: str):
        return self.page.get_by_role("article", name=name)

    def fill_member(self, name: str, pincode: str = "560001") -> None:
        page, t = self.page, self.t
        page.get_by_label(t["name"]).fill(name)
        page.get_by_role("radio", name=t["female"], exact=True).check()
        page.get_by_label(t["year"], exact=True).fill("1990")
        page.get_by_label(t["id_number"]).fill("2345 6789 0123")
        page.get_by_label(t["address"]).fill("14 Lake Road")
        page.get_by_label(t["district"], exact=True).fill("Demo District")
        page.get_by_label(t["state"], exact=True).fill("Demo State")
        page.get_by_label(t["pincode"]).fill(pincode)


def assert_fits_the_phone(page: Page) -> None:
    """Nothing is wider than the 360 px screen (no sideways scrolling)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 360.5)
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + e.textContent.slice(0, 30) + ' ' + (e.parentElement.className)).slice(0, 8)""")
    if width > 360:
        page.screenshot(path=str(ARTIFACTS / "portal-too-wide.png"), full_page=True)
    assert width <= 360, f"page is {width}px wide: {wide}"


def test_add_a_member_register_and_get_refused(phone, live_server, app, shot, seed, lang):
    """Sign in, add a member (a wrong PIN code first), register them; a seniors' program refuses."""
    seed(lambda: (f.program("COVID-19 Vaccination", min_age=18),
                  f.program("Seniors' Booster", min_age=60, comorbidities=[])))
    portal = Portal(phone, live_server.url, app, lang, shot)
    page, t = phone, portal.t
    portal.sign_in()
    expect(page.get_by_role("heading", level=1)).to_have_text(t["family"])
    assert_fits_the_phone(page)
    portal.shot("1-dashboard-empty")

    page.get_by_role("link", name=t["add"]).click()
    portal.fill_member("Sunita Sharma", pincode="5600")
    page.get_by_role("button", name=t["save"]).click()
    pin = page.get_by_label(t["pincode"])
    expect(pin).to_have_attribute("aria-invalid", "true")
    expect(pin).to_have_accessible_description(t["pin_error"])
    assert_fits_the_phone(page)
    pin.scroll_into_view_if_needed()
    portal.shot("2-add-member-error")
    pin.fill("560001")
    page.get_by_role("button", name=t["save"]).click()

    # registration: the seniors' program refuses a 1990 birth, with the reason
    expect(page.get_by_role("status")).to_contain_text("Sunita Sharma")
    page.get_by_role("radio", name="Seniors' Booster").check()
    expect(page.get_by_role("group", name=t["diabetes"])).to_have_count(0)
    page.get_by_role("button", name=t["register"]).click()
    refusal = page.get_by_role("alert").filter(has_text=t["not_eligible"])
    expect(refusal).to_contain_text(t["reason"])
    assert_fits_the_phone(page)
    portal.shot("3-eligibility-refused")
    assert count(app, Enrolment) == 0

    # the COVID-19 program asks about conditions (loaded by htmx on choosing it)
    page.get_by_role("radio", name="COVID-19 Vaccination").check()
    expect(page.get_by_role("checkbox", name=t["diabetes"])).to_be_visible()
    expect(refusal).to_have_count(0)
    page.get_by_role("checkbox", name=t["diabetes"]).check()
    portal.shot("4-eligibility-questions")
    page.get_by_role("button", name=t["register"]).click()
    expect(page.get_by_role("status")).to_contain_text(t["enrolled"])
    card = portal.member_card("Sunita Sharma")
    with app.app_context():
        code = db.session.scalar(select(Enrolment.code))
    expect(card).to_contain_text(" ".join(code[i:i + 4] for i in range(0, 12, 4)))
    assert_fits_the_phone(page)
    portal.shot("5-registered")


def test_a_fifth_member_is_refused(phone, live_server, app, shot, seed, lang):
    seed(lambda: [f.member(MOBILE, name) for name in ("Asha", "Ravi", "Meena", "Kiran")])
    portal = Portal(phone, live_server.url, app, lang, shot)
    portal.sign_in()
    expect(phone.get_by_role("link", name=portal.t["add"])).to_have_count(0)
    phone.goto(live_server.url + "/portal/members/new")
    expect(phone.get_by_role("alert")).to_contain_text(portal.t["limit"])
    expect(phone.get_by_label(portal.t["name"])).to_have_count(0)
    portal.shot("6-fifth-member-refused")
    assert count(app, Member) == 4



@pytest.mark.parametrize("lang", ["en"])
def test_switch_language_from_the_footer(phone, live_server, app, shot, seed, lang):
    """An English browser; the citizen picks Tamil in the footer, it stays on every page, then back."""
    seed(lambda: f.member(MOBILE, "Asha Verma"))
    portal = Portal(phone, live_server.url, app, lang, shot)
    portal.sign_in()
    languages = phone.get_by_role("navigation", name="Language")
    languages.get_by_role("link", name="தமிழ்").click()

    ta = TEXT["ta"]
    expect(phone.locator("html")).to_have_attribute("lang", "ta")
    expect(phone.get_by_role("heading", level=1)).to_have_text(ta["family"])
    expect(phone.get_by_role("navigation", name="மொழி").locator("[aria-current=true]")).to_have_text("தமிழ்")
    assert_fits_the_phone(phone)
    shot(phone, "portal-ta-switched-dashboard")
    phone.get_by_role("link", name=ta["add"]).click()  # the next page too
    expect(phone.get_by_label(ta["name"])).to_be_visible()
    expect(phone.get_by_label(ta["pincode"])).to_be_visible()
    assert_fits_the_phone(phone)
    shot(phone, "portal-ta-switched-member-form")

    phone.goto(live_server.url + "/")  # the landing page too, citizen first
    expect(phone.get_by_role("heading", level=1)).to_have_text("தடுப்பூசிச் சான்றிதழ்கள்")
    expect(phone.get_by_role("link", name="உங்கள் சான்றிதழைப் பதிவிறக்கவும்")).to_have_attribute("href", "/portal/")
    assert_fits_the_phone(phone)
    shot(phone, "portal-ta-switched-home")

    phone.get_by_role("navigation", name="மொழி").get_by_role("link", name="English").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Vaccination certificates")
    phone.goto(live_server.url + "/portal/members/new")
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.get_by_label(TEXT["en"]["name"])).to_be_visible()

@pytest.fixture
def vaccinated_family(seed):
    """Asha with two doses at MOH Gothatuwa (Colombo), Ravi with one dose in another program."""

    def make():
        covid = f.program("COVID-19 Vaccination")
        flu = f.program("Seasonal Influenza", side_effects=["Sore arm", "Runny nose"])
        f.facility("MOH Gothatuwa", pincode="00500", district="Colombo", contact_mobile="9000011111")
        f.facility("PHC Lake Road", pincode="560001", district="Demo District", contact_mobile="9000022222",
                   address={"addressLine1": "4 Lake Road"})
        asha = f.member(MOBILE, "Asha Verma")
        ravi = f.member(MOBILE, "Ravi Verma")
        asha_code, ravi_code = f.enrolment(asha, covid).code, f.enrolment(ravi, flu).code
        jobs.commit()
        f.certificate(asha_code, dose=1)
        f.certificate(asha_code, dose=2)
        f.certificate(ravi_code, dose=1, total_doses=1)
        return asha_code

    return seed(make)


def test_download_the_certificate(phone, live_server, app, shot, vaccinated_family, lang, tmp_path):
    portal = Portal(phone, live_server.url, app, lang, shot)
    t = portal.t
    portal.sign_in()
    card = portal.member_card("Asha Verma")
    expect(card.get_by_role("combobox", name=t["language"])).to_have_value(lang)
    assert_fits_the_phone(phone)
    portal.shot("7-dashboard-certificates")
    card.get_by_text(t["earlier"]).click()
    expect(card.get_by_role("link", name=re.compile("PDF, .* 1"))).to_be_visible()
    card.scroll_into_view_if_needed()
    portal.shot("8-earlier-doses")

    bilingual = card.get_by_role("checkbox")  # "also in English": offered for other languages only
    card.get_by_role("combobox", name=t["language"]).select_option("en")
    expect(bilingual).to_be_hidden()
    card.get_by_role("combobox", name=t["language"]).select_option("ta")
    expect(bilingual).to_be_visible()
    with phone.expect_download() as download:
        card.get_by_role("button", name=t["pdf"]).click()
    pdf = tmp_path / download.value.suggested_filename
    download.value.save_as(pdf)
    assert re.fullmatch(r"certificate-\d{20}-dose2-ta\.pdf", pdf.name) and pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-singlefile", str(pdf),
                    str(ARTIFACTS / f"portal-{lang}-9-downloaded-pdf")], check=True)
    with phone.expect_download() as download:
        card.get_by_role("link", name=t["qr"]).click()
    png = tmp_path / "qr.png"
    download.value.save_as(png)
    assert png.read_bytes().startswith(b"\x89PNG")


def test_report_side_effects(phone, live_server, app, shot, vaccinated_family, lang):
    portal = Portal(phone, live_server.url, app, lang, shot)
    t = portal.t
    portal.sign_in("/portal/side-effects")
    expect(phone.get_by_role("checkbox")).to_have_count(0)  # two vaccinated members: choose first
    phone.get_by_role("radio", name="Ravi Verma").check()
    expect(phone.get_by_role("checkbox", name="Sore arm")).to_be_visible()  # htmx: Ravi's program's list, as typed
    phone.get_by_role("radio", name="Asha Verma").check()
    expect(phone.get_by_role("checkbox", name="Sore arm")).to_have_count(0)
    phone.get_by_role("checkbox", name=t["fever"]).check()  # listed symptoms in the citizen's language
    phone.get_by_role("checkbox", name=t["headache"]).check()
    assert_fits_the_phone(phone)
    portal.shot("10-side-effects-choose")
    phone.get_by_role("button", name=t["continue"]).click()
    expect(phone.get_by_role("heading", name=t["review"])).to_be_visible()
    portal.shot("11-side-effects-review")
    assert count(app, SideEffectReport) == 0
    phone.get_by_role("button", name=t["confirm"]).click()

    expect(phone.get_by_role("heading", level=1)).to_have_text(t["sent"])
    visit = phone.get_by_role("region", name=t["worse"])
    expect(visit).to_contain_text("PHC Lake Road")  # same PIN code as Asha's address
    expect(phone.get_by_text("MOH Gothatuwa")).to_be_visible()  # where she was vaccinated
    assert_fits_the_phone(phone)
    portal.shot("12-side-effects-confirmation")
    with app.app_context():
        sms = db.session.scalars(select(OutboxMessage.to).where(OutboxMessage.event == "side_effect_reported")).all()
        db.session.remove()
    assert sms == ["9000011111"]
