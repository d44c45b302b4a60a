"""EU Digital COVID Certificate export, on demand, at DIVOC's path.

``POST /certificate/api/eu-certificate?refId=<preEnrollmentCode>&type=qr|pdf`` with the
body ``{"fn": family name, "gn": given name}`` (the holder states how their name splits)
answers the latest live vaccination certificate as a signed ``HC1:`` QR code (PNG) or an
EU-style PDF. :func:`eu_certificate` is the service; the view only authenticates, checks
the request and calls it, so another caller (the citizen portal) can reuse it.

Keys: ``EU_CERTIFICATE_PRIVATE_KEY`` (PEM, EC P-256) and ``EU_CERTIFICATE_PUBLIC_KEY``
(the DSC, a PEM X.509 certificate), or their ``*_FILE`` paths; by default
``instance/eu-dsc-key.pem`` and ``instance/eu-dsc.pem``, which
``flask certify keys eu-dsc --if-missing`` creates (self-signed, for development).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request

from core import jobs
from core.auth import require_role
from core.errors import AppError, Conflict, FieldError, ValidationError
from core.models import local_zone, utcnow

from . import bp, services, signing
from .credentials.eudcc import (
    DscSigner,
    ExportRefused,
    IssuedHC1,
    build_dcc,
    country_alpha2,
    encode_hc1,
    generate_dev_dsc,
)
from .models import SUSPENDED

logger = logging.getLogger(__name__)

FORMATS = ("qr", "pdf")
KEY_FILE, CERT_FILE = "eu-dsc-key.pem", "eu-dsc.pem"


class NotExportable(AppError):
    """The certificate exists but has no valid EU-DCC form (e.g. a vaccine with no EU code)."""

    status = 422
    code = "not_exportable"


class EuSigningUnavailable(AppError):
    status = 503
    code = "eu_signing_unavailable"


@dataclass(frozen=True)
class Export:
    content: bytes
    mimetype: str
    filename: str


# --- Keys ----------------------------------------------------------------------------------------

def default_paths() -> tuple[str, str]:
    return (os.path.join(current_app.instance_path, KEY_FILE), os.path.join(current_app.instance_path, CERT_FILE))


def _material(cfg: dict[str, Any], name: str, default_path: str) -> str:
    if cfg.get(name):
        return str(cfg[name])
    path = cfg.get(name + "_FILE") or default_path
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except OSError as exc:
        raise EuSigningUnavailable(
            f"no EU DSC: set {name} or {name}_FILE, or run `flask --app wsgi certify keys eu-dsc` "
            f"({path}: {exc.strerror})") from None


def eu_signer() -> DscSigner:
    """This process's EU document signer, loaded once per configuration."""
    cfg = current_app.config
    key_path, cert_path = default_paths()
    cache_key = tuple(cfg.get(k) for k in ("EU_CERTIFICATE_PRIVATE_KEY", "EU_CERTIFICATE_PRIVATE_KEY_FILE",
                                           "EU_CERTIFICATE_PUBLIC_KEY", "EU_CERTIFICATE_PUBLIC_KEY_FILE"))
    cached = current_app.extensions.get("eu_dsc")
    if cached is None or cached[0] != cache_key:
        key_pem = _material(cfg, "EU_CERTIFICATE_PRIVATE_KEY", key_path)
        cert_pem = _material(cfg, "EU_CERTIFICATE_PUBLIC_KEY", cert_path)
        try:
            signer = DscSigner.from_pem(key_pem, cert_pem)
        except ValueError as exc:
            raise EuSigningUnavailable(f"the EU DSC cannot be used: {exc}") from None
        cached = current_app.extensions["eu_dsc"] = (cache_key, signer)
    return cached[1]


def write_dev_dsc(key_path: str, cert_path: str, country: str, days: int) -> None:
    """Write a self-signed development DSC; the key readable by its owner only."""
    key_pem, cert_pem = generate_dev_dsc(country, days=days)
    os.makedirs(os.path.dirname(os.path.abspath(key_path)), exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key_pem)
    with open(cert_path, "w") as fh:
        fh.write(cert_pem)


# --- The service ---------------------------------------------------------------------------------

def eu_issuer_settings() -> tuple[str, str]:
    """(issuing country, certificate issuer text) from the configuration."""
    cfg = signing.effective_config()
    country = country_alpha2(cfg["EU_CERTIFICATE_COUNTRY"])
    if country is None:
        raise EuSigningUnavailable(f"EU_CERTIFICATE_COUNTRY {cfg['EU_CERTIFICATE_COUNTRY']!r} is not a country code")
    issuer = (cfg.get("EU_CERTIFICATE_ISSUER") or cfg["CERTIFICATE_ISSUER_NAME"])[:80]
    return country, issuer


