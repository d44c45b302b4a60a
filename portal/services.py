"""Citizen portal services: members, program registration, certificates and side-effect reports.

Everything is scoped by the signed-in mobile number: a member belongs to the number it was
registered (or pre-enrolled) under, and every lookup here takes that number, so a citizen can
only ever reach their own members. Services take plain values, flush only and raise domain
errors; the view commits.
"""
from __future__ import annotations

import datetime as dt
import math
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import exists, func, select
from sqlalchemy.orm import selectinload

from certify.models import PENDING, REVOKED, Certificate, CertifyRequest
from core import notify
from core.errors import AppError, Conflict, FieldError, NotFound, ValidationError
from core.extensions import db
from core.models import (
    Appointment,
    Enrolment,
    Facility,
    Member,
    Program,
    SideEffectReport,
    User,
)

VACCINATION = "vaccination"
BOOKED = "booked"


class PortalError(AppError):
    """A request the portal refuses for a reason the citizen can act on (shown on the page)."""

    status = 409
    code = "conflict"


class MemberLimitReached(PortalError):
    code = "member_limit_reached"


class MemberLocked(PortalError):
    """The member has a certificate (no more edits) or a booked appointment (no removal)."""

    code = "member_locked"


class AlreadyEnrolled(PortalError):
    code = "already_enrolled"


class NotEligible(PortalError):
    code = "not_eligible"


# --- Members -------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberDetails:
    """What a citizen types about a family member (the add and edit forms)."""

    name: str
    gender: str
    birth_year: int
    birth_date: dt.date | None
    id_type: str
    id_number: str
    address_line: str
    district: str
    state: str
    pincode: str
    contact: str
    email: str = ""

    def apply_to(self, member: Member) -> None:
        member.name = self.name.strip()
        member.gender = self.gender
        member.birth_year = self.birth_year
        member.birth_date = self.birth_date
        member.id_type = self.id_type
        member.id_number = self.id_number.strip()
        member.address = {"addressLine1": self.address_line.strip(), "district": self.district.strip(),
                          "state": self.state.strip(), "pincode": self.pincode.strip(), "country": "IN"}
        member.contact = self.contact.strip()
        member.email = self.email.strip()

    @classmethod
    def of(cls, member: Member) -> "MemberDetails":
        address = member.address or {}
        return cls(name=member.name, gender=member.gender, birth_year=member.birth_year or 0,
                   birth_date=member.birth_date, id_type=member.id_type, id_number=member.id_number,
                   address_line=address.get("addressLine1", ""), district=address.get("district", ""),
                   state=address.get("state", ""), pincode=address.get("pincode", ""),
                   contact=member.contact, email=member.email)


def members_limit() -> int:
    return current_app.config["MEMBERS_PER_MOBILE"]


def member_count(mobile: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Member).where(Member.mobile == mobile)) or 0


def get_member(mobile: str, member_id: int) -> Member:
    """The member if it belongs to ``mobile``; otherwise NotFound (never a 403: ids stay opaque)."""
    member = db.session.scalar(select(Member).where(Member.id == member_id, Member.mobile == mobile))
    if member is None:
        raise NotFound(_("There is no such member under your mobile number."))
    return member


def _lock_owner(mobile: str) -> None:
    """Serialise member changes of one number (two tabs adding a 4th and a 5th member at once)."""
    db.session.execute(select(User.id).where(User.mobile == mobile).with_for_update())


def add_member(mobile: str, details: MemberDetails) -> Member:
    _lock_owner(mobile)
    limit = members_limit()
    if member_count(mobile) >= limit:
        raise MemberLimitReached(_("You can register at most %(limit)d members with one mobile number. "
                                   "Remove a member who has no appointment to add another.", limit=limit))
    member = Member(mobile=mobile, source="portal", nationality="Indian")
    details.apply_to(member)
    db.session.add(member)
    db.session.flush()
    return member


def vaccinated_codes(codes: Iterable[str]) -> set[str]:
    """The enrolment codes among ``codes`` that have a live vaccination certificate."""
    codes = set(codes)
    if not codes:
        return set()
    return set(db.session.scalars(
        select(Certificate.pre_enrollment_code).distinct()
        .where(Certificate.pre_enrollment_code.in_(codes), Certificate.kind == VACCINATION,
               Certificate.status != REVOKED)))


