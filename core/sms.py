"""Sending SMS: every message is a row in the outbox, then a backend delivers it.

Backends (SMS_BACKEND): ``outbox`` stores only (development and tests: nothing leaves the
machine), ``console`` also logs the text, ``twilio`` sends through Twilio with
TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID.
Delivery runs on the ``notify`` queue after the commit that created the row.
"""
from __future__ import annotations

import logging

from flask import current_app

from .extensions import db
from .jobs import job
from .models import OutboxMessage

logger = logging.getLogger(__name__)


def queue_sms(to: str, body: str, event: str, language: str = "en") -> OutboxMessage:
    """Store the message and schedule its delivery for after the commit."""
    message = OutboxMessage(channel="sms", to=to, event=event, language=language, body=body)
    db.session.add(message)
    db.session.flush()
    deliver_sms.after_commit(message.id)
    return message


@job("notify", timeout=60)
def deliver_sms(message_id: int) -> None:
    message = db.session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status != "queued":
        return  # already handled: jobs may run twice
    backend = current_app.config["SMS_BACKEND"]
    if backend in ("outbox", "console"):
        if backend == "console":
            logger.info("SMS to %s (%s): %s", message.to, message.event, message.body)
        message.status = "sent"
        return
    if backend == "twilio":
        from twilio.rest import Client

        cfg = current_app.config
        client = Client(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"])
        kwargs = {"to": message.to, "body": message.body}
        if cfg.get("TWILIO_MESSAGING_SERVICE_SID"):
            kwargs["messaging_service_sid"] = cfg["TWILIO_MESSAGING_SERVICE_SID"]
        else:
            kwargs["from_"] = cfg["TWILIO_FROM_NUMBER"]
        sent = client.messages.create(**kwargs)
        message.status, message.provider_id = "sent", sent.sid
        return
    raise RuntimeError(f"unknown SMS_BACKEND {backend!r}")