def eu_certificate(code: str, family_name: str, given_name: str, fmt: str, dose: int | None = None,
                   now: dt.datetime | None = None) -> Export:
    """The EU-DCC of a beneficiary's latest live vaccination certificate (or of ``dose``).

    :raises NotFound: no live vaccination certificate.
    :raises Conflict: the certificate is suspended.
    :raises NotExportable: the certificate cannot be expressed as an EU-DCC (422, with paths).
    """
    from . import config_store

    now = now or utcnow()
    cert = services.latest_certificate(code, dose)
    if cert.effective_status(now) == SUSPENDED:
        raise Conflict("this certificate is suspended; it cannot be exported")
    country, issuer = eu_issuer_settings()
    display_tz = local_zone()
    try:
        dcc = build_dcc(cert.credential, family_name=family_name, given_name=given_name,
                        eu_map=config_store.json_document("map:eu"), issuer=issuer, country=country,
                        display_tz=display_tz)
    except ExportRefused as exc:
        raise NotExportable("this certificate cannot be exported as an EU Digital COVID Certificate",
                            [FieldError(path, reason) for path, reason in exc.problems]) from None
    try:
        issued = encode_hc1(dcc, eu_signer(), issuer_country=country, issued_at=now,
                            validity=dt.timedelta(days=current_app.config["EU_CERTIFICATE_EXPIRY"]))
    except ValueError as exc:  # the DSC is not valid now
        raise EuSigningUnavailable(str(exc)) from None
    logger.info("EU-DCC export of certificate %s (%s)", cert.certificate_id, fmt)
    png = hc1_qr_png(issued.text, box_size=6 if fmt == "qr" else 4)
    name = f"eu-certificate-{cert.certificate_id}"
    if fmt == "qr":
        return Export(png, "image/png", name + ".png")
    view = EuCertificateView.build(dcc, issued, display_tz)
    pdf = config_store.template_renderer().render_document_pdf("eu", png, cert=view)
    return Export(pdf, "application/pdf", name + ".pdf")


def hc1_qr_png(text: str, box_size: int = 4) -> bytes:
    """The QR code of an ``HC1:`` text: alphanumeric mode (the Base45 characters are QR's
    alphanumeric set), error correction Q as the EU specification recommends."""
    import qrcode.constants

    from .credentials import qr_png

    return qr_png(text.encode("ascii"), box_size=box_size, error_correction=qrcode.constants.ERROR_CORRECT_Q)


@dataclass(frozen=True)
class EuCertificateView:
    """What the EU PDF shows; computed here so the template only displays."""

    name: str
    standardised_name: str
    dob: str
    disease: str
    prophylaxis: str
    product: str
    manufacturer: str
    doses: str
    date: str
    country: str
    issuer: str
    uvci: str
    issued_at: str
    expires_at: str
    kid: str

    @classmethod
    def build(cls, dcc: dict[str, Any], issued: IssuedHC1, display_tz: dt.tzinfo) -> "EuCertificateView":
        from babel import Locale

        from .credentials.eumaps import MA_NAMES, MP_NAMES, VP_NAMES

        nam, [v] = dcc["nam"], dcc["v"]

        def coded(label: str, code: str) -> str:
            return f"{label} ({code})" if label and label.casefold() != code.casefold() else code

        def moment(value: dt.datetime) -> str:
            return value.astimezone(display_tz).strftime("%Y-%m-%d %H:%M %Z")

        return cls(
            name=" ".join(p for p in (nam.get("fn"), nam.get("gn")) if p),
            standardised_name="<<".join(p for p in (nam.get("fnt"), nam.get("gnt")) if p),
            dob=dcc["dob"], disease="COVID-19",
            prophylaxis=coded(VP_NAMES.get(v["vp"], ""), v["vp"]),
            product=coded(MP_NAMES.get(v["mp"], ""), v["mp"]),
            manufacturer=coded(MA_NAMES.get(v["ma"], ""), v["ma"]),
            doses=f"{v['dn']} / {v['sd']}", date=v["dt"],
            country=Locale("en").territories.get(v["co"], v["co"]),
            issuer=v["is"], uvci=v["ci"],
            issued_at=moment(issued.issued_at), expires_at=moment(issued.expires_at),
            kid=issued.kid.hex(),
        )


# --- The API -------------------------------------------------------------------------------------

def parse_export_request(args: Any, body: Any) -> tuple[str, str, str, str]:
    """(refId, fn, gn, type) from the query and the JSON body, or a ValidationError."""
    errors: list[FieldError] = []
    code = args.get("refId", "")
    if not code:
        errors.append(FieldError("refId", "is required"))
    fmt = args.get("type", "qr")
    if fmt not in FORMATS:
        errors.append(FieldError("type", "must be qr or pdf"))
    if not isinstance(body, dict):
        raise ValidationError("send {\"fn\": family name, \"gn\": given name}", errors + [
            FieldError("$", "must be a JSON object")])
    names = {}
    for key, label in (("fn", "family name"), ("gn", "given name")):
        value = body.get(key)
        if value is None:
            errors.append(FieldError(key, f"is required (the {label}; \"\" when there is none)"))
        elif not isinstance(value, str):
            errors.append(FieldError(key, "must be a string"))
        else:
            names[key] = value.strip()
    if len(names) == 2 and not names["fn"] and not names["gn"]:
        errors.append(FieldError("fn", "give the family name (fn), the given name (gn) or both"))
    if errors:
        raise ValidationError("the EU certificate request is invalid", errors)
    return code, names["fn"], names["gn"], fmt


def export_response(export: Export) -> Response:
    return Response(export.content, mimetype=export.mimetype, headers={
        "Content-Disposition": f'inline; filename="{export.filename}"', "Cache-Control": "private, no-store"})


@bp.post("/certificate/api/eu-certificate")
@require_role("certify", "fetch")
@jobs.transactional  # the download count, when there is no Redis
def eu_certificate_api():
    from . import downloads
    from .api import _dose_arg, _json_body

    code, fn, gn, fmt = parse_export_request(request.args, _json_body())
    response = export_response(eu_certificate(code, fn, gn, fmt, dose=_dose_arg()))
    downloads.count("api", "eu")
    return response