def is_vaccinated(member: Member) -> bool:
    return bool(vaccinated_codes(e.code for e in member.enrolments))


def has_booked_appointment(member: Member) -> bool:
    return bool(db.session.scalar(select(exists().where(
        Appointment.enrolment_id == Enrolment.id, Enrolment.member_id == member.id,
        Appointment.status == BOOKED))))


def edit_blocker(member: Member) -> str | None:
    """Why the member's details can no longer be changed here, or None."""
    if is_vaccinated(member):
        return _("%(name)s has a vaccination certificate, so their details can no longer be changed "
                 "here. Ask the vaccination centre to correct the certificate.", name=member.name)
    return None


def removal_blocker(member: Member) -> str | None:
    """Why the member cannot be removed, or None."""
    if has_booked_appointment(member):
        return _("%(name)s has a booked appointment. Cancel it first, then remove the member.",
                 name=member.name)
    if is_vaccinated(member):
        return _("%(name)s has a vaccination certificate and stays on your account.", name=member.name)
    return None


def update_member(member: Member, details: MemberDetails) -> Member:
    blocker = edit_blocker(member)
    if blocker:
        raise MemberLocked(blocker)
    details.apply_to(member)
    db.session.flush()
    return member


def remove_member(member: Member) -> None:
    """Delete a member with no booked appointment and no certificate (enrolments go with it)."""
    blocker = removal_blocker(member)
    if blocker:
        raise MemberLocked(blocker)
    db.session.delete(member)
    db.session.flush()


# --- Programs, eligibility and enrolment -----------------------------------------------------

def program_open(program: Program, today: dt.date) -> bool:
    return (program.active and (program.start_date is None or program.start_date <= today)
            and (program.end_date is None or today <= program.end_date))


def open_programs(today: dt.date) -> list[Program]:
    """Active programs whose registration window contains ``today``."""
    return [p for p in db.session.scalars(select(Program).where(Program.active).order_by(Program.name))
            if program_open(p, today)]


def age_in_years(today: dt.date, birth_year: int, birth_date: dt.date | None = None) -> int:
    """Whole years on ``today``; with only a year of birth, the age reached this calendar year."""
    if birth_date is not None:
        return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    return today.year - birth_year


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str = ""


def check_eligibility(program: Program, *, birth_year: int, birth_date: dt.date | None = None,
                      comorbidities: Sequence[str] = (), today: dt.date) -> Eligibility:
    """The program's rules (registration window, age bounds, declared conditions) as a verdict
    with a reason a citizen understands. Shared by the portal and the facility walk-in desk."""
    if not program_open(program, today):
        return Eligibility(False, _("Registration for %(program)s is closed.", program=program.name))
    unknown = [c for c in comorbidities if c not in (program.comorbidities or [])]
    if unknown:
        return Eligibility(False, _("%(conditions)s is not on the list of %(program)s.",
                                    conditions=", ".join(unknown), program=program.name))
    age = age_in_years(today, birth_year, birth_date)
    if program.min_age is not None and age < program.min_age:
        return Eligibility(False, _("%(program)s is for people aged %(min)d or older. Someone born in "
                                    "%(year)d is %(age)d this year.", program=program.name,
                                    min=program.min_age, year=birth_year, age=age))
    if program.max_age is not None and age > program.max_age:
        return Eligibility(False, _("%(program)s is for people aged up to %(max)d. Someone born in "
                                    "%(year)d is %(age)d this year.", program=program.name,
                                    max=program.max_age, year=birth_year, age=age))
    if program.comorbidity_required and not comorbidities:
        return Eligibility(False, _("%(program)s is only for people with one of these conditions: "
                                    "%(conditions)s.", program=program.name,
                                    conditions=", ".join(program.comorbidities or [])))
    return Eligibility(True)


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def is_enrolment_code_wellformed(code: str) -> bool:
    """True for a code made by :func:`new_enrolment_code` typed without a slip (Luhn check digit).

    Codes uploaded by administrators may have any form; use this only to catch typing errors
    in codes known to come from this system."""
    code = code.replace(" ", "")
    return len(code) == 12 and code.isdigit() and _luhn_digit(code[:-1]) == code[-1]


