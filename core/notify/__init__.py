"""The notification service: one entry point for every SMS and email the system sends.

    notify("certificate_issued", to_mobile="9876543210", language="hi",
           context={...}, key=certificate_id, program_id=program.id, reference=code)

``notify`` renders ``templates/sms/<event>.txt`` (and ``templates/email/<event>.txt`` for an
email address) in the recipient's language through Babel, and writes one row per recipient
and channel to the delivery log (``OutboxMessage``) in the caller's transaction. The row's
idempotency key is (event, channel, recipient, ``key``): the same cause never makes two
messages. Delivery runs on the ``notify`` queue after the commit:

1. the worker claims the row (``queued`` → ``sending``, a conditional UPDATE) and commits;
2. it calls the backend (twilio, SMTP, or the outbox for development and tests);
3. it records ``sent`` with the provider id; a transient error puts the row back to
   ``queued`` with exponential backoff (NOTIFY_RETRY_BASE_DELAY · 2^(attempt-1), capped by
   NOTIFY_RETRY_MAX_DELAY, at most NOTIFY_MAX_ATTEMPTS); a permanent one marks it ``failed``.

A worker killed between 1 and 3 leaves the row in ``sending``. The sweep (``sweep``, run by
every worker every SWEEP_INTERVAL s) asks the provider whether the message went out before
trying again, so a message is never sent twice; it also enqueues retries that are due,
messages held back by quiet hours, and messages whose queue entry was lost.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from flask import current_app, g
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import FieldError, NotFound, ValidationError
from ..extensions import db
from ..jobs import job
from ..models import (
    Facility,
    NotificationSettings,
    OutboxMessage,
    Program,
    User,
    utcnow,
)
from . import backends, segments

logger = logging.getLogger(__name__)

QUEUED, SENDING, SENT, DELIVERED, FAILED, UNDELIVERED = (
    "queued", "sending", "sent", "delivered", "failed", "undelivered")
STATUSES = (QUEUED, SENDING, SENT, DELIVERED, FAILED, UNDELIVERED)
BATCH = 100  # message ids per delivery job


@dataclass(frozen=True)
class Event:
    name: str
    label: Any  # lazy string
    sample: dict[str, Any]  # the admin preview's context
    quiet_hours: bool = True  # False: never held back (a sign-in code is wanted now)


_SAMPLE_LINK = "https://divoc.example/certificate/api/certificatePDF/987456126?dose=1&lang=en"
EVENTS: dict[str, Event] = {e.name: e for e in (
    Event("otp", _l("Sign-in code"), {"code": "123456", "minutes": 5}, quiet_hours=False),
    Event("enrolment_registered", _l("Registered for a program"),
          {"name": "Asha Devi", "program": "COVID-19 Vaccination", "code": "987456126012"}),
    Event("certificate_issued", _l("Certificate issued"),
          {"name": "Asha Devi", "dose": 1, "total_doses": 2, "kind": "vaccination", "vaccine": "Covishield",
           "code": "987456126", "link": _SAMPLE_LINK}),
    Event("certificate_updated", _l("Certificate updated"),
          {"name": "Asha Devi", "dose": 1, "kind": "vaccination", "code": "987456126", "link": _SAMPLE_LINK}),
    Event("certificate_revoked", _l("Certificate revoked"),
          {"name": "Asha Devi", "dose": 1, "kind": "vaccination", "code": "987456126",
           "reason": "issued in error"}),
    Event("appointment_booked", _l("Appointment booked"),
          {"name": "Asha Devi", "facility": "PHC Gothatuwa", "date": dt.date(2026, 12, 3), "time": "10:00-11:00",
           "dose": 1, "code": "987456126"}),
    Event("appointment_rescheduled", _l("Appointment rescheduled"),
          {"name": "Asha Devi", "facility": "PHC Gothatuwa", "date": dt.date(2026, 12, 5), "time": "14:00-15:00",
           "dose": 1, "code": "987456126"}),
    Event("appointment_cancelled", _l("Appointment cancelled"),
          {"name": "Asha Devi", "facility": "PHC Gothatuwa", "date": dt.date(2026, 12, 3), "time": "10:00-11:00",
           "dose": 1, "code": "987456126"}),
    Event("side_effect_reported", _l("Side effect reported (to the facility)"),
          {"facility": "PHC Gothatuwa", "code": "987456126", "symptoms": ["Fever", "Headache"],
           "reported_on": dt.date(2026, 12, 4)}),
    Event("facility_notice", _l("Facility notice"),
          {"facility": "PHC Gothatuwa", "program": "COVID-19", "message": "Vaccine stock arrives on Monday."}),
)}


# --- Configuration per program ------------------------------------------------------------

def settings_for(program_id: int | None) -> NotificationSettings | None:
    return db.session.get(NotificationSettings, program_id) if program_id is not None else None


_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$|^\+[1-9][0-9]{7,14}$")


def save_settings(program_id: int, *, events: Iterable[str] | None, sender_id: str,
                  quiet_start: dt.time | None, quiet_end: dt.time | None,
                  default_language: str) -> NotificationSettings:
    """Validate and store a program's notification settings (``events=None``: every event)."""
    if db.session.get(Program, program_id) is None:
        raise NotFound("no such program")
    errors = []
    chosen = None if events is None else sorted(set(events))
    if chosen is not None and set(chosen) - set(EVENTS):
        errors.append(FieldError("events", f"unknown events: {', '.join(sorted(set(chosen) - set(EVENTS)))}"))
    sender_id = (sender_id or "").strip()
    if sender_id and not _SENDER.match(sender_id):
        errors.append(FieldError("sender_id", "use 1–11 letters, digits or spaces with at least one letter, "
                                              "or a number in +E.164 form"))
    if (quiet_start is None) != (quiet_end is None) or (quiet_start is not None and quiet_start == quiet_end):
        errors.append(FieldError("quiet_start", "give both a start and a different end, or neither"))
    if default_language not in languages():
        errors.append(FieldError("default_language", f"must be one of {', '.join(languages())}"))
    if errors:
        raise ValidationError("invalid notification settings", errors)
    row = settings_for(program_id) or NotificationSettings(program_id=program_id)
    row.events, row.sender_id, row.quiet_start, row.quiet_end = chosen, sender_id, quiet_start, quiet_end
    row.default_language = default_language
    db.session.add(row)
    db.session.flush()
    return row


