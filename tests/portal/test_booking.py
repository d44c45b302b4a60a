"""Appointment booking through the portal pages: search, slots, book, reschedule, cancel, ownership, SMS."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from core.errors import NotFound
from core.extensions import db
from core.models import (
    Appointment,
    Enrolment,
    FacilityProgram,
    OutboxMessage,
    Program,
    Slot,
)
from portal import booking
from tests.factories import api_client, certify_item, seed_vaccines
from tests.factories import booking as f


def sign_in(client, user_id: int) -> None:
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess["_fresh"] = True


@pytest.fixture
def world(app):
    with app.app_context():
        w = f.booking_world()
        db.session.remove()
    return w


@pytest.fixture
def citizen(client, world):
    sign_in(client, world.user_id)
    return client


def slots_of(app, world, day_index: int = 0) -> list[Slot]:
    """The slots of the world's facility on the n-th booking day (materialised as the pages would)."""
    with app.app_context():
        day = booking.booking_days()[day_index]
        card = booking.facility_days([booking.facility_config(world.facility_id, world.program_id)], day)[0]
        db.session.commit()
        slots = list(db.session.scalars(select(Slot).where(Slot.id.in_([s.id for s in card.slots]))
                                        .order_by(Slot.start_time)))
        db.session.expunge_all()
        db.session.remove()
    return slots


def slot_state(app, slot_id: int) -> tuple[int, int]:
    """(booked counter, live appointments) of a slot."""
    with app.app_context():
        booked = db.session.get(Slot, slot_id).booked
        live = db.session.scalar(select(func.count()).select_from(Appointment)
                                 .where(Appointment.slot_id == slot_id, Appointment.status == "booked"))
        db.session.remove()
    return booked, live


def sms_to(app, mobile: str) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == mobile)
                                       .order_by(OutboxMessage.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def live_appointments(app, enrolment_id: int) -> list[Appointment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Appointment).where(Appointment.enrolment_id == enrolment_id,
                                                                 Appointment.status == "booked")))
        db.session.expunge_all()
        db.session.remove()
    return rows


# --- slots from the configuration ---------------------------------------------------------------

def test_slots_are_materialised_once_from_the_configuration(app, world):
    with app.app_context():
        config = db.session.get(FacilityProgram, world.config_id)
        assert booking.slot_times(config) == [(dt.time(9), dt.time(10)), (dt.time(10), dt.time(11)),
                                              (dt.time(11), dt.time(12))]
        days = booking.booking_days()
        assert len(days) == app.config["BOOKING_DAYS_AHEAD"] and days[0] == booking.local_today() + dt.timedelta(1)
        assert booking.ensure_slots([config], days) == 3 * len(days)
        db.session.commit()
        assert booking.ensure_slots([config], days) == 0  # already there: nothing offered again
        config.slot_minutes = 45
        assert booking.ensure_slots([config], days) == 0  # a config change applies to new days only
        rows = db.session.execute(select(Slot.day, func.count(), func.min(Slot.capacity))
                                  .group_by(Slot.day).order_by(Slot.day)).all()
        assert [(d, n, c) for d, n, c in rows] == [(d, 3, 5) for d in days]



def _change_slots(app, world, start: int, end: int, minutes: int, capacity: int):
    from facility import admin_services

    with app.test_request_context():
        saved = admin_services.save_slot_config(
            world.facility_id, world.program_id, appointment_start=dt.time(start), appointment_end=dt.time(end),
            slot_minutes=minutes, slot_capacity=capacity, walkin_days=[], walkin_start=None, walkin_end=None)
        db.session.commit()
        db.session.remove()
    return saved.slots


def _day_slots(app, world, day: dt.date) -> list[tuple[str, str, int, int]]:
    with app.app_context():
        rows = db.session.execute(select(Slot.start_time, Slot.end_time, Slot.capacity, Slot.booked)
                                  .where(Slot.facility_id == world.facility_id, Slot.day == day)
                                  .order_by(Slot.start_time)).all()
        db.session.remove()
    return [(str(a)[:5], str(b)[:5], c, n) for a, b, c, n in rows]


