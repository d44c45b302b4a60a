"""DIVOC-compatible HTTP API: certify, fetch (JSON, QR, PDF), public key and contexts."""
from __future__ import annotations

import datetime as dt
import re

from flask import Response, abort, current_app, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from core import ratelimit
from core.auth import require_role
from core.errors import AppError, FieldError, ValidationError
from core.extensions import db
from core.jobs import transactional
from core.models import iso_utc

from . import bp, downloads, lifecycle, services, signing, verification
from .credentials import verify as vlib
from .models import REVOKED, Certificate, VerificationEvent


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


def _json_body():
    if not request.is_json:
        raise UnsupportedMediaType("send the batch as Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ValidationError("the request body is not valid JSON", [FieldError("$", "malformed JSON")])
    return body


def _accept(kind: str):
    """202 with a per-item summary once the whole batch is stored (signing follows)."""
    results = services.accept_certify_batch(_json_body(), g.api_client.client_id, kind=kind)
    accepted = sum(r.status == "accepted" for r in results)
    return jsonify({"accepted": accepted, "duplicates": len(results) - accepted,
                    "items": [r.as_json() for r in results]}), 202


def _dose_arg() -> int | None:
    raw = request.args.get("dose")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError("dose must be a whole number ≥ 1", [FieldError("dose", "must be an integer ≥ 1")])
    return int(raw)


@bp.post("/v3/certify")
@require_role("certify")
@transactional
def certify():
    return _accept(services.VACCINATION)


def _actor() -> str:
    return f"client:{g.api_client.client_id}"


@bp.post("/v1/test/certify")
@require_role("certify")
@transactional
def certify_test():
    return _accept(services.TEST)


@bp.put("/v3/certificate")
@require_role("certify")
@transactional
def update_certificate():
    return jsonify({"items": lifecycle.update_certificates(_json_body(), _actor())})


@bp.put("/v1/test/certificate")
@require_role("certify")
@transactional
def update_test_certificate():
    return jsonify({"items": lifecycle.update_certificates(_json_body(), _actor(), services.TEST)})


@bp.post("/v1/certificates/<certificate_id>/revoke")
@require_role("certify")
@transactional
def revoke_one(certificate_id: str):
    reason, _ = _reason_and_until(require_reason=False)
    cert = lifecycle.revoke_certificate(certificate_id, reason or "revoked by the issuer", _actor())
    return jsonify(lifecycle.status_of(cert))


@bp.delete("/v1/certificates/<code>")
@require_role("certify")
@transactional
def revoke_certificates(code: str):
    raw = request.args.getlist("doses")
    if any(not d.isdigit() or int(d) < 1 for d in raw):
        raise ValidationError("doses must be whole numbers ≥ 1", [FieldError("doses", "must be integers ≥ 1")])
    all_doses = request.args.get("allDoses", "").lower() == "true"
    revoked = lifecycle.revoke_doses(code, [int(d) for d in raw], all_doses,
                                     request.args.get("reason", "revoked by the issuer")[:500], _actor())
    return jsonify({"preEnrollmentCode": code, "revoked": revoked})


def _reason_and_until(require_reason: bool) -> tuple[str, object]:
    body = _json_body() if request.data else {}
    if not isinstance(body, dict):
        raise ValidationError("send a JSON object", [FieldError("$", "must be an object")])
    reason = body.get("reason")
    if (require_reason and not reason) or (reason is not None and not isinstance(reason, str)):
        raise ValidationError("a reason is required", [FieldError("reason", "must be a non-empty string")])
    until = body.get("until")
    if until is not None:
        try:
            until = dt.datetime.fromisoformat(str(until).replace("Z", "+00:00"))
            if until.tzinfo is None:
                until = until.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise ValidationError("until must be a date-time", [FieldError("until", "must be ISO 8601")]) from None
    return (reason or "")[:500], until


@bp.post("/v1/certificates/<certificate_id>/suspend")
@require_role("certify")
@transactional
def suspend_certificate(certificate_id: str):
    reason, until = _reason_and_until(require_reason=True)
    return jsonify(lifecycle.status_of(lifecycle.suspend(certificate_id, reason, until, _actor())))


@bp.post("/v1/certificates/<certificate_id>/reinstate")
@require_role("certify")
@transactional
def reinstate_certificate(certificate_id: str):
    reason, _ = _reason_and_until(require_reason=False)
    return jsonify(lifecycle.status_of(lifecycle.reinstate(certificate_id, reason, _actor())))


@bp.get("/v1/beneficiaries/<code>/history")
@require_role("admin")
def beneficiary_history(code: str):
    return jsonify({"preEnrollmentCode": code, "events": lifecycle.history(code)})


@bp.get("/v1/certificates")
@require_role("certify", "fetch")
def list_certificates():
    code = request.args.get("preEnrollmentCode", "")
    if not code:
        raise ValidationError("preEnrollmentCode is required",
                              [FieldError("preEnrollmentCode", "is required")])
    return jsonify({"certificates": [
        {"certificateId": c.certificate_id, "kind": c.kind,
         "dose": c.dose if c.kind == services.VACCINATION else None,
         "status": c.status, "issuedAt": iso_utc(c.issued_at)}
        for c in services.certificates_for(code)
    ]})


@bp.get("/v1/certificates/<certificate_id>")
@require_role("certify", "fetch")
def get_certificate(certificate_id: str):
    return jsonify(services.get_certificate(certificate_id).credential)


@bp.get("/certificate/api/certificateQRCode/<code>")
@require_role("certify", "fetch")
@transactional
def certificate_qr(code: str):
    cert = services.latest_certificate(code, _dose_arg())
    png = services.artifact(cert, "qr")
    downloads.count("api", "qr")
    return Response(png, mimetype="image/png", headers={
        "Content-Disposition": f'inline; filename="certificate-{cert.certificate_id}.png"',
        "Cache-Control": "private, no-store"})


def _lang_arg() -> str:
    supported = [lang.strip() for lang in current_app.config["CERTIFICATE_LANGUAGES"].split(",")]
    lang = request.args.get("lang", supported[0])
    if lang not in supported:
        raise ValidationError(f"unsupported language; use one of {', '.join(supported)}",
                              [FieldError("lang", f"must be one of {', '.join(supported)}")])
    return lang


def _pdf_response(cert, filename_prefix: str) -> Response:
    """HEAD answers without rendering; GET serves the cached (or freshly rendered) PDF.

    ``?lang=hi`` picks the language; ``&bilingual=1`` prints each label in it and in English.
    """
    lang = _lang_arg()
    if request.args.get("bilingual", "").lower() in ("1", "true", "yes") and lang != "en":
        lang += "+en"
    if request.method == "HEAD":
        return Response(status=200, mimetype="application/pdf")
    pdf = services.artifact(cert, "pdf", lang=lang)
    downloads.count("api", "pdf")
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename_prefix}-{cert.certificate_id}-{lang}.pdf"',
        "Cache-Control": "private, no-store"})


