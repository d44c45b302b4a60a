"""The facility desk: verify a beneficiary, enrol a walk-in, run the recipient queue, record a
vaccination and find certificates to print.

Recording a vaccination builds a DIVOC ``CertificationRequestV2`` item from the member, the
vaccine, the batch, the vaccinator and the facility, and hands it to
``certify.services.accept_certify_batch`` — the same service ``POST /v3/certify`` calls — so the
certificate is validated, stored, signed by a worker and deduplicated exactly as for a source
system.

Services take plain values, flush, and raise ``ValidationError`` whose field paths are the desk
forms' field names (the view shows each reason next to its field); the view commits.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from certify import services as certify_services
from certify.models import FAILED, PENDING, REVOKED, Certificate, CertifyRequest
from core import otp
from core.errors import FieldError, Forbidden, NotFound, ValidationError
from core.extensions import db
from core.models import (
    Appointment,
    Enrolment,
    Facility,
    FacilityProgram,
    Member,
    Program,
    SideEffectReport,
    Slot,
    User,
    Vaccine,
    as_aware,
    iso_utc,
    local_now,
    local_zone,
    utcnow,
)
from portal.services import (
    new_enrolment_code,  # one code scheme for the portal and the desk
)

from .models import QueueEntry, Vaccinator

WAITING, VACCINATED, LEFT = "waiting", "vaccinated", "left"
VACCINATION = certify_services.VACCINATION

#: Identity documents: form key -> the ``did:<method>`` DIVOC puts in ``credentialSubject.id``
#: (the PDF renderer names the document from the method, e.g. "uidai.aadhaar" -> Aadhaar).
ID_METHODS: dict[str, str] = {
    "aadhaar": "in.gov.uidai.aadhaar",
    "passport": "Passport",
    "driving_licence": "in.gov.DrivingLicence",
    "voter_id": "in.gov.eci.VoterID",
    "pan": "in.gov.PAN",
    "npr": "in.gov.NPR",
    "pension": "in.gov.Pension",
    "mnrega": "in.gov.MNREGA",
    "disability": "in.gov.disability.UDID",
    "ration": "in.gov.Ration",
    "other": "",
}
GENDERS = ("Male", "Female", "Other")
ADDRESS_KEYS = ("addressLine1", "addressLine2", "district", "state", "pincode")
_CODE_KEYS = ("code", "enrolmentCode", "enrollmentCode", "preEnrollmentCode", "beneficiaryId", "refId")


# --------------------------------------------------------------------------- #
# Facility, time and codes
# --------------------------------------------------------------------------- #

def desk_facility(user: User) -> Facility:
    """The signed-in staff member's facility; 403 when they have none (or it is closed)."""
    facility = db.session.get(Facility, user.facility_id) if user.facility_id else None
    if facility is None or not facility.active:
        raise Forbidden(_("Your account is not linked to an active facility. Ask your facility administrator."))
    return facility


def offered_programs(facility_id: int) -> list[Program]:
    """The active programs this facility is active in, by name."""
    return list(db.session.scalars(
        select(Program).join(FacilityProgram, FacilityProgram.program_id == Program.id)
        .where(FacilityProgram.facility_id == facility_id, FacilityProgram.active, Program.active)
        .order_by(Program.name)))


def extract_code(scanned: str) -> str:
    """The enrolment code in what was typed or scanned.

    Accepts the bare code (spaces allowed, as printed in groups), a registration QR holding JSON
    (``{"code": ...}``, ``enrollmentCode``, ``preEnrollmentCode``, ``beneficiaryId``, ``refId``) or a
    URL carrying the code as one of those query parameters or as its last path segment.
    """
    text = (scanned or "").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in _CODE_KEYS:
                value = data.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                    return re.sub(r"\s+", "", str(value))
        return ""
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
        parts = urlsplit(text)
        query = parse_qs(parts.query)
        for key in _CODE_KEYS:
            if query.get(key):
                return re.sub(r"\s+", "", query[key][0])
        return parts.path.rstrip("/").rpartition("/")[2]
    return re.sub(r"\s+", "", text)


def _fail(path: str, reason: str) -> ValidationError:
    return ValidationError(reason, [FieldError(path, reason)])


