"""Certificate lifecycle: update (re-issue and revoke in one transaction), revoke, suspend,
reinstate, the signed revocation list, per-certificate status and the audit trail.

Services take plain values, flush, and raise domain errors; the caller commits.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from core.errors import Conflict, FieldError, NotFound, ValidationError
from core.extensions import db
from core.models import iso_utc, utcnow

from . import notifications, services, signing
from .credentials.jws import sign_document
from .models import REVOKED, SUSPENDED, VALID, AuditEvent, Certificate, StatusEvent


class UpdateLimitReached(Conflict):
    code = "update_limit_reached"


def _audit(actor: str, action: str, cert: Certificate, before: str | None, after: str | None,
           **details: Any) -> None:
    db.session.add(AuditEvent(
        actor=actor, action=action, pre_enrollment_code=cert.pre_enrollment_code, kind=cert.kind,
        dose=cert.dose if cert.kind == services.VACCINATION else None,
        before_certificate_id=before, after_certificate_id=after, details=details))


def _set_status(cert: Certificate, status: str, reason: str, now: dt.datetime,
                until: dt.datetime | None = None) -> None:
    cert.status, cert.status_reason, cert.status_changed_at = status, reason, now
    cert.suspended_until = until if status == SUSPENDED else None
    if status == REVOKED:
        cert.revoked_at = now
    db.session.add(StatusEvent(certificate_id=cert.certificate_id, status=status, reason=reason,
                               until=cert.suspended_until, at=now))


def lock_live(code: str, kind: str, event_key: str) -> Certificate | None:
    """The live certificate of one event, locked FOR UPDATE.

    Under READ COMMITTED a concurrent update may revoke the row we waited for; then we look
    again and lock its successor, so concurrent updates apply one after the other.
    """
    for _ in range(10):
        pk = db.session.scalar(select(Certificate.id).where(
            Certificate.pre_enrollment_code == code, Certificate.kind == kind,
            Certificate.event_key == event_key, Certificate.status != REVOKED))
        if pk is None:
            return None
        cert = db.session.scalar(select(Certificate).where(Certificate.id == pk).with_for_update()
                                 .execution_options(populate_existing=True))
        if cert is not None and cert.status != REVOKED:
            return cert
    raise Conflict("the certificate kept changing while it was being updated; try again")


def update_certificates(body: Any, actor: str, kind_name: str = "vaccination") -> list[dict[str, Any]]:
    """Re-issue each item's certificate with the corrected data and revoke the old one.

    Items are matched by event: (preEnrollmentCode, vaccination.dose), or for test results
    (preEnrollmentCode, testDetails.sampleCollectionTimestamp). The new certificate gets a
    new id; the old is revoked in the same transaction, so there is never a moment with
    two live certificates for an event, nor one with none.
    """
    cfg = current_app.config
    kind = services.KINDS[kind_name]
    errors = kind.validate(body, cfg["CERTIFY_MAX_BATCH"])
    vaccines = services.known_vaccines() if kind_name == services.VACCINATION else {}
    if not errors and kind_name == services.VACCINATION:
        for i, item in enumerate(body):
            if item["vaccination"]["name"].strip().casefold() not in vaccines:
                errors.append(FieldError(f"[{i}].vaccination.name", "unknown vaccine"))
    if errors:
        raise ValidationError("invalid update request; nothing was changed", errors)
    locked: list[Certificate] = []
    missing = []
    for i, item in enumerate(body):
        cert = lock_live(item["preEnrollmentCode"], kind.name, kind.event_key(item))
        if cert is None:
            what = (f"dose {kind.dose(item)}" if kind_name == services.VACCINATION
                    else f"the test sampled at {kind.event_key(item)}")
            missing.append(FieldError(f"[{i}]", f"no certificate for preEnrollmentCode "
                                               f"{item['preEnrollmentCode']} {what}"))
        locked.append(cert)
    if missing:
        raise NotFound("no certificate to update; nothing was changed", missing)

    limit = signing.effective_config()["CERTIFICATE_UPDATE_LIMIT"]
    icd11 = services.icd11_map() if kind_name == services.VACCINATION else {}
    issuer = signing.current_issuer()
    now = utcnow()
    results = []
    for i, item in enumerate(body):
        old = locked[i] if locked[i].status != REVOKED else lock_live(
            item["preEnrollmentCode"], kind.name, kind.event_key(item))
        if old.revision >= limit:
            raise UpdateLimitReached(
                f"this certificate has been updated {old.revision} times, the limit is {limit}; "
                "nothing was changed", [FieldError(f"[{i}]", f"update limit of {limit} reached")])
        new_id = services.new_certificate_id()
        credential = (issuer.issue_vaccination(item, new_id, icd11, now) if kind_name == services.VACCINATION
                      else issuer.issue_test(item, new_id, now))
        _set_status(old, REVOKED, f"updated: replaced by {new_id}", now)
        old.replaced_by = new_id
        db.session.flush()  # the old row leaves the live index before the new one enters it
        new = services.certificate_row(item, kind, new_id, credential, now,
                                       chain_id=old.chain_id or old.certificate_id,
                                       revision=old.revision + 1)
        db.session.add(new)
        db.session.flush()
        _audit(actor, "update", new, old.certificate_id, new_id, revision=new.revision)
        notifications.certificate_updated(new, item)
        locked[i] = new
        results.append({"index": i, "preEnrollmentCode": item["preEnrollmentCode"],
                        "dose": new.dose if kind_name == services.VACCINATION else None, "status": "updated", "certificateId": new_id,
                        "previousCertificateId": old.certificate_id, "revision": new.revision})
    return results


def revoke_doses(code: str, doses: list[int], all_doses: bool, reason: str, actor: str) -> list[dict]:
    """Revoke doses of a beneficiary: a sequential run that includes the latest dose."""
    live = list(db.session.scalars(
        select(Certificate).where(Certificate.pre_enrollment_code == code,
                                  Certificate.kind == services.VACCINATION, Certificate.status != REVOKED)
        .order_by(Certificate.dose).with_for_update()))
    if not live:
        raise NotFound(f"no live certificate for preEnrollmentCode {code}")
    latest = live[-1].dose
    if all_doses:
        targets = live
    else:
        if not doses:
            raise ValidationError("say which doses to revoke",
                                  [FieldError("doses", "give doses=N (repeatable) or allDoses=true")])
        wanted = sorted(set(doses))
        if wanted != list(range(wanted[0], wanted[-1] + 1)):
            raise ValidationError("the doses must be sequential", [FieldError(
                "doses", f"must be a sequential run such as {wanted[0]}..{latest}; got {wanted}")])
        if wanted[-1] != latest:
            raise ValidationError("the doses must include the latest dose", [FieldError(
                "doses", f"must include the latest dose ({latest}); revoke later doses first")])
        have = {c.dose for c in live}
        absent = [d for d in wanted if d not in have]
        if absent:
            raise NotFound("no live certificate for some doses",
                           [FieldError("doses", f"no live certificate for dose {d}") for d in absent])
        targets = [c for c in live if c.dose in wanted]
    now = utcnow()
    for cert in targets:
        _set_status(cert, REVOKED, reason, now)
        _audit(actor, "revoke", cert, cert.certificate_id, None, reason=reason)
        notifications.certificate_revoked(cert)
    return [{"dose": c.dose, "certificateId": c.certificate_id, "status": REVOKED} for c in targets]


def revoke_certificate(certificate_id: str, reason: str, actor: str) -> Certificate:
    """Revoke one certificate by id (any kind; for doses DIVOC's dose-run rule applies)."""
    cert = _locked_certificate(certificate_id)
    if cert.status == REVOKED:
        raise Conflict("this certificate is already revoked")
    if cert.kind == services.VACCINATION:
        later = db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.pre_enrollment_code == cert.pre_enrollment_code,
            Certificate.kind == cert.kind, Certificate.status != REVOKED, Certificate.dose > cert.dose))
        if later:
            raise ValidationError("revoke the later doses first", [FieldError(
                "certificateId", "a later dose is still live; the revoked doses must include the latest")])
    _set_status(cert, REVOKED, reason, utcnow())
    _audit(actor, "revoke", cert, cert.certificate_id, None, reason=reason)
    notifications.certificate_revoked(cert)
    return cert