@bp.route("/certificate/api/certificatePDF/<code>", methods=["GET", "HEAD"])
@require_role("certify", "fetch")
@transactional
def certificate_pdf(code: str):
    return _pdf_response(services.latest_certificate(code, _dose_arg()), "certificate")


@bp.route("/certificate/api/test/certificatePDF/<code>", methods=["GET", "HEAD"])
@require_role("certify", "fetch")
@transactional
def test_certificate_pdf(code: str):
    return _pdf_response(services.latest_certificate(code, kind=services.TEST), "test-report")


@bp.get("/certificate/api/publicKey")
def public_key():
    return jsonify(signing.current_issuer().public_key_document())


@bp.get("/credentials/vaccination/<version>")
def vaccination_context(version: str):
    return _context(signing.served_context(version) if version in ("v1", "v2") else None)


@bp.get("/credentials/testCertificate/v1")
def test_certificate_context():
    return _context(signing.served_context("test-v1"))


def _context(doc):
    if doc is None:
        abort(404)
    resp = jsonify(doc)
    resp.mimetype = "application/ld+json"
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


# --- Verification (public) ---------------------------------------------------------------

def _verify_input() -> tuple[str, object]:
    """Classify the request body: an uploaded image/file, JSON, or raw scanned bytes."""
    if (request.content_length or 0) > vlib.MAX_INPUT_BYTES * 4:
        raise vlib.InputError("the input is too large")
    try:
        if request.files:
            data = next(iter(request.files.values())).read(vlib.MAX_INPUT_BYTES * 4 + 1)
            return ("image" if vlib.is_image(data) else "bytes"), data
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise vlib.InputError("the input is too large") from None
    if request.mimetype == "application/json" or data[:1] in (b"{", b"["):
        if len(data) > vlib.MAX_INPUT_BYTES:
            raise vlib.InputError("the input is too large")
        return "json", vlib._json(data)
    return ("image" if vlib.is_image(data) else "bytes"), data


