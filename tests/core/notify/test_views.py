"""Twilio's status callback: a signed report updates the log; a forged one is rejected (403)."""
from __future__ import annotations

from twilio.request_validator import RequestValidator

from core import jobs, notify
from core.extensions import db
from core.models import OutboxMessage
from tests.twilio_api import AUTH_TOKEN

URL = "https://divoc.test/notifications/twilio/status"


def sent_message(app, sid="SM" + "a" * 32) -> int:
    with app.app_context():
        [m] = notify.notify("otp", to_mobile="9812345678", context={"code": "123456", "minutes": 5}, key="cb")
        m.status, m.provider_id = "sent", sid
        jobs.commit()
        return m.id


def status_of(app, message_id) -> tuple[str, str | None]:
    with app.app_context():
        m = db.session.get(OutboxMessage, message_id)
        out = (m.status, m.last_error)
        db.session.remove()
        return out


def post(client, params: dict, token: str = AUTH_TOKEN, signed_params: dict | None = None, url: str = URL):
    signature = RequestValidator(token).compute_signature(url, signed_params or params)
    return client.post("/notifications/twilio/status", data=params, headers={"X-Twilio-Signature": signature})


def test_signed_callbacks_update_the_status_and_never_go_back(app, client, twilio):
    mid = sent_message(app)
    report = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": twilio.config()["TWILIO_ACCOUNT_SID"]}
    resp = post(client, report)
    assert resp.status_code == 204 and status_of(app, mid) == ("delivered", None)
    late = post(client, {**report, "MessageStatus": "sent"})  # callbacks arrive out of order
    assert late.status_code == 204 and status_of(app, mid)[0] == "delivered"


def test_undelivered_records_the_error_code(app, client, twilio):
    mid = sent_message(app)
    post(client, {"MessageSid": "SM" + "a" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    status, error = status_of(app, mid)
    assert status == "undelivered" and error.startswith("30003")


def test_forged_callbacks_are_rejected(app, client, twilio):
    mid = sent_message(app)
    report = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "failed"}
    assert post(client, report, token="not-the-auth-token").status_code == 403
    assert post(client, report, signed_params={**report, "MessageStatus": "delivered"}).status_code == 403
    assert post(client, report, url="https://evil.test/notifications/twilio/status").status_code == 403
    assert client.post("/notifications/twilio/status", data=report).status_code == 403  # unsigned
    assert status_of(app, mid) == ("sent", None)


def test_no_auth_token_configured_means_every_callback_is_refused(app, client, configured):
    configured(TWILIO_AUTH_TOKEN=None)
    mid = sent_message(app)
    report = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    assert post(client, report).status_code == 403 and status_of(app, mid)[0] == "sent"