def languages() -> list[str]:
    """Languages a message can be written in: those a certificate can be (Babel falls back to English)."""
    langs = [x.strip() for x in current_app.config["CERTIFICATE_LANGUAGES"].split(",") if x.strip()]
    return langs if "en" in langs else ["en", *langs]


def _timezone() -> ZoneInfo:
    cfg = current_app.config
    return ZoneInfo(cfg.get("NOTIFY_TIMEZONE") or cfg["CERTIFICATE_TIMEZONE"])


def quiet_until(settings: NotificationSettings | None, now: dt.datetime) -> dt.datetime | None:
    """When ``now`` falls inside the program's quiet hours: the moment they end (UTC), else None."""
    if settings is None or settings.quiet_start is None or settings.quiet_end is None:
        return None
    start, end = settings.quiet_start, settings.quiet_end
    local = now.astimezone(_timezone())
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(dt.timezone.utc)


# --- Rendering ----------------------------------------------------------------------------

def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def render(event: str, channel: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(template name, subject, body) of one message, in ``language``."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    name = f"{'sms' if channel == 'sms' else 'email'}/{event}.txt"
    env = current_app.jinja_env
    template = env.get_template(name)
    with force_locale(language):
        if channel == "sms":
            return name, "", _tidy(template.render(**context))
        ctx = template.new_context(dict(context))
        subject = _tidy("".join(template.blocks["subject"](ctx))).replace("\n", " ")
        body = _tidy("".join(template.blocks["body"](ctx)))
        return name, subject, body


@dataclass(frozen=True)
class Preview:
    event: str
    language: str
    body: str
    subject: str
    email_body: str
    count: segments.SegmentCount


def preview(event: str, language: str, context: dict[str, Any] | None = None) -> Preview:
    """The event's SMS and email in ``language`` with sample data, and what the SMS costs."""
    ctx = dict(context or EVENTS[event].sample)
    if context is None and "link" in ctx:
        ctx["link"] = ctx["link"].replace("lang=en", f"lang={language}")
    _, _, body = render(event, "sms", language, ctx)
    _, subject, email_body = render(event, "email", language, ctx)
    return Preview(event, language, body, subject, email_body, segments.count(body))


# --- Creating messages --------------------------------------------------------------------

def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _schedule(message_id: int) -> None:
    """Deliver after the commit; the messages of one transaction share a job (BATCH ids each)."""
    pending = g.get("_pending_jobs")
    batch = g.get("_notify_batch")
    if batch is None or batch[0] is not pending or pending is None or len(batch[1]) >= BATCH:
        ids: list[int] = []
        deliver.after_commit(ids)  # the list is filled until the commit sends the job
        batch = (g.get("_pending_jobs"), ids)
        g._notify_batch = batch
    batch[1].append(message_id)


def _row(*, channel: str, to: str, event: str, template: str, language: str, subject: str, body: str,
         key: str, reference: str | None, program_id: int | None, sender: str,
         due: dt.datetime | None) -> dict[str, Any]:
    """The values of one new delivery-log row; ``due`` (quiet hours) holds it back until then."""
    now = utcnow()
    return {"channel": channel, "to": to, "event": event, "template": template, "language": language,
            "subject": subject, "body": body, "status": QUEUED, "idempotency_key": key,
            "reference": reference, "program_id": program_id, "sender": sender, "attempts": 0,
            "created_at": now, "status_at": now, "next_attempt_at": due or now,
            "enqueued_at": None if due else now}


def _insert_rows(rows: list[dict[str, Any]]) -> None:
    """One INSERT for all rows; a key already in the log is skipped. New rows that are due now
    are delivered after the commit."""
    if not rows:
        return
    stmt = (_insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OutboxMessage.id, OutboxMessage.enqueued_at))
    for message_id, enqueued_at in db.session.execute(stmt, rows).all():
        if enqueued_at is not None:
            _schedule(message_id)


