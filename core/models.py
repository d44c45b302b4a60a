"""Shared models: API clients, programs, vaccines, facilities, people and their members, enrolments, slots and appointments."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")
TZDateTime = DateTime(timezone=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def local_zone() -> ZoneInfo:
    """The deployment's zone (CERTIFICATE_TIMEZONE), where the facilities and citizens are."""
    return ZoneInfo(current_app.config["CERTIFICATE_TIMEZONE"])


def local_now(now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()).astimezone(local_zone())


def local_today() -> dt.date:
    """Today where the facilities are, not on the server's clock (often UTC, 5½ hours behind India)."""
    return local_now().date()


def as_aware(value: dt.datetime) -> dt.datetime:
    """A stored time as UTC-aware (SQLite hands back naive datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def iso_utc(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a Z; naive values (SQLite drops the zone) are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class ApiClient(db.Model):
    """A source system calling the API with OAuth2 client credentials."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(128))
    roles: Mapped[str] = mapped_column(String(200))  # space separated
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, server_default=func.now())

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())


class Program(db.Model):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[dt.date | None]
    end_date: Mapped[dt.date | None]
    active: Mapped[bool] = mapped_column(default=True)
    logo: Mapped[str] = mapped_column(Text, default="")  # a data: URL or a static path
    #: Eligibility: age in whole years on the day of registration (None: no bound).
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    #: The comorbidities a registrant may declare; with ``comorbidity_required`` at least one must be.
    comorbidities: Mapped[list] = mapped_column(JSONType, default=list)
    comorbidity_required: Mapped[bool] = mapped_column(default=False)
    #: Symptoms a citizen may report after vaccination (the feedback module's list).
    side_effects: Mapped[list] = mapped_column(JSONType, default=list)


class Vaccine(db.Model):
    """A vaccine and its ICD-11 mapping (the seed's VACCINE_ICD + ICD tables)."""

    __tablename__ = "vaccines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    icd11_code: Mapped[str] = mapped_column(String(20))
    icd11_term: Mapped[str] = mapped_column(String(200))
    doses: Mapped[int] = mapped_column(default=2)
    program_id: Mapped[int | None] = mapped_column(db.ForeignKey("programs.id"), index=True)
    administration: Mapped[str] = mapped_column(String(40), default="intramuscular")
    interval_days: Mapped[int] = mapped_column(default=28)  # minimum days between doses
    validity_days: Mapped[int | None] = mapped_column(Integer)  # certificate validity after the last dose
    denied_batches: Mapped[list] = mapped_column(JSONType, default=list)  # batch numbers refused at the desk
    price: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)


class Facility(db.Model):
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[dict] = mapped_column(JSONType, default=dict)
    district: Mapped[str] = mapped_column(String(100), default="", index=True)
    state: Mapped[str] = mapped_column(String(100), default="")
    pincode: Mapped[str] = mapped_column(String(20), default="", index=True)
    category: Mapped[str] = mapped_column(String(40), default="government")  # government | private
    contact_mobile: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)


class FacilityProgram(db.Model):
    """A facility's activation in a program and its slot configuration.

    Appointment slots run from ``appointment_start`` to ``appointment_end`` in steps of
    ``slot_minutes``, each taking ``slot_capacity`` bookings; walk-ins are taken on
    ``walkin_days`` (0 = Monday) between ``walkin_start`` and ``walkin_end``.
    """

    __tablename__ = "facility_programs"
    __table_args__ = (db.UniqueConstraint("facility_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(db.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    program_id: Mapped[int] = mapped_column(db.ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    daily_rate: Mapped[int] = mapped_column(default=100)  # planned vaccinations per day
    appointment_start: Mapped[dt.time] = mapped_column(Time, default=dt.time(9, 0))
    appointment_end: Mapped[dt.time] = mapped_column(Time, default=dt.time(17, 0))
    slot_minutes: Mapped[int] = mapped_column(default=60)
    slot_capacity: Mapped[int] = mapped_column(default=10)
    walkin_days: Mapped[list] = mapped_column(JSONType, default=lambda: [0, 1, 2, 3, 4, 5])
    walkin_start: Mapped[dt.time | None] = mapped_column(Time, default=dt.time(9, 0))
    walkin_end: Mapped[dt.time | None] = mapped_column(Time, default=dt.time(17, 0))
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    facility: Mapped[Facility] = relationship(lazy="joined")


class User(db.Model):
    """A person who signs in with a mobile OTP: a citizen, facility staff or an administrator.

    Roles are space separated: system_admin program_admin facility_admin facility_staff
    vaccinator certificate_printer. A citizen has no role.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[str] = mapped_column(String(200), default="")
    facility_id: Mapped[int | None] = mapped_column(db.ForeignKey("facilities.id"), index=True)
    employee_id: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(10), default="")
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)

    # Flask-Login
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set & set(roles))


class OtpChallenge(db.Model):
    """One OTP sent to a mobile number: hashed, expiring, single-use, with a try limit."""

    __tablename__ = "otp_challenges"
    __table_args__ = (db.Index("ix_otp_challenges_mobile_created", "mobile", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mobile: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))  # portal | facility
    code_hash: Mapped[str] = mapped_column(String(80))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    client_address: Mapped[str] = mapped_column(String(64), default="")


class OutboxMessage(db.Model):
    """One notification (SMS or email) and its delivery log.

    The row is written in the transaction that caused it (issuance, a booking), so a message
    exists exactly when its cause does; ``idempotency_key`` (event, recipient, subject such as
    a certificate) is unique, so the same cause never makes two messages. A worker claims the
    row (queued → sending) in its own commit before it calls the provider, and records the
    outcome afterwards: a worker killed mid-send leaves the row in ``sending`` and the sweep
    reconciles it with the provider instead of sending again.

    status: queued | sending | sent | delivered | failed | undelivered
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        db.Index("ix_outbox_messages_to_created", "to", "created_at"),
        db.Index("ix_outbox_messages_reference_created", "reference", "created_at"),
        db.Index("ix_outbox_messages_provider_id", "provider_id"),
        db.Index("ix_outbox_messages_created_at", "created_at"),
        db.Index("ix_outbox_messages_pending", "status", "next_attempt_at",
                 postgresql_where=text("status IN ('queued', 'sending')"),
                 sqlite_where=text("status IN ('queued', 'sending')")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), default="sms")  # sms | email
    to: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40))
    template: Mapped[str] = mapped_column(String(100), default="")  # e.g. sms/certificate_issued.txt
    language: Mapped[str] = mapped_column(String(10), default="en")
    subject: Mapped[str] = mapped_column(String(300), default="")  # email only
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    provider_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    reference: Mapped[str | None] = mapped_column(String(100))  # the enrolment code, for search
    program_id: Mapped[int | None] = mapped_column(db.ForeignKey("programs.id", ondelete="SET NULL"))
    sender: Mapped[str] = mapped_column(String(40), default="")  # a program's SMS sender id
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)  # quiet hours, backoff
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    status_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)  # the last status change


