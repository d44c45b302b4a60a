"""Appointments: facility search, slots made from the slot configuration, booking that never overbooks.

Slots are materialised lazily: the first time a facility's day is shown, one
``INSERT ... ON CONFLICT DO NOTHING`` writes that day's slots from its FacilityProgram
(appointment hours in steps of ``slot_minutes``, ``slot_capacity`` each). Two requests
doing it at once both succeed and leave one row per slot. When the configuration changes,
:func:`apply_config` brings the days already materialised from tomorrow on in line with it
(today's slots are left as they are: people may already be on their way).

Capacity is taken with one guarded statement in the request's transaction::

    UPDATE slots SET booked = booked + :n WHERE id = :id AND booked + :n <= capacity

PostgreSQL re-checks the condition on the newest row after waiting for a concurrent
booking's lock, so a statement that would overbook matches no row (rowcount 0) and the
booking is refused; the ``booked <= capacity`` check constraint is the last line. A partial
unique index allows one live (``booked``) appointment per (enrolment, dose), so two
concurrent bookings of the same member cannot both commit. Releasing capacity and moving
an appointment are guarded the same way, so a double cancel or a cancel racing a reschedule
changes the counts once. Services only flush; the view commits or rolls back.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core import notify
from core.errors import AppError, NotFound
from core.extensions import db
from core.models import (
    Appointment,
    Enrolment,
    Facility,
    FacilityProgram,
    Member,
    Program,
    Slot,
    Vaccine,
    local_today,
)

BOOKED, CANCELLED, COMPLETED = "booked", "cancelled", "completed"
SEARCH_LIMIT = 20  # facilities per search; a citizen narrows by pincode rather than pages


class BookingError(AppError):
    """A booking, reschedule or cancellation the rules refuse; the message is for the citizen."""

    status = 409
    code = "booking_refused"


# --- days and slots ---------------------------------------------------------------------------

def booking_days() -> list[dt.date]:
    """The days open for booking: tomorrow and the next BOOKING_DAYS_AHEAD - 1 (today is for walk-ins)."""
    today = local_today()
    return [today + dt.timedelta(days=n) for n in range(1, current_app.config["BOOKING_DAYS_AHEAD"] + 1)]


def slot_times(config: FacilityProgram) -> list[tuple[dt.time, dt.time]]:
    """(start, end) of each slot of a day: appointment hours in steps of ``slot_minutes``."""
    if config.slot_minutes <= 0 or config.slot_capacity <= 0:
        return []
    day = dt.date(2000, 1, 3)
    start = dt.datetime.combine(day, config.appointment_start)
    close = dt.datetime.combine(day, config.appointment_end)
    step = dt.timedelta(minutes=config.slot_minutes)
    times = []
    while start + step <= close:
        times.append((start.time(), (start + step).time()))
        start += step
    return times


def _insert_ignoring_conflicts(rows: list[dict]) -> None:
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = insert(Slot).on_conflict_do_nothing(index_elements=["facility_id", "program_id", "day", "start_time"])
    db.session.execute(stmt, rows)


def ensure_slots(configs: list[FacilityProgram], days: list[dt.date]) -> int:
    """Materialise the slots of these facilities on these days (idempotent); return rows offered."""
    if not configs or not days:
        return 0
    program_ids = {c.program_id for c in configs}
    present = set(db.session.execute(
        select(Slot.facility_id, Slot.program_id, Slot.day).distinct()
        .where(Slot.facility_id.in_([c.facility_id for c in configs]), Slot.program_id.in_(program_ids),
               Slot.day.in_(days))))
    rows = [{"facility_id": c.facility_id, "program_id": c.program_id, "day": day, "start_time": start,
             "end_time": end, "capacity": c.slot_capacity, "booked": 0}
            for c in configs for day in days if (c.facility_id, c.program_id, day) not in present
            for start, end in slot_times(c)]
    if rows:
        _insert_ignoring_conflicts(rows)
    return len(rows)


@dataclass(frozen=True)
class SlotUpdate:
    """What :func:`apply_config` changed; ``kept`` are booked slots outside the new hours."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    kept: tuple[tuple[dt.date, dt.time, int], ...] = ()  # (day, start, places booked)


