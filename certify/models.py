"""Certify models: the request inbox, issued certificates and rendered artifacts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models import BigId, JSONType, TZDateTime, as_aware, utcnow

PENDING, ISSUED, DUPLICATE, FAILED = "pending", "issued", "duplicate", "failed"
VALID, REVOKED, SUSPENDED = "valid", "revoked", "suspended"
#: TrustedKey.key_type values: DIVOC issuer keys, EU document signers, SMART Health Card issuers.
ED25519_KEY, RSA_KEY = "Ed25519VerificationKey2018", "RsaVerificationKey2018"
DIVOC_KEY_TYPES = (ED25519_KEY, RSA_KEY)
EU_DSC, SHC_ISSUER = "EuDscCertificate", "ShcIssuerJwks"


class CertifyRequest(db.Model):
    """One accepted certify item: written before the API answers, signed later by a worker.

    At most one *pending* request may exist per event: (preEnrollmentCode, kind, event_key),
    where the event key is the dose for a vaccination and the sample time for a test.
    """

    __tablename__ = "certify_requests"
    __table_args__ = (
        Index("uq_certify_requests_pending_event", "pre_enrollment_code", "kind", "event_key", unique=True,
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
        Index("ix_certify_requests_pending_enqueued", "enqueued_at",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pre_enrollment_code: Mapped[str] = mapped_column(String(100))
    dose: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20), default="vaccination")
    event_key: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    client_id: Mapped[str | None] = mapped_column(String(64))
    certificate_id: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    enqueued_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)


class Certificate(db.Model):
    """A signed credential. At most one live (not revoked) certificate per event.

    An update revokes a certificate and issues its successor in one transaction; both
    share ``chain_id`` (the first certificate's id) and the successor has ``revision`` + 1.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        Index("uq_certificates_live_event", "pre_enrollment_code", "kind", "event_key", unique=True,
              postgresql_where=text("status <> 'revoked'"), sqlite_where=text("status <> 'revoked'")),
        Index("ix_certificates_code_issued", "pre_enrollment_code", "issued_at"),
        Index("ix_certificates_issued_at", "issued_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(40), unique=True)
    pre_enrollment_code: Mapped[str] = mapped_column(String(100))
    dose: Mapped[int]  # 0 for a test result
    total_doses: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20), default="vaccination")
    event_key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    mobile: Mapped[str | None] = mapped_column(String(40), index=True)
    vaccine: Mapped[str] = mapped_column(String(200))
    credential: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default=VALID)
    request_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("certify_requests.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    suspended_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    replaced_by: Mapped[str | None] = mapped_column(String(40))
    chain_id: Mapped[str | None] = mapped_column(String(40), index=True)
    revision: Mapped[int] = mapped_column(default=0)

    def effective_status(self, now: dt.datetime) -> str:
        """valid | revoked | suspended, with an expired suspension counting as valid."""
        return effective_status(self.status, self.suspended_until, now)


def effective_status(status: str, suspended_until: dt.datetime | None, now: dt.datetime) -> str:
    """A status as of ``now``: a suspension whose end has passed counts as valid."""
    if status == SUSPENDED and suspended_until is not None and as_aware(suspended_until) <= now:
        return VALID
    return status


class RenderedArtifact(db.Model):
    """A cached rendering (PDF or QR PNG) of a certificate, made on first fetch."""

    __tablename__ = "rendered_artifacts"

    certificate_pk: Mapped[int] = mapped_column(
        BigId, ForeignKey("certificates.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    lang: Mapped[str] = mapped_column(String(10), primary_key=True, default="")
    version: Mapped[str] = mapped_column(String(40), primary_key=True, default="1")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class TrustedKey(db.Model):
    """A key the verifier trusts: a DIVOC issuer key (ours after a rotation, or another
    deployment's), an EU document signer certificate, or a SMART Health Card issuer's JWKS.

    ``key_id`` is the proof's verificationMethod (DIVOC), the SHA-256 fingerprint of the
    DSC's DER in hex (EU) or the issuer URL ``iss`` (SHC).
    """

    __tablename__ = "trusted_keys"
    __table_args__ = (UniqueConstraint("key_id", "key_type", name="uq_trusted_keys_key_id_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(300))
    key_type: Mapped[str] = mapped_column(String(40))  # DIVOC_KEY_TYPES | EU_DSC | SHC_ISSUER
    public_key: Mapped[str] = mapped_column(Text)  # base58 (Ed25519), PEM (RSA, DSC) or JWKS JSON (SHC)
    issuer_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class TrustedContext(db.Model):
    """A JSON-LD context URL the verifier accepts, with the document it stands for."""

    __tablename__ = "trusted_contexts"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    document: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class VerificationEvent(db.Model):
    """One verification: when, how, the result and the certificate id. No personal data."""

    __tablename__ = "verification_events"
    __table_args__ = (Index("ix_verification_events_created_status", "created_at", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(20))  # api | cli | page
    format: Mapped[str] = mapped_column(String(20), default="divoc")
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(100), default="")
    certificate_id: Mapped[str | None] = mapped_column(String(40), index=True)


class StatusEvent(db.Model):
    """Every revocation, suspension and reinstatement; its id is the revocation list serial."""

    __tablename__ = "certificate_status_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))  # revoked | suspended | valid (reinstated)
    reason: Mapped[str] = mapped_column(Text, default="")
    until: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class AuditEvent(db.Model):
    """Append-only history: who issued, updated, revoked, suspended or reinstated what.

    The app only inserts; on PostgreSQL a trigger refuses UPDATE and DELETE.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_code_at", "pre_enrollment_code", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))  # client:<id>, user:<id>, cli, system
    action: Mapped[str] = mapped_column(String(20))  # issue | update | revoke | suspend | reinstate
    pre_enrollment_code: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="vaccination")
    dose: Mapped[int | None]
    before_certificate_id: Mapped[str | None] = mapped_column(String(40))
    after_certificate_id: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)


class ConfigVersion(db.Model):
    """One version of a runtime-editable document: a certificate template, a code map or the
    certificate settings. Exactly one version per key is active; older ones stay for rollback."""

    __tablename__ = "config_versions"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_config_versions_key_version"),
        Index("uq_config_versions_active_key", "key", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(500), default="")
    author: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class DownloadCount(db.Model):
    """Certificates handed out per local day, by channel (api, portal, sms_link, facility) and
    kind (pdf, qr, eu, shc). Counted in Redis on the download path and folded in here by
    certify.downloads.fold (straight into this table when there is no Redis)."""

    __tablename__ = "download_counts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