def _insert_one(row: dict[str, Any]) -> OutboxMessage:
    _insert_rows([row])
    return _by_keys([row["idempotency_key"]])[0]


def _by_keys(keys: list[str]) -> list[OutboxMessage]:
    if not keys:
        return []
    found = {m.idempotency_key: m for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(keys)))}
    return [found[k] for k in keys]


def message_key(event: str, channel: str, to: str, key: str) -> str:
    return f"{event}:{channel}:{to}:{key}"[:300]


def normalise_language(language: str | None) -> str:
    lang = (language or "").replace("-", "_").split("_")[0].lower()
    return lang if lang in languages() else current_app.config.get("NOTIFY_DEFAULT_LANGUAGE", "en")


def _prepare(event: str, *, to_mobile: str | None = None, to_email: str | None = None,
             language: str | None = None, context: dict[str, Any], key: str,
             program_id: int | None = None, reference: str | None = None) -> list[dict[str, Any]]:
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    settings = settings_for(program_id)
    if settings is not None and settings.events is not None and event not in settings.events:
        return []
    lang = normalise_language(language or (settings.default_language if settings else None))
    due = quiet_until(settings, utcnow()) if EVENTS[event].quiet_hours else None
    sender = settings.sender_id if settings else ""
    rows = []
    for channel, to in (("sms", to_mobile), ("email", to_email)):
        if not to:
            continue
        template, subject, body = render(event, channel, lang, context)
        rows.append(_row(channel=channel, to=to, event=event, template=template, language=lang,
                         subject=subject, body=body, key=message_key(event, channel, to, key),
                         reference=reference, program_id=program_id, sender=sender, due=due))
    return rows


def notify(event: str, *, to_mobile: str | None = None, to_email: str | None = None,
           language: str | None = None, context: dict[str, Any], key: str,
           program_id: int | None = None, reference: str | None = None) -> list[OutboxMessage]:
    """Write the event's SMS (to ``to_mobile``) and email (to ``to_email``) to the delivery log.

    ``key`` names what the message is about (a certificate id, an appointment id and version):
    the same (event, recipient, key) makes one message however often this is called.
    ``language`` None means the program's default. Returns the messages (new or existing);
    none when the program has switched this event off. Delivery follows the commit.
    """
    rows = _prepare(event, to_mobile=to_mobile, to_email=to_email, language=language, context=context, key=key,
                    program_id=program_id, reference=reference)
    _insert_rows(rows)
    return _by_keys([r["idempotency_key"] for r in rows])


