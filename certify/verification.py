"""Verification: the trust lists, verifying any carrier of any format, status and events.

One verifier reads three formats (``certify.credentials.universal``): DIVOC credentials,
EU Digital COVID Certificates (``HC1:``) and SMART Health Cards (``shc:/``). When an EU
certificate or a health card was exported by us, it is mapped back to our certificates
so a revoked or suspended one says so.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models import iso_utc, utcnow

from . import signing
from .models import (
    DIVOC_KEY_TYPES,
    EU_DSC,
    REVOKED,
    RSA_KEY,
    SHC_ISSUER,
    SUSPENDED,
    Certificate,
)

logger = logging.getLogger(__name__)

TRUST_CACHE_SECONDS = 30


def _trusted_documents() -> tuple[list[dict], dict]:
    """(key documents, context documents by URL): our own key and context, then the trust tables."""
    from .credentials import contexts as ctx_lib
    from .models import TrustedContext, TrustedKey

    issuer = signing.current_issuer()
    own = issuer.public_key_document()
    keys = [{"id": own.pop("did"), **own}]
    for row in db.session.scalars(select(TrustedKey).where(TrustedKey.active, TrustedKey.key_type.in_(DIVOC_KEY_TYPES))
                                  .order_by(TrustedKey.id)):
        field_ = "publicKeyPem" if row.key_type == RSA_KEY else "publicKeyBase58"
        keys.append({"id": row.key_id, "type": row.key_type, field_: row.public_key})
    documents = {url: ctx_lib.load_context(name) for url, name in ctx_lib.WELL_KNOWN_CONTEXTS.items()}
    documents[issuer.context_url] = ctx_lib.load_context("vaccination-v2")
    documents[issuer.test_context_url] = ctx_lib.load_context("test-certificate-v1")
    for row in db.session.scalars(select(TrustedContext)):
        documents[row.url] = row.document
    return keys, documents


@dataclass(frozen=True)
class TrustedDsc:
    certificate: Any  # x509.Certificate
    own: bool
    name: str = ""


@dataclass(frozen=True)
class TrustedShcIssuer:
    iss: str
    jwks: dict[str, Any]
    own: bool


@dataclass(frozen=True)
class TrustLists:
    """The trust rows behind the verifier: DSCs and health-card issuers (ours first)."""

    dscs: tuple[TrustedDsc, ...] = ()
    shc_issuers: tuple[TrustedShcIssuer, ...] = field(default_factory=tuple)


def _own_dsc():
    """Our EU document signer certificate, or None when no DSC is configured."""
    from .eu_export import EuSigningUnavailable, eu_signer

    try:
        return eu_signer().certificate
    except EuSigningUnavailable:
        return None


def _own_shc_issuer() -> TrustedShcIssuer | None:
    """Our health-card issuer and its JWKS, or None when no SHC key is configured."""
    from .credentials.keys import KeyFormatError
    from .shc_exports import jwks_document

    try:
        return TrustedShcIssuer(current_app.config["SHC_ISSUER_URL"], jwks_document(), True)
    except (RuntimeError, KeyFormatError, ValueError) as exc:
        logger.info("no SMART Health Card issuer key: %s", exc)
        return None


def trust_lists() -> TrustLists:
    """Our own DSC and SHC issuer, then the active trusted DSCs and issuers (trust CLI)."""
    from .credentials.eudcc import load_certificate
    from .models import TrustedKey

    dscs, issuers = [], []
    own_dsc = _own_dsc()
    if own_dsc is not None:
        dscs.append(TrustedDsc(own_dsc, True, own_dsc.subject.rfc4514_string()))
    own_shc = _own_shc_issuer()
    if own_shc is not None:
        issuers.append(own_shc)
    for row in db.session.scalars(select(TrustedKey).where(TrustedKey.active, TrustedKey.key_type.in_((EU_DSC, SHC_ISSUER)))
                                  .order_by(TrustedKey.id)):
        try:
            if row.key_type == EU_DSC:
                dscs.append(TrustedDsc(load_certificate(row.public_key), False, row.issuer_name))
            elif own_shc is None or row.key_id != own_shc.iss:
                issuers.append(TrustedShcIssuer(row.key_id, json.loads(row.public_key), False))
        except ValueError as exc:  # a row the trust CLI would not have written
            logger.warning("trusted key %s (%s) is unusable: %s", row.key_id, row.key_type, exc)
    return TrustLists(tuple(dscs), tuple(issuers))


def universal_trust():
    """The verifier's trust for all three formats, rebuilt at most every TRUST_CACHE_SECONDS."""
    import time

    from .credentials.eudcc import dsc_kid
    from .credentials.universal import Trust
    from .credentials.verify import trust_store_from_documents

    cached = current_app.extensions.get("divoc_trust")
    if cached and time.monotonic() - cached[0] < TRUST_CACHE_SECONDS:
        return cached[1]
    lists = trust_lists()
    own_shc = next((i.iss for i in lists.shc_issuers if i.own), None)
    trust = Trust(divoc=trust_store_from_documents(*_trusted_documents()),
                  eu_dscs=tuple(d.certificate for d in lists.dscs),
                  shc_issuers={i.iss: i.jwks for i in lists.shc_issuers},
                  own_eu_kids=frozenset(dsc_kid(d.certificate) for d in lists.dscs if d.own),
                  own_shc_issuer=own_shc)
    current_app.extensions["divoc_trust"] = (time.monotonic(), trust)
    return trust


