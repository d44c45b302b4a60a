"""Certify services: accept requests durably, sign them in batches, look certificates up.

Services take plain values, flush, and raise domain errors; the caller commits.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import FieldError, NotFound, ValidationError
from core.extensions import db
from core.models import Vaccine, utcnow

from . import signing, tasks
from .models import (
    DUPLICATE,
    FAILED,
    ISSUED,
    PENDING,
    REVOKED,
    Certificate,
    CertifyRequest,
)
from .schemas import validate_certify_batch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemResult:
    index: int
    pre_enrollment_code: str
    dose: int
    status: str  # accepted | duplicate
    request_id: int | None = None
    certificate_id: str | None = None
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "preEnrollmentCode": self.pre_enrollment_code,
                               "dose": self.dose, "status": self.status}
        if self.request_id is not None:
            out["requestId"] = self.request_id
        if self.certificate_id:
            out["certificateId"] = self.certificate_id
        if self.message:
            out["message"] = self.message
        return out


def known_vaccines() -> dict[str, Vaccine]:
    return {v.name.casefold(): v for v in db.session.scalars(select(Vaccine))}


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def accept_certify_batch(body: Any, client_id: str | None) -> list[ItemResult]:
    """Validate a whole batch and store each new item as a pending request.

    Nothing is stored unless every item is valid. An item whose (code, dose) already
    has a live certificate or a pending request is answered as a duplicate.
    """
    cfg = current_app.config
    errors = validate_certify_batch(body, cfg["CERTIFY_MAX_BATCH"], dt.date.today())
    if not errors:
        vaccines = known_vaccines()
        for i, item in enumerate(body):
            if item["vaccination"]["name"].strip().casefold() not in vaccines:
                names = ", ".join(sorted(v.name for v in vaccines.values())) or "none configured"
                errors.append(FieldError(f"[{i}].vaccination.name",
                                         f"unknown vaccine; known vaccines: {names}"))
    if errors:
        raise ValidationError(
            f"{len({e.path.split('.')[0] for e in errors})} of {len(body) if isinstance(body, list) else 1}"
            " item(s) are invalid; nothing was stored", errors)

    keys = [(item["preEnrollmentCode"], item["vaccination"]["dose"]) for item in body]
    live = {
        (code, dose): cid for code, dose, cid in db.session.execute(
            select(Certificate.pre_enrollment_code, Certificate.dose, Certificate.certificate_id)
            .where(Certificate.status != REVOKED,
                   Certificate.pre_enrollment_code.in_({k[0] for k in keys})))
    }

    results: list[ItemResult | None] = [None] * len(body)
    rows, seen = [], {}
    now = utcnow()
    for i, (item, key) in enumerate(zip(body, keys)):
        if key in live:
            results[i] = ItemResult(i, *key, status="duplicate", certificate_id=live[key],
                                    message="a certificate for this dose already exists")
        elif key in seen:
            results[i] = ItemResult(i, *key, status="duplicate",
                                    message=f"same preEnrollmentCode and dose as item [{seen[key]}]")
        else:
            seen[key] = i
            rows.append({"pre_enrollment_code": key[0], "dose": key[1], "kind": "vaccination",
                         "payload": item, "status": PENDING, "client_id": client_id,
                         "attempts": 0, "created_at": now, "enqueued_at": now})
    inserted: dict[tuple[str, int], int] = {}
    if rows:
        stmt = _insert(CertifyRequest.__table__).on_conflict_do_nothing(
            index_elements=["pre_enrollment_code", "dose"],
            index_where=text("status = 'pending'"),
        ).returning(CertifyRequest.id, CertifyRequest.pre_enrollment_code, CertifyRequest.dose)
        for rid, code, dose in db.session.execute(stmt, rows):
            inserted[(code, dose)] = rid
    for key, i in seen.items():
        if key in inserted:
            results[i] = ItemResult(i, *key, status="accepted", request_id=inserted[key])
        else:
            results[i] = ItemResult(i, *key, status="duplicate",
                                    message="a request for this dose is already being processed")
    schedule_signing(sorted(inserted.values()))
    return [r for r in results if r is not None]


def schedule_signing(request_ids: Sequence[int]) -> None:
    size = current_app.config["SIGN_BATCH_SIZE"]
    for start in range(0, len(request_ids), size):
        tasks.sign_requests.after_commit(list(request_ids[start:start + size]))


def new_certificate_id() -> str:
    """A 20-digit random id (about 66 bits): unique by index, not guessable."""
    return str(10**19 + secrets.randbelow(9 * 10**19))


def _mobile(recipient: dict) -> str | None:
    for contact in recipient.get("contact") or []:
        if contact.startswith("tel:"):
            return contact[4:]
    return None


def sign_pending(request_ids: Iterable[int]) -> int:
    """Sign the still-pending requests among ``request_ids``; return how many were issued.

    Rows are locked (SKIP LOCKED), so two workers never sign the same request; a request
    whose dose already has a live certificate becomes a duplicate instead.
    """
    rows = db.session.scalars(
        select(CertifyRequest)
        .where(CertifyRequest.id.in_(list(request_ids)), CertifyRequest.status == PENDING)
        .order_by(CertifyRequest.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    live = {
        (code, dose): cid for code, dose, cid in db.session.execute(
            select(Certificate.pre_enrollment_code, Certificate.dose, Certificate.certificate_id)
            .where(Certificate.status != REVOKED,
                   Certificate.pre_enrollment_code.in_({r.pre_enrollment_code for r in rows})))
    }
    issuer = signing.current_issuer()
    vaccines = known_vaccines()
    now = utcnow()
    certificates = []
    for req in rows:
        req.processed_at = now
        key = (req.pre_enrollment_code, req.dose)
        if key in live:
            req.status, req.certificate_id = DUPLICATE, live[key]
            continue
        certificate_id = new_certificate_id()
        try:
            credential = issuer.issue_vaccination(req.payload, certificate_id, vaccines, now)
        except Exception as exc:  # bad data for this item only; keep it visible, go on
            logger.exception("signing request %s failed", req.id)
            req.status, req.error = FAILED, f"{type(exc).__name__}: {exc}"
            continue
        recipient, vaccination = req.payload["recipient"], req.payload["vaccination"]
        certificates.append(Certificate(
            certificate_id=certificate_id, pre_enrollment_code=req.pre_enrollment_code,
            dose=req.dose, total_doses=vaccination["totalDoses"], kind=req.kind,
            name=recipient["name"], mobile=_mobile(recipient), vaccine=vaccination["name"],
            credential=credential, request_id=req.id, issued_at=now))
        req.status, req.certificate_id = ISSUED, certificate_id
        live[key] = certificate_id
    db.session.add_all(certificates)
    db.session.flush()
    return len(certificates)


def sweep(grace_seconds: int | None = None) -> int:
    """Re-enqueue accepted requests still pending after the grace period; return the count.

    Covers a worker killed mid-job and a Redis that lost its queue. A request retried
    SIGN_MAX_ATTEMPTS times is marked failed with the reason, never silently dropped.
    """
    cfg = current_app.config
    grace = cfg["SWEEP_GRACE"] if grace_seconds is None else grace_seconds
    cutoff = utcnow() - dt.timedelta(seconds=grace)
    rows = db.session.execute(
        select(CertifyRequest.id, CertifyRequest.attempts)
        .where(CertifyRequest.status == PENDING, CertifyRequest.enqueued_at <= cutoff)
        .order_by(CertifyRequest.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    give_up = [r.id for r in rows if r.attempts + 1 >= cfg["SIGN_MAX_ATTEMPTS"]]
    retry = [r.id for r in rows if r.attempts + 1 < cfg["SIGN_MAX_ATTEMPTS"]]
    now = utcnow()
    if give_up:
        db.session.execute(
            update(CertifyRequest).where(CertifyRequest.id.in_(give_up))
            .values(status=FAILED, processed_at=now,
                    error=f"not signed after {cfg['SIGN_MAX_ATTEMPTS']} attempts"))
    if retry:
        db.session.execute(
            update(CertifyRequest).where(CertifyRequest.id.in_(retry))
            .values(enqueued_at=now, attempts=CertifyRequest.attempts + 1))
        schedule_signing(retry)
    return len(retry)


def certificates_for(code: str) -> list[Certificate]:
    return list(db.session.scalars(
        select(Certificate).where(Certificate.pre_enrollment_code == code)
        .order_by(Certificate.dose, Certificate.issued_at)))


def get_certificate(certificate_id: str) -> Certificate:
    cert = db.session.scalar(select(Certificate).where(Certificate.certificate_id == certificate_id))
    if cert is None:
        raise NotFound("no certificate with this id")
    return cert


def latest_certificate(code: str, dose: int | None = None) -> Certificate:
    """The live certificate of the highest dose (or of ``dose``), newest first."""
    stmt = select(Certificate).where(Certificate.pre_enrollment_code == code,
                                     Certificate.status != REVOKED)
    if dose is not None:
        stmt = stmt.where(Certificate.dose == dose)
    cert = db.session.scalar(stmt.order_by(Certificate.dose.desc(), Certificate.issued_at.desc()).limit(1))
    if cert is None:
        raise NotFound("no certificate for this beneficiary" + (f" and dose {dose}" if dose else ""))
    return cert


def _renderer():
    from .render import CertificateRenderer

    renderer = current_app.extensions.get("certificate_renderer")
    if renderer is None:
        cfg = current_app.config
        renderer = current_app.extensions["certificate_renderer"] = CertificateRenderer(
            issuer_name=cfg["CERTIFICATE_ISSUER_NAME"], slogan=cfg["CERTIFICATE_SLOGAN"])
    return renderer


ARTIFACT_VERSION = "1"


def artifact(cert: Certificate, kind: str, lang: str = "") -> bytes:
    """The certificate's QR PNG or PDF: rendered on first fetch, then served from the cache."""
    from .credentials import pack_qr_payload, qr_png
    from .models import RenderedArtifact

    cached = db.session.get(RenderedArtifact, (cert.id, kind, lang, ARTIFACT_VERSION))
    if cached is not None:
        return cached.content
    if kind == "qr":
        content = qr_png(pack_qr_payload(cert.credential))
    elif kind == "pdf":
        from .render import CertificateView

        previous = [c.credential for c in db.session.scalars(
            select(Certificate).where(Certificate.pre_enrollment_code == cert.pre_enrollment_code,
                                      Certificate.status != REVOKED, Certificate.dose < cert.dose)
            .order_by(Certificate.dose))]
        view = CertificateView.from_credential(
            cert.credential, previous_doses=previous,
            display_tz=ZoneInfo(current_app.config["CERTIFICATE_TIMEZONE"]))
        content = _renderer().render_pdf(view, artifact(cert, "qr"), lang=lang or "en")
    else:
        raise ValueError(f"unknown artifact kind {kind!r}")
    db.session.execute(_insert(RenderedArtifact.__table__).values(
        certificate_pk=cert.id, kind=kind, lang=lang, version=ARTIFACT_VERSION, content=content,
        created_at=utcnow()).on_conflict_do_nothing())
    return content