def _locked_certificate(certificate_id: str) -> Certificate:
    cert = db.session.scalar(select(Certificate).where(Certificate.certificate_id == certificate_id)
                             .with_for_update())
    if cert is None:
        raise NotFound("no certificate with this id")
    return cert


def suspend(certificate_id: str, reason: str, until: dt.datetime | None, actor: str) -> Certificate:
    cert = _locked_certificate(certificate_id)
    if cert.status == REVOKED:
        raise Conflict("a revoked certificate cannot be suspended")
    now = utcnow()
    if until is not None and until <= now:
        raise ValidationError("the suspension must end in the future", [FieldError("until", "must be in the future")])
    _set_status(cert, SUSPENDED, reason, now, until)
    _audit(actor, "suspend", cert, cert.certificate_id, cert.certificate_id, reason=reason,
           until=iso_utc(until) if until else None)
    return cert


def reinstate(certificate_id: str, reason: str, actor: str) -> Certificate:
    cert = _locked_certificate(certificate_id)
    if cert.status != SUSPENDED:
        raise Conflict(f"only a suspended certificate can be reinstated (this one is {cert.status})")
    _set_status(cert, VALID, reason, utcnow())
    _audit(actor, "reinstate", cert, cert.certificate_id, cert.certificate_id, reason=reason)
    return cert