def apply_config(config: FacilityProgram) -> SlotUpdate:
    """Bring the materialised days from tomorrow on in line with ``config`` (after it changed).

    A slot at a start time the new hours still have takes the new end and capacity, never less
    than is already booked; a free slot at a start time they no longer have is removed (closed,
    capacity 0, when a cancelled appointment still points at it); new start times are added. A
    booked slot outside the new hours stays, so its appointments stand; it is reported in ``kept``.
    The day's slots are locked first, so a booking racing the change waits and then sees the
    new capacity (or finds the slot gone and is refused).
    """
    tomorrow = local_today() + dt.timedelta(days=1)
    slots = list(db.session.scalars(
        select(Slot).where(Slot.facility_id == config.facility_id, Slot.program_id == config.program_id,
                           Slot.day >= tomorrow)
        .order_by(Slot.day, Slot.start_time).with_for_update(of=Slot)))
    if not slots:
        return SlotUpdate()
    times = dict(slot_times(config))
    referenced = set(db.session.scalars(
        select(Appointment.slot_id).distinct().where(Appointment.slot_id.in_([s.id for s in slots]))))
    added = changed = removed = 0
    kept: list[tuple[dt.date, dt.time, int]] = []
    present: dict[dt.date, set[dt.time]] = {}
    for slot in slots:
        present.setdefault(slot.day, set()).add(slot.start_time)
        if slot.start_time in times:
            end, capacity = times[slot.start_time], max(config.slot_capacity, slot.booked)
            if (slot.end_time, slot.capacity) != (end, capacity):
                slot.end_time, slot.capacity = end, capacity
                changed += 1
        elif slot.booked:
            kept.append((slot.day, slot.start_time, slot.booked))
        elif slot.id in referenced:
            if slot.capacity:
                slot.capacity = 0
                removed += 1
        else:
            db.session.delete(slot)
            removed += 1
    rows = [{"facility_id": config.facility_id, "program_id": config.program_id, "day": day, "start_time": start,
             "end_time": end, "capacity": config.slot_capacity, "booked": 0}
            for day, starts in present.items() for start, end in times.items() if start not in starts]
    db.session.flush()
    if rows:
        _insert_ignoring_conflicts(rows)
        added = len(rows)
    return SlotUpdate(added, changed, removed, tuple(kept))


@dataclass(frozen=True)
class DayAvailability:
    day: dt.date
    slots: int
    free: int


@dataclass(frozen=True)
class OpenSlot:
    """A slot as the citizen sees it: its hours and the places left."""

    id: int
    day: dt.date
    start_time: dt.time
    end_time: dt.time
    capacity: int
    free: int

    @classmethod
    def of(cls, slot: Slot) -> "OpenSlot":
        return cls(slot.id, slot.day, slot.start_time, slot.end_time, slot.capacity,
                   max(0, slot.capacity - slot.booked))


@dataclass(frozen=True)
class FacilityDay:
    """One facility's card: where it is, its walk-in hours, free places per day, and the chosen day's slots.

    Plain values, so the page renders without touching the (expired, after the commit) ORM rows.
    """

    facility_id: int
    program_id: int
    name: str
    address: str
    pincode: str
    walkin_days: tuple[int, ...]
    walkin_start: dt.time | None
    walkin_end: dt.time | None
    days: list[DayAvailability]
    day: dt.date
    slots: list[OpenSlot]

    @property
    def has_walkins(self) -> bool:
        return bool(self.walkin_days and self.walkin_start and self.walkin_end)


def address_line(facility: Facility) -> str:
    """"1 Hospital Road, Bengaluru Urban, 560038"."""
    parts = [(facility.address or {}).get("addressLine1"), facility.district, facility.pincode]
    return ", ".join(str(p) for p in parts if p)


def _active_configs():
    return (select(FacilityProgram).join(Facility, Facility.id == FacilityProgram.facility_id)
            .join(Program, Program.id == FacilityProgram.program_id)
            .where(FacilityProgram.active, Facility.active, Program.active))


def search_facilities(program_id: int, district: str | None = "", pincode: str | None = "",
                      limit: int = SEARCH_LIMIT) -> list[FacilityProgram]:
    """Active facilities with an active slot configuration for the program, by district or pincode."""
    pincode, district = (pincode or "").strip(), (district or "").strip()
    query = _active_configs().where(FacilityProgram.program_id == program_id)
    if pincode:
        query = query.where(Facility.pincode == pincode)
    if district:
        query = query.where(func.lower(Facility.district) == district.lower())
    return list(db.session.scalars(query.order_by(Facility.name, Facility.id).limit(limit)))


