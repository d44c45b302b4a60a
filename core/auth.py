"""Source-system authentication: OAuth2 client credentials with bearer tokens.

Client secrets are 256-bit random values, stored as SHA-256 digests (a slow
password hash adds nothing for secrets of that entropy). Access tokens are
HMAC-signed with SECRET_KEY and carry the client id and roles; each request
also checks that the client is still active.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from .errors import Forbidden, Unauthorized
from .extensions import db
from .models import ApiClient

ROLES = ("certify", "fetch", "admin")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_client(name: str, roles: list[str]) -> tuple[ApiClient, str]:
    """Create an API client; returns it with its one-time plain secret."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"roles must be among {', '.join(ROLES)}")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(client_id=secrets.token_hex(12), name=name,
                       secret_hash=hash_secret(secret), roles=" ".join(sorted(set(roles))))
    db.session.add(client)
    db.session.flush()
    return client, secret


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-access-token")


def issue_token(client_id: str, client_secret: str) -> dict[str, Any]:
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None or not client.active or not hmac.compare_digest(
        client.secret_hash, hash_secret(client_secret)
    ):
        raise Unauthorized("invalid client credentials")
    ttl = current_app.config["ACCESS_TOKEN_TTL"]
    token = _serializer().dumps({"c": client.client_id, "r": sorted(client.role_set)})
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}


@dataclass(frozen=True)
class AuthenticatedClient:
    client_id: str
    role_set: frozenset[str]


def authenticate() -> AuthenticatedClient:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required (POST /oauth/token)")
    try:
        data = _serializer().loads(token.strip(), max_age=current_app.config["ACCESS_TOKEN_TTL"])
    except SignatureExpired:
        raise Unauthorized("the access token has expired") from None
    except BadSignature:
        raise Unauthorized("the access token is not valid") from None
    row = db.session.execute(select(ApiClient.client_id, ApiClient.roles).where(
        ApiClient.client_id == data["c"], ApiClient.active)).first()
    if row is None:
        raise Unauthorized("the client is not active")
    return AuthenticatedClient(row.client_id, frozenset(row.roles.split()))


def require_role(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a bearer token whose client has one of ``roles``."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            client = authenticate()
            if not client.role_set & set(roles):
                raise Forbidden(f"this client needs one of the roles: {', '.join(roles)}")
            g.api_client = client
            return view(*args, **kwargs)

        return wrapper

    return decorator