def test_a_configuration_change_reaches_the_days_already_open(app, citizen, world):
    """New hours, length and capacity apply from tomorrow to days with slots; booked places stay."""
    nine, ten, _eleven = slots_of(app, world)  # materialises every booking day: 09-10, 10-11, 11-12, 5 places
    asha, ravi = world.enrolment_ids
    assert citizen.post(f"/portal/book/slots/{ten.id}", data={"members": [asha]}).status_code == 302
    assert citizen.post(f"/portal/book/slots/{nine.id}", data={"members": [ravi]}).status_code == 302
    [cancelled] = live_appointments(app, ravi)  # a cancelled appointment keeps pointing at 09:00
    assert citizen.post(f"/portal/appointments/{cancelled.id}/cancel").status_code == 302
    with app.app_context():
        today = booking.local_today()
        booking.ensure_slots([db.session.get(FacilityProgram, world.config_id)], [today])
        db.session.commit()  # today's slots (walk-ins, people on their way) must not change
        db.session.remove()
    before_today = _day_slots(app, world, today)

    update = _change_slots(app, world, 10, 13, 30, 1)
    n = app.config["BOOKING_DAYS_AHEAD"]
    assert (update.added, update.changed, update.removed, update.kept) == (4 * n, 2 * n, n, ())
    first = nine.day
    assert _day_slots(app, world, first) == [
        ("09:00", "10:00", 0, 0),  # closed, not deleted: a cancelled appointment refers to it
        ("10:00", "10:30", 1, 1), ("10:30", "11:00", 1, 0), ("11:00", "11:30", 1, 0), ("11:30", "12:00", 1, 0),
        ("12:00", "12:30", 1, 0), ("12:30", "13:00", 1, 0)]
    assert _day_slots(app, world, first + dt.timedelta(days=1))[0] == ("10:00", "10:30", 1, 0)  # 09:00 deleted
    assert _day_slots(app, world, today) == before_today
    offered = [(s.start_time.strftime("%H:%M"), s.capacity - s.booked) for s in slots_of(app, world)]
    assert offered == [("10:00", 0), ("10:30", 1), ("11:00", 1), ("11:30", 1), ("12:00", 1), ("12:30", 1)]

    # hours that leave out the booked 10:00 slot: it stays, with its appointment, and is reported
    update = _change_slots(app, world, 14, 16, 60, 3)
    assert update.kept == ((first, dt.time(10), 1),)
    assert [s[0] for s in _day_slots(app, world, first)] == ["09:00", "10:00", "14:00", "15:00"]
    assert live_appointments(app, asha)[0].slot_id == ten.id
    # the old hours again: the closed slot reopens, the booked one keeps its place
    _change_slots(app, world, 9, 12, 60, 5)
    assert _day_slots(app, world, first)[:3] == [("09:00", "10:00", 5, 0), ("10:00", "11:00", 5, 1),
                                                 ("11:00", "12:00", 5, 0)]

def test_concurrent_materialisation_conflicts_are_ignored(app, world):
    """Two requests materialising the same day at once: the second's rows hit ON CONFLICT DO NOTHING."""
    with app.app_context():
        config = db.session.get(FacilityProgram, world.config_id)
        day = booking.booking_days()[0]
        rows = [{"facility_id": config.facility_id, "program_id": config.program_id, "day": day,
                 "start_time": start, "end_time": end, "capacity": 5, "booked": 0}
                for start, end in booking.slot_times(config)]
        booking._insert_ignoring_conflicts(rows)
        booking._insert_ignoring_conflicts(rows + [{**rows[0], "start_time": dt.time(15), "end_time": dt.time(16)}])
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Slot)) == 4