def facility_config(facility_id: int, program_id: int) -> FacilityProgram:
    config = db.session.scalar(_active_configs().where(FacilityProgram.facility_id == facility_id,
                                                       FacilityProgram.program_id == program_id))
    if config is None:
        raise NotFound(_("This facility does not take appointments for this program."))
    return config


def facility_days(configs: list[FacilityProgram], day: dt.date | None = None) -> list[FacilityDay]:
    """Materialise the booking window for these facilities and describe each one's availability.

    The chosen ``day`` (when in the window) is shown for every facility; otherwise each shows its
    first day with a free place.
    """
    days = booking_days()
    ensure_slots(configs, days)
    if not configs:
        return []
    facility_ids = [c.facility_id for c in configs]
    program_ids = {c.program_id for c in configs}
    counts: dict[tuple[int, int, dt.date], tuple[int, int]] = {}
    for facility_id, program_id, slot_day, n, free in db.session.execute(
            select(Slot.facility_id, Slot.program_id, Slot.day, func.count(), func.sum(Slot.capacity - Slot.booked))
            .where(Slot.facility_id.in_(facility_ids), Slot.program_id.in_(program_ids),
                   Slot.day.in_(days), Slot.capacity > 0)
            .group_by(Slot.facility_id, Slot.program_id, Slot.day)):
        counts[(facility_id, program_id, slot_day)] = (n, int(free or 0))
    chosen_days: dict[int, dt.date] = {}
    for c in configs:
        if day in days:
            chosen_days[c.facility_id] = day
        else:
            free_days = [d for d in days if counts.get((c.facility_id, c.program_id, d), (0, 0))[1] > 0]
            chosen_days[c.facility_id] = free_days[0] if free_days else days[0]
    slots: dict[int, list[OpenSlot]] = {c.facility_id: [] for c in configs}
    wanted = {(c.facility_id, c.program_id, chosen_days[c.facility_id]) for c in configs}
    for slot in db.session.scalars(select(Slot).where(Slot.facility_id.in_(facility_ids),
                                                      Slot.program_id.in_(program_ids),
                                                      Slot.day.in_(set(chosen_days.values())),
                                                      Slot.capacity > 0)
                                   .order_by(Slot.start_time)):
        if (slot.facility_id, slot.program_id, slot.day) in wanted:
            slots[slot.facility_id].append(OpenSlot.of(slot))
    return [FacilityDay(facility_id=c.facility_id, program_id=c.program_id, name=c.facility.name,
                        address=address_line(c.facility), pincode=c.facility.pincode,
                        walkin_days=tuple(c.walkin_days or ()), walkin_start=c.walkin_start, walkin_end=c.walkin_end,
                        days=[DayAvailability(d, *counts.get((c.facility_id, c.program_id, d), (0, 0)))
                              for d in days],
                        day=chosen_days[c.facility_id], slots=slots[c.facility_id])
            for c in configs]


def bookable_slot(slot_id: int) -> Slot:
    """A slot in the booking window at an active facility and program, else 404."""
    slot = db.session.get(Slot, slot_id)
    if slot is None or slot.day not in booking_days():
        raise NotFound(_("This slot is not open for booking."))
    facility_config(slot.facility_id, slot.program_id)
    return slot


# --- members, doses and their appointments ---------------------------------------------------

@dataclass
class EnrolmentBooking:
    """Where one enrolment stands: the next dose due, from when, and its live appointments.

    ``next_dose`` is None once the certificates show every dose given.
    """

    enrolment: Enrolment
    next_dose: int | None
    earliest_day: dt.date | None = None
    appointments: list[Appointment] = field(default_factory=list)

    @property
    def member(self) -> Member:
        return self.enrolment.member

    @property
    def upcoming(self) -> Appointment | None:
        """The live appointment for the next dose, if one is booked."""
        return next((a for a in self.appointments if a.dose == self.next_dose), None)

    @property
    def can_book(self) -> bool:
        return self.next_dose is not None and self.upcoming is None