def new_enrolment_codes(count: int) -> list[str]:
    """``count`` fresh enrolment codes (the preEnrollmentCode of the member's certificates), one
    scheme for the portal, the facility desk and pre-enrolment uploads.

    12 digits: 11 random (about 36 bits, no leading zero, revealing nothing about how many people
    enrolled) and a Luhn check digit that catches a mistyped digit or swapped neighbours at a
    facility desk. A code already used by an enrolment, a certificate or a certify request
    (source systems bring their own codes) is never handed out; the unique index on
    enrolments.code is the last line. Taken codes are looked up once per batch.
    """
    codes: list[str] = []
    for _attempt in range(20):
        wanted = count - len(codes)
        if wanted <= 0:
            break
        batch: set[str] = set()
        while len(batch) < wanted:
            body = str(10**10 + secrets.randbelow(9 * 10**10))
            batch.add(body + _luhn_digit(body))
        batch -= set(codes)
        taken = set(db.session.scalars(select(Enrolment.code).where(Enrolment.code.in_(batch))))
        taken |= set(db.session.scalars(select(Certificate.pre_enrollment_code)
                                        .where(Certificate.pre_enrollment_code.in_(batch))))
        taken |= set(db.session.scalars(select(CertifyRequest.pre_enrollment_code)
                                        .where(CertifyRequest.pre_enrollment_code.in_(batch))))
        codes.extend(sorted(batch - taken)[:wanted])
    if len(codes) < count:
        raise RuntimeError("could not find unused enrolment codes")  # pragma: no cover - 20 full collisions
    return codes


def new_enrolment_code() -> str:
    """One fresh enrolment code (see :func:`new_enrolment_codes`)."""
    return new_enrolment_codes(1)[0]


def enrol(member: Member, program: Program, *, birth_year: int, comorbidities: Sequence[str] = (),
          today: dt.date, facility_id: int | None = None) -> Enrolment:
    """Register ``member`` in ``program`` after the eligibility check; give them an enrolment code.

    ``birth_year`` is the answer to the check: it must match the member's saved year of birth
    (it is saved when the member has none yet). Raises ValidationError (field ``birth_year``),
    AlreadyEnrolled or NotEligible with the reason. The facility walk-in desk calls this too,
    with its ``facility_id``.
    """
    if member.birth_year is None:
        member.birth_year = birth_year
    elif member.birth_year != birth_year:
        message = _("This does not match the year of birth saved for %(name)s (%(year)d). "
                    "Edit the member to correct it.", name=member.name, year=member.birth_year)
        raise ValidationError(message, [FieldError("birth_year", message)])
    existing = db.session.scalar(select(Enrolment).where(Enrolment.member_id == member.id,
                                                         Enrolment.program_id == program.id))
    if existing is not None:
        raise AlreadyEnrolled(_("%(name)s is already registered for %(program)s (enrolment code "
                                "%(code)s).", name=member.name, program=program.name, code=existing.code))
    verdict = check_eligibility(program, birth_year=birth_year, birth_date=member.birth_date,
                                comorbidities=comorbidities, today=today)
    if not verdict.eligible:
        raise NotEligible(verdict.reason)
    enrolment = Enrolment(code=new_enrolment_code(), member_id=member.id, program_id=program.id,
                          comorbidities=list(comorbidities), facility_id=facility_id)
    db.session.add(enrolment)
    db.session.flush()
    # the code by SMS to the account's number: the citizen shows it at the desk (walk-ins too)
    notify.notify("enrolment_registered", to_mobile=member.mobile, language=str(get_locale()),
                  key=f"enrolment:{enrolment.code}", program_id=program.id, reference=enrolment.code,
                  context={"name": member.name, "program": program.name, "code": enrolment.code})
    return enrolment


def registrable_programs(member: Member, today: dt.date) -> list[Program]:
    """Open programs the member is not registered for yet."""
    taken = {e.program_id for e in member.enrolments}
    return [p for p in open_programs(today) if p.id not in taken]


def get_open_program(program_id: int | None, today: dt.date) -> Program | None:
    program = db.session.get(Program, program_id) if program_id else None
    return program if program is not None and program_open(program, today) else None


