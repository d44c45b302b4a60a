"""Delivery backends: where a claimed message goes.

SMS (``SMS_BACKEND``): ``outbox`` stores only (development and tests: nothing leaves the
machine), ``console`` also logs the text, ``twilio`` sends through Twilio's Messages API.
Email (``EMAIL_BACKEND``): ``outbox``, ``console`` or ``smtp`` (smtplib).

A backend's ``send`` returns the provider's id or raises:

- ``TransientError``: nothing was accepted; try again later (5xx, 429, connection refused);
- ``PermanentError``: retrying cannot help (Twilio 21211 invalid number, 21610 unsubscribed,
  21614 not a mobile, 21408 region not enabled; SMTP 5xx);
- ``UncertainError``: the request may have reached the provider (a read timeout, a connection
  dropped after sending). The row stays ``sending`` and the sweep asks ``find_sent`` later.
"""
from __future__ import annotations

import hashlib
import logging
import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any, Mapping

logger = logging.getLogger(__name__)

#: Twilio error codes that no retry can fix (the number, the recipient's opt-out, the route).
TWILIO_PERMANENT_CODES = frozenset({
    21211,  # invalid 'To' number
    21408,  # permission to send to this region is not enabled
    21604,  # 'To' number is required
    21606,  # the 'From' number is not a valid message-capable number
    21610,  # the recipient replied STOP (unsubscribed)
    21612,  # cannot route to this number
    21614,  # 'To' number is not a mobile number
    21617,  # the body exceeds the 1600 character limit
    21635,  # 'To' number cannot be a landline
    30004,  # message blocked
    30005,  # unknown destination handset
    30006,  # landline or unreachable carrier
    30007,  # carrier filtering
})


class DeliveryError(Exception):
    def __init__(self, message: str, code: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.code}: {text}" if self.code is not None else text


class TransientError(DeliveryError):
    """Nothing was accepted; the message may be tried again."""


class PermanentError(DeliveryError):
    """The provider refused the message for good."""


class UncertainError(DeliveryError):
    """The provider may or may not have accepted the message."""


class Unknowable(DeliveryError):
    """The backend cannot tell whether an interrupted send went out."""


@dataclass(frozen=True)
class Outgoing:
    """What a backend needs of a message (no ORM object leaves the service)."""

    id: int
    channel: str
    to: str
    subject: str
    body: str
    sender: str
    idempotency_key: str


class Backend:
    name = "base"

    def send(self, msg: Outgoing) -> str | None:
        raise NotImplementedError

    def find_sent(self, msg: Outgoing, since_epoch: float) -> str | None:
        """After a send was interrupted: the provider id if it went out, None if it surely did not."""
        raise Unknowable("this backend cannot tell whether an interrupted send went out")


class OutboxBackend(Backend):
    """Stores only: the row in the delivery log is the message."""

    name = "outbox"

    def send(self, msg: Outgoing) -> str | None:
        return None

    def find_sent(self, msg: Outgoing, since_epoch: float) -> str | None:
        return None  # nothing left the machine; sending again is harmless


class ConsoleBackend(OutboxBackend):
    name = "console"

    def send(self, msg: Outgoing) -> str | None:
        logger.info("%s to %s: %s%s", msg.channel.upper(), msg.to,
                    f"[{msg.subject}] " if msg.subject else "", msg.body)
        return None


def e164(number: str, default_country_code: str) -> str:
    """+<country><number>: a leading 00 becomes +, a national number gets the default code."""
    digits = re.sub(r"[\s\-()]", "", number)
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return default_country_code + digits.lstrip("0")


def _twilio_http_client(base_url: str | None, timeout: float):
    """Twilio's own HTTP client; with ``base_url``, requests go to a Twilio-compatible endpoint
    (a relay, or a local stand-in for tests) instead of api.twilio.com."""
    from twilio.http.http_client import TwilioHttpClient

    class _Client(TwilioHttpClient):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[override]
            if base_url:
                url = re.sub(r"^https://[^/]+", base_url.rstrip("/"), url)
            return super().request(method, url, *args, **kwargs)

    return _Client(timeout=timeout)


