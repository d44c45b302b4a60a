"""Facility-side records: vaccinators and the recipient queue."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
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