def notify_many(calls: Iterable[dict[str, Any]]) -> int:
    """Many ``notify`` calls (each a dict of its arguments, with ``event``) in one INSERT, for
    batches such as a signing job; returns how many rows were prepared."""
    rows = [row for call in calls for row in _prepare(call.pop("event"), **call)]
    _insert_rows(rows)
    return len(rows)


def notify_facility(event: str, facility_id: int, *, context: dict[str, Any], key: str,
                    program_id: int | None = None, reference: str | None = None) -> list[OutboxMessage]:
    """Notify a facility: its active facility admins (else its staff), each in their language."""
    people = list(db.session.scalars(select(User).where(User.facility_id == facility_id, User.active)
                                     .order_by(User.id)))
    admins = [u for u in people if u.has_role("facility_admin")]
    out: list[OutboxMessage] = []
    for user in admins or [u for u in people if u.role_set]:
        out += notify(event, to_mobile=user.mobile, language=user.locale or None, context=context, key=key,
                      program_id=program_id, reference=reference)
    return out


def facility_notice(*, facility_codes: Iterable[str] = (), district: str = "", message: str,
                    program_id: int | None, author: str) -> list[OutboxMessage]:
    """A program admin's notice to facilities, chosen by code or by district; each facility's
    admins get one SMS. Returns the messages written."""
    text = (message or "").strip()
    codes = [c.strip() for c in facility_codes if c and c.strip()]
    district = (district or "").strip()
    errors = []
    if not text:
        errors.append(FieldError("message", "write the notice"))
    elif len(text) > 600:
        errors.append(FieldError("message", "at most 600 characters"))
    if not codes and not district:
        errors.append(FieldError("facilities", "give facility codes or a district"))
    stmt = select(Facility).where(or_(Facility.code.in_(codes), Facility.district == district) if district
                                  else Facility.code.in_(codes))
    facilities = list(db.session.scalars(stmt.order_by(Facility.code))) if not errors else []
    unknown = sorted(set(codes) - {f.code for f in facilities})
    if not errors and unknown:
        errors.append(FieldError("facilities", f"unknown facility codes: {', '.join(unknown)}"))
    if not errors and not facilities:
        errors.append(FieldError("facilities", "no facility in this district"))
    if errors:
        raise ValidationError("the notice was not sent", errors)
    program = db.session.get(Program, program_id) if program_id is not None else None
    notice_id = uuid.uuid4().hex[:12]
    out: list[OutboxMessage] = []
    for facility in facilities:
        out += notify_facility("facility_notice", facility.id, key=f"notice-{notice_id}", program_id=program_id,
                               context={"facility": facility.name, "program": program.name if program else "",
                                        "message": text, "author": author})
    return out


def queue_raw(channel: str, to: str, body: str, event: str, language: str = "en",
              subject: str = "") -> OutboxMessage:
    """A message whose text the caller wrote (``core.sms.queue_sms``); each call is a new message."""
    row = _row(channel=channel, to=to, event=event, template="", language=language, subject=subject,
               body=body, key=message_key(event, channel, to, uuid.uuid4().hex), reference=None,
               program_id=None, sender="", due=None)
    return _insert_one(row)


def resend(message_id: int) -> OutboxMessage:
    """Send a logged message again, now (a new row, linked by its key; quiet hours do not apply)."""
    original = db.session.get(OutboxMessage, message_id)
    if original is None or original.event == "otp":  # an old sign-in code is never sent again
        raise NotFound("no such message")
    base = original.idempotency_key.split(":resend:")[0]
    row = _row(channel=original.channel, to=original.to, event=original.event, template=original.template,
               language=original.language, subject=original.subject, body=original.body,
               key=f"{base}:resend:{uuid.uuid4().hex[:12]}"[-300:], reference=original.reference,
               program_id=original.program_id, sender=original.sender, due=None)
    return _insert_one(row)


# --- Delivery -----------------------------------------------------------------------------