class TwilioBackend(Backend):
    name = "twilio"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        from twilio.rest import Client

        if not cfg.get("TWILIO_ACCOUNT_SID") or not cfg.get("TWILIO_AUTH_TOKEN"):
            raise PermanentError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not configured")
        self.cfg = cfg
        self.client = Client(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"],
                             http_client=_twilio_http_client(cfg.get("TWILIO_API_BASE_URL"),
                                                             float(cfg.get("NOTIFY_HTTP_TIMEOUT", 20))))

    def _to(self, msg: Outgoing) -> str:
        return e164(msg.to, self.cfg.get("NOTIFY_DEFAULT_COUNTRY_CODE", "+91"))

    def send(self, msg: Outgoing) -> str | None:
        import requests
        from twilio.base.exceptions import TwilioRestException

        kwargs: dict[str, Any] = {"to": self._to(msg), "body": msg.body}
        if self.cfg.get("TWILIO_MESSAGING_SERVICE_SID"):
            kwargs["messaging_service_sid"] = self.cfg["TWILIO_MESSAGING_SERVICE_SID"]
        if msg.sender or not self.cfg.get("TWILIO_MESSAGING_SERVICE_SID"):
            kwargs["from_"] = msg.sender or self.cfg.get("TWILIO_FROM_NUMBER")
        if self.cfg.get("NOTIFY_STATUS_CALLBACK_URL"):
            kwargs["status_callback"] = self.cfg["NOTIFY_STATUS_CALLBACK_URL"]
        try:
            return self.client.messages.create(**kwargs).sid
        except TwilioRestException as exc:
            text = exc.msg or f"HTTP {exc.status}"
            if exc.code in TWILIO_PERMANENT_CODES or (exc.status == 400 and exc.code is not None):
                raise PermanentError(text, exc.code) from None
            raise TransientError(text, exc.code if exc.code is not None else f"HTTP {exc.status}") from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise TransientError(f"could not connect: {type(exc).__name__}") from None
        except requests.exceptions.ConnectionError as exc:
            if "NewConnectionError" in repr(exc) or "Connection refused" in repr(exc):
                raise TransientError(f"could not connect: {type(exc).__name__}") from None
            raise UncertainError(f"connection lost after sending: {type(exc).__name__}") from None
        except requests.exceptions.Timeout as exc:
            raise UncertainError(f"no answer in time: {type(exc).__name__}") from None

    def find_sent(self, msg: Outgoing, since_epoch: float) -> str | None:
        """Look among the latest messages Twilio holds for this number for the same body."""
        import requests
        from twilio.base.exceptions import TwilioRestException

        try:
            recent = self.client.messages.list(to=self._to(msg), limit=50)
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            raise TransientError(f"could not list messages: {exc}") from None
        for record in recent:
            created = record.date_created.timestamp() if record.date_created else 0
            if record.body == msg.body and created >= since_epoch - 300:
                return record.sid
        return None


class SmtpBackend(Backend):
    """Email through an SMTP server (SMTP_HOST, SMTP_PORT, SMTP_USERNAME/PASSWORD, STARTTLS or SSL)."""

    name = "smtp"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg

    def message_id(self, msg: Outgoing) -> str:
        """The same message always gets the same Message-ID (mail clients collapse duplicates)."""
        domain = parseaddr(self.cfg.get("EMAIL_FROM") or "")[1].rpartition("@")[2] or "divoc.invalid"
        return f"<{hashlib.sha256(msg.idempotency_key.encode()).hexdigest()[:32]}@{domain}>"

    def send(self, msg: Outgoing) -> str | None:
        cfg = self.cfg
        email = EmailMessage()
        name, address = parseaddr(cfg.get("EMAIL_FROM") or "DIVOC <no-reply@divoc.invalid>")
        email["From"] = formataddr((msg.sender or name, address))
        email["To"] = msg.to
        email["Subject"] = msg.subject
        email["Message-ID"] = self.message_id(msg)
        email.set_content(msg.body)
        timeout = float(cfg.get("NOTIFY_HTTP_TIMEOUT", 20))
        try:
            factory = smtplib.SMTP_SSL if cfg.get("SMTP_SSL") else smtplib.SMTP
            conn = factory(cfg.get("SMTP_HOST") or "127.0.0.1", int(cfg.get("SMTP_PORT") or 25), timeout=timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"could not connect to the SMTP server: {exc}") from None
        try:
            if cfg.get("SMTP_STARTTLS"):
                conn.starttls()
            if cfg.get("SMTP_USERNAME"):
                conn.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
            conn.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            err = "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values())
            cls = PermanentError if codes and all(c >= 500 for c in codes) else TransientError
            raise cls(f"recipient refused: {err}", codes[0] if codes else None) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            cls = PermanentError if exc.smtp_code >= 500 else TransientError
            raise cls(text, exc.smtp_code) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise UncertainError(f"SMTP connection lost: {exc}") from None
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):  # the message is in (or out) already
                conn.close()
        return self.message_id(msg)


def backend_for(channel: str, cfg: Mapping[str, Any]) -> Backend:
    name = cfg.get("SMS_BACKEND" if channel == "sms" else "EMAIL_BACKEND") or "outbox"
    if name == "outbox":
        return OutboxBackend()
    if name == "console":
        return ConsoleBackend()
    if name == "twilio" and channel == "sms":
        return TwilioBackend(cfg)
    if name == "smtp" and channel == "email":
        return SmtpBackend(cfg)
    raise PermanentError(f"unknown {channel} backend {name!r}")