def trust_store():
    """The DIVOC part of the trust (issuer keys and contexts)."""
    return universal_trust().divoc


def forget_trust_cache() -> None:
    current_app.extensions.pop("divoc_trust", None)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _dsc_entry(dsc: TrustedDsc) -> dict[str, Any]:
    """A DSC as the browser verifier needs it: kid, public key, validity, allowed types."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from .credentials.eudcc import dsc_kid, dsc_usages

    cert = dsc.certificate
    public = cert.public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(public, ec.EllipticCurvePublicKey):
        key_type = "EC"
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(public.curve.name, public.curve.name)
    else:
        key_type, curve = ("RSA" if isinstance(public, rsa.RSAPublicKey) else "other"), None
    return {
        "kid": _b64(dsc_kid(cert)),
        "certificate": _b64(cert.public_bytes(serialization.Encoding.DER)),
        "publicKey": _b64(spki), "keyType": key_type, "curve": curve,
        "notBefore": iso_utc(cert.not_valid_before_utc), "notAfter": iso_utc(cert.not_valid_after_utc),
        "usages": list(dsc_usages(cert)),
        "subject": dsc.name or cert.subject.rfc4514_string(), "own": dsc.own,
    }


def _shc_entry(issuer: TrustedShcIssuer) -> dict[str, Any]:
    """An issuer with only its usable ES256 public keys (as the browser verifier needs them)."""
    from .credentials.shc import usable_jwks_keys

    usable, _ = usable_jwks_keys(issuer.jwks)
    keys = [{k: jwk[k] for k in ("kty", "kid", "use", "alg", "crv", "x", "y")}
            for jwk in issuer.jwks.get("keys", []) if isinstance(jwk, dict) and jwk.get("kid") in usable]
    return {"iss": issuer.iss, "keys": keys, "own": issuer.own}


def trust_document() -> dict[str, Any]:
    """What an offline verifier caches: DIVOC keys and contexts, EU DSCs, SHC issuers, and the
    code -> name tables for showing vaccines."""
    from .credentials.universal import display_labels

    keys, documents = _trusted_documents()
    lists = trust_lists()
    return {"generatedAt": iso_now(), "keys": keys, "contexts": documents,
            "euDscs": [_dsc_entry(d) for d in lists.dscs],
            "shcIssuers": [_shc_entry(i) for i in lists.shc_issuers],
            "labels": display_labels()}


def iso_now() -> str:
    return iso_utc(utcnow())


@dataclass(frozen=True)
class VerifyResult:
    status: str  # valid | revoked | suspended | invalid
    reasons: tuple[str, ...]
    certificate: dict[str, Any] | None
    certificate_id: str | None = None
    format: str = "divoc"

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "format": self.format, "reasons": list(self.reasons),
                "certificate": self.certificate}


def verify_failure(reason: str, channel: str) -> VerifyResult:
    """Record and return an ``invalid`` result for input that could not even be read."""
    from .models import VerificationEvent

    db.session.add(VerificationEvent(channel=channel, status="invalid", reason=reason[:100]))
    return VerifyResult("invalid", (reason,), None)


def verify_input(kind: str, data: Any, channel: str, now: dt.datetime | None = None) -> VerifyResult:
    """Verify a certificate of any format given as ``kind`` = json | bytes | image, and
    record the event.

    Never raises on bad input: unreadable input is an ``invalid`` result with the reason.
    """
    from .credentials import universal
    from .models import VerificationEvent

    trust = universal_trust()
    if kind == "image":
        verdict = universal.verify_image(data, trust, now)
    elif kind == "bytes":
        verdict = universal.verify_bytes(data, trust, now)
    else:
        verdict = universal.verify_request_json(data, trust, now)
    status, reasons, cert_id = verdict.status, verdict.reasons, verdict.certificate_id
    summary = dict(verdict.certificate) if verdict.certificate is not None else None
    rows: list[Certificate] = []
    if verdict.format == universal.SHC and verdict.own and verdict.valid:
        from .shc_exports import card_certificates

        rows = card_certificates(verdict.detail.payloads)
        if rows and summary is not None:
            cert_id = rows[-1].certificate_id
            summary["certificateId"] = cert_id
    elif verdict.valid and cert_id:
        rows = list(db.session.scalars(select(Certificate).where(Certificate.certificate_id == cert_id)))
    if verdict.valid:
        current = utcnow()
        blocked = [r for r in rows if r.effective_status(current) != "valid"]
        if blocked:
            worst = next((r for r in blocked if r.status == REVOKED), blocked[0])
            status, reasons = worst.status, status_reasons(worst)
    db.session.add(VerificationEvent(channel=channel, format=verdict.format, status=status,
                                     reason=(reasons[0] if reasons else "")[:100],
                                     certificate_id=cert_id[:40] if cert_id else None))
    return VerifyResult(status, reasons, summary, cert_id, verdict.format)


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