# --- The dashboard ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CertificateSummary:
    """What the member card shows about one certificate (display-ready)."""

    certificate_id: str
    dose: int
    total_doses: int
    vaccine: str
    date: str  # the vaccination date, YYYY-MM-DD
    facility: str
    suspended: bool
    name: str = ""  # the holder's name as the certificate carries it

    @classmethod
    def of(cls, cert: Certificate) -> "CertificateSummary":
        evidence = (cert.credential or {}).get("evidence") or [{}]
        ev = evidence[0] if isinstance(evidence, list) and evidence else {}
        date = str(ev.get("date") or "")[:10] or cert.issued_at.date().isoformat()
        facility = ((ev.get("facility") or {}).get("name")) or ""
        return cls(cert.certificate_id, cert.dose, cert.total_doses, cert.vaccine, date, facility,
                   cert.status == "suspended", cert.name)


@dataclass(frozen=True)
class EnrolmentCard:
    enrolment: Enrolment
    latest: CertificateSummary | None
    older: list[CertificateSummary]
    pending: bool  # a certificate is being issued


@dataclass(frozen=True)
class MemberCard:
    member: Member
    enrolments: list[EnrolmentCard]
    vaccinated: bool
    booked: bool
    registrable: bool  # an open program the member is not registered for

    @property
    def can_edit(self) -> bool:
        return not self.vaccinated

    @property
    def can_remove(self) -> bool:
        return not self.vaccinated and not self.booked

    @property
    def pending(self) -> bool:
        return any(e.pending for e in self.enrolments)

    @property
    def fully_vaccinated(self) -> bool:
        """Every program the member has a certificate in has had its last dose."""
        latest = [e.latest for e in self.enrolments if e.latest]
        return bool(latest) and all(c.total_doses and c.dose >= c.total_doses for c in latest)


def member_cards(mobile: str, today: dt.date, member_id: int | None = None) -> list[MemberCard]:
    """The signed-in number's members with their enrolments and certificates, in few queries."""
    stmt = (select(Member).where(Member.mobile == mobile).order_by(Member.id)
            .options(selectinload(Member.enrolments)))
    if member_id is not None:
        stmt = stmt.where(Member.id == member_id)
    members = list(db.session.scalars(stmt))
    codes = [e.code for m in members for e in m.enrolments]
    certs: dict[str, list[Certificate]] = defaultdict(list)
    pending: set[str] = set()
    booked: set[int] = set()
    if codes:
        for cert in db.session.scalars(
                select(Certificate).where(Certificate.pre_enrollment_code.in_(codes),
                                          Certificate.kind == VACCINATION, Certificate.status != REVOKED)
                .order_by(Certificate.dose.desc(), Certificate.issued_at.desc())):
            certs[cert.pre_enrollment_code].append(cert)
        pending = set(db.session.scalars(
            select(CertifyRequest.pre_enrollment_code).where(CertifyRequest.pre_enrollment_code.in_(codes),
                                                             CertifyRequest.kind == VACCINATION,
                                                             CertifyRequest.status == PENDING)))
        booked = set(db.session.scalars(
            select(Enrolment.member_id).join(Appointment, Appointment.enrolment_id == Enrolment.id)
            .where(Enrolment.code.in_(codes), Appointment.status == BOOKED)))
    open_ids = {p.id for p in open_programs(today)}
    cards = []
    for member in members:
        rows = []
        for enrolment in member.enrolments:
            summaries = [CertificateSummary.of(c) for c in certs.get(enrolment.code, [])]
            rows.append(EnrolmentCard(enrolment, summaries[0] if summaries else None, summaries[1:],
                                      enrolment.code in pending))
        enrolled = {e.program_id for e in member.enrolments}
        cards.append(MemberCard(member, rows, vaccinated=any(r.latest for r in rows),
                                booked=member.id in booked, registrable=bool(open_ids - enrolled)))
    return cards


def member_card(mobile: str, member_id: int, today: dt.date) -> MemberCard:
    cards = member_cards(mobile, today, member_id)
    if not cards:
        raise NotFound(_("There is no such member under your mobile number."))
    return cards[0]


def owned_certificate(mobile: str, member_id: int, certificate_id: str) -> Certificate:
    """A live vaccination certificate of one of the member's enrolments, the member being the
    caller's; anything else (another number's, revoked, unknown) is NotFound alike."""
    cert = db.session.scalar(
        select(Certificate)
        .join(Enrolment, Enrolment.code == Certificate.pre_enrollment_code)
        .join(Member, Member.id == Enrolment.member_id)
        .where(Member.id == member_id, Member.mobile == mobile, Certificate.certificate_id == certificate_id,
               Certificate.kind == VACCINATION, Certificate.status != REVOKED))
    if cert is None:
        raise NotFound(_("There is no such certificate for this member."))
    return cert


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