def backoff(attempt: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …)."""
    cfg = current_app.config
    return min(cfg["NOTIFY_RETRY_MAX_DELAY"], cfg["NOTIFY_RETRY_BASE_DELAY"] * 2 ** max(0, attempt - 1))


def _outgoing(row) -> backends.Outgoing:
    return backends.Outgoing(id=row.id, channel=row.channel, to=row.to, subject=row.subject or "",
                             body=row.body, sender=row.sender or "", idempotency_key=row.idempotency_key)


def _claim(message_id: int) -> Any:
    now = utcnow()
    t = OutboxMessage
    return db.session.execute(
        update(t).where(t.id == message_id, t.status == QUEUED,
                        or_(t.next_attempt_at.is_(None), t.next_attempt_at <= now))
        .values(status=SENDING, claimed_at=now, status_at=now, attempts=t.attempts + 1)
        .returning(t.id, t.channel, t.to, t.subject, t.body, t.sender, t.idempotency_key, t.attempts,
                   t.claimed_at)
    ).first()


def _finish(message_id: int, claimed_at: dt.datetime, **values: Any) -> None:
    """Record the outcome, unless the sweep has dealt with this claim in the meantime."""
    now = utcnow()
    values.setdefault("status_at", now)
    db.session.execute(update(OutboxMessage).where(
        OutboxMessage.id == message_id, OutboxMessage.status == SENDING,
        OutboxMessage.claimed_at == claimed_at).values(**values))


def _after_error(attempts: int, error: str) -> dict[str, Any]:
    """A transient failure: back to the queue with backoff, or failed once the attempts are spent."""
    cfg = current_app.config
    if attempts >= cfg["NOTIFY_MAX_ATTEMPTS"]:
        return {"status": FAILED, "last_error": f"gave up after {attempts} attempts: {error}"[:2000]}
    return {"status": QUEUED, "last_error": error[:2000],
            "next_attempt_at": utcnow() + dt.timedelta(seconds=backoff(attempts))}


def deliver_one(message_id: int) -> str | None:
    """Claim, send and record one message; returns its new status (None: nothing to do)."""
    from .. import jobs

    claimed = _claim(message_id)
    jobs.commit()  # the claim is durable before anything leaves the machine
    if claimed is None:
        return None
    try:
        backend = backends.backend_for(claimed.channel, current_app.config)
        provider_id = backend.send(_outgoing(claimed))
    except backends.PermanentError as exc:
        values = {"status": FAILED, "last_error": str(exc)[:2000]}
    except backends.UncertainError as exc:
        logger.warning("message %s: outcome unknown (%s); the sweep will check", message_id, exc)
        values = {"last_error": f"outcome unknown: {exc}"[:2000]}
    except Exception as exc:  # noqa: BLE001 — transient by default: it is retried, with a cap
        if not isinstance(exc, backends.TransientError):
            logger.exception("message %s: unexpected error while sending", message_id)
        values = _after_error(claimed.attempts, str(exc) or type(exc).__name__)
    else:
        values = {"status": SENT, "provider_id": provider_id, "sent_at": utcnow(), "last_error": None}
    _finish(message_id, claimed.claimed_at, **values)
    jobs.commit()
    return values.get("status", SENDING)


@job("notify", timeout=600)
def deliver(message_ids: list[int]) -> int:
    """Deliver these messages, one claim at a time; returns how many were sent."""
    return sum(deliver_one(mid) == SENT for mid in message_ids)


def sweep() -> int:
    """Enqueue due messages and reconcile interrupted sends; the caller commits. Returns the count.

    - ``queued`` and due, and never enqueued for this attempt (a retry after backoff, the end of
      quiet hours) or enqueued longer than SWEEP_GRACE ago (a queue lost with Redis): enqueue;
    - ``sending`` for longer than NOTIFY_SEND_TIMEOUT (the worker died mid-send): ask the
      provider; sent → ``sent``; surely not sent → ``queued``; cannot tell → ``failed``, never
      sent twice.
    """
    cfg = current_app.config
    now = utcnow()
    t = OutboxMessage
    grace = now - dt.timedelta(seconds=cfg["SWEEP_GRACE"])
    due = list(db.session.scalars(
        select(t.id).where(t.status == QUEUED, t.next_attempt_at <= now,
                           or_(t.enqueued_at.is_(None), t.enqueued_at < t.next_attempt_at, t.enqueued_at <= grace))
        .order_by(t.next_attempt_at).limit(5000).with_for_update(skip_locked=True)))
    stuck = db.session.scalars(
        select(t).where(t.status == SENDING,
                        t.claimed_at <= now - dt.timedelta(seconds=cfg["NOTIFY_SEND_TIMEOUT"]))
        .order_by(t.claimed_at).limit(200).with_for_update(skip_locked=True)).all()
    for row in stuck:
        claimed = row.claimed_at if row.claimed_at.tzinfo else row.claimed_at.replace(tzinfo=dt.timezone.utc)
        try:
            found = backends.backend_for(row.channel, cfg).find_sent(_outgoing(row), claimed.timestamp())
        except backends.Unknowable as exc:
            row.status, row.status_at = FAILED, now
            row.last_error = f"interrupted while sending; not sent again to avoid a duplicate ({exc})"
            continue
        except backends.DeliveryError as exc:
            logger.warning("message %s: could not check an interrupted send: %s", row.id, exc)
            continue
        if found is not None:
            row.status, row.provider_id, row.sent_at, row.status_at = SENT, found, now, now
            row.last_error = "interrupted while sending; the provider had it"
        else:
            values = _after_error(row.attempts, "interrupted while sending; the provider did not have it")
            for k, v in values.items():
                setattr(row, k, v)
            row.status_at = now
            if row.status == QUEUED:
                row.next_attempt_at = now
                due.append(row.id)
    if due:
        db.session.execute(update(t).where(t.id.in_(due)).values(enqueued_at=now))
        for mid in due:
            _schedule(mid)
    return len(due) + len(stuck)


# --- Provider status callbacks ------------------------------------------------------------

#: Twilio MessageStatus → our status (intermediate ones only confirm that it was sent).
TWILIO_STATUSES = {"accepted": SENT, "scheduled": SENT, "queued": SENT, "sending": SENT, "sent": SENT,
                   "delivered": DELIVERED, "read": DELIVERED, "undelivered": UNDELIVERED,
                   "failed": FAILED, "canceled": FAILED}
_FINAL = (DELIVERED, UNDELIVERED, FAILED)


def provider_status(provider_id: str, provider_status: str, error_code: str | None = None) -> OutboxMessage | None:
    """Apply a provider's status report; a final status (delivered, failed…) is never undone."""
    status = TWILIO_STATUSES.get((provider_status or "").lower())
    if status is None or not provider_id:
        return None
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == provider_id)
                            .with_for_update())
    if row is None:
        return None
    if row.status in _FINAL or row.status == status:
        return row
    row.status, row.status_at = status, utcnow()
    if error_code:
        row.last_error = f"{error_code}: reported by the provider as {provider_status}"
    return row