# --- Verification -----------------------------------------------------------------------

TRUST_CACHE_SECONDS = 30
BASE_CONTEXTS = frozenset({"https://www.w3.org/2018/credentials/v1", "https://w3id.org/security/v1",
                           "https://w3id.org/security/v2"})


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
    for row in db.session.scalars(select(TrustedContext)):
        documents[row.url] = row.document
    return keys, documents


def trust_store():
    """The verifier's trust store, rebuilt at most every TRUST_CACHE_SECONDS per process."""
    import time

    from .credentials import (
        Ed25519VerificationKey,
        RsaVerificationKey,
        make_document_loader,
    )
    from .credentials.verify import TrustStore

    cached = current_app.extensions.get("divoc_trust")
    if cached and time.monotonic() - cached[0] < TRUST_CACHE_SECONDS:
        return cached[1]
    keys, documents = _trusted_documents()
    loaded: dict[str, tuple] = {}
    for doc in keys:
        kid = doc["id"]
        key = (RsaVerificationKey.from_pem(doc["publicKeyPem"], kid) if "publicKeyPem" in doc
               else Ed25519VerificationKey.from_base58(doc["publicKeyBase58"], kid))
        loaded[kid] = loaded.get(kid, ()) + (key,)
    store = TrustStore(keys=loaded, loader=make_document_loader(documents),
                       contexts=frozenset(documents) - BASE_CONTEXTS)
    current_app.extensions["divoc_trust"] = (time.monotonic(), store)
    return store


