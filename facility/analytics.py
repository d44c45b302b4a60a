"""Analytics: certificates issued per day, by facility, district, program, vaccine, dose, gender
and age band; verifications by result; side-effect reports by symptom.

Plain SQL aggregates over our own tables, always bounded by a date range on the indexed
``certificates.issued_at``. Gender, age and facility come from the signed credential (what the
certificate says), so certificates issued through the API count the same as those from the desk.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, and_, case, cast, func, literal_column, select

from core.extensions import db
from core.models import Enrolment, Facility, Program, SideEffectReport, Vaccine

from .admin_services import certificate_facility_name, certificate_program_filter

AGE_BANDS = ((0, 17, "0–17"), (18, 44, "18–44"), (45, 59, "45–59"), (60, 200, "60+"))
TOP = 15  # rows per "by …" table; the rest are summed as "other"


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


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _local_day(column, tz: str):
    if _dialect() == "postgresql":
        return cast(func.timezone(tz, column), Date)
    return func.date(column)


def _credential_text(*path):
    from certify.models import Certificate

    node = Certificate.credential
    for key in path:
        node = node[key]
    return node.as_string()


def _age_number():
    age = _credential_text("credentialSubject", "age")
    if _dialect() == "postgresql":
        return cast(func.nullif(func.regexp_replace(age, "[^0-9]", "", "g"), ""), Integer)
    return cast(func.nullif(age, ""), Integer)


def _certificates(scope: Scope, start: dt.date, end: dt.date, tz: str):
    """The WHERE clause: live-or-not vaccination certificates issued in [start, end] (local days)."""
    from certify.models import Certificate

    zone = ZoneInfo(tz)
    lo = dt.datetime.combine(start, dt.time.min, zone)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone)
    where = [Certificate.kind == "vaccination", Certificate.issued_at >= lo, Certificate.issued_at < hi]
    if scope.program_ids is not None:
        where.append(certificate_program_filter(scope.program_ids))
    if scope.facility is not None:
        where.append(certificate_facility_name() == scope.facility.name)
    return and_(*where)


def _grouped(label, where, limit: int | None = TOP) -> Series:
    from certify.models import Certificate

    rows = db.session.execute(select(label.label("label"), func.count(Certificate.id).label("n"))
                              .where(where).group_by(label).order_by(literal_column("n").desc())).all()
    out = [(str(lbl) if lbl not in (None, "") else "—", n) for lbl, n in rows]
    if limit and len(out) > limit:
        out = out[:limit] + [("other", sum(n for _, n in out[limit:]))]
    return Series(out)


def per_day(scope: Scope, start: dt.date, end: dt.date, tz: str) -> Series:
    from certify.models import Certificate

    day = _local_day(Certificate.issued_at, tz)
    counts = {str(d): n for d, n in db.session.execute(
        select(day, func.count(Certificate.id)).where(_certificates(scope, start, end, tz)).group_by(day)).all()}
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    return Series([(d, counts.get(d, 0)) for d in days])


def by_facility(scope, start, end, tz) -> Series:
    return _grouped(certificate_facility_name(), _certificates(scope, start, end, tz))


def by_district(scope, start, end, tz) -> Series:
    return _grouped(_credential_text("evidence", 0, "facility", "address", "district"),
                    _certificates(scope, start, end, tz))


def by_vaccine(scope, start, end, tz) -> Series:
    from certify.models import Certificate

    return _grouped(Certificate.vaccine, _certificates(scope, start, end, tz))


def by_dose(scope, start, end, tz) -> Series:
    from certify.models import Certificate

    series = _grouped(Certificate.dose, _certificates(scope, start, end, tz), limit=None)
    series.rows.sort(key=lambda r: int(r[0]) if r[0].isdigit() else 0)
    return series


def by_gender(scope, start, end, tz) -> Series:
    return _grouped(_credential_text("credentialSubject", "gender"), _certificates(scope, start, end, tz))


def by_age_band(scope, start, end, tz) -> Series:
    age = _age_number()
    band = case(*[(and_(age >= lo, age <= hi), label) for lo, hi, label in AGE_BANDS], else_="—")
    series = _grouped(band, _certificates(scope, start, end, tz), limit=None)
    order = {label: i for i, (_lo, _hi, label) in enumerate(AGE_BANDS)}
    series.rows.sort(key=lambda r: order.get(r[0], len(order)))
    return series


def by_program(scope, start, end, tz) -> Series:
    """Each certificate's program: its enrolment's, else its vaccine's."""
    from certify.models import Certificate

    program_id = func.coalesce(Enrolment.program_id, Vaccine.program_id)
    rows = db.session.execute(
        select(Program.name, func.count(Certificate.id).label("n")).select_from(Certificate)
        .outerjoin(Enrolment, Enrolment.code == Certificate.pre_enrollment_code)
        .outerjoin(Vaccine, func.lower(Vaccine.name) == func.lower(Certificate.vaccine))
        .outerjoin(Program, Program.id == program_id)
        .where(_certificates(scope, start, end, tz)).group_by(Program.name)
        .order_by(literal_column("n").desc())).all()
    return Series([(name or "—", n) for name, n in rows])


def verifications(start: dt.date, end: dt.date, tz: str) -> Series:
    from certify.models import VerificationEvent

    zone = ZoneInfo(tz)
    lo = dt.datetime.combine(start, dt.time.min, zone)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone)
    label = VerificationEvent.status
    rows = db.session.execute(select(label, func.count(VerificationEvent.id).label("n"))
                              .where(VerificationEvent.created_at >= lo, VerificationEvent.created_at < hi)
                              .group_by(label).order_by(literal_column("n").desc())).all()
    return Series([(s, n) for s, n in rows])


def side_effects(scope: Scope, start: dt.date, end: dt.date, tz: str) -> Series:
    """Reported symptoms, one count per symptom named in a report."""
    zone = ZoneInfo(tz)
    lo = dt.datetime.combine(start, dt.time.min, zone)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone)
    where = [SideEffectReport.created_at >= lo, SideEffectReport.created_at < hi]
    if scope.facility is not None:
        where.append(SideEffectReport.facility_id == scope.facility.id)
    if _dialect() == "postgresql":
        symptom = func.jsonb_array_elements_text(SideEffectReport.symptoms).table_valued("value").alias("symptom")
    else:
        symptom = func.json_each(SideEffectReport.symptoms).table_valued("value").alias("symptom")
    rows = db.session.execute(select(symptom.c.value, func.count().label("n")).select_from(SideEffectReport)
                              .join(symptom, literal_column("true")).where(*where)
                              .group_by(symptom.c.value).order_by(literal_column("n").desc()).limit(TOP)).all()
    return Series([(str(s), n) for s, n in rows])


CHARTS = ("per_day", "by_facility", "by_district", "by_program", "by_vaccine", "by_dose", "by_gender", "by_age_band")


def dashboard(scope: Scope, start: dt.date, end: dt.date, tz: str, *, with_verifications: bool) -> dict[str, Series]:
    out = {name: globals()[name](scope, start, end, tz) for name in CHARTS}
    out["side_effects"] = side_effects(scope, start, end, tz)
    if with_verifications:
        out["verifications"] = verifications(start, end, tz)
    return out

