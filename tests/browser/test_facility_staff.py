"""The facility desk in a real browser, at a desk-sized screen (1280×800) and a phone (360 px):
sign in → verify → queue → record a vaccination → certificate issued → print, and a walk-in
whose registration QR is scanned with the camera.

CSRF is on (as in production), so every htmx request must carry its token. The signing
worker runs in the test thread (``run_jobs``) while the page polls. Screenshots of every step
go to test-artifacts/facility-staff-*.png; the printed PDF is rendered to PNG beside them.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from certify.models import Certificate
from core import jobs
from core.extensions import db
from tests.factories import facility_staff as f

from .conftest import ARTIFACTS, write_y4m
from .pages import SignInPage
from .test_config_editor import read_code  # noqa: F401  (fixture: the code from the sign-in SMS)

VIEWPORTS = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 740}}
STAFF_MOBILE = "9000001001"


@pytest.fixture(autouse=True)
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


@pytest.fixture
def desk(app):
    """A facility in a program (vaccine Covishield, batch BAD-001 denied), a vaccinator, the
    desk user, and a beneficiary pre-enrolled in the portal."""
    with app.app_context():
        d = f.desk()
        d.staff.mobile, d.staff.name = STAFF_MOBILE, "Sunita (desk)"
        enr = f.enrolment(d.program, f.member(name="Asha Verma", mobile="9876500001",
                                              birth_date=dt.date(1980, 5, 17)), code="5550001111")
        jobs.commit()
        out = {"code": enr.code, "facility": d.facility.name, "facility_id": d.facility.id,
               "program_id": d.program.id}
        db.session.remove()
    return out


class Desk:
    """The facility desk pages, located by role and label."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page, self.base_url = page, base_url

    def nav(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Facility app").get_by_role("link", name=name).click()

    @property
    def code(self):
        return self.page.get_by_label("Enrolment code")

    @property
    def result(self):
        return self.page.locator("#beneficiary")

    def verify(self, code: str) -> None:
        self.code.fill(code)
        self.page.get_by_role("button", name="Verify", exact=True).click()

    def queue_row(self, name: str):
        return self.page.get_by_role("table", name=re.compile("^Waiting")).get_by_role("row").filter(has_text=name)


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request, page) -> str:
    page.set_viewport_size(VIEWPORTS[request.param])
    return request.param


def shot(page: Page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"facility-staff-{name}.png"), full_page=full_page)


def sign_in(page: Page, base_url: str, code_of) -> Desk:
    SignInPage(page, base_url).open().sign_in(STAFF_MOBILE, code_of)
    expect(page).to_have_url(re.compile(r"/facility/$"))
    return Desk(page, base_url)