def same_mobile(a: str | None, b: str | None) -> bool:
    """Two ways of writing one number: equal digits, or equal once the default country code is added."""
    da, db_ = _digits(a), _digits(b)
    if not da or not db_:
        return False
    cc = _digits(current_app.config.get("NOTIFY_DEFAULT_COUNTRY_CODE", ""))
    return da == db_ or (bool(cc) and (da == cc + db_ or db_ == cc + da))


def linked_certificate(mobile: str, code: str, dose: int | None) -> Certificate:
    """The certificate an SMS link points at (enrolment code + dose), for the signed-in number:
    one of its members' enrolments, or a certificate issued to this mobile number by a source
    system. Anything else is NotFound, whatever the reason."""
    rows = list(db.session.scalars(
        select(Certificate).where(Certificate.pre_enrollment_code == code, Certificate.kind == VACCINATION,
                                  Certificate.status != REVOKED)
        .order_by(Certificate.dose.desc(), Certificate.issued_at.desc())))
    if dose is not None:
        rows = [c for c in rows if c.dose == dose]
    owned = db.session.scalar(select(Enrolment.id).join(Member, Member.id == Enrolment.member_id)
                              .where(Enrolment.code == code, Member.mobile == mobile)) is not None
    for cert in rows:
        if owned or same_mobile(cert.mobile, mobile):
            return cert
    raise NotFound(_("There is no such certificate for your mobile number."))
# --- International exports: EU Digital COVID Certificate, SMART Health Card -------------------

EU_FORMATS = ("pdf", "qr")
#: the portal's file suffix -> the SMART Health Card export's kind
SHC_FILES = {"png": "qr", "pdf": "pdf", "smart-health-card": "file"}


def name_split(name: str) -> tuple[str, str]:
    """(family name, given names) as the form first suggests them: the last word is the
    family name (the holder corrects it when their name splits otherwise)."""
    words = name.split()
    return (words[-1], " ".join(words[:-1])) if len(words) > 1 else (name.strip(), "")


class ExportRefused(PortalError):
    """An export the citizen cannot have, with a message per form field (``fn``, ``gn``) or for
    the certificate as a whole (``certificate``)."""

    status = 422
    code = "not_exportable"

    def __init__(self, message: str, errors: dict[str, list[str]], status: int = 422) -> None:
        super().__init__(message)
        self.errors = errors
        self.status = status


def _name_error(reason: str, certificate_name: str) -> str:
    if "is not part of the name" in reason:
        return _("%(words)s is not part of the name on the certificate (%(name)s).",
                 words=reason.split(" is not part")[0], name=certificate_name)
    if reason.startswith("at most"):
        return _("Use at most %(max)d characters.", max=80)
    if reason.startswith("give the family name"):
        return _("Give the family name, the given names or both.")
    return _("Use at least one letter.")


def certificate_summary(mobile: str, member_id: int, certificate_id: str) -> CertificateSummary:
    """One of the caller's live certificates, display-ready (NotFound for anything else)."""
    return CertificateSummary.of(owned_certificate(mobile, member_id, certificate_id))


def eu_export(mobile: str, member_id: int, certificate_id: str, family_name: str, given_name: str, fmt: str):
    """The EU Digital COVID Certificate (PDF or QR PNG) of one of the caller's certificates.

    :raises NotFound: not a live certificate of the caller's member.
    :raises ExportRefused: with the problems by field (names, or the certificate itself).
    """
    from certify import eu_export as eu

    cert = owned_certificate(mobile, member_id, certificate_id)
    try:
        return eu.eu_certificate(cert.pre_enrollment_code, family_name, given_name, fmt, dose=cert.dose)
    except eu.NotExportable as exc:
        errors: dict[str, list[str]] = defaultdict(list)
        for problem in exc.fields:
            if problem.path in ("fn", "gn"):
                errors[problem.path].append(_name_error(problem.reason, cert.name))
            elif problem.path == "evidence[0].vaccine":
                errors["certificate"].append(_("%(vaccine)s has no EU vaccine code, so this certificate cannot be an "
                                               "EU Digital COVID Certificate.", vaccine=cert.vaccine))
            else:
                errors["certificate"].append(_("This certificate cannot be an EU Digital COVID Certificate "
                                               "(%(problem)s).", problem=f"{problem.path}: {problem.reason}"))
        raise ExportRefused(_("The EU certificate could not be made."), dict(errors)) from None
    except Conflict:
        raise ExportRefused(_("This certificate is suspended; it cannot be exported."), {"certificate": [
            _("This certificate is suspended; it cannot be exported.")]}, status=409) from None
    except eu.EuSigningUnavailable:
        raise ExportRefused(_("EU certificates cannot be made at the moment. Please try again later."), {
            "certificate": [_("EU certificates cannot be made at the moment. Please try again later.")]},
            status=503) from None


