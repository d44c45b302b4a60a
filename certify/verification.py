"""Verification: the trust store, verifying any carrier, revocation status and events."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models import iso_utc, utcnow

from . import signing
from .models import REVOKED, SUSPENDED, Certificate

TRUST_CACHE_SECONDS = 30


def _trusted_documents() -> tuple[dict, dict]:
    """(key documents, context documents by URL): our own key and context, then the trust tables."""
    from .credentials import contexts as ctx_lib
    from .models import TrustedContext, TrustedKey

    issuer = signing.current_issuer()
    own = issuer.public_key_document()
    keys = [{"id": own.pop("did"), **own}]
    for row in db.session.scalars(select(TrustedKey).where(TrustedKey.active).order_by(TrustedKey.id)):
        field_ = "publicKeyPem" if row.key_type == "RsaVerificationKey2018" else "publicKeyBase58"
        keys.append({"id": row.key_id, "type": row.key_type, field_: row.public_key})
    documents = {url: ctx_lib.load_context(name) for url, name in ctx_lib.WELL_KNOWN_CONTEXTS.items()}
    documents[issuer.context_url] = ctx_lib.load_context("vaccination-v2")
    documents[issuer.test_context_url] = ctx_lib.load_context("test-certificate-v1")
    for row in db.session.scalars(select(TrustedContext)):
        documents[row.url] = row.document
    return keys, documents


def trust_store():
    """The verifier's trust store, rebuilt at most every TRUST_CACHE_SECONDS per process."""
    import time

    from .credentials.verify import trust_store_from_documents

    cached = current_app.extensions.get("divoc_trust")
    if cached and time.monotonic() - cached[0] < TRUST_CACHE_SECONDS:
        return cached[1]
    store = trust_store_from_documents(*_trusted_documents())
    current_app.extensions["divoc_trust"] = (time.monotonic(), store)
    return store


def forget_trust_cache() -> None:
    current_app.extensions.pop("divoc_trust", None)


def trust_document() -> dict[str, Any]:
    """What an offline verifier caches: trusted keys and the context documents."""
    keys, documents = _trusted_documents()
    return {"generatedAt": iso_now(), "keys": keys, "contexts": documents}


def iso_now() -> str:
    return iso_utc(utcnow())


@dataclass(frozen=True)
class VerifyResult:
    status: str  # valid | revoked | suspended | invalid
    reasons: tuple[str, ...]
    certificate: dict[str, Any] | None
    certificate_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons), "certificate": self.certificate}


def verify_failure(reason: str, channel: str) -> VerifyResult:
    """Record and return an ``invalid`` result for input that could not even be read."""
    from .models import VerificationEvent

    db.session.add(VerificationEvent(channel=channel, status="invalid", reason=reason[:100]))
    return VerifyResult("invalid", (reason,), None)


def verify_input(kind: str, data: Any, channel: str) -> VerifyResult:
    """Verify a credential given as ``kind`` = json | bytes | image, and record the event.

    Never raises on bad input: unreadable input is an ``invalid`` result with the reason.
    """
    from .credentials import verify as vlib
    from .models import VerificationEvent

    try:
        if kind == "image":
            data, kind = vlib.decode_qr_image(data), "bytes"
        credential = (vlib.credential_from_bytes(data) if kind == "bytes"
                      else vlib.credential_from_request_json(data))
        outcome = vlib.verify(credential, trust_store())
    except vlib.InputError as exc:
        outcome = vlib.Outcome(False, (str(exc),))
    status = "valid" if outcome.valid else "invalid"
    reasons = outcome.reasons
    cert_id = outcome.certificate_id
    if outcome.valid and cert_id:
        row = db.session.scalar(select(Certificate).where(Certificate.certificate_id == cert_id))
        if row is not None and row.effective_status(utcnow()) != "valid":
            status, reasons = row.status, status_reasons(row)
    db.session.add(VerificationEvent(channel=channel, format=outcome.format, status=status,
                                     reason=(reasons[0] if reasons else "")[:100],
                                     certificate_id=cert_id[:40] if cert_id else None))
    return VerifyResult(status, reasons, vlib.summary(outcome.credential) if outcome.credential else None,
                        cert_id)


def status_reasons(row: Certificate) -> tuple[str, ...]:
    """Why a certificate is not valid, for people: when, why, and what to do."""
    if row.status == REVOKED:
        when = iso_utc(row.revoked_at) if row.revoked_at else "an unknown time"
        reasons = [f"revoked at {when}" + (f": {row.status_reason}" if row.status_reason else "")]
        message = signing.effective_config().get("CERTIFICATE_REVOKED_MESSAGE")
        if row.replaced_by or message:
            reasons.append(message or "this certificate was replaced by an updated one")
        return tuple(reasons)
    if row.status == SUSPENDED:
        until = f" until {iso_utc(row.suspended_until)}" if row.suspended_until else ""
        return (f"suspended{until}" + (f": {row.status_reason}" if row.status_reason else ""),)
    return ()