def test_verify_queue_record_and_print(page, live_server, app, desk, read_code, run_jobs, viewport):  # noqa: F811
    d = sign_in(page, live_server.url, read_code)
    expect(page.get_by_role("heading", level=1)).to_have_text(desk["facility"])
    expect(page.get_by_role("button", name="Scan QR code")).to_be_visible()  # the vendored decoder loaded
    shot(page, f"{viewport}-1-home")

    # verify: an unknown code first, then the right one
    d.verify("12345")
    expect(page.get_by_role("alert").filter(has_text="No beneficiary has the enrolment code 12345")).to_be_visible()
    expect(d.code).to_have_attribute("aria-invalid", "true")
    d.verify(desk["code"])
    expect(d.result.get_by_role("heading", name="Asha Verma")).to_be_visible()
    expect(d.result).to_contain_text("Check the photo ID")
    expect(d.result).to_contain_text("Aadhaar")
    expect(d.result).to_be_focused()
    shot(page, f"{viewport}-2-verified")

    d.result.get_by_role("button", name="Add to the queue for dose 1").click()
    expect(page.get_by_role("status").filter(has_text="Asha Verma is in the queue for dose 1.")).to_be_visible()
    expect(d.code).to_have_value("")

    # the queue, which updates by itself
    d.nav("Recipient queue")
    expect(d.queue_row("Asha Verma")).to_contain_text("Dose 1")
    with app.app_context():  # someone verified at another desk of the same facility
        other = f.enrolment(db.session.get(f.Program, desk["program_id"]), f.member(name="Bala Subramaniam"))
        f.queued(db.session.get(f.Facility, desk["facility_id"]), other)
        jobs.commit()
        db.session.remove()
    expect(d.queue_row("Bala Subramaniam")).to_be_visible(timeout=9_000)  # polled every 5 s, no reload
    expect(page.get_by_role("heading", name=re.compile(r"^Waiting"))).to_contain_text("2")
    shot(page, f"{viewport}-3-queue")

    # record the vaccination: a denied batch is refused next to its field
    d.queue_row("Asha Verma").get_by_role("link", name=re.compile("^Record vaccination")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record vaccination")
    expect(page.get_by_label("Vaccinator")).to_have_value(re.compile(r"\d+"))
    expect(page.get_by_label("Dose")).to_have_value("1")
    page.get_by_label("Batch number").fill("bad-001")
    page.get_by_role("button", name="Save and issue certificate").click()
    batch_error = page.get_by_role("alert").filter(has_text="is on the deny list")
    expect(batch_error).to_be_visible()
    expect(page.get_by_label("Batch number")).to_have_accessible_description(re.compile("deny list"))
    batch_error.scroll_into_view_if_needed()
    shot(page, f"{viewport}-4-denied-batch", full_page=False)
    page.get_by_label("Batch number").fill("4120Z025")
    page.get_by_role("button", name="Save and issue certificate").click()

    # the certificate-issued view polls until the worker has signed
    expect(page.get_by_role("heading", name="Issuing the certificate…")).to_be_visible()
    shot(page, f"{viewport}-5-issuing")
    run_jobs()
    expect(page.get_by_role("heading", name="Certificate issued")).to_be_visible(timeout=10_000)
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        certificate_id = cert.certificate_id
        db.session.remove()
    expect(page.locator("#issuance")).to_contain_text(certificate_id)
    page.get_by_label("Language of the certificate").select_option("hi")
    shot(page, f"{viewport}-6-issued")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name=re.compile("^Print certificate")).click()
    pdf_url = opened.value.url
    assert re.search(rf"/facility/print/{desk['code']}\.pdf\?dose=1&language=hi$", pdf_url), pdf_url
    pdf = page.request.get(pdf_url)  # the signed-in session's cookies
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    out = ARTIFACTS / f"facility-staff-{viewport}-7-certificate-hi"
    out.with_suffix(".pdf").write_bytes(pdf.body())
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-singlefile", str(out.with_suffix(".pdf")), str(out)], check=True)
    opened.value.close()

    # print again later: search by mobile number and date of birth
    d.nav("Print certificates")
    page.get_by_label("Mobile number").fill("98765 00001")
    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 beneficiary found")).to_be_visible()
    found = page.get_by_role("article").filter(has_text="Asha Verma")
    expect(found).to_contain_text(certificate_id)
    expect(found.get_by_role("button", name=re.compile("^Print certificate"))).to_be_visible()
    shot(page, f"{viewport}-8-print-search")


