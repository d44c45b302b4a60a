"""Certificate notifications: "issued", "updated" and "revoked" SMS/email, and the resend.

Called in the transaction that issues, updates or revokes, so the message exists exactly
when the change does (core.notify keeps one per event, recipient and certificate); delivery
follows the commit on the notify queue.

The recipient's language, in order: ``recipient.language`` (or ``language``) in the certify
request; the language the person chose in the portal (``users.locale`` for that mobile); the
language of the last message we sent them about this enrolment; the program's default
(``programId``); NOTIFY_DEFAULT_LANGUAGE.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select

from core import notify, ratelimit
from core.errors import NotFound
from core.extensions import db
from core.models import OutboxMessage, Program, User
from core.notify import backends

from .models import REVOKED, Certificate, CertifyRequest

VACCINATION = "vaccination"


def _email(recipient: dict) -> str | None:
    for contact in recipient.get("contact") or []:
        if isinstance(contact, str) and contact.startswith("mailto:"):
            return contact[7:]
    email = recipient.get("email")
    return email if isinstance(email, str) and "@" in email else None


def _program_id(payload: dict | None, cache: dict[str, int | None]) -> int | None:
    ref = str((payload or {}).get("programId") or "").strip()
    if not ref:
        return None
    if ref not in cache:
        cond = Program.name == ref
        if ref.isdigit():
            cond = or_(cond, Program.id == int(ref))
        cache[ref] = db.session.scalar(select(Program.id).where(cond).limit(1))
    return cache[ref]


def _requested_language(payload: dict | None) -> str | None:
    payload = payload or {}
    for value in ((payload.get("recipient") or {}).get("language"), payload.get("language")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _person_languages(mobiles: Iterable[str]) -> dict[str, str]:
    wanted = {m for m in mobiles if m}
    if not wanted:
        return {}
    return {m: loc for m, loc in db.session.execute(
        select(User.mobile, User.locale).where(User.mobile.in_(wanted), User.locale != "")) if loc}


def _last_languages(certs: Iterable[Certificate]) -> dict[tuple[str, str], str]:
    """(enrolment code, mobile) → the language of the latest message we sent them about it."""
    codes = {c.pre_enrollment_code for c in certs if c.mobile}
    if not codes:
        return {}
    rows = db.session.execute(select(OutboxMessage.reference, OutboxMessage.to, OutboxMessage.language)
                              .where(OutboxMessage.reference.in_(codes))
                              .order_by(OutboxMessage.created_at, OutboxMessage.id))
    return {(code, to): lang for code, to, lang in rows}


def _pdf_lang(language: str) -> str:
    supported = [x.strip() for x in current_app.config["CERTIFICATE_LANGUAGES"].split(",")]
    return language if language in supported else supported[0]


def download_link(cert: Certificate, language: str) -> str:
    """The absolute link printed in the SMS (NOTIFY_CERTIFICATE_LINK, by default the PDF endpoint)."""
    cfg = current_app.config
    pattern = cfg["NOTIFY_TEST_CERTIFICATE_LINK"] if cert.kind != VACCINATION else cfg["NOTIFY_CERTIFICATE_LINK"]
    return pattern.format(base=cfg["CERTIFICATE_BASE_URL"], code=quote(cert.pre_enrollment_code, safe=""),
                          dose=cert.dose, lang=_pdf_lang(language))


def _call(event: str, cert: Certificate, payload: dict | None, language: str | None, key: str,
          program_cache: dict[str, int | None], *, with_email: bool = True, **extra: Any) -> dict[str, Any] | None:
    """The arguments of the notify call for one certificate (None: no mobile and no email)."""
    recipient = (payload or {}).get("recipient") or {}
    email = _email(recipient) if with_email else None
    if not cert.mobile and not email:
        return None
    program_id = _program_id(payload, program_cache)
    if language is None:
        settings = notify.settings_for(program_id)
        language = settings.default_language if settings else None
    lang = notify.normalise_language(language)
    context = {"name": cert.name, "dose": cert.dose, "kind": cert.kind, "code": cert.pre_enrollment_code,
               "link": download_link(cert, lang), **extra}
    return {"event": event, "to_mobile": cert.mobile, "to_email": email, "language": lang, "context": context,
            "key": key, "program_id": program_id, "reference": cert.pre_enrollment_code}


def _language_for(cert: Certificate, payload: dict | None) -> str | None:
    """The request's language, the person's portal language, or the last one we used for them."""
    if not cert.mobile:
        return _requested_language(payload)
    return (_requested_language(payload) or _person_languages([cert.mobile]).get(cert.mobile)
            or _last_languages([cert]).get((cert.pre_enrollment_code, cert.mobile)))


def _send(event: str, cert: Certificate, payload: dict | None, key: str, **extra: Any) -> list[OutboxMessage]:
    call = _call(event, cert, payload, _language_for(cert, payload), key, {}, **extra)
    if call is None:
        return []
    return notify.notify(call.pop("event"), **call)


def certificates_issued(certificates: Sequence[Certificate], requests: Iterable[CertifyRequest]) -> None:
    """One "certificate issued" message per new certificate (called by sign_pending): a few
    queries and one INSERT for the whole batch."""
    payloads = {r.id: r.payload for r in requests}
    people = _person_languages(c.mobile for c in certificates if c.mobile)
    last = _last_languages(certificates)
    programs: dict[str, int | None] = {}
    calls = []
    for cert in certificates:
        payload = payloads.get(cert.request_id)
        language = (_requested_language(payload) or people.get(cert.mobile or "")
                    or last.get((cert.pre_enrollment_code, cert.mobile or "")))
        call = _call("certificate_issued", cert, payload, language, cert.certificate_id, programs)
        if call is not None:
            calls.append(call)
    notify.notify_many(calls)


def certificate_updated(cert: Certificate, payload: dict) -> None:
    """The corrected certificate is out: tell the recipient, with the new download link."""
    _send("certificate_updated", cert, payload, cert.certificate_id)


def certificate_revoked(cert: Certificate) -> None:
    """A revoked certificate (not one replaced by an update: that is "updated")."""
    reason = (cert.status_reason or _("revoked by the issuer"))[:80]
    _send("certificate_revoked", cert, _request_payload(cert), cert.certificate_id, reason=reason)


def _request_payload(cert: Certificate) -> dict | None:
    if cert.request_id is None:
        return None
    return db.session.scalar(select(CertifyRequest.payload).where(CertifyRequest.id == cert.request_id))


def resend_certificate_ready(code: str, mobile: str) -> OutboxMessage:
    """Send the "certificate ready" SMS of the latest live certificate again (the portal's button).

    Only to the number on the certificate, and at most NOTIFY_RESENDS_PER_HOUR times per
    enrolment code and number; a wrong code and a wrong number fail alike (no enumeration).
    """
    limit = current_app.config["NOTIFY_RESENDS_PER_HOUR"]
    number = backends.e164(mobile, current_app.config["NOTIFY_DEFAULT_COUNTRY_CODE"])
    if not ratelimit.hit("notify-resend", f"{code}:{number}", limit, 3600):
        raise ratelimit.RateLimited(_("The certificate message was sent several times already. "
                                      "Try again in an hour."))
    variants = notify.mobile_variants(mobile)
    cert = db.session.scalar(
        select(Certificate).where(Certificate.pre_enrollment_code == code, Certificate.status != REVOKED,
                                  Certificate.mobile.in_(variants))
        .order_by((Certificate.kind == VACCINATION).desc(), Certificate.dose.desc(), Certificate.issued_at.desc())
        .limit(1))
    if cert is None:
        raise NotFound(_("No certificate for this enrolment code and mobile number."))
    sent = _send("certificate_issued", cert, _request_payload(cert),
                 f"{cert.certificate_id}:resend:{uuid.uuid4().hex[:12]}", with_email=False)
    sms = [m for m in sent if m.channel == "sms"]
    if not sms:
        raise NotFound(_("No certificate for this enrolment code and mobile number."))
    return sms[0]
