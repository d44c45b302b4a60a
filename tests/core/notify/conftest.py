"""Fixtures for the notification tests: a local Twilio API and a local SMTP server."""
from __future__ import annotations

import socket

import pytest

from tests.twilio_api import FakeTwilio


@pytest.fixture
def configured(app):
    """Change app.config for one test; restored afterwards."""
    saved: dict = {}

    def set_(**values) -> None:
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value

    yield set_
    app.config.update(saved)


@pytest.fixture
def twilio(configured):
    with FakeTwilio() as fake:
        configured(**fake.config())
        yield fake


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list = []
        self.refuse: dict[str, str] = {}  # recipient → SMTP reply, e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(configured):
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        configured(EMAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=port,
                   EMAIL_FROM="DIVOC <no-reply@divoc.test>")
        yield sink
    finally:
        controller.stop()