# --------------------------------------------------------------------------- #
# Verify a beneficiary
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class GivenDose:
    dose: int
    total_doses: int
    vaccine: str
    date: dt.date | None
    certificate_id: str
    status: str


@dataclass(frozen=True)
class DeskBeneficiary:
    """What the desk shows after a verification: who, which ID to check, which dose is next."""

    enrolment: Enrolment
    member: Member
    program: Program
    age: int | None
    id_label_key: str
    doses: list[GivenDose]
    pending_doses: list[int]
    next_dose: int
    due_on: dt.date | None  # earliest day for next_dose (minimum interval after the last dose)
    waiting: QueueEntry | None  # already in this facility's queue
    appointment: Appointment | None


def age_in_years(birth_date: dt.date | None, birth_year: int | None, on: dt.date) -> int | None:
    """Whole years on ``on``; from the year of birth alone when that is all there is."""
    if birth_date:
        return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if birth_year:
        return on.year - birth_year
    return None


def dose_date(cert: Certificate) -> dt.date | None:
    evidence = (cert.credential or {}).get("evidence") or [{}]
    raw = str(evidence[0].get("date") or "")
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return as_aware(cert.issued_at).astimezone(local_zone()).date()


def given_doses(code: str) -> list[GivenDose]:
    """The live vaccination certificates of an enrolment code, by dose."""
    return [GivenDose(c.dose, c.total_doses, c.vaccine, dose_date(c), c.certificate_id, c.status)
            for c in db.session.scalars(
                select(Certificate).where(Certificate.pre_enrollment_code == code,
                                          Certificate.kind == VACCINATION, Certificate.status != REVOKED)
                .order_by(Certificate.dose))]


def _pending_doses(code: str) -> list[int]:
    return list(db.session.scalars(
        select(CertifyRequest.dose).where(CertifyRequest.pre_enrollment_code == code,
                                          CertifyRequest.kind == VACCINATION, CertifyRequest.status == PENDING)
        .order_by(CertifyRequest.dose)))


def _interval_days(vaccine_name: str) -> int:
    vaccine = db.session.scalar(select(Vaccine).where(func.lower(Vaccine.name) == vaccine_name.strip().lower()))
    return vaccine.interval_days if vaccine is not None else 0


def describe(facility: Facility, enrolment: Enrolment) -> DeskBeneficiary:
    doses = given_doses(enrolment.code)
    pending = _pending_doses(enrolment.code)
    next_dose = max([d.dose for d in doses] + pending + [0]) + 1
    due_on = None
    if doses and doses[-1].date:
        due_on = doses[-1].date + dt.timedelta(days=_interval_days(doses[-1].vaccine))
    waiting = db.session.scalar(select(QueueEntry).where(
        QueueEntry.facility_id == facility.id, QueueEntry.enrolment_id == enrolment.id,
        QueueEntry.status == WAITING))
    appointment = db.session.scalar(
        select(Appointment).join(Slot, Slot.id == Appointment.slot_id)
        .where(Appointment.enrolment_id == enrolment.id, Appointment.status == "booked")
        .order_by(Slot.day, Slot.start_time).limit(1))
    member = enrolment.member
    return DeskBeneficiary(
        enrolment=enrolment, member=member, program=enrolment.program,
        age=age_in_years(member.birth_date, member.birth_year, local_now().date()), id_label_key=member.id_type,
        doses=doses, pending_doses=pending, next_dose=next_dose, due_on=due_on,
        waiting=waiting, appointment=appointment)


def verify_beneficiary(facility: Facility, scanned: str) -> DeskBeneficiary:
    """Look an enrolment code up (typed or scanned) for this facility's desk."""
    code = extract_code(scanned)
    if not code:
        raise _fail("code", _("Enter the enrolment code, or scan the registration QR code."))
    enrolment = db.session.scalar(select(Enrolment).options(joinedload(Enrolment.member))
                                  .where(Enrolment.code == code))
    if enrolment is None:
        raise _fail("code", _("No beneficiary has the enrolment code %(code)s. Check the code, or enrol them as a "
                              "new beneficiary.", code=code))
    if enrolment.program_id not in {p.id for p in offered_programs(facility.id)}:
        raise _fail("code", _("This beneficiary is enrolled in %(program)s, which this facility does not offer.",
                              program=enrolment.program.name))
    return describe(facility, enrolment)


