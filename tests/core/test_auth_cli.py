"""API clients: the CLI, token expiry and deactivation."""
from __future__ import annotations

import json
import time

from sqlalchemy import update

from core.extensions import db
from core.models import ApiClient


def test_clients_create_prints_json_credentials_that_work(app, client):
    result = app.test_cli_runner().invoke(args=["clients", "create", "State HMIS", "--role", "certify"])
    assert result.exit_code == 0, result.output
    creds = json.loads(result.output)
    assert set(creds) == {"client_id", "client_secret"}
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials", **creds})
    assert resp.status_code == 200
    assert resp.json["token_type"] == "Bearer" and resp.json["expires_in"] == app.config["ACCESS_TOKEN_TTL"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_clients_create_rejects_unknown_role(app):
    result = app.test_cli_runner().invoke(args=["clients", "create", "x", "--role", "root"])
    assert result.exit_code != 0


def _token(app, client) -> tuple[str, str]:
    creds = json.loads(app.test_cli_runner().invoke(
        args=["clients", "create", "c", "--role", "certify"]).output)
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", **creds}).json["access_token"]
    return creds["client_id"], tok


def test_expired_token_is_refused(app, client):
    _, tok = _token(app, client)
    ttl = app.config["ACCESS_TOKEN_TTL"]
    app.config["ACCESS_TOKEN_TTL"] = 1
    try:
        time.sleep(2.1)
        resp = client.get("/v1/certificates?preEnrollmentCode=x", headers={"Authorization": f"Bearer {tok}"})
    finally:
        app.config["ACCESS_TOKEN_TTL"] = ttl
    assert resp.status_code == 401 and "expired" in resp.json["error"]["message"]


def test_deactivated_client_loses_access_at_once(app, client):
    cid, tok = _token(app, client)
    headers = {"Authorization": f"Bearer {tok}"}
    assert client.get("/v1/certificates?preEnrollmentCode=x", headers=headers).status_code == 200
    with app.app_context():
        db.session.execute(update(ApiClient).where(ApiClient.client_id == cid).values(active=False))
        db.session.commit()
    assert client.get("/v1/certificates?preEnrollmentCode=x", headers=headers).status_code == 401


def test_pages_render_and_html_errors_are_pages(client):
    assert client.get("/").status_code == 200
    for path in ("/portal/", "/facility/"):  # both need sign-in
        resp = client.get(path)
        assert resp.status_code == 302 and "/login?" in resp.headers["Location"]
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert client.get("/v1/no-such").json["error"]["code"] == "not_found"