@bp.post("/api/v1/verify")
@transactional
def verify():
    """Verify a DIVOC credential, an EU DCC (``HC1:``) or a SMART Health Card (``shc:/``, JWS,
    ``.smart-health-card``): JSON, raw scanned bytes or text, or an uploaded QR image.
    ``?channel=page`` marks a check the /verify page asked for (for the statistics)."""
    ratelimit.enforce("verify", current_app.config["VERIFY_RATE_LIMIT"])
    channel = "page" if request.args.get("channel") == "page" else "api"
    try:
        kind, data = _verify_input()
        result = verification.verify_input(kind, data, channel=channel)
    except vlib.InputError as exc:
        result = verification.verify_failure(str(exc), channel=channel)
    resp = jsonify(result.as_json())
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/v1/verify/trust")
def verify_trust():
    resp = jsonify(verification.trust_document())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/certificate/api/revocationList")
def revocation_list():
    raw = request.args.get("since")
    if raw is not None and not raw.isdigit():
        raise ValidationError("since must be a serial number", [FieldError("since", "must be an integer ≥ 0")])
    since = int(raw) if raw is not None else None
    etag = f'W/"{lifecycle.revocation_serial()}-{"full" if since is None else since}"'
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers={"ETag": etag})
    resp = jsonify(lifecycle.revocation_list(since))
    resp.headers["ETag"] = etag
    resp.headers["Cache-Control"] = "public, max-age=60"
    return resp


def _public_lookup_limit() -> None:
    ratelimit.enforce("status", current_app.config["VERIFY_RATE_LIMIT"])


@bp.get("/certificate/api/certificateStatus/<certificate_id>")
def certificate_status(certificate_id: str):
    _public_lookup_limit()
    return jsonify(lifecycle.status_of(services.get_certificate(certificate_id)))


@bp.post("/v1/certificate/revoked")
def is_revoked():
    _public_lookup_limit()
    body = _json_body()
    cid = body.get("certificateId") if isinstance(body, dict) else None
    if not isinstance(cid, (str, int)) or isinstance(cid, bool) or not str(cid):
        raise ValidationError("certificateId is required", [FieldError("certificateId", "is required")])
    status = db.session.scalar(select(Certificate.status).where(Certificate.certificate_id == str(cid)))
    return jsonify({"revoked": status == REVOKED})


_EVENT_STATUSES = ("valid", "revoked", "suspended", "invalid")
_EVENT_FORMATS = ("divoc", "eu-dcc", "shc")
_EVENT_FIELDS = {"status", "certificateId", "reason", "format"}


@bp.post("/api/v1/verify/events")
@transactional
def verify_events():
    """Record a verification done on the /verify page (format, status, reason code, certificate id only)."""
    ratelimit.enforce("verify-events", current_app.config["VERIFY_RATE_LIMIT"])
    body = _json_body()
    if not isinstance(body, dict):
        raise ValidationError("send a JSON object", [FieldError("$", "must be an object")])
    errors = [FieldError(k, "unknown field") for k in sorted(set(body) - _EVENT_FIELDS)]
    status = body.get("status")
    if status not in _EVENT_STATUSES:
        errors.append(FieldError("status", f"must be one of {', '.join(_EVENT_STATUSES)}"))
    cid = body.get("certificateId")
    if cid is not None and (not isinstance(cid, str) or not 1 <= len(cid) <= 40):
        errors.append(FieldError("certificateId", "must be null or a string of 1 to 40 characters"))
    reason = body.get("reason", "")
    if not isinstance(reason, str) or not re.fullmatch(r"[a-z0-9_]{0,100}", reason):
        errors.append(FieldError("reason", "must be a reason code (a-z, 0-9, _; at most 100 characters)"))
    fmt = body.get("format", "divoc")
    if fmt not in _EVENT_FORMATS:
        errors.append(FieldError("format", f"must be one of {', '.join(_EVENT_FORMATS)}"))
    if errors:
        raise ValidationError("invalid verification event", errors)
    db.session.add(VerificationEvent(channel="page", format=fmt, status=status, reason=reason,
                                     certificate_id=cid))
    resp = jsonify({"recorded": True})
    resp.status_code = 201
    resp.headers["Cache-Control"] = "no-store"
    return resp