def add_to_queue(facility: Facility, user: User, scanned: str) -> tuple[QueueEntry, bool]:
    """Put a verified beneficiary in the queue for their next dose; (entry, False) if already waiting."""
    beneficiary = verify_beneficiary(facility, scanned)
    if beneficiary.waiting is not None:
        return beneficiary.waiting, False
    entry = QueueEntry(facility_id=facility.id, enrolment_id=beneficiary.enrolment.id,
                       dose=beneficiary.next_dose, status=WAITING, verified_by=user.id, verified_at=utcnow())
    try:
        with db.session.begin_nested():  # a second desk may add the same person at the same moment
            db.session.add(entry)
            db.session.flush()
    except IntegrityError:
        existing = db.session.scalar(select(QueueEntry).where(
            QueueEntry.facility_id == facility.id, QueueEntry.enrolment_id == beneficiary.enrolment.id,
            QueueEntry.status == WAITING))
        if existing is None:
            raise
        return existing, False
    return entry, True


# --------------------------------------------------------------------------- #
# Walk-in enrolment
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class WalkIn:
    """The portal's registration fields, as entered at the desk."""

    program_id: int
    name: str
    gender: str
    birth_date: dt.date | None
    birth_year: int | None
    id_type: str
    id_number: str
    mobile: str
    email: str = ""
    address: dict[str, str] = field(default_factory=dict)
    comorbidities: tuple[str, ...] = ()


def _check_walk_in(facility: Facility, data: WalkIn, today: dt.date) -> tuple[Program, str, int]:
    """Every problem with a walk-in registration at once; returns (program, mobile, birth year)."""
    errors: list[FieldError] = []
    programs = {p.id: p for p in offered_programs(facility.id)}
    program = programs.get(data.program_id)
    if program is None:
        errors.append(FieldError("program", _("Choose one of the programs this facility offers.")))
    if data.gender not in GENDERS:
        errors.append(FieldError("gender", _("Choose a gender.")))
    if data.id_type not in ID_METHODS:
        errors.append(FieldError("id_type", _("Choose the type of ID.")))
    birth_year = data.birth_date.year if data.birth_date else data.birth_year
    birth_field = "birth_date" if data.birth_date else "birth_year"
    if data.birth_date and data.birth_date > today:
        errors.append(FieldError("birth_date", _("The date of birth cannot be in the future.")))
    elif birth_year is None:
        errors.append(FieldError("birth_date", _("Enter the date of birth or the year of birth.")))
    elif not 1900 <= birth_year <= today.year:
        errors.append(FieldError(birth_field, _("Enter a year of birth from 1900 to %(year)d.", year=today.year)))
    elif program is not None:
        age = age_in_years(data.birth_date, birth_year, today)
        if (program.min_age is not None and age < program.min_age) or (
                program.max_age is not None and age > program.max_age):
            errors.append(FieldError(birth_field, _(
                "%(program)s is for ages %(min)s to %(max)s; this person is %(age)d.", program=program.name,
                min=program.min_age if program.min_age is not None else 0,
                max=program.max_age if program.max_age is not None else "…", age=age)))
    if program is not None:
        allowed = set(program.comorbidities or [])
        if set(data.comorbidities) - allowed:
            errors.append(FieldError("comorbidities", _("Choose conditions from the list.")))
        elif program.comorbidity_required and not data.comorbidities:
            errors.append(FieldError("comorbidities", _(
                "%(program)s is only for people with one of these conditions: choose at least one.",
                program=program.name)))
    mobile = ""
    try:
        mobile = otp.normalise_mobile(data.mobile)
    except ValidationError as exc:
        errors.extend(exc.fields)
    if errors:
        raise ValidationError(_("Correct the marked fields."), errors)
    assert program is not None and birth_year is not None
    return program, mobile, birth_year