def test_slots_materialise_on_sqlite_too(tmp_path):
    """The embedded run's database: the same INSERT ... ON CONFLICT DO NOTHING path."""
    from flask_migrate import upgrade

    from core import create_app

    sqlite_app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'slots.sqlite3'}",
                             "SECRET_KEY": "x", "TESTING": True})
    with sqlite_app.app_context():
        upgrade()
        w = f.booking_world(members=("Asha Verma",))
        config = db.session.get(FacilityProgram, w.config_id)
        days = booking.booking_days()[:2]
        assert booking.ensure_slots([config], days) == 6
        assert booking.ensure_slots([config], days) == 0
        slot = db.session.scalars(select(Slot).order_by(Slot.day, Slot.start_time)).first()
        db.session.commit()
        with sqlite_app.test_request_context():
            [appointment] = booking.book(w.mobile, slot.id, w.enrolment_ids)
            db.session.commit()
        assert (appointment.dose, db.session.get(Slot, slot.id).booked) == (1, 1)
        config.appointment_start, config.slot_capacity = dt.time(10), 2  # a change reaches open days
        update = booking.apply_config(config)
        db.session.commit()
        assert (update.added, update.changed, update.removed, update.kept) == (0, 4, 1, ((slot.day, slot.start_time, 1),))
        db.session.remove()
        db.engine.dispose()


# --- search ---------------------------------------------------------------------------------------

def test_search_finds_only_active_facilities_of_the_program(app, world):
    with app.app_context():
        prog = db.session.get(Program, world.program_id)
        other_program = f.program("Measles")
        near = f.facility("Community Health Centre", pincode="560038", district="Bengaluru Urban")
        f.facility_program(near, prog)
        closed = f.facility("Closed Clinic", pincode="560038", active=False)
        f.facility_program(closed, prog)
        paused = f.facility("Paused Clinic", pincode="560038")
        f.facility_program(paused, prog, active=False)
        elsewhere = f.facility("Far Hospital", pincode="110001", district="New Delhi")
        f.facility_program(elsewhere, prog)
        measles_only = f.facility("Measles Clinic", pincode="560038")
        f.facility_program(measles_only, other_program)

        def names(**kw):
            return [c.facility.name for c in booking.search_facilities(world.program_id, **kw)]

        assert names(pincode="560038") == ["Community Health Centre", "Primary Health Centre, Indiranagar"]
        assert names(district=" bengaluru urban ") == ["Community Health Centre",
                                                        "Primary Health Centre, Indiranagar"]
        assert names(district="New Delhi") == ["Far Hospital"]
        assert names(pincode="999999") == []