def shc_export(mobile: str, member_id: int, certificate_id: str, suffix: str):
    """The SMART Health Card (QR PNG, PDF or .smart-health-card file) of the enrolment that one
    of the caller's certificates belongs to: every valid dose of it."""
    from certify import shc_exports

    kind = SHC_FILES.get(suffix)
    if kind is None:
        raise NotFound(_("There is no such download."))
    cert = owned_certificate(mobile, member_id, certificate_id)
    try:
        return shc_exports.shc_export(cert.pre_enrollment_code, kind)
    except shc_exports.NotExportable:
        raise ExportRefused(_("This certificate cannot be exported as a SMART Health Card."), {}) from None
    except NotFound:  # every dose suspended
        raise NotFound(_("There is no valid vaccination to put on a SMART Health Card.")) from None


def certificate_languages() -> list[tuple[str, str]]:
    """(code, own name) of the languages a PDF can be downloaded in, as configured."""
    from certify.render import LANGUAGES

    configured = [c.strip() for c in current_app.config["CERTIFICATE_LANGUAGES"].split(",") if c.strip()]
    return [(code, LANGUAGES[code][1]) for code in configured if code in LANGUAGES]


# --- Side-effect reports ---------------------------------------------------------------------

@dataclass(frozen=True)
class ReportSubject:
    """A member who can report side effects: vaccinated, with the program's symptom list."""

    member: Member
    enrolment: Enrolment
    certificate: Certificate
    symptoms: list[str] = field(default_factory=list)


def report_subjects(mobile: str) -> list[ReportSubject]:
    """The caller's vaccinated members, each with their latest certificate's program symptoms."""
    rows = db.session.execute(
        select(Member, Enrolment, Certificate)
        .join(Enrolment, Enrolment.member_id == Member.id)
        .join(Certificate, Certificate.pre_enrollment_code == Enrolment.code)
        .where(Member.mobile == mobile, Certificate.kind == VACCINATION, Certificate.status != REVOKED)
        .order_by(Member.id, Certificate.issued_at.desc(), Certificate.dose.desc())).all()
    subjects: dict[int, ReportSubject] = {}
    for member, enrolment, cert in rows:
        if member.id not in subjects:
            subjects[member.id] = ReportSubject(member, enrolment, cert,
                                                list(enrolment.program.side_effects or []))
    return list(subjects.values())


def report_subject(mobile: str, member_id: int | None) -> ReportSubject:
    for subject in report_subjects(mobile):
        if subject.member.id == member_id:
            return subject
    raise NotFound(_("There is no vaccinated member with this id under your mobile number."))


def vaccinating_facility(cert: Certificate, enrolment: Enrolment | None = None) -> Facility | None:
    """Where the certificate's vaccination happened.

    Source systems name the facility in the certify request (``facility.name`` and address),
    and the signed credential keeps it: an active facility of that name is taken, preferring
    the one with the credential's pincode, then district, when names repeat. Failing that, the
    facility of the member's completed appointment for that dose, then the enrolment's facility.
    """
    evidence = (cert.credential or {}).get("evidence") or [{}]
    ev = evidence[0] if isinstance(evidence, list) and evidence else {}
    named = ev.get("facility") or {}
    name = (named.get("name") or "").strip()
    if name:
        address = named.get("address") or {}
        pincode = str(address.get("postalCode") or address.get("pincode") or "")
        district = str(address.get("district") or "").casefold()
        matches = list(db.session.scalars(select(Facility).where(
            func.lower(Facility.name) == name.casefold(), Facility.active).order_by(Facility.id)))
        if matches:
            matches.sort(key=lambda f: (f.pincode != pincode or not pincode,
                                        f.district.casefold() != district or not district))
            return matches[0]
    if enrolment is not None:
        from core.models import Slot

        slot_facility = db.session.scalar(
            select(Facility).join(Slot, Slot.facility_id == Facility.id)
            .join(Appointment, Appointment.slot_id == Slot.id)
            .where(Appointment.enrolment_id == enrolment.id, Appointment.dose == cert.dose,
                   Appointment.status == "completed").order_by(Appointment.id.desc()).limit(1))
        if slot_facility is not None:
            return slot_facility
        if enrolment.facility_id is not None:
            return db.session.get(Facility, enrolment.facility_id)
    return None


