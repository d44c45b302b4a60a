"""Provider webhooks: Twilio's message status callback (signature-checked, no CSRF, no session)."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, request

from ..jobs import transactional
from . import provider_status

logger = logging.getLogger(__name__)

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def _signed_url() -> str:
    """The URL Twilio signed: the callback URL we gave it, with the query string it was called with."""
    url = current_app.config["NOTIFY_STATUS_CALLBACK_URL"]
    query = request.query_string.decode()
    return f"{url}?{query}" if query and "?" not in url else url


@bp.post("/twilio/status")
@transactional
def twilio_status():
    """Twilio posts MessageSid, MessageStatus and ErrorCode; a forged or unsigned request gets 403."""
    from twilio.request_validator import RequestValidator, get_signature_algorithm

    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    if not token or not signature or not RequestValidator(token).validate(
            _signed_url(), request.form, signature, algorithm):
        logger.warning("rejected a status callback with a bad signature from %s", request.remote_addr)
        return "forbidden", 403, {"Content-Type": "text/plain"}
    row = provider_status(request.form.get("MessageSid", ""), request.form.get("MessageStatus", ""),
                          request.form.get("ErrorCode") or None)
    if row is None:
        logger.info("status callback for an unknown message %s", request.form.get("MessageSid"))
    return "", 204
