"""Concurrent bookings against the real PostgreSQL: no overbooking, one live booking per dose, no deadlock.

Each racer is a thread with its own test client, so each request has its own app context,
session and database connection. To make the race certain rather than likely, another
connection first locks the slot rows (SELECT ... FOR UPDATE); the racers are released only
once PostgreSQL reports every one of them waiting on that lock, i.e. all of them have passed
their checks and are queued on the guarded UPDATE at the same moment.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from typing import Callable

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from core.config import normalise_db_url
from core.extensions import db
from core.models import Appointment, FacilityProgram, Program, Slot
from portal import booking
from tests.conftest import TEST_DATABASE_URL
from tests.factories import booking as f

_numbers = itertools.count(1)

from .test_booking import live_appointments, sign_in, slot_state, slots_of, sms_to


@pytest.fixture
def world(app):
    with app.app_context():
        w = f.booking_world(members=("Asha Verma",))
        db.session.remove()
    return w


def waiting_on_locks(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND wait_event_type = 'Lock'")).scalar_one()


def race(slot_ids: list[int], racers: list[Callable[[], int]], waiters: int | None = None) -> list[int]:
    """Run the racers in threads while the slots are locked; release them together; return their statuses."""
    engine = create_engine(normalise_db_url(TEST_DATABASE_URL), poolclass=NullPool)
    results: list[int | BaseException] = [0] * len(racers)

    def run(i: int) -> None:
        try:
            results[i] = racers[i]()
        except BaseException as exc:  # reported below, not lost in the thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(racers))]
    try:
        with engine.connect() as holder, \
                engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:  # fresh statistics
            lock = holder.begin()
            holder.execute(text("SELECT id FROM slots WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
                           {"ids": slot_ids})
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            expected = len(racers) if waiters is None else waiters
            while waiting_on_locks(watcher) < expected:
                assert time.monotonic() < deadline, f"only {waiting_on_locks(watcher)} of {expected} racers queued"
                assert any(t.is_alive() for t in threads), f"racers finished without waiting: {results}"
                time.sleep(0.02)
            lock.rollback()  # all of them go at once
        for t in threads:
            t.join(timeout=60)
    finally:
        engine.dispose()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results  # type: ignore[return-value]


def citizens(app, world, n: int, members: int = 1) -> list[tuple[object, list[int]]]:
    """n accounts, each with a signed-in client and ``members`` enrolments in the world's program."""
    out = []
    with app.app_context():
        prog = db.session.get(Program, world.program_id)
        for i in range(n):
            mobile = f"97{next(_numbers):08d}"
            user_id = f.citizen(mobile).id
            ids = [f.enrolment(mobile, prog, name=f"Racer {i}-{m}").id for m in range(members)]
            client = app.test_client()
            sign_in(client, user_id)
            out.append((client, ids))
        db.session.remove()
    return out


def book_racer(client, slot_id: int, enrolment_ids: list[int]) -> Callable[[], int]:
    return lambda: client.post(f"/portal/book/slots/{slot_id}", data={"members": enrolment_ids}).status_code


def set_capacity(app, world, capacity: int) -> None:
    with app.app_context():
        db.session.get(FacilityProgram, world.config_id).slot_capacity = capacity
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize(("capacity", "taken", "racers"), [(5, 4, 10), (3, 0, 10)],
                         ids=["last-seat", "whole-slot"])
def test_racing_bookings_never_overbook(app, world, capacity, taken, racers):
    set_capacity(app, world, capacity)
    slot = slots_of(app, world)[0]
    if taken:
        [(owner, ids)] = citizens(app, world, 1, members=taken)
        assert owner.post(f"/portal/book/slots/{slot.id}", data={"members": ids}).status_code == 302
    accounts = citizens(app, world, racers)

    statuses = race([slot.id], [book_racer(client, slot.id, ids) for client, ids in accounts])

    assert Counter(statuses) == {302: capacity - taken, 409: racers - (capacity - taken)}
    assert slot_state(app, slot.id) == (capacity, capacity)  # booked counter == live appointments == capacity


