"""A citizen books appointments on a phone (360 × 740): search by pincode, pick a day, book two members
into one slot, reschedule one, cancel the other. Real app, PostgreSQL, Redis and Chromium; sign-in with
the OTP read from the SMS outbox. Screenshots of every step go to test-artifacts/booking-*.png.
"""
from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from core.extensions import db
from core.models import Appointment, OutboxMessage, Program, Slot
from tests.factories import booking as f

from .pages import SignInPage
from .test_config_editor import read_code  # noqa: F401  (the fixture: the OTP from the outbox)

MOBILE = "9812345678"


class BookingPage:
    """/portal/book: the facility search, its results and the slots of each facility."""

    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    def search(self, pincode: str) -> None:
        self.page.get_by_label("Pincode").fill(pincode)
        self.page.get_by_role("button", name="Find facilities").click()

    @property
    def result_count(self) -> Locator:
        return self.page.get_by_role("heading", level=2, name=re.compile(r"facilit"))

    def facility(self, name: str) -> Locator:
        return self.page.get_by_role("article", name=name)

    def days(self, facility: str) -> Locator:
        return self.facility(facility).get_by_role("navigation").get_by_role("link")

    def slot_button(self, facility: str, hours: str) -> Locator:
        return self.facility(facility).get_by_role("link", name=re.compile(rf"^(Book|Move here) {hours}"))


class AppointmentsPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    def member(self, name: str) -> Locator:
        return self.page.get_by_role("region", name=name)

    def flash(self) -> Locator:
        return self.page.get_by_role("status").filter(has_text="SMS")


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