def forget_trust_cache() -> None:
    current_app.extensions.pop("divoc_trust", None)


def trust_document() -> dict[str, Any]:
    """What an offline verifier caches: trusted keys and the context documents."""
    keys, documents = _trusted_documents()
    return {"generatedAt": iso_now(), "keys": keys, "contexts": documents}


def iso_now() -> str:
    from core.models import iso_utc

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
    from core.models import iso_utc

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
        if row is not None and row.status != "valid":
            status = row.status
            when = iso_utc(row.revoked_at) if row.revoked_at else "an unknown time"
            reasons = (f"{row.status} at {when}",) if row.status == REVOKED else (f"{row.status}",)
            if row.status == REVOKED and current_app.config.get("CERTIFICATE_REVOKED_MESSAGE"):
                reasons += (current_app.config["CERTIFICATE_REVOKED_MESSAGE"],)
    db.session.add(VerificationEvent(channel=channel, format=outcome.format, status=status,
                                     reason=(reasons[0] if reasons else "")[:100],
                                     certificate_id=cert_id[:40] if cert_id else None))
    return VerifyResult(status, reasons, vlib.summary(outcome.credential) if outcome.credential else None,
                        cert_id)


def revocation_list() -> dict[str, Any]:
    """Revoked and suspended certificates, for offline verifiers."""
    from core.models import iso_utc

    cfg = current_app.config
    rows = db.session.execute(
        select(Certificate.certificate_id, Certificate.status, Certificate.revoked_at)
        .where(Certificate.status != "valid").order_by(Certificate.revoked_at)).all()
    now = utcnow()
    latest = max((r.revoked_at for r in rows if r.revoked_at), default=None)
    return {
        "issuer": cfg["CERTIFICATE_ISSUER"],
        "serial": int(latest.timestamp() * 1000) if latest else 0,
        "thisUpdate": iso_utc(now),
        "nextUpdate": iso_utc(now + dt.timedelta(seconds=cfg["REVOCATION_LIST_MAX_AGE"])),
        "entries": [{"certificateId": r.certificate_id, "status": r.status,
                     "time": iso_utc(r.revoked_at) if r.revoked_at else None, "reason": ""}
                    for r in rows],
    }
