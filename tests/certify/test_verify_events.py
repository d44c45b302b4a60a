"""POST /api/v1/verify/events: the /verify page records its verifications (no personal data)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from certify.models import VerificationEvent
from core.extensions import db

URL = "/api/v1/verify/events"


def _events(app) -> list[VerificationEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(VerificationEvent).order_by(VerificationEvent.id)))
        db.session.remove()
        return rows


def test_records_a_page_verification(app, client):
    resp = client.post(URL, json={"status": "revoked", "certificateId": "8241356789", "reason": "revoked"})
    assert resp.status_code == 201, resp.data
    assert resp.json == {"recorded": True}
    resp = client.post(URL, json={"status": "invalid", "certificateId": None, "reason": "bad_signature"})
    assert resp.status_code == 201, resp.data
    resp = client.post(URL, json={"status": "valid", "certificateId": "C1", "reason": ""})
    assert resp.status_code == 201, resp.data
    resp = client.post(URL, json={"status": "invalid", "format": "eu-dcc", "certificateId": None, "reason": "expired"})
    assert resp.status_code == 201, resp.data
    resp = client.post(URL, json={"status": "valid", "format": "shc", "certificateId": None, "reason": ""})
    assert resp.status_code == 201, resp.data

    rows = _events(app)
    assert [(r.channel, r.format, r.status, r.reason, r.certificate_id) for r in rows] == [
        ("page", "divoc", "revoked", "revoked", "8241356789"),
        ("page", "divoc", "invalid", "bad_signature", None),
        ("page", "divoc", "valid", "", "C1"),
        ("page", "eu-dcc", "invalid", "expired", None),
        ("page", "shc", "valid", "", None),
    ]


@pytest.mark.parametrize("body, field", [
    ({"status": "forged", "certificateId": None, "reason": ""}, "status"),
    ({"status": None, "certificateId": None, "reason": ""}, "status"),
    ({"certificateId": None, "reason": ""}, "status"),
    ({"status": "VALID", "certificateId": None, "reason": ""}, "status"),
    ({"status": "valid", "certificateId": 42, "reason": ""}, "certificateId"),
    ({"status": "valid", "certificateId": "", "reason": ""}, "certificateId"),
    ({"status": "valid", "certificateId": "x" * 41, "reason": ""}, "certificateId"),
    ({"status": "invalid", "certificateId": None, "reason": "x" * 101}, "reason"),
    ({"status": "invalid", "certificateId": None, "reason": "Name: Asha Verma"}, "reason"),
    ({"status": "invalid", "certificateId": None, "reason": ["bad_signature"]}, "reason"),
    ({"status": "valid", "certificateId": None, "reason": "", "name": "Asha Verma"}, "name"),
    ({"status": "valid", "format": "pdf", "certificateId": None, "reason": ""}, "format"),
])
def test_refuses_anything_else_with_a_field_error(app, client, body, field):
    resp = client.post(URL, json=body)
    assert resp.status_code == 400, resp.data
    error = resp.json["error"]
    assert error["code"] == "validation_failed"
    assert field in [f["path"] for f in error["fields"]]
    assert _events(app) == []


@pytest.mark.parametrize("data, content_type, status", [
    (b"[]", "application/json", 400),
    (b"{not json", "application/json", 400),
    (b"status=valid", "application/x-www-form-urlencoded", 415),
])
def test_refuses_non_objects(app, client, data, content_type, status):
    resp = client.post(URL, data=data, content_type=content_type)
    assert resp.status_code == status, resp.data
    assert "error" in resp.json
    assert _events(app) == []


def test_reason_of_100_characters_is_accepted(app, client):
    resp = client.post(URL, json={"status": "invalid", "certificateId": None, "reason": "a" * 100})
    assert resp.status_code == 201
    assert _events(app)[0].reason == "a" * 100


def test_is_public_and_rate_limited(app, client):
    limit = app.config["VERIFY_RATE_LIMIT"]
    app.config["VERIFY_RATE_LIMIT"] = 2
    try:
        codes = [client.post(URL, json={"status": "valid", "certificateId": None, "reason": ""}).status_code
                 for _ in range(4)]
    finally:
        app.config["VERIFY_RATE_LIMIT"] = limit
    assert codes == [201, 201, 429, 429]
    assert len(_events(app)) == 2


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405