def walk_in(facility: Facility, user: User, data: WalkIn) -> QueueEntry:
    """Register a walk-in (member + enrolment with a new code) and put them in the queue for dose 1.

    A person already registered under the mobile number (same name and birth) is reused; one
    already enrolled in the program is refused with their code, so they are verified instead.
    """
    today = local_now().date()
    program, mobile, birth_year = _check_walk_in(facility, data, today)
    name = " ".join(data.name.split())
    same_mobile = list(db.session.scalars(select(Member).where(Member.mobile == mobile).order_by(Member.id)))
    member = next((m for m in same_mobile if m.name.casefold() == name.casefold()
                   and (m.birth_date == data.birth_date if data.birth_date and m.birth_date
                        else (m.birth_year or (m.birth_date.year if m.birth_date else None)) == birth_year)), None)
    if member is not None:
        enrolled = next((e for e in member.enrolments if e.program_id == program.id), None)
        if enrolled is not None:
            raise _fail("name", _("%(name)s is already enrolled in %(program)s with the code %(code)s. Verify them "
                                  "with that code.", name=member.name, program=program.name, code=enrolled.code))
    else:
        limit = current_app.config["MEMBERS_PER_MOBILE"]
        if len(same_mobile) >= limit:
            raise _fail("mobile", _("%(count)d people are already registered with this mobile number, the most "
                                    "allowed. Use another mobile number.", count=len(same_mobile)))
        member = Member(mobile=mobile, contact=mobile, name=name, gender=data.gender,
                        birth_date=data.birth_date, birth_year=birth_year, id_type=data.id_type,
                        id_number=data.id_number.strip(), email=data.email.strip(),
                        address={k: (data.address.get(k) or "").strip() for k in ADDRESS_KEYS},
                        source="facility")
        db.session.add(member)
        db.session.flush()
    enrolment = Enrolment(code=new_enrolment_code(), member_id=member.id, program_id=program.id,
                          comorbidities=list(data.comorbidities), facility_id=facility.id)
    db.session.add(enrolment)
    db.session.flush()
    entry = QueueEntry(facility_id=facility.id, enrolment_id=enrolment.id, dose=1, status=WAITING,
                       verified_by=user.id, verified_at=utcnow())
    db.session.add(entry)
    db.session.flush()
    return entry


# --------------------------------------------------------------------------- #
# The queue
# --------------------------------------------------------------------------- #

def _entries(facility_id: int):
    return select(QueueEntry).options(joinedload(QueueEntry.enrolment).joinedload(Enrolment.member)).where(
        QueueEntry.facility_id == facility_id)


def waiting_entries(facility_id: int) -> list[QueueEntry]:
    """Who is waiting at this facility, longest wait first."""
    return list(db.session.scalars(_entries(facility_id).where(QueueEntry.status == WAITING)
                                   .order_by(QueueEntry.verified_at, QueueEntry.id)))


def vaccinated_today(facility_id: int) -> list[QueueEntry]:
    """Today's vaccinations at this facility (local day), latest first: the "certificate issued" list."""
    start = local_now().replace(hour=0, minute=0, second=0, microsecond=0)
    return list(db.session.scalars(
        _entries(facility_id).where(QueueEntry.status == VACCINATED, QueueEntry.finished_at >= start)
        .order_by(QueueEntry.finished_at.desc()).limit(50)))


def queue_entry(facility: Facility, entry_id: int, status: str | None = None, lock: bool = False) -> QueueEntry:
    """One of this facility's queue entries (another facility's is not found)."""
    stmt = select(QueueEntry).where(QueueEntry.id == entry_id, QueueEntry.facility_id == facility.id)
    if lock:
        stmt = stmt.with_for_update(of=QueueEntry)
    entry = db.session.scalar(stmt)
    if entry is None or (status is not None and entry.status != status):
        raise NotFound(_("This person is not in the queue any more."))
    return entry


def leave_queue(facility: Facility, entry_id: int) -> QueueEntry:
    entry = queue_entry(facility, entry_id, WAITING, lock=True)
    entry.status, entry.finished_at = LEFT, utcnow()
    db.session.flush()
    return entry


# --------------------------------------------------------------------------- #
# Record a vaccination
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class VaccinationChoices:
    vaccinators: list[Vaccinator]
    vaccines: list[Vaccine]