def _vaccination_day(certificate) -> dt.date:
    evidence = (certificate.credential or {}).get("evidence") or [{}]
    raw = str(evidence[0].get("date") or "")[:10]
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        issued = certificate.issued_at
        return issued.date()


def enrolment_bookings(enrolments: list[Enrolment]) -> dict[int, EnrolmentBooking]:
    """The booking state of each enrolment, from its live certificates and appointments (3 queries)."""
    from certify.models import REVOKED, Certificate

    if not enrolments:
        return {}
    codes = {e.code: e for e in enrolments}
    latest: dict[str, Certificate] = {}
    for cert in db.session.scalars(select(Certificate).where(
            Certificate.pre_enrollment_code.in_(codes), Certificate.kind == "vaccination",
            Certificate.status != REVOKED)):
        best = latest.get(cert.pre_enrollment_code)
        if best is None or cert.dose > best.dose:
            latest[cert.pre_enrollment_code] = cert
    intervals = {name.lower(): days for name, days in db.session.execute(
        select(Vaccine.name, Vaccine.interval_days))}
    first_day = booking_days()[0]
    result = {}
    for e in enrolments:
        cert = latest.get(e.code)
        if cert is None:
            result[e.id] = EnrolmentBooking(e, next_dose=1, earliest_day=first_day)
        elif cert.dose >= cert.total_doses:
            result[e.id] = EnrolmentBooking(e, next_dose=None)
        else:
            due = _vaccination_day(cert) + dt.timedelta(days=intervals.get(cert.vaccine.lower(), 0))
            result[e.id] = EnrolmentBooking(e, next_dose=cert.dose + 1, earliest_day=max(due, first_day))
    for appointment in db.session.scalars(
            select(Appointment).join(Slot, Slot.id == Appointment.slot_id)
            .where(Appointment.enrolment_id.in_(result), Appointment.status == BOOKED)
            .order_by(Slot.day, Slot.start_time)):
        state = result[appointment.enrolment_id]
        if state.next_dose is not None and appointment.dose >= state.next_dose:
            state.appointments.append(appointment)  # earlier doses are done (certificate issued)
    return result


def _owned_enrolments(mobile: str):
    return (select(Enrolment).join(Member, Member.id == Enrolment.member_id)
            .where(Member.mobile == mobile))


def account_bookings(mobile: str, program_id: int | None = None) -> list[EnrolmentBooking]:
    """Every enrolment of the account's members (optionally of one program), members in order."""
    query = _owned_enrolments(mobile)
    if program_id is not None:
        query = query.where(Enrolment.program_id == program_id)
    enrolments = list(db.session.scalars(query.order_by(Member.id, Enrolment.id)))
    states = enrolment_bookings(enrolments)
    return [states[e.id] for e in enrolments]


def owned_enrolment(mobile: str, enrolment_id: int) -> Enrolment:
    enrolment = db.session.scalar(_owned_enrolments(mobile).where(Enrolment.id == enrolment_id))
    if enrolment is None:
        raise NotFound(_("No such registration."))
    return enrolment


def owned_appointment(mobile: str, appointment_id: int) -> Appointment:
    appointment = db.session.scalar(
        select(Appointment).join(Enrolment, Enrolment.id == Appointment.enrolment_id)
        .join(Member, Member.id == Enrolment.member_id)
        .where(Appointment.id == appointment_id, Member.mobile == mobile, Appointment.status == BOOKED))
    if appointment is None:
        raise NotFound(_("No such appointment."))
    return appointment


def refusal(state: EnrolmentBooking, slot: Slot) -> str | None:
    """Why this member cannot book this slot now, or None."""
    name = state.member.name
    if state.enrolment.program_id != slot.program_id:
        return _("%(name)s is not registered in this program.", name=name)
    if state.next_dose is None:
        return _("%(name)s has had every dose.", name=name)
    if state.upcoming is not None:
        return _("%(name)s already has an appointment for dose %(dose)d: reschedule it instead.",
                 name=name, dose=state.next_dose)
    if state.earliest_day is not None and slot.day < state.earliest_day:
        return _("Dose %(dose)d for %(name)s is due from %(day)s.", dose=state.next_dose, name=name,
                 day=format_date(state.earliest_day, "EEE d MMM"))
    return None


