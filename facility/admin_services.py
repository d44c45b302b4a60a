"""Administration services: a facility's vaccinators, staff and slots; a program's facilities;
programs, vaccines and users. Services take plain values, flush, and raise domain errors whose
field paths are the form's field names; the view commits.

Scope is enforced here, not only in the views: a facility administrator reaches only rows of
their own facility and a program administrator only their programs (others answer 404).
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, delete, func, or_, select

from core import sms
from core.errors import FieldError, Forbidden, NotFound, ValidationError
from core.extensions import db
from core.models import (
    Appointment,
    Enrolment,
    Facility,
    FacilityProgram,
    Member,
    Program,
    Slot,
    User,
    Vaccine,
)
from core.otp import normalise_mobile
from portal import booking

from . import audit
from .models import ProgramAdmin, QueueEntry, Vaccinator

FACILITY_ROLES = ("facility_admin", "facility_staff", "vaccinator", "certificate_printer")
ADMIN_ROLES = ("system_admin", "program_admin")


def _invalid(field: str, reason: str) -> ValidationError:
    return ValidationError(reason, [FieldError(field, reason)])


# --- Scope ------------------------------------------------------------------------------------

def own_facility(user: User) -> Facility:
    """The facility a facility administrator administers (403 when the account has none)."""
    facility = db.session.get(Facility, user.facility_id) if user.facility_id else None
    if facility is None:
        raise Forbidden(_("Your account is not linked to a facility. Ask a system administrator."))
    return facility


def managed_programs(user: User) -> list[Program]:
    """All programs for a system administrator; a program administrator's own programs."""
    stmt = select(Program).order_by(Program.name)
    if not user.has_role("system_admin"):
        stmt = stmt.join(ProgramAdmin, ProgramAdmin.program_id == Program.id).where(ProgramAdmin.user_id == user.id)
    return list(db.session.scalars(stmt))


def managed_program(user: User, program_id: int) -> Program:
    for program in managed_programs(user):
        if program.id == program_id:
            return program
    raise NotFound(_("No such program among yours."))


def all_programs() -> list[Program]:
    return list(db.session.scalars(select(Program).order_by(Program.name)))


# --- Vaccinators (facility administrator) ------------------------------------------------------

def list_vaccinators(facility_id: int) -> list[Vaccinator]:
    return list(db.session.scalars(select(Vaccinator).where(Vaccinator.facility_id == facility_id)
                                   .order_by(Vaccinator.active.desc(), Vaccinator.name)))


def get_vaccinator(facility_id: int, vaccinator_id: int) -> Vaccinator:
    row = db.session.get(Vaccinator, vaccinator_id)
    if row is None or row.facility_id != facility_id:
        raise NotFound(_("No such vaccinator at your facility."))
    return row


@dataclass(frozen=True)
class VaccinatorData:
    name: str
    licence_number: str
    mobile: str = ""
    email: str = ""
    program_ids: Sequence[int] = ()
    training_certificate: str | None = None  # None keeps the current one
    active: bool = True


def save_vaccinator(facility_id: int, data: VaccinatorData, vaccinator_id: int | None = None) -> Vaccinator:
    row = get_vaccinator(facility_id, vaccinator_id) if vaccinator_id else Vaccinator(facility_id=facility_id)
    before = _vaccinator_fields(row) if vaccinator_id else {}
    licence = data.licence_number.strip()
    clash = db.session.scalar(select(Vaccinator.id).where(
        Vaccinator.facility_id == facility_id, func.lower(Vaccinator.licence_number) == licence.lower(),
        Vaccinator.id != (row.id or 0)))
    if clash:
        raise _invalid("licence_number", _("Another vaccinator at this facility has this licence number."))
    known = set(db.session.scalars(select(Program.id).where(Program.id.in_(list(data.program_ids)))))
    if set(data.program_ids) - known:
        raise _invalid("program_ids", _("Choose from the listed programs."))
    row.name, row.licence_number = data.name.strip(), licence
    row.mobile = normalise_mobile(data.mobile) if data.mobile.strip() else ""
    row.email = data.email.strip()
    row.program_ids = sorted(known)
    if data.training_certificate is not None:
        row.training_certificate = data.training_certificate
    row.active = data.active
    db.session.add(row)
    db.session.flush()
    audit.record("vaccinator.save", f"vaccinator:{row.id}", facility_id=facility_id, created=not vaccinator_id,
                 changes=audit.changes(before, _vaccinator_fields(row)))
    return row