def vaccination_choices(facility: Facility, entry: QueueEntry) -> VaccinationChoices:
    """The facility's active vaccinators certified for the program, and the program's active vaccines."""
    program_id = str(entry.enrolment.program_id)
    vaccinators = [v for v in db.session.scalars(
        select(Vaccinator).where(Vaccinator.facility_id == facility.id, Vaccinator.active).order_by(Vaccinator.name))
        if not v.program_ids or program_id in {str(p) for p in v.program_ids}]
    vaccines = list(db.session.scalars(select(Vaccine).where(
        Vaccine.program_id == entry.enrolment.program_id, Vaccine.active).order_by(Vaccine.name)))
    return VaccinationChoices(vaccinators, vaccines)


def is_denied_batch(vaccine: Vaccine, batch: str) -> bool:
    return batch.strip().casefold() in {str(b).strip().casefold() for b in vaccine.denied_batches or []}


def identity(member: Member) -> str:
    """DIVOC's ``recipient.identity``: ``did:<document>:<number>``, or the bare number."""
    number = re.sub(r"\s+", "", member.id_number)  # "2345 6789 0123" as printed on the card
    if not number:
        return ""
    method = ID_METHODS.get(member.id_type, "")
    return f"did:{method}:{number}" if method else number


def facility_address(facility: Facility) -> dict[str, str]:
    address = facility.address or {}
    return {
        "addressLine1": str(address.get("addressLine1") or ""),
        "addressLine2": str(address.get("addressLine2") or ""),
        "district": facility.district or str(address.get("district") or ""),
        "state": facility.state or str(address.get("state") or ""),
        "pincode": facility.pincode or str(address.get("pincode") or ""),
        "country": str(address.get("country") or ""),
    }


def certify_item(facility: Facility, enrolment: Enrolment, vaccine: Vaccine, vaccinator: Vaccinator,
                 batch: str, dose: int, when: dt.datetime) -> dict:
    """A DIVOC CertificationRequestV2 item, as a source system would post it to /v3/certify."""
    member = enrolment.member
    on = when.astimezone(local_zone()).date()
    recipient: dict = {
        "name": member.name,
        "gender": member.gender,
        "nationality": member.nationality,
        "identity": identity(member),
        "contact": [f"tel:{member.contact or member.mobile}"] + ([f"mailto:{member.email}"] if member.email else []),
        "address": {k: str((member.address or {}).get(k) or "") for k in ADDRESS_KEYS},
    }
    if member.birth_date:
        recipient["dob"] = member.birth_date.isoformat()
    elif member.birth_year:
        recipient["age"] = str(on.year - member.birth_year)
    vaccination: dict = {
        "name": vaccine.name, "manufacturer": vaccine.manufacturer, "batch": batch,
        "date": iso_utc(when), "effectiveStart": on.isoformat(), "dose": dose, "totalDoses": vaccine.doses,
    }
    if vaccine.validity_days:
        vaccination["effectiveUntil"] = (on + dt.timedelta(days=vaccine.validity_days)).isoformat()
    return {
        "preEnrollmentCode": enrolment.code,
        "programId": str(enrolment.program_id),
        "comorbidities": list(enrolment.comorbidities or []),
        "recipient": recipient,
        "vaccination": vaccination,
        "vaccinator": {"name": vaccinator.name},
        "facility": {"name": facility.name, "address": facility_address(facility)},
    }


#: Where a /v3/certify validation error lands on the desk form.
_ITEM_FIELDS = {"vaccination.batch": "batch", "vaccination.dose": "dose", "vaccination.name": "vaccine",
                "vaccinator.name": "vaccinator"}


