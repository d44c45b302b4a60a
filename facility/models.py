"""Facility-side records: vaccinators and the recipient queue."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import BigId, Enrolment, JSONType, TZDateTime, utcnow


class Vaccinator(db.Model):
    """A vaccinator working at a facility (not necessarily a user who signs in)."""

    __tablename__ = "vaccinators"
    __table_args__ = (db.UniqueConstraint("facility_id", "licence_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(db.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    licence_number: Mapped[str] = mapped_column(String(100))
    program_ids: Mapped[list] = mapped_column(JSONType, default=list)  # programs certified for
    training_certificate: Mapped[str] = mapped_column(Text, default="")  # reference or file name
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class QueueEntry(db.Model):
    """A verified beneficiary waiting at a facility for a dose (waiting → vaccinated | left)."""

    __tablename__ = "queue_entries"
    __table_args__ = (
        db.Index("ix_queue_entries_facility_status", "facility_id", "status", "verified_at"),
        db.Index("uq_queue_entries_waiting", "facility_id", "enrolment_id", unique=True,
                 postgresql_where=db.text("status = 'waiting'"), sqlite_where=db.text("status = 'waiting'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    facility_id: Mapped[int] = mapped_column(db.ForeignKey("facilities.id", ondelete="CASCADE"))
    enrolment_id: Mapped[int] = mapped_column(db.ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    dose: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    verified_by: Mapped[int | None] = mapped_column(db.ForeignKey("users.id"))
    verified_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    certificate_code: Mapped[str] = mapped_column(String(100), default="")  # preEnrollmentCode certified

    enrolment: Mapped[Enrolment] = relationship(lazy="joined")


# --- Administration (facility/admin_*.py) --------------------------------------------------

class ProgramAdmin(db.Model):
    """Which programs a program administrator manages (a user with the program_admin role)."""

    __tablename__ = "program_admins"

    user_id: Mapped[int] = mapped_column(db.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    program_id: Mapped[int] = mapped_column(db.ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)


class FacilityProfile(db.Model):
    """The columns of DIVOC's facilities.csv that the facilities table has no place for."""

    __tablename__ = "facility_profiles"

    facility_id: Mapped[int] = mapped_column(db.ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True)
    facility_type: Mapped[str] = mapped_column(String(60), default="")  # DIVOC "type", e.g. Fixed location
    operating_start: Mapped[dt.time | None] = mapped_column(Time)
    operating_end: Mapped[dt.time | None] = mapped_column(Time)
    website_url: Mapped[str] = mapped_column(String(300), default="")


#: Upload kinds: DIVOC's CSV templates, each processed row by row by workers.
UPLOAD_CERTIFICATES, UPLOAD_ENROLMENTS, UPLOAD_FACILITIES = "certificates", "enrollments", "facilities"
UPLOAD_VACCINATORS = "vaccinators"
ROW_PENDING, ROW_OK, ROW_DUPLICATE, ROW_ERROR = "pending", "ok", "duplicate", "error"


class UploadJob(db.Model):
    """One uploaded CSV file. Its rows are processed in chunks by RQ workers; progress is
    counted from the rows, so two workers finishing at once never lose an update."""

    __tablename__ = "upload_jobs"
    __table_args__ = (
        db.Index("ix_upload_jobs_facility_kind_created", "facility_id", "kind", "created_at"),
        db.Index("ix_upload_jobs_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list] = mapped_column(JSONType, default=list)  # the file's header, in order
    facility_id: Mapped[int | None] = mapped_column(db.ForeignKey("facilities.id", ondelete="CASCADE"))
    program_id: Mapped[int | None] = mapped_column(db.ForeignKey("programs.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(db.ForeignKey("users.id", ondelete="SET NULL"))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)


class UploadRow(db.Model):
    """One data row of an upload: pending until a worker takes it, then ok, duplicate or error."""

    __tablename__ = "upload_rows"
    __table_args__ = (
        db.UniqueConstraint("job_id", "row_number"),
        db.Index("ix_upload_rows_job_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(db.ForeignKey("upload_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)  # as in a spreadsheet: the header is row 1
    data: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default=ROW_PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[int | None] = mapped_column(BigId)  # certify_requests.id of an accepted row
    result: Mapped[str] = mapped_column(String(100), default="")  # certificate id, enrolment or facility code


class CertificateFact(db.Model):
    """One row per vaccination certificate with the dimensions analytics groups by, folded in
    from ``certificates`` (facility/analytics.py ``refresh``). The facility is the one named in
    the credential; the program is the enrolment's, else the vaccine's (0: none)."""

    __tablename__ = "certificate_facts"
    __table_args__ = (
        db.Index("ix_certificate_facts_facility_day", "facility_name", "day"),
        db.Index("ix_certificate_facts_issued_at", "issued_at"),
    )

    certificate_pk: Mapped[int] = mapped_column(BigId, db.ForeignKey("certificates.id", ondelete="CASCADE"),
                                                primary_key=True)
    issued_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    day: Mapped[dt.date] = mapped_column(Date)  # in CERTIFICATE_TIMEZONE
    program_id: Mapped[int] = mapped_column(Integer, default=0)
    facility_name: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str] = mapped_column(String(100), default="")
    vaccine: Mapped[str] = mapped_column(String(200), default="")
    dose: Mapped[int] = mapped_column(Integer, default=0)
    gender: Mapped[str] = mapped_column(String(20), default="")
    age_band: Mapped[str] = mapped_column(String(10), default="")


class AnalyticsDaily(db.Model):
    """Certificates per (day, program, dimension, value): the daily roll-up the country- and
    program-wide charts read, so a year of millions of certificates sums a few thousand rows."""

    __tablename__ = "analytics_daily"

    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)  # total facility district vaccine …
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    program_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class AdminEvent(db.Model):
    """Who changed what in the administration: roles, staff, vaccinators, slots, programs,
    vaccines, facility activation and rates. Append-only (a PostgreSQL trigger refuses UPDATE
    and DELETE), written by facility.audit in the same transaction as the change."""

    __tablename__ = "admin_events"
    __table_args__ = (db.Index("ix_admin_events_target", "target"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the signed-in user; None from the CLI
    actor: Mapped[str] = mapped_column(String(300))  # "Name (mobile)" or "cli", kept as it was then
    action: Mapped[str] = mapped_column(String(50), index=True)  # e.g. user.save, staff.active, vaccine.save
    target: Mapped[str] = mapped_column(String(100))  # e.g. user:12, vaccine:3, program:1
    facility_id: Mapped[int | None] = mapped_column(Integer, index=True)  # whose facility, when there is one
    details: Mapped[dict] = mapped_column(JSONType, default=dict)  # before/after of what changed