@dataclass(frozen=True)
class SlotOffer:
    """A slot and the account's members registered in its program: who may book it, who not and why."""

    slot: Slot
    eligible: list[EnrolmentBooking]
    refused: list[tuple[EnrolmentBooking, str]]

    @property
    def free(self) -> int:
        return max(0, self.slot.capacity - self.slot.booked)


def slot_offer(mobile: str, slot_id: int) -> SlotOffer:
    slot = bookable_slot(slot_id)
    eligible, refused = [], []
    for state in account_bookings(mobile, slot.program_id):
        reason = refusal(state, slot)
        if reason:
            refused.append((state, reason))
        else:
            eligible.append(state)
    return SlotOffer(slot, eligible, refused)


def search_defaults(mobile: str, enrolment_id: int | None = None,
                    appointment_id: int | None = None) -> dict[str, str]:
    """Search values to start from: the program and area of the appointment being moved, or of the
    member about to book, or the program of the account's first registration."""
    if appointment_id is not None:
        slot = owned_appointment(mobile, appointment_id).slot
        return {"program": str(slot.program_id), "pincode": slot.facility.pincode}
    if enrolment_id is not None:
        enrolment = owned_enrolment(mobile, enrolment_id)
        address = enrolment.member.address or {}
        return {"program": str(enrolment.program_id), "pincode": str(address.get("pincode") or ""),
                "district": "" if address.get("pincode") else str(address.get("district") or "")}
    first = db.session.scalar(_owned_enrolments(mobile).order_by(Enrolment.id).limit(1))
    return {"program": str(first.program_id)} if first is not None else {}


def active_programs() -> list[Program]:
    return list(db.session.scalars(select(Program).where(Program.active).order_by(Program.name)))


def find_slots(program_id: int, district: str | None = "", pincode: str | None = "",
               day: dt.date | None = None) -> list[FacilityDay]:
    """The search: matching facilities with their free places per day and the day's slots."""
    return facility_days(search_facilities(program_id, district, pincode), day)


# --- capacity ---------------------------------------------------------------------------------