class NotificationSettings(db.Model):
    """Per-program notification settings: which events notify, the SMS sender id, quiet hours.

    ``events`` is a list of event names, or None for every event. Quiet hours are local times
    (NOTIFY_TIMEZONE); a message created inside them waits until they end. When start > end the
    window spans midnight (e.g. 21:00–08:00).
    """

    __tablename__ = "notification_settings"

    program_id: Mapped[int] = mapped_column(db.ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True)
    events: Mapped[list | None] = mapped_column(JSONType)
    sender_id: Mapped[str] = mapped_column(String(20), default="")
    quiet_start: Mapped[dt.time | None]
    quiet_end: Mapped[dt.time | None]
    default_language: Mapped[str] = mapped_column(String(10), default="en")
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)


class Member(db.Model):
    """A person registered under a mobile number (the citizen's family, up to MEMBERS_PER_MOBILE).

    Ownership is the mobile number, so members pre-enrolled by an administrator or at a
    facility desk appear for that number at the citizen's first sign-in.
    """

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200))
    gender: Mapped[str] = mapped_column(String(20), default="")
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    id_type: Mapped[str] = mapped_column(String(40), default="")
    id_number: Mapped[str] = mapped_column(String(100), default="")
    nationality: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[dict] = mapped_column(JSONType, default=dict)  # addressLine1, district, state, pincode
    contact: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(10), default="")
    source: Mapped[str] = mapped_column(String(20), default="portal")  # portal | facility | preenrolment
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    enrolments: Mapped[list["Enrolment"]] = relationship(back_populates="member", cascade="all, delete-orphan",
                                                         order_by="Enrolment.id")


class Enrolment(db.Model):
    """A member's registration in a program; ``code`` is the preEnrollmentCode of their certificates."""

    __tablename__ = "enrolments"
    __table_args__ = (db.UniqueConstraint("member_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    member_id: Mapped[int] = mapped_column(db.ForeignKey("members.id", ondelete="CASCADE"), index=True)
    program_id: Mapped[int] = mapped_column(db.ForeignKey("programs.id"), index=True)
    comorbidities: Mapped[list] = mapped_column(JSONType, default=list)
    facility_id: Mapped[int | None] = mapped_column(db.ForeignKey("facilities.id"), index=True)  # enrolled at
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)

    member: Mapped[Member] = relationship(back_populates="enrolments")
    program: Mapped[Program] = relationship(lazy="joined")


class Slot(db.Model):
    """One bookable appointment slot; ``booked`` only rises through a guarded UPDATE.

    Slots are materialised from the facility's FacilityProgram configuration when first
    shown; the check constraint is the last line against overbooking.
    """

    __tablename__ = "slots"
    __table_args__ = (
        db.UniqueConstraint("facility_id", "program_id", "day", "start_time"),
        db.CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        db.Index("ix_slots_program_day", "program_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    facility_id: Mapped[int] = mapped_column(db.ForeignKey("facilities.id", ondelete="CASCADE"))
    program_id: Mapped[int] = mapped_column(db.ForeignKey("programs.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)

    facility: Mapped[Facility] = relationship(lazy="joined")


class Appointment(db.Model):
    """A member's booking of a slot for one dose; one live booking per (enrolment, dose)."""

    __tablename__ = "appointments"
    __table_args__ = (
        db.Index("uq_appointments_live_dose", "enrolment_id", "dose", unique=True,
                 postgresql_where=db.text("status = 'booked'"), sqlite_where=db.text("status = 'booked'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(db.ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[int] = mapped_column(BigId, db.ForeignKey("slots.id"), index=True)
    dose: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="booked")  # booked | cancelled | completed
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    enrolment: Mapped[Enrolment] = relationship(lazy="joined")
    slot: Mapped[Slot] = relationship(lazy="joined")


class SideEffectReport(db.Model):
    """Symptoms a citizen reported for a member, linked to the facility that vaccinated them."""

    __tablename__ = "side_effect_reports"
    __table_args__ = (db.Index("ix_side_effect_reports_facility_created", "facility_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(db.ForeignKey("members.id", ondelete="CASCADE"), index=True)
    enrolment_code: Mapped[str] = mapped_column(String(100), default="")
    certificate_id: Mapped[str] = mapped_column(String(100), default="")
    facility_id: Mapped[int | None] = mapped_column(db.ForeignKey("facilities.id"))
    symptoms: Mapped[list] = mapped_column(JSONType, default=list)
    reported_by: Mapped[str] = mapped_column(String(20))  # the signed-in mobile
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
