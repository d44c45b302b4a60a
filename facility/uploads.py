"""CSV uploads in DIVOC's templates: bulk certification, pre-enrolment and facilities.

The request only reads the header and stores one ``upload_rows`` row per data row; RQ workers
then process the rows in chunks (``tasks.process_upload``, enqueued after the commit). Each
row ends ``ok``, ``duplicate`` or ``error`` with its reason, so progress and the error CSV are
read from the rows themselves.

Bulk certification calls ``certify.services.accept_certify_batch``, the service behind
``POST /v3/certify``: certificates are issued by the same signing workers, and the partial
unique index on pending requests plus the live-certificate check make a re-uploaded row a
duplicate instead of a second certificate.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, text

from core.errors import FieldError, NotFound, ValidationError
from core.extensions import db
from core.models import (
    Enrolment,
    Facility,
    FacilityProgram,
    Member,
    Program,
    User,
    local_today,
    utcnow,
)
from core.otp import MOBILE

from . import tasks
from .models import (
    ROW_DUPLICATE,
    ROW_ERROR,
    ROW_OK,
    ROW_PENDING,
    UPLOAD_CERTIFICATES,
    UPLOAD_ENROLMENTS,
    UPLOAD_FACILITIES,
    UPLOAD_VACCINATORS,
    FacilityProfile,
    UploadJob,
    UploadRow,
    Vaccinator,
)

logger = logging.getLogger(__name__)

CHUNK_ROWS = 500  # rows per worker job (at most CERTIFY_MAX_BATCH items per accept call)
MAX_ROWS = 50_000

#: DIVOC's templates (csv-templates/*.csv): the header a ministry's existing files carry.
HEADERS: dict[str, tuple[str, ...]] = {
    UPLOAD_CERTIFICATES: (
        "preEnrollmentCode", "recipientName", "recipientMobileNumber", "recipientDOB", "recipientAge",
        "recipientGender", "recipientNationality", "recipientIdentity", "recipientAddressLine1",
        "recipientAddressLine2", "recipientDistrict", "recipientState", "recipientPincode", "vaccinationBatch",
        "vaccinationDate", "vaccinationDose", "vaccinationTotalDoses", "vaccinationEffectiveStart",
        "vaccinationEffectiveEnd", "vaccinationManufacturer", "vaccinationName", "vaccinatorName", "facilityName",
        "facilityAddressLine1", "facilityAddressLine2", "facilityDistrict", "facilityState", "facilityPincode"),
    UPLOAD_ENROLMENTS: (
        "phone", "identity", "nationality", "dob", "gender", "name", "email", "addressLine1", "addressLine2",
        "district", "state", "pincode", "doseNumber", "enrollmentScopeId"),
    UPLOAD_FACILITIES: (
        "facilityCode", "facilityName", "contact", "email", "operatingHourStart", "operatingHourEnd", "category",
        "type", "status", "addressLine1", "addressLine2", "district", "state", "pincode", "geoLocationLat",
        "geoLocationLon", "websiteURL", "adminName", "adminMobile"),
    UPLOAD_VACCINATORS: ("code", "name", "nationalIdentifier", "mobileNumber", "email", "status", "facilityIds"),
}
#: Columns a file must have (the rest may be missing from the header).
REQUIRED: dict[str, tuple[str, ...]] = {
    UPLOAD_CERTIFICATES: ("preEnrollmentCode", "recipientName", "vaccinationDate", "vaccinationDose",
                          "vaccinationName", "vaccinatorName"),
    UPLOAD_ENROLMENTS: ("phone", "name", "dob"),
    UPLOAD_FACILITIES: ("facilityCode", "facilityName"),
    UPLOAD_VACCINATORS: ("code", "name"),
}


def template_csv(kind: str) -> str:
    return ",".join(HEADERS[kind]) + "\r\n"


def _mobile(raw: str) -> str | None:
    """The number as sign-in stores it (core.otp.normalise_mobile, without its translated error:
    rows are processed in a worker, outside any request)."""
    value = re.sub(r"[\s\-()]", "", raw or "")
    return value if MOBILE.match(value) else None


# --- Accepting a file ---------------------------------------------------------------------------

def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("The file is not UTF-8 text."),
                              [FieldError("file", _("The file is not UTF-8 text. Save it as “CSV UTF-8”."))]) from None


def _bad_file(reason: str) -> ValidationError:
    return ValidationError(reason, [FieldError("file", reason)])


def parse_csv(kind: str, raw: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(spreadsheet row number, {column: value})]); blank lines are skipped."""
    reader = csv.reader(io.StringIO(_decode(raw), newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise _bad_file(_("The file is empty.")) from None
    except csv.Error as exc:
        raise _bad_file(_("The file is not a CSV file: %(error)s", error=str(exc))) from None
    known = {h.casefold(): h for h in HEADERS[kind]}
    columns = [known.get(h.casefold(), h) for h in header]  # DIVOC's spelling, whatever the case
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if missing:
        raise _bad_file(_("Columns missing from the header: %(columns)s. Download the template.",
                          columns=", ".join(missing)))
    dupes = sorted({c for c in columns if c and columns.count(c) > 1})
    if dupes:
        raise _bad_file(_("Columns appear twice in the header: %(columns)s.", columns=", ".join(dupes)))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            number = reader.line_num  # physical line; equals the spreadsheet row for one-line records
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise _bad_file(_("The file has more than %(count)d rows; split it.", count=MAX_ROWS))
            data = {c: (values[i].strip() if i < len(values) else "") for i, c in enumerate(columns) if c}
            if len(values) > len(columns):
                data["__extra__"] = str(len(values) - len(columns))
            rows.append((number, data))
    except csv.Error as exc:
        raise _bad_file(_("Line %(line)d: %(error)s", line=reader.line_num, error=str(exc))) from None
    if not rows:
        raise _bad_file(_("The file has a header but no rows."))
    return columns, rows


def create_upload(kind: str, filename: str, raw: bytes, *, user_id: int, facility_id: int | None = None,
                  program_id: int | None = None) -> UploadJob:
    """Store the file's rows as pending and schedule their processing (after the commit)."""
    columns, rows = parse_csv(kind, raw)
    job = UploadJob(kind=kind, filename=(filename or "upload.csv")[:255], sha256=hashlib.sha256(raw).hexdigest(),
                    columns=columns, facility_id=facility_id, program_id=program_id, user_id=user_id,
                    total_rows=len(rows))
    db.session.add(job)
    db.session.flush()
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(UploadRow), [
            {"job_id": job.id, "row_number": number, "data": data, "status": ROW_PENDING, "reason": "",
             "result": ""} for number, data in rows[start:start + 2000]])
    schedule(job.id, [number for number, _ in rows])
    return job


def schedule(job_id: int, row_numbers: Sequence[int]) -> None:
    numbers = sorted(row_numbers)
    for start in range(0, len(numbers), CHUNK_ROWS):
        chunk = numbers[start:start + CHUNK_ROWS]
        tasks.process_upload.after_commit(job_id, chunk[0], chunk[-1])


def resume(job: UploadJob) -> int:
    """Re-enqueue the rows still pending (a lost job, a restarted Redis); returns how many."""
    numbers = list(db.session.scalars(select(UploadRow.row_number).where(
        UploadRow.job_id == job.id, UploadRow.status == ROW_PENDING)))
    schedule(job.id, numbers)
    return len(numbers)


# --- Processing (in the worker) ------------------------------------------------------------------

@dataclass
class Outcome:
    status: str
    reason: str = ""
    result: str = ""
    request_id: int | None = None


def process_rows(job_id: int, first_row: int, last_row: int) -> int:
    """Process the job's pending rows numbered first_row..last_row; returns how many were done.

    Rows are locked with SKIP LOCKED, so a chunk run twice (a retried job) or by two workers
    is processed once.
    """
    job = db.session.get(UploadJob, job_id)
    if job is None:
        return 0
    if job.kind != UPLOAD_CERTIFICATES:  # one chunk at a time: members and users are matched by value
        _advisory_lock(f"upload:{job_id}")
    rows = list(db.session.scalars(
        select(UploadRow).where(UploadRow.job_id == job_id, UploadRow.status == ROW_PENDING,
                                UploadRow.row_number.between(first_row, last_row))
        .order_by(UploadRow.row_number).with_for_update(skip_locked=True)))
    if rows:
        handler: Callable[[UploadJob, list[UploadRow]], list[Outcome]] = {
            UPLOAD_CERTIFICATES: _certify_rows, UPLOAD_ENROLMENTS: _enrol_rows, UPLOAD_FACILITIES: _facility_rows,
            UPLOAD_VACCINATORS: _vaccinator_rows,
        }[job.kind]
        for row, outcome in zip(rows, handler(job, rows)):
            row.status, row.reason, row.result = outcome.status, outcome.reason[:2000], outcome.result[:100]
            row.request_id = outcome.request_id
        db.session.flush()
    _finish_if_done(job_id)
    return len(rows)


def _advisory_lock(name: str) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": name})


def _finish_if_done(job_id: int) -> None:
    job = db.session.get(UploadJob, job_id, with_for_update=True, populate_existing=True)
    pending = db.session.scalar(select(func.count()).select_from(UploadRow)
                                .where(UploadRow.job_id == job_id, UploadRow.status == ROW_PENDING))
    if job is not None and not pending and job.finished_at is None:
        job.finished_at = utcnow()


def _required(d: dict[str, str], column: str, max_len: int) -> list[str]:
    value = d.get(column, "")
    if not value:
        return [f"{column}: is required"]
    return [f"{column}: must be at most {max_len} characters"] if len(value) > max_len else []


def _active(d: dict[str, str], problems: list[str]) -> bool:
    """DIVOC's status column: Active (the default) or Inactive."""
    status = (d.get("status", "") or "Active").casefold()
    if status not in ("active", "inactive"):
        problems.append("status: must be Active or Inactive")
    return status == "active"


def _extra(data: dict) -> str | None:
    if data.get("__extra__"):
        return f"the row has {data['__extra__']} more value(s) than the header has columns"
    return None


# --- Bulk certification ------------------------------------------------------------------------

#: certificates.csv column → path in the CertificationRequestV2 item (DIVOC's mapping).
CERT_PATHS: dict[str, str] = {
    "preEnrollmentCode": "preEnrollmentCode",
    "recipientName": "recipient.name", "recipientDOB": "recipient.dob", "recipientAge": "recipient.age",
    "recipientGender": "recipient.gender", "recipientNationality": "recipient.nationality",
    "recipientIdentity": "recipient.identity", "recipientMobileNumber": "recipient.contact",
    "recipientAddressLine1": "recipient.address.addressLine1", "recipientAddressLine2": "recipient.address.addressLine2",
    "recipientDistrict": "recipient.address.district", "recipientState": "recipient.address.state",
    "recipientPincode": "recipient.address.pincode",
    "vaccinationBatch": "vaccination.batch", "vaccinationDate": "vaccination.date",
    "vaccinationDose": "vaccination.dose", "vaccinationTotalDoses": "vaccination.totalDoses",
    "vaccinationEffectiveStart": "vaccination.effectiveStart", "vaccinationEffectiveEnd": "vaccination.effectiveUntil",
    "vaccinationManufacturer": "vaccination.manufacturer", "vaccinationName": "vaccination.name",
    "vaccinatorName": "vaccinator.name", "facilityName": "facility.name",
    "facilityAddressLine1": "facility.address.addressLine1", "facilityAddressLine2": "facility.address.addressLine2",
    "facilityDistrict": "facility.address.district", "facilityState": "facility.address.state",
    "facilityPincode": "facility.address.pincode",
}
_COLUMN_FOR_PATH = {path: column for column, path in CERT_PATHS.items()}
_INTEGER_COLUMNS = {"vaccinationDose", "vaccinationTotalDoses"}


def _set(item: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        item = item.setdefault(key, {})
    item[leaf] = value


def _column(path: str) -> str:
    """``[3].recipient.dob`` / ``.recipient.contact[0]`` → the CSV column it came from."""
    path = re.sub(r"^\[\d+\]", "", path).lstrip(".")
    path = re.sub(r"\[\d+\]$", "", path)
    while path and path not in _COLUMN_FOR_PATH:
        if "." not in path:
            break
        path = path.rsplit(".", 1)[0]
    return _COLUMN_FOR_PATH.get(path, path or "row")


def certify_item(data: dict[str, str], facility: Facility, vaccines: dict) -> tuple[dict, list[str]]:
    """A certificates.csv row → (CertificationRequestV2 item, problems as "column: reason")."""
    problems: list[str] = []
    item: dict[str, Any] = {}
    for column, path in CERT_PATHS.items():
        value = data.get(column, "")
        if value == "":
            continue
        if column in _INTEGER_COLUMNS:
            if not value.isdigit() or int(value) < 1:
                problems.append(f"{column}: must be a whole number ≥ 1")
                continue
            item_value: Any = int(value)
        elif column == "recipientMobileNumber":
            item_value = [f"tel:{value}"]
        elif column == "recipientAge":
            item_value = int(value) if value.isdigit() else value
        else:
            item_value = value
        _set(item, path, item_value)
    vaccine = vaccines.get(data.get("vaccinationName", "").casefold())
    vaccination = item.setdefault("vaccination", {})
    if vaccine is not None and "totalDoses" not in vaccination and not data.get("vaccinationTotalDoses"):
        vaccination["totalDoses"] = vaccine.doses
    if vaccine is not None and not vaccination.get("manufacturer") and vaccine.manufacturer:
        vaccination["manufacturer"] = vaccine.manufacturer
    given = item.setdefault("facility", {})
    if given.get("name") and given["name"].casefold() != facility.name.casefold():
        problems.append(f"facilityName: must be your facility, {facility.name} (or left empty)")
    given["name"] = facility.name
    if not given.get("address"):
        address = {k: v for k, v in (facility.address or {}).items() if isinstance(v, str) and v}
        address.update({k: v for k, v in (("district", facility.district), ("state", facility.state),
                                          ("pincode", facility.pincode)) if v})
        if address:
            given["address"] = address
    return item, problems


def check_certify_item(item: dict, vaccines: dict, today: dt.date, reported: Sequence[str] = ()) -> list[str]:
    """The /v3/certify checks of one item, plus the desk's: a known vaccine, an allowed batch,
    a dose within the total."""
    from certify.schemas import validate_certify_item

    problems = [f"{_column(e.path)}: {e.reason}" for e in validate_certify_item(item, "", today)]
    if reported:  # a value we could not even convert is not also "required"
        problems = [p for p in problems if p.split(":", 1)[0] not in reported]
    vaccination = item.get("vaccination") or {}
    name = vaccination.get("name")
    if isinstance(name, str) and name.strip():
        vaccine = vaccines.get(name.strip().casefold())
        if vaccine is None:
            known = ", ".join(sorted(v.name for v in vaccines.values())) or "none configured"
            problems.append(f"vaccinationName: unknown vaccine; known vaccines: {known}")
        elif vaccination.get("batch") and vaccination["batch"].strip() in (vaccine.denied_batches or []):
            problems.append(f"vaccinationBatch: batch {vaccination['batch'].strip()} of {vaccine.name} is denied")
    dose, total = vaccination.get("dose"), vaccination.get("totalDoses")
    if isinstance(dose, int) and isinstance(total, int) and dose > total:
        problems.append("vaccinationDose: must not be more than vaccinationTotalDoses")
    return problems


def _certify_rows(job: UploadJob, rows: list[UploadRow]) -> list[Outcome]:
    from certify.services import accept_certify_batch, known_vaccines

    facility = db.session.get(Facility, job.facility_id)
    vaccines = known_vaccines()
    today = local_today()
    outcomes: list[Outcome | None] = [None] * len(rows)
    batch: list[tuple[int, dict]] = []
    for i, row in enumerate(rows):
        item, problems = certify_item(row.data, facility, vaccines)
        reported = {p.split(":", 1)[0] for p in problems}
        problems = [p for p in [_extra(row.data)] if p] + problems + check_certify_item(item, vaccines, today,
                                                                                         reported)
        if problems:
            outcomes[i] = Outcome(ROW_ERROR, "; ".join(dict.fromkeys(problems)))
        else:
            batch.append((i, item))
    while batch:
        try:
            results = accept_certify_batch([item for _, item in batch], f"upload:{job.id}")
        except ValidationError as exc:  # a check we did not repeat above: drop those rows and retry
            failed: dict[int, list[str]] = {}
            for error in exc.fields:
                m = re.match(r"^\[(\d+)\]", error.path)
                failed.setdefault(int(m.group(1)) if m else -1, []).append(f"{_column(error.path)}: {error.reason}")
            if not failed or -1 in failed:
                raise
            for pos, reasons in failed.items():
                outcomes[batch[pos][0]] = Outcome(ROW_ERROR, "; ".join(reasons))
            batch = [b for pos, b in enumerate(batch) if pos not in failed]
            continue
        for (i, _item), result in zip(batch, results):
            if result.status == "accepted":
                outcomes[i] = Outcome(ROW_OK, request_id=result.request_id)
            else:
                outcomes[i] = Outcome(ROW_DUPLICATE, result.message, result.certificate_id or "")
        break
    return [o if o is not None else Outcome(ROW_ERROR, "not processed") for o in outcomes]


# --- Pre-enrolment -------------------------------------------------------------------------------

GENDERS = {"male": "Male", "female": "Female", "other": "Other", "m": "Male", "f": "Female", "o": "Other"}


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _enrol_rows(job: UploadJob, rows: list[UploadRow]) -> list[Outcome]:
    from portal.services import (
        new_enrolment_codes,  # the portal's and the desk's code scheme
    )

    program = db.session.get(Program, job.program_id) if job.program_id else None
    if program is None:
        return [Outcome(ROW_ERROR, "the program of this upload no longer exists") for _ in rows]
    own = db.session.get(Facility, job.facility_id) if job.facility_id else None
    limit = current_app.config["MEMBERS_PER_MOBILE"]
    today = local_today()
    mobiles = set()
    for row in rows:
        mobiles.add(_mobile(row.data.get("phone", "")))
    members: dict[str, list[Member]] = {}
    for member in db.session.scalars(select(Member).where(Member.mobile.in_(mobiles))):
        members.setdefault(member.mobile, []).append(member)
    enrolled = {(e.member_id): e for e in db.session.scalars(
        select(Enrolment).join(Member, Member.id == Enrolment.member_id)
        .where(Member.mobile.in_(mobiles), Enrolment.program_id == program.id))}
    facilities = {f.code.casefold(): f for f in db.session.scalars(select(Facility).where(
        func.lower(Facility.code).in_({r.data.get("enrollmentScopeId", "").casefold() for r in rows})))}
    codes = iter(new_enrolment_codes(len(rows)))
    outcomes: list[Outcome] = []
    for row in rows:
        d = row.data
        problems = [p for p in [_extra(d)] if p]
        mobile = _mobile(d.get("phone", "")) or ""
        if not mobile:
            problems.append("phone: must be a mobile number of 10 to 15 digits")
        name = d.get("name", "")
        problems += _required(d, "name", 200)
        birth = None
        try:
            birth = dt.date.fromisoformat(d.get("dob", ""))
            if birth > today:
                problems.append("dob: must not be in the future")
        except ValueError:
            problems.append("dob: must be a date as YYYY-MM-DD")
        gender = d.get("gender", "")
        if gender and gender.casefold() not in GENDERS:
            problems.append("gender: must be Male, Female or Other")
        email = d.get("email", "")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            problems.append("email: is not an email address")
        dose = d.get("doseNumber", "")
        if dose and (not dose.isdigit() or int(dose) < 1):
            problems.append("doseNumber: must be a whole number ≥ 1")
        scope = d.get("enrollmentScopeId", "")
        facility = own
        if scope:
            facility = facilities.get(scope.casefold())
            if facility is None:
                problems.append(f"enrollmentScopeId: no facility with code {scope}")
            elif own is not None and facility.id != own.id:
                problems.append(f"enrollmentScopeId: must be your facility's code, {own.code} (or left empty)")
        if birth and birth <= today:
            age = _age_on(birth, today)
            if (program.min_age is not None and age < program.min_age) or \
                    (program.max_age is not None and age > program.max_age):
                problems.append(f"dob: age {age} is outside {program.name}'s eligibility "
                                f"({program.min_age if program.min_age is not None else 0}–"
                                f"{program.max_age if program.max_age is not None else '∞'} years)")
        if problems:
            outcomes.append(Outcome(ROW_ERROR, "; ".join(problems)))
            continue
        same = [m for m in members.get(mobile, [])
                if m.name.casefold() == name.casefold() and m.birth_date == birth]
        member = same[0] if same else None
        if member is not None and member.id in enrolled:
            outcomes.append(Outcome(ROW_DUPLICATE, f"already enrolled in {program.name}", enrolled[member.id].code))
            continue
        if member is None:
            if len(members.get(mobile, [])) >= limit:
                outcomes.append(Outcome(ROW_ERROR, f"phone: already has {limit} members, the most allowed"))
                continue
            member = Member(mobile=mobile, name=name, gender=GENDERS.get(gender.casefold(), "") if gender else "",
                            birth_date=birth, birth_year=birth.year, id_number=d.get("identity", "")[:100],
                            nationality=d.get("nationality", "")[:100], email=email[:200], contact=mobile,
                            address={k: d[k] for k in ("addressLine1", "addressLine2", "district", "state", "pincode")
                                     if d.get(k)},
                            source="preenrolment")
            db.session.add(member)
            db.session.flush()
            members.setdefault(mobile, []).append(member)
        enrolment = Enrolment(code=next(codes), member_id=member.id, program_id=program.id,
                              facility_id=facility.id if facility else None)
        db.session.add(enrolment)
        db.session.flush()
        enrolled[member.id] = enrolment
        outcomes.append(Outcome(ROW_OK, result=enrolment.code))
    return outcomes


# --- Facilities ---------------------------------------------------------------------------------

CATEGORIES = {"govt": "government", "government": "government", "private": "private", "pvt": "private"}


def _time(value: str) -> dt.time | None:
    """'9', '09:00', '9:30', '17:00:00' or '9:30 AM' → a time; '' → None; else ValueError."""
    value = value.strip().upper()
    if not value:
        return None
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(AM|PM)?", value)
    if not m:
        raise ValueError(value)
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if m.group(4):
        if not 1 <= hour <= 12:
            raise ValueError(value)
        hour = hour % 12 + (12 if m.group(4) == "PM" else 0)
    return dt.time(hour, minute)


def _facility_rows(job: UploadJob, rows: list[UploadRow]) -> list[Outcome]:
    return _each_in_a_savepoint(rows, lambda data: _facility_row(data))


def _each_in_a_savepoint(rows: list[UploadRow], handle: Callable[[dict], Outcome]) -> list[Outcome]:
    """Handle each row in its own savepoint: a bad row's writes are undone, the others kept."""
    from sqlalchemy.exc import IntegrityError

    outcomes = []
    for row in rows:
        savepoint = db.session.begin_nested()
        try:
            outcome = handle(row.data)
        except ValidationError as exc:
            outcome = Outcome(ROW_ERROR, exc.message)
        except IntegrityError as exc:
            outcome = Outcome(ROW_ERROR, f"could not be saved: {exc.orig}")
        if outcome.status == ROW_ERROR:
            savepoint.rollback()
        else:
            savepoint.commit()
        outcomes.append(outcome)
    return outcomes


def _facility_row(d: dict[str, str]) -> Outcome:
    """Create or update one facility (matched by code) and its administrator."""
    problems = [p for p in [_extra(d)] if p]
    code, name = d.get("facilityCode", ""), d.get("facilityName", "")
    problems += _required(d, "facilityCode", 64) + _required(d, "facilityName", 200)
    contact = d.get("contact", "")
    if contact:
        contact = _mobile(contact) or ""
        if not contact:
            problems.append("contact: must be a mobile number of 10 to 15 digits")
    hours = {}
    for column in ("operatingHourStart", "operatingHourEnd"):
        try:
            hours[column] = _time(d.get(column, ""))
        except ValueError:
            problems.append(f"{column}: must be a time such as 09:00")
    if hours.get("operatingHourStart") and hours.get("operatingHourEnd") \
            and hours["operatingHourEnd"] <= hours["operatingHourStart"]:
        problems.append("operatingHourEnd: must be after operatingHourStart")
    category = d.get("category", "")
    if category and category.casefold() not in CATEGORIES:
        problems.append("category: must be GOVT or PRIVATE")
    active = _active(d, problems)
    coords = {}
    for column, bound in (("geoLocationLat", 90), ("geoLocationLon", 180)):
        value = d.get(column, "")
        if value:
            try:
                coords[column] = float(value)
                if not -bound <= coords[column] <= bound:
                    raise ValueError
            except ValueError:
                problems.append(f"{column}: must be a number from -{bound} to {bound}")
    admin_mobile = d.get("adminMobile", "")
    if admin_mobile:
        admin_mobile = _mobile(admin_mobile) or ""
        if not admin_mobile:
            problems.append("adminMobile: must be a mobile number of 10 to 15 digits")
    if problems:
        return Outcome(ROW_ERROR, "; ".join(problems))

    facility = db.session.scalar(select(Facility).where(func.lower(Facility.code) == code.casefold()))
    created = facility is None
    if created:
        facility = Facility(code=code, name=name[:200], address={})
        db.session.add(facility)
        db.session.flush()
    profile = db.session.get(FacilityProfile, facility.id) or FacilityProfile(facility_id=facility.id)
    admin = db.session.scalar(select(User).where(User.mobile == admin_mobile)) if admin_mobile else None
    before = _facility_state(facility, profile, admin)

    facility.name = name[:200]
    facility.active = active
    if contact:
        facility.contact_mobile = contact
    if d.get("email"):
        facility.email = d["email"][:200]
    if category:
        facility.category = CATEGORIES[category.casefold()]
    address = {k: d[k] for k in ("addressLine1", "addressLine2") if d.get(k)}
    if address:
        facility.address = address
    for column in ("district", "state", "pincode"):
        if d.get(column):
            setattr(facility, column, d[column][:100])
    if coords:
        facility.latitude, facility.longitude = coords.get("geoLocationLat"), coords.get("geoLocationLon")
    if d.get("type"):
        profile.facility_type = d["type"][:60]
    profile.operating_start = hours.get("operatingHourStart") or profile.operating_start
    profile.operating_end = hours.get("operatingHourEnd") or profile.operating_end
    if d.get("websiteURL"):
        profile.website_url = d["websiteURL"][:300]
    db.session.add(profile)
    if admin_mobile:
        if admin is not None and admin.facility_id not in (None, facility.id):
            raise ValidationError(f"adminMobile: {admin_mobile} is already staff of another facility")
        if admin is None:
            admin = User(mobile=admin_mobile, roles="", name="")
            db.session.add(admin)
        if "facility_admin" not in admin.roles.split():
            admin.roles = " ".join([*admin.roles.split(), "facility_admin"])
        admin.facility_id = facility.id
        if d.get("adminName"):
            admin.name = d["adminName"][:200]
    db.session.flush()
    if created:
        return Outcome(ROW_OK, "created", facility.code)
    if _facility_state(facility, profile, admin) == before:
        return Outcome(ROW_DUPLICATE, "already up to date", facility.code)
    return Outcome(ROW_OK, "updated", facility.code)


def _facility_state(facility: Facility, profile: FacilityProfile, admin: User | None) -> tuple:
    return (facility.name, facility.contact_mobile, facility.email, facility.category, facility.active,
            dict(facility.address or {}), facility.district, facility.state, facility.pincode,
            facility.latitude, facility.longitude, profile.facility_type, profile.operating_start,
            profile.operating_end, profile.website_url,
            (admin.roles, admin.facility_id, admin.name) if admin is not None else None)


# --- Vaccinators -------------------------------------------------------------------------------

def _vaccinator_rows(job: UploadJob, rows: list[UploadRow]) -> list[Outcome]:
    own = db.session.get(Facility, job.facility_id) if job.facility_id else None
    codes = {c.casefold() for r in rows for c in re.split(r"[\s,;|]+", r.data.get("facilityIds", "")) if c}
    facilities = {f.code.casefold(): f for f in db.session.scalars(
        select(Facility).where(func.lower(Facility.code).in_(codes)))} if codes else {}
    return _each_in_a_savepoint(rows, lambda data: _vaccinator_row(data, own, facilities))


def _vaccinator_row(d: dict[str, str], own: Facility | None, facilities: dict[str, Facility]) -> Outcome:
    """One vaccinators.csv row: the vaccinator (``code`` is the licence number) at each facility
    listed in ``facilityIds`` (a facility administrator's: their own)."""
    problems = [p for p in [_extra(d)] if p]
    code, name = d.get("code", ""), d.get("name", "")
    problems += _required(d, "code", 100) + _required(d, "name", 200)
    mobile = d.get("mobileNumber", "")
    if mobile and not _mobile(mobile):
        problems.append("mobileNumber: must be a mobile number of 10 to 15 digits")
    active = _active(d, problems)
    listed = [c for c in re.split(r"[\s,;|]+", d.get("facilityIds", "")) if c]
    targets: list[Facility] = []
    for c in listed:
        facility = facilities.get(c.casefold())
        if facility is None:
            problems.append(f"facilityIds: no facility with code {c}")
        elif own is not None and facility.id != own.id:
            problems.append(f"facilityIds: must be your facility's code, {own.code} (or left empty)")
        elif facility not in targets:
            targets.append(facility)
    if own is not None and not listed:
        targets = [own]
    elif not listed:
        problems.append("facilityIds: is required")
    if problems:
        return Outcome(ROW_ERROR, "; ".join(dict.fromkeys(problems)))
    created = changed = False
    for facility in targets:
        row = db.session.scalar(select(Vaccinator).where(Vaccinator.facility_id == facility.id,
                                                         func.lower(Vaccinator.licence_number) == code.casefold()))
        if row is None:
            row = Vaccinator(facility_id=facility.id, licence_number=code, program_ids=[], training_certificate="")
            db.session.add(row)
            created = True
        before = (row.name, row.mobile, row.email, row.active)
        row.name = name[:200]
        row.mobile = _mobile(mobile) if mobile else (row.mobile or "")
        row.email = d.get("email", "")[:200] or (row.email or "")
        row.active = active
        changed = changed or before != (row.name, row.mobile, row.email, row.active)
    db.session.flush()
    codes = " ".join(f.code for f in targets)
    if created:
        return Outcome(ROW_OK, "created", codes)
    return Outcome(ROW_OK, "updated", codes) if changed else Outcome(ROW_DUPLICATE, "already up to date", codes)


# --- Progress, listing and the error CSV ---------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    total: int
    pending: int
    ok: int
    duplicate: int
    error: int
    issued: int  # certificates signed for this upload's accepted rows (bulk certification)
    signing: int  # accepted rows whose certificate is still being signed

    @property
    def processed(self) -> int:
        return self.total - self.pending

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.processed / self.total)

    @property
    def done(self) -> bool:
        return self.pending == 0 and self.signing == 0


def progress(job: UploadJob) -> Progress:
    counts = dict(db.session.execute(select(UploadRow.status, func.count()).where(UploadRow.job_id == job.id)
                                     .group_by(UploadRow.status)).all())
    issued = signing = 0
    if job.kind == UPLOAD_CERTIFICATES and counts.get(ROW_OK):
        from certify.models import ISSUED, PENDING, CertifyRequest

        by_status = dict(db.session.execute(
            select(CertifyRequest.status, func.count()).join(UploadRow, UploadRow.request_id == CertifyRequest.id)
            .where(UploadRow.job_id == job.id, UploadRow.status == ROW_OK).group_by(CertifyRequest.status)).all())
        issued, signing = by_status.get(ISSUED, 0), by_status.get(PENDING, 0)
    return Progress(job.total_rows, counts.get(ROW_PENDING, 0), counts.get(ROW_OK, 0), counts.get(ROW_DUPLICATE, 0),
                    counts.get(ROW_ERROR, 0), issued, signing)


def list_jobs(kind: str, *, facility_id: int | None = None, user_id: int | None = None,
              limit: int = 20) -> list[UploadJob]:
    stmt = select(UploadJob).where(UploadJob.kind == kind).order_by(UploadJob.created_at.desc()).limit(limit)
    if facility_id is not None:
        stmt = stmt.where(UploadJob.facility_id == facility_id)
    if user_id is not None:
        stmt = stmt.where(UploadJob.user_id == user_id)
    return list(db.session.scalars(stmt))


def get_job(job_id: int, kind: str, *, facility_id: int | None = None, user_id: int | None = None) -> UploadJob:
    """The upload, if the caller may see it (their facility's, or their own)."""
    job = db.session.get(UploadJob, job_id)
    if job is None or job.kind != kind or (facility_id is not None and job.facility_id != facility_id) \
            or (user_id is not None and job.user_id != user_id):
        raise NotFound(_("No such upload."))
    return job


def error_rows(job: UploadJob, limit: int | None = None) -> list[UploadRow]:
    stmt = select(UploadRow).where(UploadRow.job_id == job.id, UploadRow.status == ROW_ERROR) \
        .order_by(UploadRow.row_number)
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def error_csv(job: UploadJob) -> str:
    """The bad rows as a CSV: row number and reason first, then the row as uploaded (fix and re-upload)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["row", "reason", *job.columns])
    for row in error_rows(job):
        writer.writerow([row.row_number, row.reason, *(row.data.get(c, "") for c in job.columns)])
    return out.getvalue()


def stalled(job: UploadJob, now: dt.datetime, after_seconds: int = 120) -> bool:
    """Rows still pending well after the upload: its jobs were lost (offer to resume)."""
    created = job.created_at if job.created_at.tzinfo else job.created_at.replace(tzinfo=dt.timezone.utc)
    return job.finished_at is None and (now - created).total_seconds() > after_seconds


def active_programs_for(facility_id: int) -> list[Program]:
    return list(db.session.scalars(select(Program).join(FacilityProgram, FacilityProgram.program_id == Program.id)
                                   .where(FacilityProgram.facility_id == facility_id, FacilityProgram.active)
                                   .order_by(Program.name)))