def _vaccinator_fields(row: Vaccinator) -> dict:
    return {"name": row.name, "licence_number": row.licence_number, "mobile": row.mobile, "email": row.email,
            "program_ids": list(row.program_ids or []), "active": row.active,
            "training_certificate": bool(row.training_certificate)}


def set_vaccinator_active(facility_id: int, vaccinator_id: int, active: bool) -> Vaccinator:
    row = get_vaccinator(facility_id, vaccinator_id)
    if row.active != active:
        audit.record("vaccinator.active", f"vaccinator:{row.id}", facility_id=facility_id, name=row.name,
                     changes={"active": [row.active, active]})
    row.active = active
    db.session.flush()
    return row


# --- Staff (facility administrator) -------------------------------------------------------------

def list_staff(facility_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(User.facility_id == facility_id)
                                   .order_by(User.active.desc(), User.name, User.mobile)))


def get_staff(facility_id: int, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.facility_id != facility_id:
        raise NotFound(_("No such staff member at your facility."))
    return user


def _with_roles(current: str, keep_outside: Iterable[str], wanted: Iterable[str]) -> str:
    """The user's roles outside ``keep_outside`` untouched, those inside replaced by ``wanted``."""
    outside = set(keep_outside)
    kept = [r for r in current.split() if r not in outside]
    return " ".join(kept + [r for r in wanted if r not in kept])


def save_staff(facility_id: int, acting: User, *, mobile: str, name: str, employee_id: str,
               roles: Sequence[str], active: bool, user_id: int | None = None) -> User:
    """Add or edit a person with facility roles at this facility (their other roles are kept)."""
    if not roles or set(roles) - set(FACILITY_ROLES):
        raise _invalid("roles", _("Choose at least one role."))
    mobile = normalise_mobile(mobile)
    owner = db.session.scalar(select(User).where(User.mobile == mobile))
    if user_id is not None:
        user = get_staff(facility_id, user_id)
        if owner is not None and owner.id != user.id:
            raise _invalid("mobile", _("Another account uses this mobile number."))
    elif owner is not None:
        if owner.facility_id not in (None, facility_id):
            raise _invalid("mobile", _("This number belongs to staff of another facility."))
        user = owner
    else:
        user = User(mobile=mobile, roles="")
    if user.id == acting.id and ("facility_admin" not in roles or not active):
        raise _invalid("roles", _("You cannot remove your own administrator role or disable yourself."))
    before = _user_fields(user) if user.id else {}
    user.mobile, user.name, user.employee_id = mobile, name.strip(), employee_id.strip()
    user.roles = _with_roles(user.roles, FACILITY_ROLES, roles)
    user.facility_id, user.active = facility_id, active
    db.session.add(user)
    db.session.flush()
    audit.record("staff.save", f"user:{user.id}", facility_id=facility_id, created=not before,
                 changes=audit.changes(before, _user_fields(user)))
    return user


def _user_fields(user: User, program_ids: Sequence[int] | None = None) -> dict:
    fields = {"mobile": user.mobile, "name": user.name, "employee_id": user.employee_id,
              "roles": (user.roles or "").split(), "facility_id": user.facility_id, "active": user.active}
    if program_ids is not None:
        fields["program_ids"] = sorted(program_ids)
    return fields


def set_staff_active(facility_id: int, acting: User, user_id: int, active: bool) -> User:
    user = get_staff(facility_id, user_id)
    if user.id == acting.id and not active:
        raise _invalid("active", _("You cannot disable yourself."))
    if user.active != active:
        audit.record("staff.active", f"user:{user.id}", facility_id=facility_id, name=user.name,
                     changes={"active": [user.active, active]})
    user.active = active
    db.session.flush()
    return user


# --- Slot configuration (facility administrator) ------------------------------------------------

def facility_programs(facility_id: int) -> list[tuple[FacilityProgram, Program]]:
    rows = db.session.execute(select(FacilityProgram, Program).join(Program, Program.id == FacilityProgram.program_id)
                              .where(FacilityProgram.facility_id == facility_id).order_by(Program.name))
    return [tuple(r) for r in rows]


def get_facility_program(facility_id: int, program_id: int) -> FacilityProgram:
    row = db.session.scalar(select(FacilityProgram).where(FacilityProgram.facility_id == facility_id,
                                                          FacilityProgram.program_id == program_id))
    if row is None:
        raise NotFound(_("Your facility is not part of this program. A program administrator activates it."))
    return row


@dataclass(frozen=True)
class SlotConfigSaved:
    config: FacilityProgram
    slots: booking.SlotUpdate  # what changed on the days already open for booking


def save_slot_config(facility_id: int, program_id: int, *, appointment_start: dt.time, appointment_end: dt.time,
                     slot_minutes: int, slot_capacity: int, walkin_days: Iterable[int],
                     walkin_start: dt.time | None, walkin_end: dt.time | None) -> SlotConfigSaved:
    """Save the facility's slot configuration for the program and apply it to the days from
    tomorrow on that already have slots (booked places are never taken away)."""
    row = get_facility_program(facility_id, program_id)
    if appointment_end <= appointment_start:
        raise _invalid("appointment_end", _("Must be after the start time."))
    span = (dt.datetime.combine(dt.date.min, appointment_end)
            - dt.datetime.combine(dt.date.min, appointment_start)).seconds // 60
    if slot_minutes > span:
        raise _invalid("slot_minutes", _("Longer than the appointment hours."))
    days = sorted({int(d) for d in walkin_days})
    if any(d < 0 or d > 6 for d in days):
        raise _invalid("walkin_days", _("Choose from the listed days."))
    if days and not (walkin_start and walkin_end):
        raise _invalid("walkin_start", _("Give the walk-in hours for the walk-in days."))
    before = _slot_fields(row)
    row.appointment_start, row.appointment_end = appointment_start, appointment_end
    row.slot_minutes, row.slot_capacity = slot_minutes, slot_capacity
    row.walkin_days, row.walkin_start, row.walkin_end = days, walkin_start, walkin_end
    db.session.flush()
    audit.record("slots.save", f"program:{program_id}", facility_id=facility_id,
                 changes=audit.changes(before, _slot_fields(row)))
    return SlotConfigSaved(row, booking.apply_config(row))


def _slot_fields(row: FacilityProgram) -> dict:
    return _fields(row, ("appointment_start", "appointment_end", "slot_minutes", "slot_capacity", "walkin_days",
                         "walkin_start", "walkin_end"))


# --- Beneficiaries (facility administrator) -----------------------------------------------------

@dataclass(frozen=True)
class BeneficiaryRow:
    name: str
    code: str
    program: str
    dose: int
    when: dt.datetime | dt.date
    detail: str  # vaccine, slot time or queue status


BENEFICIARY_LIMIT = 500


def certificate_facility_name():
    """The facility named in a certificate's credential (where the dose was given)."""
    from certify.models import Certificate

    return Certificate.credential["evidence"][0]["facility"]["name"].as_string()


def certificate_program_filter(program_ids: Sequence[int]):
    """Certificates belonging to these programs: by the vaccine's program, or the enrolment's."""
    from certify.models import Certificate

    vaccines = select(func.lower(Vaccine.name)).where(Vaccine.program_id.in_(program_ids))
    codes = select(Enrolment.code).where(Enrolment.program_id.in_(program_ids))
    return or_(func.lower(Certificate.vaccine).in_(vaccines), Certificate.pre_enrollment_code.in_(codes))


def beneficiaries(facility: Facility, program_id: int | None, start: dt.date, end: dt.date,
                  today: dt.date, tz: dt.tzinfo) -> dict[str, list[BeneficiaryRow]]:
    """Past (certified here), current (in today's queue or booked for today) and upcoming
    (booked later) beneficiaries of a facility, within [start, end]."""
    from certify.models import REVOKED, Certificate

    programs = {p.id: p.name for p in all_programs()}
    lo = dt.datetime.combine(start, dt.time.min, tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tz)
    past_q = (select(Certificate.name, Certificate.pre_enrollment_code, Certificate.dose, Certificate.vaccine,
                     Certificate.issued_at, Enrolment.program_id)
              .outerjoin(Enrolment, Enrolment.code == Certificate.pre_enrollment_code)
              .where(Certificate.kind == "vaccination", Certificate.status != REVOKED,
                     Certificate.issued_at >= lo, Certificate.issued_at < hi,
                     certificate_facility_name() == facility.name)
              .order_by(Certificate.issued_at.desc()).limit(BENEFICIARY_LIMIT))
    if program_id:
        past_q = past_q.where(certificate_program_filter([program_id]))
    vaccine_program = {v.name.casefold(): v.program_id for v in db.session.scalars(select(Vaccine))}
    past = [BeneficiaryRow(name, code, programs.get(pid or vaccine_program.get(vaccine.casefold()), ""), dose,
                           issued.astimezone(tz), vaccine)
            for name, code, dose, vaccine, issued, pid in db.session.execute(past_q)]

    def booked(day_lo: dt.date, day_hi: dt.date) -> list[BeneficiaryRow]:
        q = (select(Member.name, Enrolment.code, Enrolment.program_id, Appointment.dose, Slot.day, Slot.start_time)
             .select_from(Appointment).join(Slot, Slot.id == Appointment.slot_id)
             .join(Enrolment, Enrolment.id == Appointment.enrolment_id).join(Member, Member.id == Enrolment.member_id)
             .where(Slot.facility_id == facility.id, Appointment.status == "booked",
                    Slot.day >= day_lo, Slot.day <= day_hi)
             .order_by(Slot.day, Slot.start_time).limit(BENEFICIARY_LIMIT))
        if program_id:
            q = q.where(Slot.program_id == program_id)
        return [BeneficiaryRow(name, code, programs.get(pid, ""), dose, day, start_time.strftime("%H:%M"))
                for name, code, pid, dose, day, start_time in db.session.execute(q)]

    current: list[BeneficiaryRow] = []
    if start <= today <= end:
        q = (select(Member.name, Enrolment.code, Enrolment.program_id, QueueEntry.dose, QueueEntry.verified_at)
             .select_from(QueueEntry).join(Enrolment, Enrolment.id == QueueEntry.enrolment_id)
             .join(Member, Member.id == Enrolment.member_id)
             .where(QueueEntry.facility_id == facility.id, QueueEntry.status == "waiting")
             .order_by(QueueEntry.verified_at))
        if program_id:
            q = q.where(Enrolment.program_id == program_id)
        current = [BeneficiaryRow(name, code, programs.get(pid, ""), dose, at.astimezone(tz), _("in the queue"))
                   for name, code, pid, dose, at in db.session.execute(q)]
        current += booked(today, today)
    upcoming = booked(max(start, today + dt.timedelta(days=1)), end) if end > today else []
    return {"past": past, "current": current, "upcoming": upcoming}


# --- Program administrator: facilities in a program ---------------------------------------------

@dataclass(frozen=True)
class ProgramFacility:
    facility: Facility
    link: FacilityProgram | None

    @property
    def active(self) -> bool:
        return bool(self.link and self.link.active)


def region_options() -> tuple[list[str], list[tuple[str, str]]]:
    """Distinct states, and (state, district) pairs, of the facilities."""
    rows = db.session.execute(select(Facility.state, Facility.district).distinct()
                              .order_by(Facility.state, Facility.district)).all()
    return sorted({s for s, _d in rows if s}), [(s, d) for s, d in rows if d]


def program_facilities(program: Program, *, state: str = "", district: str = "", category: str = "",
                       status: str = "") -> list[ProgramFacility]:
    stmt = (select(Facility, FacilityProgram)
            .outerjoin(FacilityProgram, and_(FacilityProgram.facility_id == Facility.id,
                                             FacilityProgram.program_id == program.id))
            .where(Facility.active).order_by(Facility.state, Facility.district, Facility.name))
    if state:
        stmt = stmt.where(Facility.state == state)
    if district:
        stmt = stmt.where(Facility.district == district)
    if category:
        stmt = stmt.where(Facility.category == category)
    if status == "active":
        stmt = stmt.where(FacilityProgram.active.is_(True))
    elif status == "inactive":
        stmt = stmt.where(or_(FacilityProgram.id.is_(None), FacilityProgram.active.is_(False)))
    return [ProgramFacility(f, link) for f, link in db.session.execute(stmt).unique()]


def _selected(facility_ids: Sequence[int]) -> list[Facility]:
    if not facility_ids:
        raise _invalid("facility_ids", _("Select at least one facility."))
    return list(db.session.scalars(select(Facility).where(Facility.id.in_(list(facility_ids)))))


def set_facilities_active(program: Program, facility_ids: Sequence[int], active: bool) -> int:
    """Activate (creating the program link with default slots) or deactivate; returns the count changed."""
    changed: list[int] = []
    links = {fp.facility_id: fp for fp in db.session.scalars(
        select(FacilityProgram).where(FacilityProgram.program_id == program.id,
                                      FacilityProgram.facility_id.in_(list(facility_ids))))}
    for facility in _selected(facility_ids):
        link = links.get(facility.id)
        if link is None:
            if active:
                db.session.add(FacilityProgram(facility_id=facility.id, program_id=program.id, active=True))
                changed.append(facility.id)
        elif link.active != active:
            link.active = active
            changed.append(facility.id)
    db.session.flush()
    if changed:
        audit.record("program.facilities", f"program:{program.id}", active=active, facility_ids=changed)
    return len(changed)


def set_daily_rate(program: Program, facility_ids: Sequence[int], rate: int | None) -> tuple[int, int]:
    """Set the daily rate of the selected facilities in the program: (updated, not in the program)."""
    if rate is None or rate < 0:
        raise _invalid("daily_rate", _("Enter the number of vaccinations per day."))
    selected = _selected(facility_ids)
    links = list(db.session.scalars(select(FacilityProgram).where(
        FacilityProgram.program_id == program.id, FacilityProgram.facility_id.in_([f.id for f in selected]))))
    for link in links:
        link.daily_rate = rate
    db.session.flush()
    if links:
        audit.record("program.rate", f"program:{program.id}", daily_rate=rate,
                     facility_ids=sorted(link.facility_id for link in links))
    return len(links), len(selected) - len(links)


def notify_facilities(program: Program, facility_ids: Sequence[int], subject: str, message: str) -> tuple[int, int]:
    """Queue an SMS to each selected facility's contact number: (queued, without a number)."""
    subject, message = subject.strip(), message.strip()
    if not subject:
        raise _invalid("subject", _("Enter a subject."))
    if not message:
        raise _invalid("message", _("Enter a message."))
    queued = missing = 0
    for facility in _selected(facility_ids):
        if not facility.contact_mobile:
            missing += 1
            continue
        sms.queue_sms(facility.contact_mobile, f"{program.name}: {subject}\n{message}", "facility_notice")
        queued += 1
    return queued, missing


# --- System administrator: programs ------------------------------------------------------------

@dataclass(frozen=True)
class ProgramData:
    name: str
    description: str = ""
    logo: str | None = None  # a data: URL; None keeps the current logo, "" removes it
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    active: bool = True
    min_age: int | None = None
    max_age: int | None = None
    comorbidities: Sequence[str] = ()
    comorbidity_required: bool = False
    side_effects: Sequence[str] = ()
    vaccine_ids: Sequence[int] = ()


def get_program(program_id: int) -> Program:
    program = db.session.get(Program, program_id)
    if program is None:
        raise NotFound(_("No such program."))
    return program


def program_vaccines() -> dict[int, list[Vaccine]]:
    out: dict[int, list[Vaccine]] = {}
    for v in db.session.scalars(select(Vaccine).where(Vaccine.program_id.is_not(None)).order_by(Vaccine.name)):
        out.setdefault(v.program_id, []).append(v)
    return out


def save_program(data: ProgramData, program_id: int | None = None) -> Program:
    program = get_program(program_id) if program_id else Program()
    before = {**_fields(program, _PROGRAM_FIELDS),
              "vaccine_ids": sorted(db.session.scalars(select(Vaccine.id).where(Vaccine.program_id == program_id)))
              } if program_id else {}
    name = data.name.strip()
    clash = db.session.scalar(select(Program.id).where(func.lower(Program.name) == name.lower(),
                                                       Program.id != (program.id or 0)))
    if clash:
        raise _invalid("name", _("A program with this name exists."))
    if data.start_date and data.end_date and data.end_date < data.start_date:
        raise _invalid("end_date", _("Must not be before the start date."))
    if data.min_age is not None and data.max_age is not None and data.max_age < data.min_age:
        raise _invalid("max_age", _("Must not be below the minimum age."))
    if data.comorbidity_required and not data.comorbidities:
        raise _invalid("comorbidities", _("List the comorbidities registrants choose from."))
    program.name, program.description = name, data.description.strip()
    if data.logo is not None:
        program.logo = data.logo
    program.start_date, program.end_date, program.active = data.start_date, data.end_date, data.active
    program.min_age, program.max_age = data.min_age, data.max_age
    program.comorbidities, program.comorbidity_required = list(data.comorbidities), data.comorbidity_required
    program.side_effects = list(data.side_effects)
    db.session.add(program)
    db.session.flush()
    wanted = set(data.vaccine_ids)
    for vaccine in db.session.scalars(select(Vaccine).where(or_(Vaccine.id.in_(wanted),
                                                                Vaccine.program_id == program.id))):
        vaccine.program_id = program.id if vaccine.id in wanted else None
    db.session.flush()
    after = {**_fields(program, _PROGRAM_FIELDS), "vaccine_ids": sorted(wanted)}
    audit.record("program.save", f"program:{program.id}", created=not program_id,
                 changes=audit.changes(before, after))
    return program


_PROGRAM_FIELDS = ("name", "description", "start_date", "end_date", "active", "min_age", "max_age",
                   "comorbidities", "comorbidity_required", "side_effects")
_VACCINE_FIELDS = ("name", "manufacturer", "icd11_code", "icd11_term", "administration", "program_id", "doses",
                   "interval_days", "validity_days", "denied_batches", "price", "active")


def _fields(row: Any, names: Sequence[str]) -> dict:
    return {name: getattr(row, name) for name in names}


# --- System administrator: vaccines ------------------------------------------------------------

@dataclass(frozen=True)
class VaccineData:
    name: str
    icd11_code: str
    icd11_term: str
    manufacturer: str = ""
    administration: str = "intramuscular"
    program_id: int | None = None
    doses: int = 2
    interval_days: int = 28
    validity_days: int | None = None
    denied_batches: Sequence[str] = ()
    price: Decimal | float | None = None
    active: bool = True


def get_vaccine(vaccine_id: int) -> Vaccine:
    vaccine = db.session.get(Vaccine, vaccine_id)
    if vaccine is None:
        raise NotFound(_("No such vaccine."))
    return vaccine


def all_vaccines() -> list[Vaccine]:
    return list(db.session.scalars(select(Vaccine).order_by(Vaccine.name)))


def effective_icd11(vaccine: Vaccine) -> tuple[str, str]:
    """The (code, term) issuance will use: the published map:icd11 entry wins over the row."""
    from certify.services import icd11_map

    return icd11_map().get(vaccine.name, (vaccine.icd11_code, vaccine.icd11_term))


def save_vaccine(data: VaccineData, author: str, vaccine_id: int | None = None) -> Vaccine:
    """Save the vaccine; when its ICD-11 mapping differs from the published map, publish a new
    ``map:icd11`` version too (issuance reads the map), so this form is the one place to edit it."""
    vaccine = get_vaccine(vaccine_id) if vaccine_id else Vaccine()
    before = _fields(vaccine, _VACCINE_FIELDS) if vaccine_id else {}
    old_name = vaccine.name
    name = data.name.strip()
    clash = db.session.scalar(select(Vaccine.id).where(func.lower(Vaccine.name) == name.lower(),
                                                       Vaccine.id != (vaccine.id or 0)))
    if clash:
        raise _invalid("name", _("A vaccine with this name exists."))
    if data.program_id and db.session.get(Program, data.program_id) is None:
        raise _invalid("program_id", _("Choose from the listed programs."))
    vaccine.name, vaccine.manufacturer = name, data.manufacturer.strip()
    vaccine.icd11_code, vaccine.icd11_term = data.icd11_code.strip().upper(), data.icd11_term.strip()
    vaccine.administration, vaccine.program_id = data.administration, data.program_id or None
    vaccine.doses, vaccine.interval_days, vaccine.validity_days = data.doses, data.interval_days, data.validity_days
    vaccine.denied_batches = list(data.denied_batches)
    vaccine.price = float(data.price) if data.price is not None else None
    vaccine.active = data.active
    db.session.add(vaccine)
    db.session.flush()
    audit.record("vaccine.save", f"vaccine:{vaccine.id}", created=not vaccine_id,
                 changes=audit.changes(before, _fields(vaccine, _VACCINE_FIELDS)))
    publish_icd11_entry(vaccine, old_name, author)
    return vaccine


def publish_icd11_entry(vaccine: Vaccine, old_name: str | None, author: str) -> bool:
    """Put the vaccine's (code, term) into the map:icd11 document; publish only on a change."""
    from certify import config_store

    doc = config_store.json_document("map:icd11")
    new = {k: v for k, v in doc.items()
           if not (old_name and k.casefold() == old_name.casefold() and k.casefold() != vaccine.name.casefold())}
    key = next((k for k in new if k.casefold() == vaccine.name.casefold()), vaccine.name)
    if key != vaccine.name:
        new.pop(key)
        key = vaccine.name
    new[key] = {"code": vaccine.icd11_code, "term": vaccine.icd11_term}
    if new == doc:
        return False
    try:
        config_store.publish("map:icd11", json.dumps(new, indent=2, ensure_ascii=False), author=author,
                             comment=f"vaccine form: {vaccine.name}"[:500])
    except ValidationError as exc:
        reason = exc.fields[0].reason if exc.fields else exc.message
        raise _invalid("icd11_code", reason) from None
    return True


# --- System administrator: users and roles -------------------------------------------------------

def list_users(role: str = "") -> list[User]:
    stmt = select(User).where(User.roles != "").order_by(User.name, User.mobile)
    if role:
        stmt = stmt.where(or_(User.roles == role, User.roles.like(f"{role} %"), User.roles.like(f"% {role}"),
                              User.roles.like(f"% {role} %")))
    return list(db.session.scalars(stmt))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


def user_program_ids(user_id: int) -> list[int]:
    return list(db.session.scalars(select(ProgramAdmin.program_id).where(ProgramAdmin.user_id == user_id)))


def save_user(acting: User | None, *, mobile: str, name: str, roles: Sequence[str], facility_id: int | None,
              program_ids: Sequence[int], employee_id: str, active: bool, user_id: int | None = None) -> User:
    from core.roles import ROLES

    if not roles or set(roles) - set(ROLES):
        raise _invalid("roles", _("Choose at least one role."))
    if set(roles) & set(FACILITY_ROLES) and not facility_id:
        raise _invalid("facility_id", _("Facility roles need a facility."))
    if facility_id and db.session.get(Facility, facility_id) is None:
        raise _invalid("facility_id", _("Choose from the listed facilities."))
    if "program_admin" in roles and not program_ids:
        raise _invalid("program_ids", _("A program administrator needs at least one program."))
    known = set(db.session.scalars(select(Program.id).where(Program.id.in_(list(program_ids)))))
    if set(program_ids) - known:
        raise _invalid("program_ids", _("Choose from the listed programs."))
    mobile = normalise_mobile(mobile)
    owner = db.session.scalar(select(User).where(User.mobile == mobile))
    user = get_user(user_id) if user_id else (owner or User(mobile=mobile))
    if owner is not None and owner.id != user.id:
        raise _invalid("mobile", _("Another account uses this mobile number."))
    if acting is not None and user.id == acting.id and ("system_admin" not in roles or not active):
        raise _invalid("roles", _("You cannot remove your own administrator role or disable yourself."))
    before = _user_fields(user, user_program_ids(user.id)) if user.id else {}
    user.mobile, user.name, user.employee_id = mobile, name.strip(), employee_id.strip()
    user.roles = " ".join(r for r in ROLES if r in roles)
    user.facility_id = facility_id or None
    user.active = active
    db.session.add(user)
    db.session.flush()
    db.session.execute(delete(ProgramAdmin).where(ProgramAdmin.user_id == user.id))
    if "program_admin" in roles:
        db.session.add_all(ProgramAdmin(user_id=user.id, program_id=pid) for pid in sorted(known))
    db.session.flush()
    audit.record("user.save", f"user:{user.id}", facility_id=user.facility_id, created=not before,
                 changes=audit.changes(before, _user_fields(user, sorted(known) if "program_admin" in roles else [])))
    return user


def facilities_for_choice() -> list[Facility]:
    return list(db.session.scalars(select(Facility).order_by(Facility.name)))