# --- Reading the log ----------------------------------------------------------------------

def mask(to: str) -> str:
    """A recipient as the admin page shows it: the last digits of a number, the first letter of a mailbox."""
    if "@" in to:
        local, _, domain = to.partition("@")
        return f"{local[:1]}•••@{domain}"
    return "•" * max(0, len(to) - 4) + to[-4:] if len(to) > 4 else "•" * len(to)


def mobile_variants(query: str) -> set[str]:
    """The forms a number may be stored in: as typed, digits only, +E.164, national."""
    digits = re.sub(r"[^\d+]", "", query)
    if not digits:
        return set()
    cc = current_app.config.get("NOTIFY_DEFAULT_COUNTRY_CODE", "+91")
    full = backends.e164(digits, cc)
    out = {query.strip(), digits, full}
    if full.startswith(cc):
        out.add(full[len(cc):])
    return out


def search(query: str = "", limit: int = 100) -> list[OutboxMessage]:
    """The latest messages, or those to a mobile number / email or about an enrolment code."""
    stmt = select(OutboxMessage)
    q = (query or "").strip()
    if q:
        stmt = stmt.where(or_(OutboxMessage.reference == q, OutboxMessage.to.in_(mobile_variants(q) | {q})))
    return list(db.session.scalars(stmt.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                                   .limit(limit)))


def as_json(row: OutboxMessage) -> dict[str, Any]:
    from ..models import iso_utc

    return {"id": row.id, "channel": row.channel, "to": row.to, "event": row.event, "language": row.language,
            "subject": row.subject or None, "body": row.body, "status": row.status,
            "provider_id": row.provider_id, "attempts": row.attempts, "last_error": row.last_error,
            "reference": row.reference, "created_at": iso_utc(row.created_at)}