def _distance_order(near: Facility | None) -> tuple[Any, ...]:
    """ORDER BY terms: squared equirectangular distance to ``near`` (fine for ranking), then id."""
    if near is None or near.latitude is None or near.longitude is None:
        return (Facility.id,)
    scale = math.cos(math.radians(near.latitude))
    dlat = Facility.latitude - near.latitude
    dlon = (Facility.longitude - near.longitude) * scale
    return (Facility.latitude.is_(None), dlat * dlat + dlon * dlon, Facility.id)


def nearest_facility(pincode: str, district: str, near: Facility | None = None) -> Facility | None:
    """The facility to visit if symptoms worsen: one in the member's pincode, else in their
    district, else the closest to ``near`` (the vaccinating facility) by latitude/longitude,
    else ``near`` itself. Within a tier the one closest to ``near`` comes first."""
    base = select(Facility).where(Facility.active).order_by(*_distance_order(near)).limit(1)
    if pincode.strip():
        found = db.session.scalar(base.where(Facility.pincode == pincode.strip()))
        if found is not None:
            return found
    if district.strip():
        found = db.session.scalar(base.where(func.lower(Facility.district) == district.strip().casefold()))
        if found is not None:
            return found
    if near is not None and near.latitude is not None and near.longitude is not None:
        found = db.session.scalar(base.where(Facility.latitude.is_not(None), Facility.longitude.is_not(None)))
        if found is not None:
            return found
    return near


def report_side_effects(mobile: str, member_id: int, symptoms: Sequence[str]) -> SideEffectReport:
    """Store the report against the facility that vaccinated the member and tell it by SMS."""
    subject = report_subject(mobile, member_id)
    chosen = [s for s in subject.symptoms if s in set(symptoms)]
    if not chosen or len(chosen) != len(set(symptoms)):
        message = _("Choose one or more symptoms from the list.")
        raise ValidationError(message, [FieldError("symptoms", message)])
    facility = vaccinating_facility(subject.certificate, subject.enrolment)
    report = SideEffectReport(member_id=subject.member.id, enrolment_code=subject.enrolment.code,
                              certificate_id=subject.certificate.certificate_id,
                              facility_id=facility.id if facility else None, symptoms=chosen,
                              reported_by=mobile)
    db.session.add(report)
    db.session.flush()
    if facility is not None:
        context = {"facility": facility.name, "code": subject.enrolment.code, "symptoms": list(chosen),
                   "reported_on": report.created_at.date()}
        key, program_id = f"side-effect:{report.id}", subject.enrolment.program_id
        # the facility's admins (else its staff), each in their language; else its contact number
        if not notify.notify_facility("side_effect_reported", facility.id, context=context, key=key,
                                      program_id=program_id, reference=subject.enrolment.code) \
                and facility.contact_mobile:
            notify.notify("side_effect_reported", to_mobile=facility.contact_mobile, context=context, key=key,
                          program_id=program_id, reference=subject.enrolment.code)
    return report


@dataclass(frozen=True)
class ReportConfirmation:
    report: SideEffectReport
    member: Member
    vaccinated_at: Facility | None
    visit: Facility | None


def report_confirmation(mobile: str, report_id: int) -> ReportConfirmation:
    row = db.session.execute(
        select(SideEffectReport, Member).join(Member, Member.id == SideEffectReport.member_id)
        .where(SideEffectReport.id == report_id, Member.mobile == mobile)).first()
    if row is None:
        raise NotFound(_("There is no such report under your mobile number."))
    report, member = row
    vaccinated_at = db.session.get(Facility, report.facility_id) if report.facility_id else None
    address = member.address or {}
    visit = nearest_facility(str(address.get("pincode") or ""), str(address.get("district") or ""),
                             near=vaccinated_at)
    return ReportConfirmation(report, member, vaccinated_at, visit)
