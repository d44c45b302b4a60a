"""DIVOC-compatible HTTP API: certify, fetch (JSON, QR, PDF), public key and contexts."""
from __future__ import annotations

from flask import Response, abort, current_app, g, jsonify, request

from core.auth import require_role
from core.errors import AppError, FieldError, ValidationError
from core.jobs import transactional
from core.models import iso_utc

from . import bp, services, signing


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
    results = services.accept_certify_batch(_json_body(), g.api_client.client_id)
    accepted = sum(r.status == "accepted" for r in results)
    return jsonify({"accepted": accepted, "duplicates": len(results) - accepted,
                    "items": [r.as_json() for r in results]}), 202


@bp.get("/v1/certificates")
@require_role("certify", "fetch")
def list_certificates():
    code = request.args.get("preEnrollmentCode", "")
    if not code:
        raise ValidationError("preEnrollmentCode is required",
                              [FieldError("preEnrollmentCode", "is required")])
    return jsonify({"certificates": [
        {"certificateId": c.certificate_id, "dose": c.dose, "status": c.status,
         "issuedAt": iso_utc(c.issued_at)}
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
    return Response(png, mimetype="image/png", headers={
        "Content-Disposition": f'inline; filename="certificate-{cert.certificate_id}.png"',
        "Cache-Control": "private, no-store"})


@bp.route("/certificate/api/certificatePDF/<code>", methods=["GET", "HEAD"])
@require_role("certify", "fetch")
@transactional
def certificate_pdf(code: str):
    cert = services.latest_certificate(code, _dose_arg())
    if request.method == "HEAD":
        return Response(status=200, mimetype="application/pdf")
    pdf = services.artifact(cert, "pdf", lang="en")
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{cert.certificate_id}.pdf"',
        "Cache-Control": "private, no-store"})


@bp.get("/certificate/api/publicKey")
def public_key():
    return jsonify(signing.current_issuer().public_key_document())


@bp.get("/credentials/vaccination/<version>")
def vaccination_context(version: str):
    doc = signing.served_context(version)
    if doc is None:
        abort(404)
    resp = jsonify(doc)
    resp.mimetype = "application/ld+json"
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


# --- Verification (public) ---------------------------------------------------------------

def _verify_input() -> tuple[str, object]:
    """Classify the request body: an uploaded image/file, JSON, or raw scanned bytes."""
    from werkzeug.exceptions import RequestEntityTooLarge

    from .credentials import verify as vlib

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
    from core import ratelimit

    from .credentials import verify as vlib

    ratelimit.enforce("verify", current_app.config["VERIFY_RATE_LIMIT"])
    try:
        kind, data = _verify_input()
        result = services.verify_input(kind, data, channel="api")
    except vlib.InputError as exc:
        result = services.verify_failure(str(exc), channel="api")
    resp = jsonify(result.as_json())
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/v1/verify/trust")
def verify_trust():
    resp = jsonify(services.trust_document())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/certificate/api/revocationList")
def revocation_list():
    resp = jsonify(services.revocation_list())
    resp.headers["Cache-Control"] = "public, max-age=60"
    return resp
