"""International exports over HTTP, at DIVOC's paths: SMART Health Card and WHO DDCC FHIR.

``GET /certificate/api/shc-certificate?refId=&type=qr|pdf|file`` and
``GET /certificate/api/fhir-certificate?refId=`` take the bearer token of the other
fetch endpoints; ``GET /.well-known/jwks.json`` is public (verifiers fetch it).
"""
from __future__ import annotations

from flask import Response, current_app, jsonify, request

from core.auth import require_role
from core.errors import FieldError, NotFound, ValidationError
from core.jobs import transactional

from . import bp, downloads, shc_exports


def _ref_id() -> str:
    code = request.args.get("refId", "").strip()
    if not code:
        raise ValidationError("refId is required", [FieldError("refId", "is required (the preEnrollmentCode)")])
    return code


def _name_part(arg: str) -> str | None:
    value = request.args.get(arg)
    if value is not None and (not value.strip() or len(value) > 200):
        raise ValidationError(f"{arg} must be 1 to 200 characters", [FieldError(arg, "must be 1 to 200 characters")])
    return value


@bp.get("/certificate/api/shc-certificate")
@require_role("certify", "fetch")
@transactional
def shc_certificate():
    kind = request.args.get("type", "qr")
    if kind not in shc_exports.SHC_KINDS:
        raise ValidationError("type must be qr, pdf or file", [FieldError("type", "must be one of qr, pdf, file")])
    export = shc_exports.shc_export(_ref_id(), kind, family=_name_part("fn"), given=_name_part("gn"))
    downloads.count("api", "shc")
    disposition = "attachment" if kind == "file" else "inline"
    return Response(export.content, mimetype=export.mimetype, headers={
        "Content-Disposition": f'{disposition}; filename="{export.filename}"',
        "Cache-Control": "private, no-store"})


@bp.get("/certificate/api/fhir-certificate")
@require_role("certify", "fetch")
def fhir_certificate():
    resp = jsonify(shc_exports.fhir_document(_ref_id()))
    resp.mimetype = shc_exports.FHIR_MIMETYPE
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/.well-known/jwks.json")
def jwks():
    resp = jsonify(shc_exports.jwks_document())
    resp.headers["Access-Control-Allow-Origin"] = "*"  # the spec asks issuers to allow CORS here
    resp.headers["Cache-Control"] = f"public, max-age={current_app.config['REVOCATION_LIST_MAX_AGE']}"
    return resp


@bp.get("/.well-known/crl/<kid>.json")
def shc_crl(kid: str):
    """The SMART Health Card revocation list of the key ``kid`` (public, CORS)."""
    crl = shc_exports.crl_document(kid)
    if crl is None:
        raise NotFound("no revocation list for this key id")
    resp = jsonify(crl)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cache-Control"] = f"public, max-age={current_app.config['REVOCATION_LIST_MAX_AGE']}"
    return resp
