"""Certify services: accept requests durably, sign them in batches, look certificates up.

Services take plain values, flush, and raise domain errors; the caller commits.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import defer

from core import jobs
from core.errors import FieldError, NotFound, ValidationError
from core.extensions import db
from core.models import Appointment, Enrolment, Vaccine, local_today, local_zone, utcnow

from . import notifications, signing, tasks
from .models import (
    DUPLICATE,
    FAILED,
    ISSUED,
    PENDING,
    REVOKED,
    AuditEvent,
    Certificate,
    CertifyRequest,
)
from .schemas import validate_certify_batch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemResult:
    index: int
    pre_enrollment_code: str
    dose: int | None
    status: str  # accepted | duplicate
    request_id: int | None = None
    certificate_id: str | None = None
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "preEnrollmentCode": self.pre_enrollment_code,
                               "status": self.status}
        if self.dose is not None:
            out["dose"] = self.dose
        if self.request_id is not None:
            out["requestId"] = self.request_id
        if self.certificate_id:
            out["certificateId"] = self.certificate_id
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class Kind:
    """How one kind of certificate is validated, keyed and described."""

    name: str
    noun: str  # "dose" | "test"

    def validate(self, body: Any, max_items: int) -> list[FieldError]:
        today = local_today()
        if self.name == VACCINATION:
            return validate_certify_batch(body, max_items, today)
        from .schemas import validate_test_batch

        return validate_test_batch(body, max_items, today)

    def event_key(self, item: dict) -> str:
        if self.name == VACCINATION:
            return str(item["vaccination"]["dose"])
        from .credentials import sample_event_key

        return sample_event_key(item)

    def dose(self, item: dict) -> int:
        return item["vaccination"]["dose"] if self.name == VACCINATION else 0

    def total_doses(self, item: dict) -> int:
        return item["vaccination"]["totalDoses"] if self.name == VACCINATION else 0

    def product(self, item: dict) -> str:
        if self.name == VACCINATION:
            return item["vaccination"]["name"]
        return item["testDetails"].get("testName") or item["testDetails"].get("testType") or "test"


VACCINATION, TEST = "vaccination", "test"
KINDS = {VACCINATION: Kind(VACCINATION, "dose"), TEST: Kind(TEST, "test")}


def known_vaccines() -> dict[str, Vaccine]:
    return {v.name.casefold(): v for v in db.session.scalars(select(Vaccine))}


def icd11_map() -> dict[str, tuple[str, str]]:
    """Vaccine name → (ICD-11 code, term): the vaccines table, overlaid by the published map."""
    from . import config_store

    mapping = {v.name: (v.icd11_code, v.icd11_term) for v in db.session.scalars(select(Vaccine))}
    row = config_store.active("map:icd11")
    if row is not None:
        import json

        by_fold = {name.casefold(): name for name in mapping}
        for name, entry in json.loads(row.content).items():
            mapping[by_fold.get(name.casefold(), name)] = (entry["code"], entry["term"])
    return mapping


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def live_by_event(codes: Iterable[str], kind: str) -> dict[tuple[str, str], str]:
    """{(code, event_key): certificate_id} of the live certificates of these beneficiaries."""
    return {
        (code, key): cid for code, key, cid in db.session.execute(
            select(Certificate.pre_enrollment_code, Certificate.event_key, Certificate.certificate_id)
            .where(Certificate.status != REVOKED, Certificate.kind == kind,
                   Certificate.pre_enrollment_code.in_(set(codes))))
    }


def accept_certify_batch(body: Any, client_id: str | None, kind: str = VACCINATION) -> list[ItemResult]:
    """Validate a whole batch and store each new item as a pending request.

    Nothing is stored unless every item is valid. An item whose event (the dose of a
    vaccination, the sample time of a test) already has a live certificate or a pending
    request is answered as a duplicate.
    """
    k = KINDS[kind]
    errors = k.validate(body, current_app.config["CERTIFY_MAX_BATCH"])
    if not errors and kind == VACCINATION:
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

    keys = [(item["preEnrollmentCode"], k.event_key(item)) for item in body]
    live = live_by_event((c for c, _ in keys), kind)
    results: list[ItemResult | None] = [None] * len(body)
    rows, seen = [], {}
    now = utcnow()
    for i, (item, key) in enumerate(zip(body, keys)):
        dose = k.dose(item) if kind == VACCINATION else None
        if key in live:
            results[i] = ItemResult(i, key[0], dose, "duplicate", certificate_id=live[key],
                                    message=f"a certificate for this {k.noun} already exists")
        elif key in seen:
            results[i] = ItemResult(i, key[0], dose, "duplicate",
                                    message=f"the same {k.noun} as item [{seen[key]}]")
        else:
            seen[key] = i
            rows.append({"pre_enrollment_code": key[0], "dose": k.dose(item), "kind": kind,
                         "event_key": key[1], "payload": item, "status": PENDING,
                         "client_id": client_id, "attempts": 0, "created_at": now, "enqueued_at": now})
    inserted: dict[tuple[str, str], int] = {}
    if rows:
        stmt = _insert(CertifyRequest.__table__).on_conflict_do_nothing(
            index_elements=["pre_enrollment_code", "kind", "event_key"],
            index_where=text("status = 'pending'"),
        ).returning(CertifyRequest.id, CertifyRequest.pre_enrollment_code, CertifyRequest.event_key)
        for rid, code, key in db.session.execute(stmt, rows):
            inserted[(code, key)] = rid
    for key, i in seen.items():
        dose = k.dose(body[i]) if kind == VACCINATION else None
        if key in inserted:
            results[i] = ItemResult(i, key[0], dose, "accepted", request_id=inserted[key])
        else:
            results[i] = ItemResult(i, key[0], dose, "duplicate",
                                    message=f"a request for this {k.noun} is already being processed")
    if kind == VACCINATION and inserted:
        complete_appointments({(key[0], k.dose(body[seen[key]])) for key in inserted})
    schedule_signing(sorted(inserted.values()))
    return [r for r in results if r is not None]


def complete_appointments(doses: set[tuple[str, int]]) -> None:
    """A dose accepted for certification was given: its booked appointment (enrolment code,
    dose) is completed, wherever the dose was recorded (the desk, the API, a CSV upload)."""
    codes = {code for code, _ in doses}
    for appointment, code in db.session.execute(
            select(Appointment, Enrolment.code).join(Enrolment, Enrolment.id == Appointment.enrolment_id)
            .where(Enrolment.code.in_(codes), Appointment.status == "booked")):
        if (code, appointment.dose) in doses:
            appointment.status = "completed"
    db.session.flush()


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
    whose event already has a live certificate becomes a duplicate instead.
    """
    rows = db.session.scalars(
        select(CertifyRequest)
        .where(CertifyRequest.id.in_(list(request_ids)), CertifyRequest.status == PENDING)
        .order_by(CertifyRequest.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    live: dict[tuple[str, str, str], str] = {}
    for kind in {r.kind for r in rows}:
        for (code, key), cid in live_by_event({r.pre_enrollment_code for r in rows if r.kind == kind},
                                              kind).items():
            live[(code, kind, key)] = cid
    issuer = signing.current_issuer()
    icd11 = icd11_map() if any(r.kind == VACCINATION for r in rows) else {}
    now = utcnow()
    certificates, audits = [], []
    for req in rows:
        req.processed_at = now
        key = (req.pre_enrollment_code, req.kind, req.event_key)
        if key in live:
            req.status, req.certificate_id = DUPLICATE, live[key]
            continue
        certificate_id = new_certificate_id()
        try:
            if req.kind == VACCINATION:
                credential = issuer.issue_vaccination(req.payload, certificate_id, icd11, now)
            else:
                credential = issuer.issue_test(req.payload, certificate_id, now)
        except Exception as exc:  # bad data for this item only; keep it visible, go on
            logger.exception("signing request %s failed", req.id)
            req.status, req.error = FAILED, f"{type(exc).__name__}: {exc}"
            continue
        k = KINDS[req.kind]
        certificates.append(certificate_row(req.payload, k, certificate_id, credential, now,
                                            request_id=req.id))
        audits.append({"at": now, "actor": f"client:{req.client_id}" if req.client_id else "system",
                       "action": "issue", "pre_enrollment_code": req.pre_enrollment_code,
                       "kind": req.kind, "dose": req.dose if req.kind == VACCINATION else None,
                       "before_certificate_id": None, "after_certificate_id": certificate_id,
                       "details": {"requestId": req.id}})
        req.status, req.certificate_id = ISSUED, certificate_id
        live[key] = certificate_id
    db.session.add_all(certificates)
    db.session.flush()
    notifications.certificates_issued(certificates, rows)  # delivered after this commit
    if audits:
        db.session.execute(insert(AuditEvent), audits)
    if certificates and current_app.config.get("PRERENDER_LANGUAGES"):
        tasks.prerender.after_commit([c.id for c in certificates])
    return len(certificates)


def prerender(certificate_pks: list[int]) -> int:
    """Fill the artifact cache for these certificates (idempotent: cached ones are skipped)."""
    languages = [lang.strip() for lang in current_app.config["PRERENDER_LANGUAGES"].split(",") if lang.strip()]
    done = 0
    for cert in db.session.scalars(select(Certificate).where(Certificate.id.in_(certificate_pks),
                                                             Certificate.status != REVOKED)):
        artifact(cert, "qr")
        for lang in languages:
            artifact(cert, "pdf", lang=lang)
            done += 1
    return done


def certificate_row(item: dict, k: Kind, certificate_id: str, credential: dict, now: dt.datetime,
                    **extra: Any) -> Certificate:
    recipient = item["recipient"]
    return Certificate(
        certificate_id=certificate_id, pre_enrollment_code=item["preEnrollmentCode"],
        dose=k.dose(item), total_doses=k.total_doses(item), kind=k.name, event_key=k.event_key(item),
        name=recipient["name"], mobile=_mobile(recipient), vaccine=k.product(item),
        credential=credential, issued_at=now, **extra)


def sweep(grace_seconds: int | None = None) -> int:
    """Re-enqueue accepted requests still pending after the grace period; return the count.

    Covers a worker killed mid-job and a Redis that lost its queue. A request retried
    SIGN_MAX_ATTEMPTS times is marked failed with the reason, never silently dropped.
    While the queue has a backlog, requests accepted after its oldest waiting job are
    only waiting their turn: they are neither re-enqueued nor charged an attempt, so a
    long backlog (say after an outage) never fails work that was not yet tried.
    """
    cfg = current_app.config
    grace = cfg["SWEEP_GRACE"] if grace_seconds is None else grace_seconds
    cutoff = utcnow() - dt.timedelta(seconds=grace)
    head = jobs.backlog_since("certify")
    if head is not None:
        cutoff = min(cutoff, head - dt.timedelta(seconds=grace))
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


def latest_certificate(code: str, dose: int | None = None, kind: str = VACCINATION) -> Certificate:
    """The live certificate of the highest dose (or of ``dose``; tests: the latest), newest first."""
    stmt = select(Certificate).options(defer(Certificate.credential)).where(
        Certificate.pre_enrollment_code == code, Certificate.kind == kind, Certificate.status != REVOKED)
    if dose is not None:
        stmt = stmt.where(Certificate.dose == dose)
    cert = db.session.scalar(stmt.order_by(Certificate.dose.desc(), Certificate.issued_at.desc()).limit(1))
    if cert is None:
        what = "test certificate" if kind == TEST else "certificate"
        raise NotFound(f"no {what} for this beneficiary" + (f" and dose {dose}" if dose else ""))
    return cert


def artifact_version(cert: Certificate, kind: str, lang: str) -> str:
    """Cache key part: changes when the shipped templates, the published template or the
    certificate settings change, so a stale PDF is never served."""
    if kind == "qr":
        return "qr1"
    from . import config_store

    versions = config_store.active_versions()
    per_lang, shared = f"template:{cert.kind}:{lang.split('+')[0]}", f"template:{cert.kind}"
    template = f"{per_lang}={versions[per_lang]}" if per_lang in versions else f"{shared}={versions.get(shared, 0)}"
    return f"{config_store.shipped_templates_digest()}.{template}.s{versions.get('settings', 0)}"[:40]


_artifact_memo: OrderedDict[tuple, bytes] = OrderedDict()
ARTIFACT_MEMO_SIZE = 256


def _remember(key: tuple, content: bytes) -> None:
    """A small per-process LRU of rendered artifacts (immutable for their version key)."""
    _artifact_memo[key] = content
    while len(_artifact_memo) > ARTIFACT_MEMO_SIZE:
        _artifact_memo.popitem(last=False)


def artifact(cert: Certificate, kind: str, lang: str = "") -> bytes:
    """The certificate's QR PNG or PDF: rendered on first fetch, then served from the cache.

    ``lang`` is a language code, or ``<code>+en`` for the bilingual layout. The cache key holds
    the certificate, the language and the template/settings versions in force.
    """
    from . import config_store
    from .credentials import pack_qr_payload, qr_png
    from .models import RenderedArtifact

    version = artifact_version(cert, kind, lang)
    memo_key = (cert.certificate_id, kind, lang, version)  # ids are never reused, unlike row pks
    if memo_key in _artifact_memo:
        _artifact_memo.move_to_end(memo_key)
        return _artifact_memo[memo_key]
    cached = db.session.scalar(select(RenderedArtifact.content).where(
        RenderedArtifact.certificate_pk == cert.id, RenderedArtifact.kind == kind,
        RenderedArtifact.lang == lang, RenderedArtifact.version == version))
    language, bilingual = (lang or "en").split("+")[0], lang.endswith("+en")
    if cached is not None:
        _remember(memo_key, cached)
        return cached
    if kind == "qr":
        content = qr_png(pack_qr_payload(cert.credential))
    elif kind == "pdf" and cert.kind == TEST:
        from .render import TestCertificateView

        view = TestCertificateView.from_credential(
            cert.credential, display_tz=local_zone())
        content = config_store.template_renderer().render_test_pdf(
            view, artifact(cert, "qr"), lang=language, bilingual=bilingual)
    elif kind == "pdf":
        from .render import CertificateView

        previous = [c.credential for c in db.session.scalars(
            select(Certificate).where(Certificate.pre_enrollment_code == cert.pre_enrollment_code,
                                      Certificate.kind == VACCINATION,
                                      Certificate.status != REVOKED, Certificate.dose < cert.dose)
            .order_by(Certificate.dose))]
        view = CertificateView.from_credential(
            cert.credential, previous_doses=previous,
            display_tz=local_zone())
        content = config_store.template_renderer().render_pdf(
            view, artifact(cert, "qr"), lang=language, bilingual=bilingual)
    else:
        raise ValueError(f"unknown artifact kind {kind!r}")
    db.session.execute(_insert(RenderedArtifact.__table__).values(
        certificate_pk=cert.id, kind=kind, lang=lang, version=version, content=content,
        created_at=utcnow()).on_conflict_do_nothing())
    return content