def test_walk_in_then_scan_the_registration_qr(app, live_server, desk, read_code, camera_page, tmp_path):  # noqa: F811
    """A walk-in is registered at the desk; later their registration QR is scanned with the camera."""
    import qrcode

    page = camera_page(write_y4m(tmp_path / "blank.y4m", None))
    page.set_viewport_size(VIEWPORTS["desk"])
    d = sign_in(page, live_server.url, read_code)
    d.nav("New beneficiary")
    page.get_by_label("Full name (as on the ID)").fill("Ravi Kumar")
    page.get_by_label("Gender").select_option("Male")
    page.get_by_label("Date of birth").fill("1990-02-03")
    page.get_by_label("ID type").select_option("passport")
    page.get_by_label("ID number").fill("M1234567")
    page.get_by_label("Contact mobile number").fill("9876543210")
    page.get_by_label("Address", exact=True).fill("12 Park Street")
    page.get_by_label("District").fill("Pune")
    page.get_by_label("State").fill("Maharashtra")
    page.get_by_label("PIN code").fill("4110")
    page.get_by_role("button", name="Register and add to the queue").click()
    expect(page.get_by_role("alert").filter(has_text="Enter the 6-digit PIN code.")).to_be_visible()
    expect(page.get_by_label("Full name (as on the ID)")).to_have_value("Ravi Kumar")
    shot(page, "desk-walk-in-error")
    page.get_by_label("PIN code").fill("411002")
    page.get_by_role("button", name="Register and add to the queue").click()
    flash = page.get_by_role("status").filter(has_text="Ravi Kumar is enrolled with the code")
    expect(flash).to_be_visible()
    code = re.search(r"code (\d{12})", flash.inner_text()).group(1)
    expect(d.queue_row("Ravi Kumar")).to_contain_text("Dose 1")
    shot(page, "desk-walk-in-queued")
    page.context.browser.close()

    # the registration QR (JSON with the code), held up to the desk camera
    qr_png = tmp_path / "registration.png"
    qrcode.make(json.dumps({"code": code, "name": "Ravi Kumar"}), box_size=8).save(qr_png)
    page = camera_page(write_y4m(tmp_path / "registration.y4m", qr_png))
    page.set_viewport_size(VIEWPORTS["phone"])
    d = sign_in(page, live_server.url, read_code)
    page.get_by_role("button", name="Scan QR code").click()
    expect(d.result.get_by_role("heading", name="Ravi Kumar")).to_be_visible(timeout=20_000)
    expect(d.code).to_have_value(code)
    expect(d.result).to_contain_text("Passport")
    expect(d.result).to_contain_text("Already in the queue for dose 1")
    shot(page, "phone-scanned")


#: The desk's strings as the Hindi and Tamil catalogs have them.
DESK_TEXT = {
    "hi": {"heading": "लाभार्थी का सत्यापन करें", "code": "नामांकन कोड", "verify": "सत्यापित करें",
           "photo_id": "फ़ोटो पहचान पत्र जाँचें", "queue": "खुराक 1 के लिए कतार में जोड़ें", "app": "केंद्र ऐप",
           "walk_in": "नया लाभार्थी", "name": "पूरा नाम (पहचान पत्र के अनुसार)"},
    "ta": {"heading": "பயனாளியைச் சரிபார்க்கவும்", "code": "பதிவுக் குறியீடு", "verify": "சரிபார்க்கவும்",
           "photo_id": "புகைப்பட அடையாள அட்டையைச் சரிபார்க்கவும்", "queue": "டோஸ் 1-க்காக வரிசையில் சேர்க்கவும்",
           "app": "மையச் செயலி", "walk_in": "புதிய பயனாளி", "name": "முழுப் பெயர் (அடையாள அட்டையில் உள்ளபடி)"},
}


@pytest.mark.parametrize("lang", ["hi", "ta"])
def test_the_desk_in_the_staff_language(page, browser, browser_context_args, live_server, desk, read_code,  # noqa: F811
                                        lang):
    """Staff choose their language: with a Hindi or Tamil browser every desk string is in it."""
    t = DESK_TEXT[lang]
    sign_in(page, live_server.url, read_code)
    local = browser.new_context(**{**browser_context_args, "locale": f"{lang}-IN", "viewport": VIEWPORTS["phone"]})
    local.add_cookies(page.context.cookies())  # the same signed-in session
    page = local.new_page()
    d = Desk(page, live_server.url)
    page.goto(live_server.url + "/facility/")
    expect(page.get_by_role("heading", name=t["heading"])).to_be_visible()
    page.get_by_label(t["code"]).fill(desk["code"])
    page.get_by_role("button", name=t["verify"], exact=True).click()
    expect(d.result).to_contain_text(t["photo_id"])
    expect(d.result.get_by_role("button", name=t["queue"])).to_be_visible()
    shot(page, f"phone-{lang}-verified")
    page.set_viewport_size(VIEWPORTS["desk"])
    page.get_by_role("navigation", name=t["app"]).get_by_role("link", name=t["walk_in"]).click()
    expect(page.get_by_label(t["name"])).to_be_visible()
    shot(page, f"desk-{lang}-walk-in")
    local.close()
