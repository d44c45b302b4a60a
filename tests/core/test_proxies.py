"""Behind a TLS-terminating proxy: rate limits count the client's address, and session cookies
are Secure when the site is served over https."""
from __future__ import annotations

import pytest
from flask import request

from core import config as config_mod
from core import create_app, ratelimit


def app_with(**config):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None, "SECRET_KEY": "proxy-test",
                      **config})
    app.add_url_rule("/_whoami", "whoami", lambda: f"{ratelimit.client_address()} {request.scheme}")
    return app


def test_without_trusted_proxies_the_peer_is_the_client():
    client = app_with().test_client()
    resp = client.get("/_whoami", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
                      environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert resp.get_data(as_text=True) == "10.0.0.2 http"  # a forged header changes nothing


def test_one_trusted_proxy_passes_on_the_clients_address_and_scheme():
    client = app_with(TRUSTED_PROXIES=1).test_client()
    resp = client.get("/_whoami", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7",
                                           "X-Forwarded-Proto": "https"},
                      environ_base={"REMOTE_ADDR": "10.0.0.2"})
    # only the hop our proxy added is believed; the client could have written the first one
    assert resp.get_data(as_text=True) == "203.0.113.7 https"


@pytest.mark.parametrize(("base", "env", "secure"), [
    ("https://divoc.example", None, True),
    ("http://127.0.0.1:5000", None, False),
    ("https://divoc.example", "false", False),
])
def test_session_cookies_are_secure_on_https_sites(monkeypatch, base, env, secure):
    monkeypatch.setenv("CERTIFICATE_BASE_URL", base)
    if env is None:
        monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    else:
        monkeypatch.setenv("SESSION_COOKIE_SECURE", env)
    assert config_mod.load()["SESSION_COOKIE_SECURE"] is secure


def test_trusted_proxies_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert config_mod.load()["TRUSTED_PROXIES"] == 2
