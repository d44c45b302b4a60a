"""Analytics: certificates issued per day, by facility, district, program, vaccine, dose, gender
and age band; verifications by result; side-effect reports by symptom.

Charts never scan the certificates. ``refresh`` folds new certificates into
``certificate_facts`` (one narrow row each: the day in CERTIFICATE_TIMEZONE, the facility and
district named in the credential, the program of the enrolment or else of the vaccine, dose,
gender, age band) and adds them to the ``analytics_daily`` roll-up (certificates per day,
program, dimension and value). Country- and program-wide charts sum the roll-up; a facility's
charts read its own facts through the (facility_name, day) index. Both stay small however many
certificates there are (``bench/analytics.py`` times them at a million).

Certificates count on the day they were issued, whatever happened to them later (a corrected
certificate counts again: it was issued again).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from certify import downloads as certify_downloads
from core.extensions import db
from core.models import Enrolment, Facility, Program, SideEffectReport, Vaccine

from .models import AnalyticsDaily, CertificateFact

AGE_BANDS = ((0, 17, "0–17"), (18, 44, "18–44"), (45, 59, "45–59"), (60, 200, "60+"))
TOP = 15  # rows per "by …" table; the rest are summed as "other"
LATE = dt.timedelta(minutes=15)  # a signing transaction committing this late is still folded
FOLD_BATCH = 5000
#: Dimensions with many values (a row per facility per day) are also rolled up per month, so a
#: year sums twelve months of rows plus the days of the partial months at either end.
MONTHLY = ("facility", "district")
DIMENSIONS = {  # roll-up dimension → the fact column it groups by
    "total": None, "facility": CertificateFact.facility_name, "district": CertificateFact.district,
    "vaccine": CertificateFact.vaccine, "dose": CertificateFact.dose, "gender": CertificateFact.gender,
    "age_band": CertificateFact.age_band,
}


@dataclass(frozen=True)
class Scope:
    """What a viewer may count: all, some programs, or one facility (by its name on certificates)."""

    program_ids: Sequence[int] | None = None  # None: every program
    facility: Facility | None = None


@dataclass
class Series:
    rows: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.rows)

    @property
    def peak(self) -> int:
        return max((n for _, n in self.rows), default=0)

    def bars(self) -> list[tuple[str, int, int]]:
        """(label, count, width in % of the largest)."""
        peak = self.peak or 1
        return [(label, n, max(1, round(100 * n / peak)) if n else 0) for label, n in self.rows]


# --- Folding certificates into facts and the daily roll-up ---------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert(table):
    return (postgresql.insert if _dialect() == "postgresql" else sqlite.insert)(table)


def _credential_text(*path, length: int):
    from certify.models import Certificate

    node = Certificate.credential
    for key in path:
        node = node[key]
    return func.substr(func.coalesce(node.as_string(), ""), 1, length)


def _local_day(column, tz: str):
    if _dialect() == "postgresql":
        return cast(func.timezone(tz, column), Date)
    return func.date(column)


def _age_band():
    age = _credential_text("credentialSubject", "age", length=10)
    if _dialect() == "postgresql":
        number = cast(func.nullif(func.regexp_replace(age, "[^0-9]", "", "g"), ""), Integer)
    else:
        number = cast(func.nullif(age, ""), Integer)
    return case(*[(and_(number >= lo, number <= hi), label) for lo, hi, label in AGE_BANDS], else_="")


def _try_lock() -> bool:
    """One fold at a time (PostgreSQL advisory lock; SQLite writes are serial anyway)."""
    if _dialect() != "postgresql":
        return True
    return bool(db.session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext('analytics:refresh'))")))


def refresh(tz: str, limit: int | None = None) -> int:
    """Fold up to ``limit`` certificates not yet counted; returns how many were folded.

    New certificates are those past the newest fact's id, plus an anti-join over those issued
    in the LATE window before the newest fact (a signing transaction that committed after a
    later one); the facts' primary key makes a certificate count once. The caller commits.
    """
    from certify.models import Certificate

    limit = limit or FOLD_BATCH
    if not _try_lock():
        return 0
    last_pk, since = db.session.execute(select(func.max(CertificateFact.certificate_pk),
                                               func.max(CertificateFact.issued_at))).one()
    new = (select(Certificate.id, Certificate.issued_at, _local_day(Certificate.issued_at, tz),
                  func.coalesce(Enrolment.program_id, Vaccine.program_id, 0),
                  _credential_text("evidence", 0, "facility", "name", length=200),
                  _credential_text("evidence", 0, "facility", "address", "district", length=100),
                  func.substr(Certificate.vaccine, 1, 200), Certificate.dose,
                  _credential_text("credentialSubject", "gender", length=20), _age_band())
           .outerjoin(Enrolment, Enrolment.code == Certificate.pre_enrollment_code)
           .outerjoin(Vaccine, func.lower(Vaccine.name) == func.lower(Certificate.vaccine))
           .where(Certificate.kind == "vaccination",
                  ~exists().where(CertificateFact.certificate_pk == Certificate.id))
           .order_by(Certificate.id).limit(limit))
    if last_pk is not None:  # past the newest fact, plus the recent window for late commits
        new = new.where(or_(Certificate.id > last_pk, Certificate.issued_at >= since - LATE))
    columns = ["certificate_pk", "issued_at", "day", "program_id", "facility_name", "district", "vaccine", "dose",
               "gender", "age_band"]
    stmt = _insert(CertificateFact.__table__).from_select(columns, new).on_conflict_do_nothing() \
        .returning(CertificateFact.certificate_pk)
    ids = list(db.session.scalars(stmt))
    if ids:
        _roll_up(ids)
    return len(ids)


def _roll_up(ids: list[int]) -> None:
    rows = []
    for dimension, column in DIMENSIONS.items():
        keys = [CertificateFact.day, CertificateFact.program_id] + ([column] if column is not None else [])
        months: dict[tuple, int] = {}
        for day, program_id, *val, n in db.session.execute(
                select(*keys, func.count()).where(CertificateFact.certificate_pk.in_(ids)).group_by(*keys)):
            val = str(val[0]) if val else ""
            rows.append({"dimension": dimension, "day": day, "program_id": program_id, "value": val, "n": n})
            if dimension in MONTHLY:
                key = (day.replace(day=1), program_id, val)
                months[key] = months.get(key, 0) + n
        rows += [{"dimension": f"{dimension}:month", "day": month, "program_id": program_id, "value": val, "n": n}
                 for (month, program_id, val), n in months.items()]
    table = AnalyticsDaily.__table__
    stmt = _insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=["dimension", "day", "program_id", "value"],
                                      set_={"n": table.c.n + stmt.excluded.n})
    db.session.execute(stmt, rows)


# --- Charts -------------------------------------------------------------------------------------

def _bounds(start: dt.date, end: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(tz)
    return dt.datetime.combine(start, dt.time.min, zone), dt.datetime.combine(end + dt.timedelta(days=1),
                                                                             dt.time.min, zone)


def _count(dimension: str, scope: Scope, start: dt.date, end: dt.date, by: str = "value"):
    """(group, count) rows from the roll-up, or from the facility's facts for a facility scope.

    ``by`` is "value" (the dimension's values), "day" or "program" (both over all certificates).
    """
    if scope.facility is not None:
        group = {"day": CertificateFact.day, "program": CertificateFact.program_id}.get(by) or DIMENSIONS[dimension]
        stmt = (select(group, func.count()).where(CertificateFact.facility_name == scope.facility.name,
                                                  CertificateFact.day.between(start, end)).group_by(group))
        if scope.program_ids is not None:
            stmt = stmt.where(CertificateFact.program_id.in_(scope.program_ids))
        return db.session.execute(stmt).all()
    group = {"day": AnalyticsDaily.day, "program": AnalyticsDaily.program_id}.get(by, AnalyticsDaily.value)
    dimension = dimension if by == "value" else "total"
    parts = [(dimension, lo, hi) for lo, hi in [(start, end)]]
    if dimension in MONTHLY:
        days, months = _month_split(start, end)
        parts = [(dimension, lo, hi) for lo, hi in days] + ([(f"{dimension}:month", *months)] if months else [])
    totals: dict = {}
    for name, lo, hi in parts:
        stmt = (select(group, func.sum(AnalyticsDaily.n))
                .where(AnalyticsDaily.dimension == name, AnalyticsDaily.day.between(lo, hi)).group_by(group))
        if scope.program_ids is not None:
            stmt = stmt.where(AnalyticsDaily.program_id.in_(scope.program_ids))
        for key, n in db.session.execute(stmt):
            totals[key] = totals.get(key, 0) + int(n)
    return list(totals.items())


def _month_split(start: dt.date, end: dt.date) -> tuple[list[tuple[dt.date, dt.date]], tuple[dt.date, dt.date] | None]:
    """[start, end] as the days before the first whole month, the whole months (first days of the
    first and last), and the days after the last whole month."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end) if _next_month(end) - dt.timedelta(days=1) == end else end.replace(day=1)
    if first >= after:
        return [(start, end)], None
    days = [(start, first - dt.timedelta(days=1))] if start < first else []
    if after <= end:
        days.append((after, end))
    return days, (first, _previous_month(after))


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _previous_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _series(rows, limit: int | None = TOP, order: Sequence[str] | None = None) -> Series:
    out = [(str(label) if label not in (None, "") else "—", int(n)) for label, n in rows]
    if order is not None:
        rank = {label: i for i, label in enumerate(order)}
        out.sort(key=lambda r: (rank.get(r[0], len(rank)), r[0]))
    else:
        out.sort(key=lambda r: (-r[1], r[0]))
    if limit and len(out) > limit:
        out = out[:limit] + [("other", sum(n for _, n in out[limit:]))]
    return Series(out)


def per_day(scope: Scope, start: dt.date, end: dt.date, tz: str) -> Series:
    counts = {d.isoformat() if isinstance(d, dt.date) else str(d): int(n)
              for d, n in _count("total", scope, start, end, by="day")}
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    return Series([(d, counts.get(d, 0)) for d in days])


def by_facility(scope, start, end, tz) -> Series:
    return _series(_count("facility", scope, start, end))


def by_district(scope, start, end, tz) -> Series:
    return _series(_count("district", scope, start, end))


def by_vaccine(scope, start, end, tz) -> Series:
    return _series(_count("vaccine", scope, start, end))


def by_dose(scope, start, end, tz) -> Series:
    rows = _count("dose", scope, start, end)
    return _series(rows, limit=None, order=[str(d) for d in sorted(int(v) for v, _ in rows if str(v).isdigit())])


def by_gender(scope, start, end, tz) -> Series:
    return _series(_count("gender", scope, start, end))


def by_age_band(scope, start, end, tz) -> Series:
    return _series(_count("age_band", scope, start, end), limit=None, order=[label for *_, label in AGE_BANDS])


def by_program(scope, start, end, tz) -> Series:
    names = dict(db.session.execute(select(Program.id, Program.name)).all())
    return _series([(names.get(pid, ""), n) for pid, n in _count("total", scope, start, end, by="program")])


def verifications(start: dt.date, end: dt.date, tz: str) -> Series:
    from certify.models import VerificationEvent

    lo, hi = _bounds(start, end, tz)
    return _series(db.session.execute(
        select(VerificationEvent.status, func.count()).where(VerificationEvent.created_at >= lo,
                                                             VerificationEvent.created_at < hi)
        .group_by(VerificationEvent.status)).all())


CHANNEL_LABELS = {"api": _l("Source systems (API)"), "portal": _l("Citizen portal"), "sms_link": _l("SMS link"),
                  "facility": _l("Facility desk")}
KIND_LABELS = {"pdf": _l("PDF"), "qr": _l("QR code"), "eu": _l("EU certificate"), "shc": _l("SMART Health Card")}


def downloads(start: dt.date, end: dt.date) -> Series:
    """Certificates handed out (PDF, QR, EU and SMART Health Card exports), by channel and kind."""
    return _series([(f"{CHANNEL_LABELS.get(c, c)} · {KIND_LABELS.get(k, k)}", n)
                    for c, k, n in certify_downloads.totals(start, end)], limit=None)


def side_effects(scope: Scope, start: dt.date, end: dt.date, tz: str) -> Series:
    """Reported symptoms, one count per symptom named in a report."""
    lo, hi = _bounds(start, end, tz)
    where = [SideEffectReport.created_at >= lo, SideEffectReport.created_at < hi]
    if scope.facility is not None:
        where.append(SideEffectReport.facility_id == scope.facility.id)
    each = func.jsonb_array_elements_text if _dialect() == "postgresql" else func.json_each
    symptom = each(SideEffectReport.symptoms).table_valued("value").alias("symptom")
    return _series(db.session.execute(
        select(symptom.c.value, func.count()).select_from(SideEffectReport).join(symptom, literal_column("true"))
        .where(*where).group_by(symptom.c.value)).all())


CHARTS = ("per_day", "by_facility", "by_district", "by_program", "by_vaccine", "by_dose", "by_gender", "by_age_band")


def dashboard(scope: Scope, start: dt.date, end: dt.date, tz: str, *, with_verifications: bool) -> dict[str, Series]:
    out = {name: globals()[name](scope, start, end, tz) for name in CHARTS}
    out["side_effects"] = side_effects(scope, start, end, tz)
    if with_verifications:
        out["verifications"] = verifications(start, end, tz)
        out["downloads"] = downloads(start, end)
    return out
