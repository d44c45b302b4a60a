"""The admin pages in a real browser at a desktop size (1280 wide): bulk certification with bad
rows, a system admin setting up a program, a vaccine and facilities from CSV, a program admin
activating and notifying facilities, and the facility admin's pages. Screenshots of every page
go to test-artifacts/admin-*.png.

Sign-in is the real OTP flow (the code is read from the SMS outbox). Background jobs run on a
real RQ worker in this process (``run_jobs``) while the page polls for progress.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from certify.models import Certificate
from core.extensions import db
from core.models import Facility, FacilityProgram, OutboxMessage, User, Vaccine
from tests.factories import certify_item, seed_vaccines
from tests.factories import facility_admin as fx

from .pages import SignInPage

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def desktop(page):
    page.set_viewport_size(DESKTOP)
    return page


def sign_in(page, live_server, app, mobile: str, next_path: str) -> None:
    """The OTP flow, with the code read from the SMS outbox as the phone would receive it."""

    def read_code(to: str) -> str:
        with app.app_context():
            body = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == to, OutboxMessage.event == "otp")
                                      .order_by(OutboxMessage.id.desc())).first()
            db.session.remove()
        return re.search(r"\b(\d{6})\b", body).group(1)

    SignInPage(page, live_server.url).open(next_path=next_path).sign_in(mobile, read_code)


def count(app, model, *where) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return n


def test_bulk_certification_of_50_rows_with_2_bad_ones(desktop, live_server, shot, app, run_jobs,
                                                       tmp_path):
    page = desktop
    with app.app_context():
        seed_vaccines()
        f = fx.facility("KA-0001", "PHC Jayanagar")
        fx.user("facility_admin", f, mobile="9000000301", name="Dr. Anil Rao")
        fx.commit()
    sign_in(page, live_server, app, "9000000301", "/facility/admin/certificates/upload")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk certification")
    shot(page, "admin-bulk-1-upload")

    with page.expect_download() as template:
        page.get_by_role("link", name="Download the CSV template").click()
    header = template.value.path().read_text().strip()
    assert header.startswith("preEnrollmentCode,recipientName,recipientMobileNumber,")

    rows = [fx.certificate_row(f"MAR-{i:03d}", recipientName=f"Beneficiary {i}") for i in range(50)]
    rows[11]["recipientDOB"] = "1987/04/21"
    rows[36]["vaccinationName"] = "Covishild"
    path = tmp_path / "march-camp.csv"
    path.write_bytes(fx.csv_bytes("certificates", rows))
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("march-camp.csv")
    expect(page.get_by_role("heading", name="Processing…")).to_be_visible()
    shot(page, "admin-bulk-2-processing")

    run_jobs()  # the worker processes the rows, then signs the certificates; the page polls
    expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=10_000)
    status = page.locator("#upload-status")
    expect(status.locator("dt", has_text="Certificates issued").locator("xpath=following-sibling::dd")).to_have_text("48")
    expect(status.locator("dt", has_text="Rows with errors").locator("xpath=following-sibling::dd")).to_have_text("2")
    errors = page.get_by_role("table").filter(has_text="Reason")
    expect(errors.get_by_role("row")).to_have_count(3)
    expect(errors.get_by_role("row").nth(1)).to_contain_text("13")
    expect(errors.get_by_role("row").nth(1)).to_contain_text("recipientDOB: must be a date as YYYY-MM-DD")
    expect(errors.get_by_role("row").nth(2)).to_contain_text("38")
    expect(errors.get_by_role("row").nth(2)).to_contain_text("vaccinationName: unknown vaccine")
    shot(page, "admin-bulk-3-finished")
    assert count(app, Certificate) == 48

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the error CSV").click()
    table = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert [r[0] for r in table] == ["row", "13", "38"]
    assert table[1][2:4] == ["MAR-011", "Beneficiary 11"]

    page.get_by_role("link", name="Bulk certification").first.click()
    expect(page.get_by_role("row", name=re.compile(r"march-camp\.csv .* 50 100% 2"))).to_be_visible()
    shot(page, "admin-bulk-4-list")


def test_a_system_admin_creates_a_vaccine_a_program_and_facilities_from_csv(desktop, live_server, shot, app,
                                                                             run_jobs, tmp_path):
    page = desktop
    with app.app_context():
        seed_vaccines()
        fx.user("system_admin", mobile="9000000302", name="Nodal Officer")
        fx.commit()
    sign_in(page, live_server, app, "9000000302", "/facility/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Administration")
    shot(page, "admin-sys-0-home")

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Vaccines").click()
    page.get_by_role("link", name="Register a new vaccine").click()
    page.get_by_label("Name", exact=True).fill("Cervavac")
    page.get_by_label("Manufacturer").fill("Serum Institute of India")
    page.get_by_label("Doses", exact=True).fill("2")
    page.get_by_label("Minimum days between doses").fill("180")
    page.get_by_label("Certificate validity after the last dose (days)").fill("3650")
    page.get_by_label("Price").fill("200")
    page.get_by_label("ICD-11 code").fill("not a code")
    page.get_by_label("ICD-11 term").fill("Papillomavirus vaccines")
    page.get_by_label("Denied batch numbers (one per line)").fill("HPV-0001\nHPV-0002")
    page.get_by_role("button", name="Save").click()
    code = page.get_by_label("ICD-11 code")
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(code).to_have_accessible_description(re.compile("An ICD-11 code such as XM9QW8"))
    shot(page, "admin-sys-1-vaccine-error")
    code.fill("XM4BJ0")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Vaccine Cervavac saved.")
    expect(page.get_by_role("row", name=re.compile("Cervavac"))).to_contain_text("XM4BJ0")
    shot(page, "admin-sys-2-vaccines")

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Vaccine programs").click()
    page.get_by_role("link", name="Register a new program").click()
    page.get_by_label("Name", exact=True).fill("HPV 2027")
    page.get_by_label("Description").fill("Cervical cancer prevention for girls aged 9 to 14.")
    logo = tmp_path / "logo.png"
    from PIL import Image

    Image.new("RGB", (96, 96), (11, 79, 138)).save(logo)
    page.get_by_label("Logo (PNG, JPEG or WebP, up to 256 KB)").set_input_files(str(logo))
    page.get_by_label("Start date").fill("2027-01-01")
    page.get_by_label("End date").fill("2027-12-31")
    page.get_by_role("checkbox", name="Cervavac").check()
    page.get_by_label("Minimum age (years)").fill("9")
    page.get_by_label("Maximum age (years)").fill("14")
    page.get_by_label("Side effects citizens may report (one per line)").fill("Fever\nPain at the injection site")
    shot(page, "admin-sys-3-program-form")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Program HPV 2027 saved.")
    row = page.get_by_role("row", name=re.compile("HPV 2027"))
    expect(row).to_contain_text("Cervavac")
    expect(row).to_contain_text("9–14")
    expect(row.get_by_role("img")).to_have_count(1)
    shot(page, "admin-sys-4-programs")

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Facilities CSV").click()
    facilities = tmp_path / "facilities.csv"
    facilities.write_bytes(fx.csv_bytes("facilities", [
        {"facilityCode": "MH-101", "facilityName": "PHC Kothrud", "contact": "9822000101", "category": "GOVT",
         "operatingHourStart": "09:00", "operatingHourEnd": "17:00", "district": "Pune", "state": "Maharashtra",
         "adminName": "Dr. Sunita Patil", "adminMobile": "9822000901", "status": "Active"},
        {"facilityCode": "MH-102", "facilityName": "Ruby Hall Clinic", "category": "PRIVATE", "district": "Pune",
         "state": "Maharashtra", "adminName": "Ravi Shah", "adminMobile": "9822000902"},
        {"facilityCode": "MH-103", "facilityName": "", "category": "GOVT"},
    ]))
    page.get_by_label("CSV file").set_input_files(str(facilities))
    page.get_by_role("button", name="Upload").click()
    run_jobs()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("row", name=re.compile("facilityName: is required"))).to_be_visible()
    shot(page, "admin-sys-5-facilities-uploaded")
    assert count(app, Facility) == 2
    assert count(app, User, User.roles == "facility_admin") == 2

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users and roles").click()
    expect(page.get_by_role("row", name=re.compile("Dr. Sunita Patil"))).to_contain_text("PHC Kothrud")
    shot(page, "admin-sys-6-users")

    # the audit trail names the officer for the vaccine and the program (the CSV upload keeps its own job record)
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    vaccine = page.get_by_role("row", name=re.compile("vaccine.save"))
    expect(vaccine).to_contain_text("Nodal Officer (9000000302)")
    expect(vaccine).to_contain_text("XM4BJ0")
    expect(page.get_by_role("row", name=re.compile("program.save"))).to_contain_text("HPV 2027")
    shot(page, "admin-sys-7-audit")


def test_a_program_admin_activates_and_notifies_facilities(desktop, live_server, shot, app):
    page = desktop
    with app.app_context():
        covid = fx.program("COVID-19")
        places = [("KA-01", "PHC Jayanagar", "Karnataka", "Bengaluru Urban", "government", "9811100001"),
                  ("KA-02", "PHC Hebbal", "Karnataka", "Bengaluru Urban", "government", "9811100002"),
                  ("KA-03", "Manipal Hospital", "Karnataka", "Bengaluru Urban", "private", "9811100003"),
                  ("KA-04", "CHC Hosakote", "Karnataka", "Bengaluru Rural", "government", ""),
                  ("MH-01", "PHC Kothrud", "Maharashtra", "Pune", "government", "9822000101")]
        made = [fx.facility(c, n, state=s, district=d, category=cat, contact_mobile=m) for c, n, s, d, cat, m in places]
        fx.link(made[1], covid, daily_rate=80)
        fx.user("program_admin", mobile="9000000303", name="Programme Officer", programs=[covid])
        fx.commit()
    sign_in(page, live_server, app, "9000000303", "/facility/admin/program-facilities")
    expect(page.get_by_role("heading", level=1)).to_have_text("Facilities in a program")
    results = page.locator("#facility-results")
    expect(results.get_by_role("row")).to_have_count(6)
    page.get_by_label("State").select_option("Karnataka")
    expect(results.get_by_role("row")).to_have_count(5)
    page.get_by_label("Type of facility").select_option("government")
    expect(results.get_by_role("row")).to_have_count(4)
    expect(page).to_have_url(re.compile(r"state=Karnataka.*category=government"))
    shot(page, "admin-pa-1-filtered")

    page.get_by_role("checkbox", name="Select all").check()
    expect(results.get_by_role("checkbox", checked=True)).to_have_count(4)
    page.get_by_role("button", name="Make active").click()
    expect(results.locator(".flash")).to_have_text("2 facilities activated.")
    expect(results.get_by_role("row", name=re.compile("PHC Jayanagar"))).to_contain_text("Active")
    shot(page, "admin-pa-2-activated")

    results.get_by_role("checkbox", name="KA-01").check()
    results.get_by_role("checkbox", name="KA-04").check()
    page.get_by_label("Vaccinations per day").fill("150")
    page.get_by_role("button", name="Set rates").click()
    expect(results.locator(".flash")).to_have_text("Daily rate set for 2 facilities; 0 are not in the program.")
    expect(results.get_by_role("row", name=re.compile("PHC Jayanagar"))).to_contain_text("150")

    results.get_by_role("checkbox", name="Select all").check()
    page.get_by_label("Subject").fill("Stock update")
    page.get_by_label("Message").fill("40 vials of Covishield reach you on Monday.")
    page.get_by_role("button", name="Notify").click()
    expect(results.locator(".flash")).to_have_text("Message queued to 2 facilities; 1 have no contact number.")
    shot(page, "admin-pa-3-notified")
    with app.app_context():
        sent = db.session.scalars(select(OutboxMessage.to).where(OutboxMessage.event == "facility_notice")).all()
        rates = dict(db.session.execute(select(FacilityProgram.facility_id, FacilityProgram.daily_rate)).all())
        db.session.remove()
    assert sorted(sent) == ["9811100001", "9811100002"]
    assert sorted(rates.values()) == [80, 150, 150]


def test_the_facility_admin_pages(desktop, live_server, shot, app, run_jobs):
    page = desktop
    with app.app_context():
        seed_vaccines()
        f = fx.facility("KA-0001", "PHC Jayanagar")
        covid = fx.program("COVID-19")
        fx.link(f, covid)
        db.session.scalar(select(Vaccine).where(Vaccine.name == "Covishield")).program_id = covid.id
        fx.user("facility_admin", f, mobile="9000000304", name="Dr. Anil Rao")
        fx.user("facility_staff vaccinator", f, mobile="9000000305", name="Kavya N", )
        fx.commit()
    fx.issue(app, run_jobs, [certify_item(f"ANA-{i}", dose=1 + i % 2, name=f"Person {i}",
                                          facility={"name": "PHC Jayanagar"},
                                          recipient={"gender": ("Female", "Male", "Other")[i % 3],
                                                     "dob": f"{1950 + 7 * i}-03-01"}) for i in range(9)])
    sign_in(page, live_server, app, "9000000304", "/facility/admin/vaccinators")

    page.get_by_role("link", name="Add a vaccinator").click()
    page.get_by_label("Name", exact=True).fill("Dr. Meera Rao")
    page.get_by_label("Licence number").fill("KMC-12345")
    page.get_by_label("Mobile number").fill("9811122233")
    page.get_by_role("checkbox", name="COVID-19").check()
    page.get_by_label("Training certificate number").fill("TRN-2027-0042")
    page.get_by_role("button", name="Add").click()
    row = page.get_by_role("row", name=re.compile("Dr. Meera Rao"))
    expect(row).to_contain_text("COVID-19")
    row.get_by_role("button", name=re.compile("Make inactive")).click()
    expect(row.get_by_role("button", name=re.compile("Make active"))).to_be_visible()  # swapped by htmx
    expect(row).to_contain_text("Inactive")
    shot(page, "admin-fa-1-vaccinators")

    page.get_by_role("link", name="Staff and roles").click()
    expect(page.get_by_role("row", name=re.compile("Kavya N"))).to_contain_text("Facility staff, Vaccinator")
    shot(page, "admin-fa-2-staff")
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Name").fill("Printer Desk")
    page.get_by_label("Mobile number").fill("98-1110-0099")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("group", name="Role")).to_contain_text("Choose at least one role.")
    shot(page, "admin-fa-3-staff-error")

    with app.app_context():  # the booking window is open, and someone booked tomorrow 16:00-17:00
        from core.models import Appointment, Enrolment, Member, Slot
        from portal import booking

        link = db.session.scalar(select(FacilityProgram))
        booking.ensure_slots([link], booking.booking_days())
        last = db.session.scalar(select(Slot).where(Slot.day == booking.booking_days()[0],
                                                    Slot.start_time == dt.time(16)))
        member = Member(mobile="9811100900", name="Booked Person")
        db.session.add(member)
        db.session.flush()
        enrolment = Enrolment(code="SOON-1", member_id=member.id, program_id=link.program_id)
        db.session.add(enrolment)
        db.session.flush()
        db.session.add(Appointment(enrolment_id=enrolment.id, slot_id=last.id, dose=1))
        last.booked = 1
        fx.commit()
    page.get_by_role("link", name="Slots").click()
    page.get_by_role("link", name=re.compile("Configure slots")).click()
    page.get_by_label("Appointments until").fill("08:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Appointments until")).to_have_accessible_description("Must be after the start time.")
    shot(page, "admin-fa-4-slots-error")
    page.get_by_label("Appointments until").fill("16:30")
    page.get_by_role("checkbox", name="Sunday").check()
    page.get_by_role("button", name="Save").click()
    flashes = page.locator(".flash")
    expect(flashes.nth(0)).to_have_text("Slots for COVID-19 saved.")
    expect(flashes.nth(1)).to_contain_text("Days already open for booking, from tomorrow: 0 slots added")
    expect(flashes.nth(2)).to_contain_text("1 booked slot is outside the new hours and stays")
    expect(flashes.nth(2)).to_contain_text("16:00 (1 booked)")
    shot(page, "admin-fa-5-slots")

    page.get_by_role("link", name="Beneficiaries").click()
    expect(page.get_by_role("heading", name=re.compile("^Past"))).to_contain_text("9")
    shot(page, "admin-fa-6-beneficiaries")

    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name=re.compile("Certificates issued per day"))).to_contain_text("9")
    expect(page.get_by_role("table", name="By age band")).to_contain_text("60+")
    shot(page, "admin-fa-7-analytics")
    assert count(app, Certificate) == 9

    page.goto(live_server.url + "/facility/admin/vaccinators?lang=hi")
    expect(page.get_by_role("heading", level=1)).to_contain_text("टीकाकर्मी")
    expect(page.get_by_role("link", name="टीकाकर्मी जोड़ें")).to_be_visible()
    shot(page, "admin-fa-8-hindi")