def _take(slot_id: int, n: int) -> bool:
    result = db.session.execute(
        update(Slot).where(Slot.id == slot_id, Slot.booked + n <= Slot.capacity)
        .values(booked=Slot.booked + n).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _release(slot_id: int, n: int) -> None:
    db.session.execute(
        update(Slot).where(Slot.id == slot_id, Slot.booked >= n)
        .values(booked=Slot.booked - n).execution_options(synchronize_session=False))


def _full() -> BookingError:
    return BookingError(_("Not enough places are left in this slot. Choose another slot."))


# --- book, reschedule, cancel -----------------------------------------------------------------

def book(mobile: str, slot_id: int, enrolment_ids: list[int]) -> list[Appointment]:
    """Book the slot for these of the account's enrolments, all or none, and queue one SMS."""
    ids = sorted(set(enrolment_ids))
    if not ids:
        raise BookingError(_("Choose at least one member."))
    slot = bookable_slot(slot_id)
    enrolments = list(db.session.scalars(_owned_enrolments(mobile).where(Enrolment.id.in_(ids))
                                         .order_by(Enrolment.id)))
    if len(enrolments) != len(ids):
        raise NotFound(_("No such registration."))
    states = enrolment_bookings(enrolments)
    for e in enrolments:
        reason = refusal(states[e.id], slot)
        if reason:
            raise BookingError(reason)
    if not _take(slot.id, len(ids)):
        raise _full()
    appointments = [Appointment(enrolment_id=e.id, slot_id=slot.id, dose=states[e.id].next_dose)
                    for e in enrolments]
    db.session.add_all(appointments)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request booked the same member's dose first
        raise BookingError(_("An appointment for this dose was booked meanwhile. Check your appointments."))
    db.session.expire(slot)
    _tell(mobile, "appointment_booked", appointments, enrolments, slot,  # one SMS for the group
          "appointments:" + ",".join(str(a.id) for a in appointments) + ":booked")
    return appointments


def reschedule(mobile: str, appointment_id: int, slot_id: int) -> Appointment:
    """Move a live appointment to another slot: take the new place and release the old in one transaction."""
    appointment = owned_appointment(mobile, appointment_id)
    old = appointment.slot
    slot = bookable_slot(slot_id)
    if slot.id == old.id:
        raise BookingError(_("The appointment is already in this slot."))
    if slot.program_id != old.program_id:
        raise NotFound(_("This slot is not open for booking."))
    state = enrolment_bookings([appointment.enrolment])[appointment.enrolment_id]
    if state.next_dose == appointment.dose and state.earliest_day and slot.day < state.earliest_day:
        raise BookingError(_("Dose %(dose)d for %(name)s is due from %(day)s.", dose=appointment.dose,
                             name=state.member.name, day=format_date(state.earliest_day, "EEE d MMM")))
    # Touch the two slot rows in id order, so two opposite moves cannot deadlock.
    first, second = sorted((old.id, slot.id))
    if first == old.id:
        _release(old.id, 1)
        taken = _take(slot.id, 1)
    else:
        taken = _take(slot.id, 1)
        _release(old.id, 1)
    if not taken:
        raise _full()
    moved = db.session.execute(
        update(Appointment).where(Appointment.id == appointment.id, Appointment.status == BOOKED,
                                  Appointment.slot_id == old.id)
        .values(slot_id=slot.id, updated_at=func.now()).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise BookingError(_("This appointment was changed meanwhile. Check your appointments."))
    db.session.expire_all()
    _tell(mobile, "appointment_rescheduled", [appointment], [state.enrolment], slot,
          f"appointment:{appointment.id}:moved:{slot.id}:{dt.datetime.now(dt.timezone.utc).isoformat()}")
    return db.session.get(Appointment, appointment.id)


def cancel(mobile: str, appointment_id: int) -> Appointment:
    """Cancel a live appointment and give its place back."""
    appointment = owned_appointment(mobile, appointment_id)
    slot = appointment.slot
    cancelled = db.session.execute(
        update(Appointment).where(Appointment.id == appointment.id, Appointment.status == BOOKED)
        .values(status=CANCELLED, updated_at=func.now()).execution_options(synchronize_session=False))
    if cancelled.rowcount != 1:
        raise BookingError(_("This appointment was changed meanwhile. Check your appointments."))
    _release(slot.id, 1)
    db.session.expire_all()
    _tell(mobile, "appointment_cancelled", [appointment], [appointment.enrolment], slot,
          f"appointment:{appointment.id}:cancelled")
    return db.session.get(Appointment, appointment.id)


def _tell(mobile: str, event: str, appointments: list[Appointment], enrolments: list[Enrolment], slot: Slot,
          key: str) -> None:
    """One SMS about these appointments (one slot) through the notification service, in the page's language."""
    notify.notify(event, to_mobile=mobile, language=str(get_locale()), key=key,
                  program_id=enrolments[0].program_id, reference=enrolments[0].code,
                  context={"name": ", ".join(e.member.name for e in enrolments),
                           "dose": ", ".join(sorted({str(a.dose) for a in appointments})),
                           "facility": slot.facility.name, "date": slot.day,
                           "time": f"{slot.start_time:%H:%M}-{slot.end_time:%H:%M}",
                           "code": ", ".join(e.code for e in enrolments)})


# --- demo data --------------------------------------------------------------------------------

def seed_demo_facility_programs(program_id: int, **config) -> int:
    """Activate every active facility in the program with a slot configuration (idempotent, flush only).

    Defaults: appointments 09:00-17:00 in hour slots of 10, walk-ins Monday to Saturday
    09:00-13:00; ``config`` overrides FacilityProgram fields. Returns how many were added.
    """
    values = {"appointment_start": dt.time(9, 0), "appointment_end": dt.time(17, 0), "slot_minutes": 60,
              "slot_capacity": 10, "walkin_days": [0, 1, 2, 3, 4, 5], "walkin_start": dt.time(9, 0),
              "walkin_end": dt.time(13, 0), **config}
    configured = set(db.session.scalars(select(FacilityProgram.facility_id)
                                        .where(FacilityProgram.program_id == program_id)))
    added = 0
    for facility_id in db.session.scalars(select(Facility.id).where(Facility.active).order_by(Facility.id)):
        if facility_id not in configured:
            db.session.add(FacilityProgram(facility_id=facility_id, program_id=program_id, **values))
            added += 1
    db.session.flush()
    return added