def status_of(cert: Certificate) -> dict[str, Any]:
    status = cert.effective_status(utcnow())
    out: dict[str, Any] = {"certificateId": cert.certificate_id, "status": status}
    if status != VALID:
        out.update(time=iso_utc(cert.status_changed_at) if cert.status_changed_at else None,
                   reason=cert.status_reason)
        if status == SUSPENDED and cert.suspended_until:
            out["until"] = iso_utc(cert.suspended_until)
    if cert.replaced_by:
        out["replacedBy"] = cert.replaced_by
    return out


def revocation_serial() -> int:
    return db.session.scalar(select(func.coalesce(func.max(StatusEvent.id), 0)))


def revocation_list(since: int | None = None) -> dict[str, Any]:
    """The signed list of revoked and suspended certificates (or the changes after ``since``)."""
    cfg = current_app.config
    serial = revocation_serial()
    stmt = select(Certificate)
    if since is None:
        stmt = stmt.where(Certificate.status != VALID)
    else:
        changed = select(StatusEvent.certificate_id).where(StatusEvent.id > since)
        stmt = stmt.where(Certificate.certificate_id.in_(changed))
    entries = []
    for cert in db.session.scalars(stmt.order_by(Certificate.status_changed_at, Certificate.id)):
        entry = {"certificateId": cert.certificate_id, "status": cert.status,
                 "time": iso_utc(cert.status_changed_at) if cert.status_changed_at else None,
                 "reason": cert.status_reason}
        if cert.status == SUSPENDED and cert.suspended_until:
            entry["until"] = iso_utc(cert.suspended_until)
        entries.append(entry)
    now = utcnow()
    doc = {"type": "RevocationList", "issuer": cfg["CERTIFICATE_ISSUER"], "serial": serial,
           "since": since, "thisUpdate": iso_utc(now),
           "nextUpdate": iso_utc(now + dt.timedelta(seconds=cfg["REVOCATION_LIST_MAX_AGE"])),
           "entries": entries}
    return sign_document(doc, signing.current_issuer().key)


def history(code: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.pre_enrollment_code == code)
                              .order_by(AuditEvent.at, AuditEvent.id))
    return [{"at": iso_utc(r.at), "actor": r.actor, "action": r.action, "kind": r.kind, "dose": r.dose,
             "beforeCertificateId": r.before_certificate_id, "afterCertificateId": r.after_certificate_id,
             "details": r.details} for r in rows]