def test_racing_group_bookings_are_all_or_nothing(app, world):
    set_capacity(app, world, 5)
    slot = slots_of(app, world)[0]
    families = citizens(app, world, 6, members=2)

    statuses = race([slot.id], [book_racer(client, slot.id, ids) for client, ids in families])

    assert Counter(statuses) == {302: 2, 409: 4}  # 2 + 2 fit; a third pair would need 6 places
    assert slot_state(app, slot.id) == (4, 4)
    booked = [len(live_appointments(app, ids[0])) + len(live_appointments(app, ids[1])) for _, ids in families]
    assert sorted(booked) == [0, 0, 0, 0, 2, 2]


def test_the_same_member_booking_twice_at_once_gets_one_booking(app, world):
    a, b = slots_of(app, world)[:2]
    asha = world.enrolment_ids[0]
    clients = []
    for _ in range(4):  # four browser sessions of the same account
        client = app.test_client()
        sign_in(client, world.user_id)
        clients.append(client)

    statuses = race([a.id, b.id], [book_racer(c, s.id, [asha]) for c, s in zip(clients, (a, b, a, b))])

    assert Counter(statuses) == {302: 1, 409: 3}
    assert len(live_appointments(app, asha)) == 1
    assert slot_state(app, a.id)[0] + slot_state(app, b.id)[0] == 1  # the losers' places were given back


def test_opposite_reschedules_do_not_deadlock(app, world):
    """A moves slot 1 → 2 while B moves 2 → 1: the slot rows are always locked in id order."""
    a, b = slots_of(app, world)[:2]
    [(client_a, [ea]), (client_b, [eb])] = citizens(app, world, 2)
    assert client_a.post(f"/portal/book/slots/{a.id}", data={"members": [ea]}).status_code == 302
    assert client_b.post(f"/portal/book/slots/{b.id}", data={"members": [eb]}).status_code == 302
    [appt_a], [appt_b] = live_appointments(app, ea), live_appointments(app, eb)

    statuses = race([a.id, b.id], [
        lambda: client_a.post(f"/portal/appointments/{appt_a.id}/reschedule", data={"slot": b.id}).status_code,
        lambda: client_b.post(f"/portal/appointments/{appt_b.id}/reschedule", data={"slot": a.id}).status_code,
    ])

    assert statuses == [302, 302]
    assert [x.slot_id for x in live_appointments(app, ea)] == [b.id]
    assert [x.slot_id for x in live_appointments(app, eb)] == [a.id]
    assert slot_state(app, a.id) == (1, 1) and slot_state(app, b.id) == (1, 1)


def test_racing_cancels_release_the_place_once(app, world):
    slot = slots_of(app, world)[0]
    asha = world.enrolment_ids[0]
    clients = []
    for _ in range(3):
        client = app.test_client()
        sign_in(client, world.user_id)
        clients.append(client)
    assert clients[0].post(f"/portal/book/slots/{slot.id}", data={"members": [asha]}).status_code == 302
    [appointment] = live_appointments(app, asha)
    with app.app_context():  # someone else holds a place too, so a double release would show
        other = f.enrolment("9700099999", db.session.get(Program, world.program_id), name="Other").id
        with app.test_request_context():
            booking.book("9700099999", slot.id, [other])
            db.session.commit()
        db.session.remove()

    statuses = race([slot.id], [lambda c=c: c.post(f"/portal/appointments/{appointment.id}/cancel").status_code
                                for c in clients])

    assert statuses == [302, 302, 302]  # the late ones are told it changed meanwhile
    assert slot_state(app, slot.id) == (1, 1)
    assert [m.event for m in sms_to(app, world.mobile)] == ["appointment_booked", "appointment_cancelled"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)
                                 .where(Appointment.status == "cancelled")) == 1
        assert db.session.get(Slot, slot.id).booked == 1
        db.session.remove()
