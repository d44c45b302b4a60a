"""Sending an SMS whose text the caller wrote: a thin wrapper over the notification service.

Prefer ``core.notify.notify(event, ...)``, which renders the event's template in the
recipient's language and keeps one message per (event, recipient, subject). This function
stays for callers that already hold the text (the OTP sign-in code).
"""
from __future__ import annotations

from . import notify
from .jobs import job
from .models import OutboxMessage


def queue_sms(to: str, body: str, event: str, language: str = "en") -> OutboxMessage:
    """Store the message in the delivery log; it is delivered on the notify queue after the commit."""
    return notify.queue_raw("sms", to, body, event, language)


@job("notify", timeout=60)
def deliver_sms(message_id: int) -> None:
    """Jobs enqueued before the delivery log existed still arrive here."""
    notify.deliver_one(message_id)