def test_search_page_and_its_htmx_fragment(app, citizen, world):
    page = citizen.get(f"/portal/book?program={world.program_id}&pincode=560038")
    assert page.status_code == 200 and "HX-Request" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    assert "<html" in html and 'id="search"' in html and "Primary Health Centre, Indiranagar" in html
    assert "Walk-in without appointment: Mon–Sat, 09:00–13:00" in html
    assert html.count('class="slot"') == 3 and "5 of 5 free" in html
    assert re.search(r'hx-headers=\'\{"X-CSRFToken": "[^"]*"\}\'', html)  # htmx requests carry the token

    fragment = citizen.get(f"/portal/book?program={world.program_id}&pincode=560038", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert "<html" not in text and text.lstrip().startswith('<div id="search"')
    restore = citizen.get(f"/portal/book?program={world.program_id}&pincode=560038",
                          headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_search_errors_show_next_to_the_fields(app, citizen, world):
    resp = citizen.get(f"/portal/book?program={world.program_id}&pincode=&district=", headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert 'id="pincode-error"' in html and "Enter a pincode or a district." in html
    assert 'aria-invalid="true"' in html and "facilities</h2>" not in html
    bad = citizen.get(f"/portal/book?program={world.program_id}&pincode=56%2F0")
    assert "Enter a pincode of 3 to 10 letters or digits." in bad.get_data(as_text=True)


def test_book_link_of_a_member_prefills_the_search(app, citizen, world):
    resp = citizen.get(f"/portal/book?enrolment={world.enrolment_ids[0]}")
    html = resp.get_data(as_text=True)
    assert 'value="560038"' in html and "Primary Health Centre, Indiranagar" in html


def test_day_switch_returns_the_facility_fragment(app, citizen, world):
    day = booking_day(app, 3)
    url = f"/portal/book/facilities/{world.facility_id}?program={world.program_id}&day={day.isoformat()}"
    fragment = citizen.get(url, headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith(f'<div class="facility-slots" id="slots-{world.facility_id}"')
    assert f'aria-current="date" href="/portal/book/facilities/{world.facility_id}?program={world.program_id}&amp;day={day.isoformat()}"' in text
    assert f'hx-boost="true" hx-target="#slots-{world.facility_id}"' in text
    assert "HX-Request" in fragment.headers["Vary"]
    page = citizen.get(url)
    assert "<html" in page.get_data(as_text=True) and "Choose a slot" in page.get_data(as_text=True)
    assert citizen.get(f"/portal/book/facilities/{world.facility_id}?program=999").status_code == 404


def booking_day(app, n: int) -> dt.date:
    with app.test_request_context():
        return booking.booking_days()[n]


def test_pages_need_a_signed_in_citizen(client, world):
    for url in ("/portal/book", "/portal/appointments", f"/portal/book/facilities/{world.facility_id}"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# --- book, reschedule, cancel ---------------------------------------------------------------------

def test_two_members_book_one_slot_in_one_go(app, citizen, world):
    slot = slots_of(app, world)[1]
    page = citizen.get(f"/portal/book/slots/{slot.id}")
    html = page.get_data(as_text=True)
    assert "Asha Verma, dose 1" in html and "Ravi Verma, dose 1" in html and "5 places left" in html

    resp = citizen.post(f"/portal/book/slots/{slot.id}", data={"members": world.enrolment_ids})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/appointments")
    assert slot_state(app, slot.id) == (2, 2)
    [message] = sms_to(app, world.mobile)
    assert message.event == "appointment_booked" and message.language == "en"
    assert "Asha Verma, Ravi Verma, dose 1 is booked" in message.body and "10:00-11:00" in message.body

    listing = citizen.get("/portal/appointments").get_data(as_text=True)
    assert "2 appointments booked" in listing and listing.count('class="appointment"') == 2
    assert "Primary Health Centre, Indiranagar" in listing and "Book dose" not in listing


def test_booking_is_all_or_nothing(app, citizen, world):
    with app.app_context():
        db.session.get(FacilityProgram, world.config_id).slot_capacity = 1
        db.session.commit()
    slot = slots_of(app, world)[0]
    resp = citizen.post(f"/portal/book/slots/{slot.id}", data={"members": world.enrolment_ids})
    assert resp.status_code == 409
    assert "Not enough places are left in this slot" in resp.get_data(as_text=True)
    assert slot_state(app, slot.id) == (0, 0) and sms_to(app, world.mobile) == []
    assert citizen.post(f"/portal/book/slots/{slot.id}", data={"members": world.enrolment_ids[:1]}).status_code == 302
    assert slot_state(app, slot.id) == (1, 1)


def test_nobody_chosen_is_an_error_next_to_the_checkboxes(app, citizen, world):
    slot = slots_of(app, world)[0]
    resp = citizen.post(f"/portal/book/slots/{slot.id}", data={})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="members-error"' in html and "Choose at least one member." in html


def test_one_live_booking_per_member_and_dose(app, citizen, world):
    first, second = slots_of(app, world)[:2]
    asha = world.enrolment_ids[0]
    assert citizen.post(f"/portal/book/slots/{first.id}", data={"members": [asha]}).status_code == 302
    page = citizen.get(f"/portal/book/slots/{second.id}").get_data(as_text=True)
    assert "Asha Verma already has an appointment for dose 1: reschedule it instead." in page
    assert f'value="{asha}"' not in page  # not offered again
    resp = citizen.post(f"/portal/book/slots/{second.id}", data={"members": [asha]})
    assert resp.status_code == 400  # not a valid choice any more
    with app.test_request_context():
        with pytest.raises(booking.BookingError, match="already has an appointment"):
            booking.book(world.mobile, second.id, [asha])
        db.session.rollback()
    assert slot_state(app, second.id) == (0, 0) and len(live_appointments(app, asha)) == 1


def test_reschedule_moves_the_place(app, citizen, world):
    old = slots_of(app, world, 0)[0]
    new = slots_of(app, world, 2)[2]
    asha = world.enrolment_ids[0]
    citizen.post(f"/portal/book/slots/{old.id}", data={"members": [asha]})
    [appointment] = live_appointments(app, asha)

    search = citizen.get(f"/portal/book?reschedule={appointment.id}").get_data(as_text=True)
    assert "Moving the appointment of Asha Verma (dose 1)" in search and "Move here" in search
    confirm = citizen.get(f"/portal/book/slots/{new.id}?reschedule={appointment.id}").get_data(as_text=True)
    assert "Move the appointment here" in confirm
    resp = citizen.post(f"/portal/appointments/{appointment.id}/reschedule", data={"slot": new.id})
    assert resp.status_code == 302
    assert slot_state(app, old.id) == (0, 0) and slot_state(app, new.id) == (1, 1)
    [moved] = live_appointments(app, asha)
    assert (moved.id, moved.slot_id, moved.dose) == (appointment.id, new.id, 1)
    message = sms_to(app, world.mobile)[-1]
    assert message.event == "appointment_rescheduled" and "Asha Verma is moved" in message.body
    again = citizen.post(f"/portal/appointments/{appointment.id}/reschedule", data={"slot": new.id})
    assert again.status_code == 409 and "already in this slot" in again.get_data(as_text=True)


def test_reschedule_into_a_full_slot_keeps_the_old_place(app, citizen, world):
    with app.app_context():
        db.session.get(FacilityProgram, world.config_id).slot_capacity = 1
        db.session.commit()
    a, b = slots_of(app, world)[:2]
    asha, ravi = world.enrolment_ids
    citizen.post(f"/portal/book/slots/{a.id}", data={"members": [asha]})
    citizen.post(f"/portal/book/slots/{b.id}", data={"members": [ravi]})
    [appointment] = live_appointments(app, asha)
    resp = citizen.post(f"/portal/appointments/{appointment.id}/reschedule", data={"slot": b.id})
    assert resp.status_code == 409 and "Not enough places" in resp.get_data(as_text=True)
    assert slot_state(app, a.id) == (1, 1) and slot_state(app, b.id) == (1, 1)


def test_cancel_gives_the_place_back(app, citizen, world):
    slot = slots_of(app, world)[0]
    asha = world.enrolment_ids[0]
    citizen.post(f"/portal/book/slots/{slot.id}", data={"members": [asha]})
    [appointment] = live_appointments(app, asha)
    confirm = citizen.get(f"/portal/appointments/{appointment.id}/cancel")
    assert confirm.status_code == 200 and "Cancel the appointment?" in confirm.get_data(as_text=True)
    assert citizen.post(f"/portal/appointments/{appointment.id}/cancel").status_code == 302
    assert slot_state(app, slot.id) == (0, 0) and live_appointments(app, asha) == []
    message = sms_to(app, world.mobile)[-1]
    assert message.event == "appointment_cancelled" and "is cancelled" in message.body
    assert citizen.post(f"/portal/appointments/{appointment.id}/cancel").status_code == 404  # once only
    assert slot_state(app, slot.id) == (0, 0)
    listing = citizen.get("/portal/appointments").get_data(as_text=True)
    assert "Appointment cancelled" in listing and "Book dose 1" in listing
    # the dose can be booked again after a cancellation
    assert citizen.post(f"/portal/book/slots/{slot.id}", data={"members": [asha]}).status_code == 302


def test_confirmation_sms_in_the_citizens_language(app, citizen, world):
    slot = slots_of(app, world)[0]
    resp = citizen.post(f"/portal/book/slots/{slot.id}", data={"members": world.enrolment_ids[:1]},
                        headers={"Accept-Language": "hi"})
    assert resp.status_code == 302
    [message] = sms_to(app, world.mobile)
    assert message.language == "hi" and "अपॉइंटमेंट बुक" in message.body and "Asha Verma" in message.body


# --- ownership ------------------------------------------------------------------------------------

def test_a_citizen_cannot_touch_another_accounts_members(app, client, world):
    slot = slots_of(app, world)[0]
    asha = world.enrolment_ids[0]
    owner = app.test_client()
    sign_in(owner, world.user_id)
    owner.post(f"/portal/book/slots/{slot.id}", data={"members": [asha]})
    [appointment] = live_appointments(app, asha)
    with app.app_context():
        other = f.citizen("9800000099")
        prog = db.session.get(Program, world.program_id)
        own = f.enrolment("9800000099", prog, name="Meena Rao").id
        other_id = other.id
        db.session.remove()
    sign_in(client, other_id)

    page = client.get(f"/portal/book/slots/{slot.id}").get_data(as_text=True)
    assert "Meena Rao" in page and "Asha Verma" not in page
    assert client.post(f"/portal/book/slots/{slot.id}", data={"members": [asha]}).status_code == 400
    with app.test_request_context():
        with pytest.raises(NotFound):
            booking.book("9800000099", slot.id, [asha, own])
        db.session.rollback()
    assert client.get(f"/portal/book?enrolment={asha}").status_code == 404
    assert client.get(f"/portal/book?reschedule={appointment.id}").status_code == 404
    assert client.get(f"/portal/book/slots/{slot.id}?reschedule={appointment.id}").status_code == 404
    assert client.post(f"/portal/appointments/{appointment.id}/reschedule", data={"slot": slot.id}).status_code == 404
    assert client.get(f"/portal/appointments/{appointment.id}/cancel").status_code == 404
    assert client.post(f"/portal/appointments/{appointment.id}/cancel").status_code == 404
    assert "Asha Verma" not in client.get("/portal/appointments").get_data(as_text=True)
    assert slot_state(app, slot.id) == (1, 1) and len(live_appointments(app, asha)) == 1


# --- doses from the certificates --------------------------------------------------------------------

def test_next_dose_follows_the_live_certificates(app, citizen, world, run_jobs):
    """A dose-1 certificate (issued through the real API) makes the next booking dose 2, from its due day."""
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
        code = db.session.get(Enrolment, world.enrolment_ids[0]).code
        vaccinated = booking.local_today() - dt.timedelta(days=20)  # Covishield: 28 days → due in 8 days
        db.session.remove()
    token = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                         "client_secret": secret}).json["access_token"]
    item = certify_item(code=code, dose=1, vaccination={"date": f"{vaccinated.isoformat()}T10:00",
                                                        "totalDoses": 2})
    assert app.test_client().post("/v3/certify", json=[item],
                                  headers={"Authorization": f"Bearer {token}"}).status_code == 202
    run_jobs()

    early, due = slots_of(app, world, 0)[0], slots_of(app, world, 7)[0]
    page = citizen.get(f"/portal/book/slots/{early.id}").get_data(as_text=True)
    assert "Dose 2 for Asha Verma is due from" in page and "Ravi Verma, dose 1" in page
    assert citizen.post(f"/portal/book/slots/{early.id}", data={"members": [world.enrolment_ids[0]]}).status_code == 400
    assert "Asha Verma, dose 2" in citizen.get(f"/portal/book/slots/{due.id}").get_data(as_text=True)
    assert citizen.post(f"/portal/book/slots/{due.id}", data={"members": [world.enrolment_ids[0]]}).status_code == 302
    [appointment] = live_appointments(app, world.enrolment_ids[0])
    assert appointment.dose == 2

    today = vaccinated + dt.timedelta(days=20)
    item2 = certify_item(code=code, dose=2, vaccination={"date": f"{today.isoformat()}T10:00", "totalDoses": 2})
    second = app.test_client().post("/v3/certify", json=[item2], headers={"Authorization": f"Bearer {token}"})
    assert second.status_code == 202, second.json
    run_jobs()
    assert live_appointments(app, world.enrolment_ids[0]) == []  # dose 2 given: its appointment is completed
    with app.app_context():
        assert db.session.get(Appointment, appointment.id).status == "completed"
        db.session.remove()
    listing = citizen.get("/portal/appointments").get_data(as_text=True)
    assert "Every dose has been given." in listing
    assert "has had every dose" in citizen.get(f"/portal/book/slots/{due.id}").get_data(as_text=True)


def test_demo_facility_programs(app, world):
    with app.app_context():
        f.facility("Second Centre")
        f.facility("Inactive Centre", active=False)
        assert booking.seed_demo_facility_programs(world.program_id) == 1
        assert booking.seed_demo_facility_programs(world.program_id) == 0
        db.session.commit()
        names = [c.facility.name for c in booking.search_facilities(world.program_id, district="Bengaluru Urban")]
        assert names == ["Primary Health Centre, Indiranagar", "Second Centre"]


# --- CSRF and translations ------------------------------------------------------------------------

def test_forms_and_htmx_requests_need_the_csrf_token(app, world):
    """The suite's app skips CSRF; an app with it on refuses a booking without the form's or htmx's token."""
    from core import create_app

    strict = create_app({"TESTING": True, "WTF_CSRF_ENABLED": True, "SECRET_KEY": app.config["SECRET_KEY"],
                         "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                         "REDIS_URL": app.config["REDIS_URL"]})
    slot = slots_of(app, world)[0]
    asha, ravi = world.enrolment_ids
    client = strict.test_client()
    sign_in(client, world.user_id)
    try:
        html = client.get(f"/portal/book/slots/{slot.id}").get_data(as_text=True)
        form_token = re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        htmx_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html).group(1)

        refused = client.post(f"/portal/book/slots/{slot.id}", data={"members": [asha]})
        assert refused.status_code == 400 and slot_state(app, slot.id) == (0, 0)
        assert client.post(f"/portal/book/slots/{slot.id}",
                           data={"members": [asha], "csrf_token": form_token}).status_code == 302
        assert client.post(f"/portal/book/slots/{slot.id}", data={"members": [ravi]},
                           headers={"X-CSRFToken": htmx_token, "HX-Request": "true"}).status_code == 302
        assert slot_state(app, slot.id) == (2, 2)
    finally:
        with strict.app_context():
            db.engine.dispose()


def test_every_booking_string_has_a_hindi_translation():
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from tests.conftest import ROOT

    method_map = [("portal/booking.py", "python"), ("portal/booking_*.py", "python"),
                  ("templates/portal/booking/**.html", "jinja2")]
    found = {msgid if isinstance(msgid, str) else msgid[0]
             for _, _, msgid, _, _ in extract_from_dir(str(ROOT), method_map, keywords={
                 "_": None, "_l": None, "gettext": None, "ngettext": (1, 2)})}
    with (ROOT / "translations" / "hi" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    untranslated = sorted(m for m in found if m not in catalog or not catalog[m].string or catalog[m].fuzzy)
    assert len(found) > 60 and untranslated == []