def test_citizen_books_reschedules_and_cancels(page, live_server, shot, app, read_code):  # noqa: F811
    with app.app_context():
        world = f.booking_world(mobile=MOBILE, members=("Asha Verma", "Ravi Verma"))
        prog = db.session.get(Program, world.program_id)
        f.facility_program(f.facility("Community Health Centre, Domlur", pincode="560038"), prog,
                           walkin_days=[0, 2, 4], walkin_end=dt.time(17, 0))
        f.facility_program(f.facility("Far Away Hospital", pincode="110001", district="New Delhi"), prog)
        db.session.remove()
    home = "Primary Health Centre, Indiranagar"

    SignInPage(page, live_server.url).open(purpose="portal", next_path="/portal/book").sign_in(MOBILE, read_code)
    search = BookingPage(page)
    expect(search.heading).to_have_text("Book an appointment")
    expect(page.get_by_label("Program")).to_have_value(str(world.program_id))  # from the members' registration
    shot(page, "booking-01-search")

    # search by pincode: the results come in as an htmx fragment, the URL follows
    search.search("560038")
    expect(search.result_count).to_have_text("2 facilities")
    expect(page).to_have_url(re.compile(r"/portal/book\?.*pincode=560038"))
    expect(search.facility("Far Away Hospital")).to_have_count(0)
    card = search.facility(home)
    expect(card.get_by_text("Walk-in without appointment: Mon–Sat, 09:00–13:00")).to_be_visible()
    expect(search.days(home)).to_have_count(14)
    expect(search.days(home).first).to_have_attribute("aria-current", "date")
    no_sideways_scroll(page)
    shot(page, "booking-02-results")

    # another day: only this facility's slots are swapped in
    search.days(home).nth(2).click()
    expect(search.days(home).nth(2)).to_have_attribute("aria-current", "date")
    expect(search.days(home).first).not_to_have_attribute("aria-current", "date")
    expect(page).to_have_url(re.compile(r"/portal/book\?.*pincode=560038"))  # swapped in place, not navigated
    expect(search.days("Community Health Centre, Domlur").first).to_have_attribute("aria-current", "date")
    expect(page.get_by_text("Walk-in without appointment: Mon–Sat, 09:00–13:00")).to_be_visible()
    expect(search.slot_button(home, "10:00–11:00")).to_be_visible()
    expect(card.get_by_role("listitem").filter(has_text="10:00–11:00")).to_contain_text("5 of 5 free")
    no_sideways_scroll(page)
    card.scroll_into_view_if_needed()
    shot(page, "booking-03-day", full_page=False)

    # book both members into the 10:00 slot in one go
    search.slot_button(home, "10:00–11:00").click()
    expect(search.heading).to_have_text("Book this slot")
    expect(page.get_by_text("5 places left")).to_be_visible()
    asha = page.get_by_role("checkbox", name="Asha Verma, dose 1")
    ravi = page.get_by_role("checkbox", name="Ravi Verma, dose 1")
    page.get_by_role("button", name="Book").click()  # nobody ticked: the error is next to the list
    expect(page.get_by_role("alert")).to_have_text("Choose at least one member.")
    expect(page.get_by_role("group", name="Who is coming")).to_have_accessible_description(
        "Choose at least one member.")
    shot(page, "booking-04-slot-error")
    asha.check()
    ravi.check()
    shot(page, "booking-05-slot")
    page.get_by_role("button", name="Book").click()

    appointments = AppointmentsPage(page)
    expect(search.heading).to_have_text("My appointments")
    expect(appointments.flash()).to_have_text("2 appointments booked. We sent a confirmation by SMS.")
    for name in ("Asha Verma", "Ravi Verma"):
        expect(appointments.member(name)).to_contain_text("10:00–11:00")
        expect(appointments.member(name)).to_contain_text(home)
    no_sideways_scroll(page)
    shot(page, "booking-06-booked")

    # reschedule Asha: the search starts from her facility's pincode; move her to 11:00 on the first day
    page.get_by_role("link", name="Reschedule the appointment of Asha Verma, dose 1").click()
    expect(search.heading).to_have_text("Reschedule an appointment")
    expect(page.get_by_role("note")).to_contain_text("Moving the appointment of Asha Verma (dose 1)")
    expect(search.result_count).to_have_text("2 facilities")
    search.slot_button(home, "11:00–12:00").click()
    expect(search.heading).to_have_text("Move the appointment")
    shot(page, "booking-07-move")
    page.get_by_role("button", name="Move the appointment here").click()
    expect(appointments.flash()).to_have_text("Appointment moved. We sent a confirmation by SMS.")
    expect(appointments.member("Asha Verma")).to_contain_text("11:00–12:00")
    expect(appointments.member("Ravi Verma")).to_contain_text("10:00–11:00")
    shot(page, "booking-08-moved")

    # cancel Ravi's appointment, after a confirmation
    page.get_by_role("link", name="Cancel the appointment of Ravi Verma, dose 1").click()
    expect(search.heading).to_have_text("Cancel the appointment?")
    shot(page, "booking-09-cancel")
    page.get_by_role("button", name="Cancel the appointment").click()
    expect(appointments.flash()).to_have_text("Appointment cancelled. We sent a confirmation by SMS.")
    expect(appointments.member("Ravi Verma").get_by_role("link", name="Book dose 1 for Ravi Verma")).to_be_visible()
    expect(appointments.member("Asha Verma")).to_contain_text("11:00–12:00")
    no_sideways_scroll(page)
    shot(page, "booking-10-cancelled")

    with app.app_context():
        live = db.session.execute(select(Slot.start_time, Slot.booked).join(Appointment)
                                  .where(Appointment.status == "booked")).all()
        events = list(db.session.scalars(select(OutboxMessage.event).where(OutboxMessage.to == MOBILE,
                                                                           OutboxMessage.event != "otp")
                                         .order_by(OutboxMessage.id)))
        db.session.remove()
    assert [(t.hour, booked) for t, booked in live] == [(11, 1)]
    assert events == ["appointment_booked", "appointment_rescheduled", "appointment_cancelled"]

    # the same pages in Hindi
    page.goto(f"{live_server.url}/portal/book?lang=hi&program={world.program_id}&pincode=560038")
    expect(search.heading).to_have_text("अपॉइंटमेंट बुक करें")
    expect(search.facility(home)).to_contain_text("बिना अपॉइंटमेंट आएँ")
    no_sideways_scroll(page)
    shot(page, "booking-11-search-hi")
    page.goto(f"{live_server.url}/portal/appointments?lang=hi")
    expect(search.heading).to_have_text("मेरे अपॉइंटमेंट")
    shot(page, "booking-12-appointments-hi")