def _check_vaccination(entry: QueueEntry, choices: VaccinationChoices, vaccinator_id: int | None,
                       vaccine_id: int | None, batch: str, dose: int | None, today: dt.date
                       ) -> tuple[Vaccinator, Vaccine]:
    errors: list[FieldError] = []
    vaccinator = next((v for v in choices.vaccinators if v.id == vaccinator_id), None)
    if vaccinator is None:
        errors.append(FieldError("vaccinator", _("Choose one of this facility's active vaccinators.")))
    vaccine = next((v for v in choices.vaccines if v.id == vaccine_id), None)
    if vaccine is None:
        errors.append(FieldError("vaccine", _("Choose a vaccine of %(program)s.", program=entry.enrolment.program.name)))
    if not batch:
        errors.append(FieldError("batch", _("Enter the batch number printed on the vial.")))
    elif vaccine is not None and is_denied_batch(vaccine, batch):
        errors.append(FieldError("batch", _("Batch %(batch)s of %(vaccine)s is on the deny list: do not use it. "
                                            "Take a vial from another batch.", batch=batch, vaccine=vaccine.name)))
    if dose is None or dose < 1:
        errors.append(FieldError("dose", _("Enter the dose number (1 or more).")))
    elif vaccine is not None and dose > vaccine.doses:
        errors.append(FieldError("dose", _("%(vaccine)s has %(doses)d doses: enter a dose from 1 to %(doses)d.",
                                           vaccine=vaccine.name, doses=vaccine.doses)))
    else:
        given = {d.dose: d for d in given_doses(entry.enrolment.code)}
        if dose in given:
            errors.append(FieldError("dose", _("Dose %(dose)d is already certified for this beneficiary "
                                               "(certificate %(id)s).", dose=dose, id=given[dose].certificate_id)))
        elif vaccine is not None and dose - 1 in given and given[dose - 1].date:
            due = given[dose - 1].date + dt.timedelta(days=vaccine.interval_days)
            if today < due:
                errors.append(FieldError("dose", _(
                    "Dose %(dose)d of %(vaccine)s is due from %(date)s, %(days)d days after dose %(previous)d.",
                    dose=dose, vaccine=vaccine.name, date=due.isoformat(), days=vaccine.interval_days,
                    previous=dose - 1)))
    if errors:
        raise ValidationError(_("Correct the marked fields."), errors)
    assert vaccinator is not None and vaccine is not None
    return vaccinator, vaccine


def record_vaccination(facility: Facility, user: User, entry_id: int, *, vaccinator_id: int | None,
                       vaccine_id: int | None, batch: str, dose: int | None,
                       now: dt.datetime | None = None) -> QueueEntry:
    """Record the dose and request its certificate through the /v3/certify issuance service.

    The queue entry becomes ``vaccinated`` with the certificate's preEnrollmentCode; signing
    follows on the ``certify`` queue after the commit (inline without Redis).
    """
    entry = queue_entry(facility, entry_id, WAITING, lock=True)  # the lock serialises a double submit
    now = now or utcnow()
    batch = (batch or "").strip()
    vaccinator, vaccine = _check_vaccination(entry, vaccination_choices(facility, entry), vaccinator_id,
                                             vaccine_id, batch, dose, local_now(now).date())
    assert dose is not None
    item = certify_item(facility, entry.enrolment, vaccine, vaccinator, batch, dose, now)
    try:
        result = certify_services.accept_certify_batch([item], f"user:{user.id}")[0]
    except ValidationError as exc:
        fields = []
        for err in exc.fields:
            path = err.path.partition(".")[2]
            fields.append(FieldError(_ITEM_FIELDS.get(path, ""), f"{path}: {err.reason}" if path not in _ITEM_FIELDS
                                     else err.reason))
        raise ValidationError(_("This beneficiary's record cannot be certified as it is: %(reasons)s",
                                reasons="; ".join(f.reason for f in fields)), fields) from None
    if result.status != "accepted":
        raise _fail("dose", _("Dose %(dose)d was already certified for this beneficiary a moment ago.", dose=dose))
    entry.status, entry.finished_at, entry.dose, entry.certificate_code = VACCINATED, now, dose, entry.enrolment.code
    db.session.flush()  # the dose's booked appointment was completed by accept_certify_batch
    return entry


@dataclass(frozen=True)
class Issuance:
    """Where the certificate of a recorded dose is: pending (being signed), issued or failed."""

    state: str
    certificate: Certificate | None = None
    error: str = ""


def issuance(entry: QueueEntry) -> Issuance:
    cert = db.session.scalar(select(Certificate).where(
        Certificate.pre_enrollment_code == entry.certificate_code, Certificate.kind == VACCINATION,
        Certificate.dose == entry.dose, Certificate.status != REVOKED))
    if cert is not None:
        return Issuance("issued", cert)
    request = db.session.scalar(select(CertifyRequest).where(
        CertifyRequest.pre_enrollment_code == entry.certificate_code, CertifyRequest.kind == VACCINATION,
        CertifyRequest.event_key == str(entry.dose)).order_by(CertifyRequest.id.desc()).limit(1))
    if request is not None and request.status == FAILED:
        return Issuance("failed", error=request.error or "")
    return Issuance("pending")


# --------------------------------------------------------------------------- #
# Print at the desk: beneficiaries by mobile number and date of birth
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class PrintableBeneficiary:
    code: str
    name: str
    dob: str
    gender: str
    mobile: str
    program: str
    certificates: list[Certificate]


def _facility_codes(facility_id: int, codes: Iterable[str]) -> set[str]:
    """The codes among ``codes`` this facility has seen: enrolled there, or queued there."""
    codes = set(codes)
    if not codes:
        return set()
    queued = select(QueueEntry.enrolment_id).where(QueueEntry.facility_id == facility_id)
    return set(db.session.scalars(select(Enrolment.code).where(
        Enrolment.code.in_(codes), or_(Enrolment.facility_id == facility_id, Enrolment.id.in_(queued)))))


def find_beneficiaries(mobile: str, dob: dt.date, facility_id: int | None) -> list[PrintableBeneficiary]:
    """Beneficiaries registered or certified with this mobile number and date of birth.

    With ``facility_id`` only those the facility enrolled or queued are returned (staff see only
    their own facility). Each comes with their live vaccination certificates, by dose.
    """
    mobile = otp.normalise_mobile(mobile)
    born = dob.isoformat()
    by_code: dict[str, list[Certificate]] = {}
    for cert in db.session.scalars(select(Certificate).where(
            Certificate.mobile == mobile, Certificate.kind == VACCINATION, Certificate.status != REVOKED)):
        if str(((cert.credential or {}).get("credentialSubject") or {}).get("dob") or "") == born:
            by_code.setdefault(cert.pre_enrollment_code, [])
    members = {e.code: (m, e) for m in db.session.scalars(
        select(Member).where(Member.mobile == mobile, Member.birth_date == dob)) for e in m.enrolments}
    codes = set(by_code) | set(members)
    if facility_id is not None:
        codes &= _facility_codes(facility_id, codes)
    if not codes:
        return []
    for cert in db.session.scalars(select(Certificate).where(
            Certificate.pre_enrollment_code.in_(codes), Certificate.kind == VACCINATION,
            Certificate.status != REVOKED).order_by(Certificate.dose)):
        by_code.setdefault(cert.pre_enrollment_code, []).append(cert)
    out = []
    for code in codes:
        certs = by_code.get(code, [])
        if code in members:
            member, enrolment = members[code]
            out.append(PrintableBeneficiary(code, member.name, born, member.gender, mobile,
                                            enrolment.program.name, certs))
        else:
            subject = certs[-1].credential.get("credentialSubject") or {}
            out.append(PrintableBeneficiary(code, certs[-1].name, born, str(subject.get("gender") or ""),
                                            mobile, "", certs))
    return sorted(out, key=lambda b: (b.name.casefold(), b.code))


def certificate_for_print(code: str, dose: int | None, facility_id: int | None) -> Certificate:
    """The certificate to print (latest dose, or ``dose``), if this desk may see it."""
    if facility_id is not None and not _facility_codes(facility_id, [code]):
        raise NotFound(_("No certificate for this beneficiary at this facility."))
    return certify_services.latest_certificate(code, dose)


def recent_side_effects(facility_id: int, days: int = 30, limit: int = 20) -> list[SideEffectReport]:
    """Side effects citizens reported for people this facility vaccinated, newest first."""
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    return list(db.session.scalars(
        select(SideEffectReport).where(SideEffectReport.facility_id == facility_id,
                                       SideEffectReport.created_at >= since)
        .order_by(SideEffectReport.created_at.desc()).limit(limit)))
