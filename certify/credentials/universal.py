"""Recognise and verify any certificate this project reads: DIVOC, EU DCC and SMART Health Card.

Flask-free.  The three formats are told apart by their prefix or shape
(:func:`detect_format`):

* ``HC1:`` text is an EU Digital COVID Certificate, verified against trusted document
  signer certificates (DSCs) by :func:`certify.credentials.eudcc.verify_hc1`;
* ``shc:/`` numeric QR content (one or more chunks), a compact JWS, a
  ``.smart-health-card`` file or a FHIR ``$health-cards-issue`` answer is a SMART Health
  Card, verified against trusted issuers' JWKS by :func:`certify.credentials.shc.verify_shc`;
* anything else is taken for a DIVOC credential (a QR's ZIP bytes or JSON), verified with
  the trusted issuer keys by :func:`certify.credentials.verify.verify`.

Every entry point returns a :class:`Verdict` with the format, the status, the reasons and a
display summary whose common fields (``name``, ``dob``, ``vaccine``, ``dose``,
``totalDoses``, ``date``, ``facility``, ``issuer``, ``certificateId``) mean the same in
every format. Nothing here raises on bad input. Revocation against the issuer's own
database is the application's concern: a verdict says whether the EU DCC or health card
was signed by one of *our* keys (``own``), and for an EU DCC our certificate id (the
UVCI carries it).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from cryptography import x509

from . import eudcc, shc
from . import verify as divoc
from .eumaps import MA_NAMES, MP_NAMES
from .vaccination import DEFAULT_ICD11

__all__ = [
    "CVX_NAMES",
    "DIVOC",
    "EU_DCC",
    "FORMATS",
    "SHC",
    "Trust",
    "Verdict",
    "detect_format",
    "display_labels",
    "eu_summary",
    "our_certificate_id",
    "shc_summary",
    "verify_bytes",
    "verify_image",
    "verify_request_json",
]

DIVOC, EU_DCC, SHC = "divoc", "eu-dcc", "shc"
FORMATS = (DIVOC, EU_DCC, SHC)

#: Display names of the CVX codes our cards and common foreign cards carry.
CVX_NAMES: Mapping[str, str] = {
    "207": "Moderna (Spikevax)", "208": "Pfizer-BioNTech (Comirnaty)", "210": "AstraZeneca / Covishield",
    "211": "Novavax", "212": "Janssen", "213": "COVID-19 vaccine, unspecified", "217": "Pfizer-BioNTech",
    "218": "Pfizer-BioNTech", "219": "Pfizer-BioNTech", "221": "Moderna", "227": "Moderna", "228": "Moderna",
    "229": "Moderna (bivalent)", "230": "Moderna (bivalent)", "300": "Pfizer-BioNTech (bivalent)",
    "301": "Pfizer-BioNTech (bivalent)", "302": "Pfizer-BioNTech (bivalent)", "502": "Covaxin",
    "505": "Sputnik V", "506": "Convidecia", "510": "Sinopharm (BBIBP-CorV)", "511": "CoronaVac (Sinovac)",
    "514": "ZyCoV-D", "517": "Corbevax",
}
#: ICD-11 code -> its vaccine term (the first row of the default table with that code).
ICD11_TERMS: Mapping[str, str] = {row.code: row.term for row in reversed(DEFAULT_ICD11)}

_JWS = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_UVCI = re.compile(r"URN:UVCI:01:[A-Z]{2}:([A-Z0-9]+)#[A-Z0-9/:]")
_SHC_FILE_MARKERS = (b'"verifiableCredential"', b'"Parameters"')


def display_labels() -> dict[str, dict[str, str]]:
    """The code -> name tables the summaries use (also served to the browser verifier)."""
    return {"euProducts": dict(MP_NAMES), "euManufacturers": dict(MA_NAMES), "cvx": dict(CVX_NAMES),
            "icd11": dict(ICD11_TERMS)}


@dataclass(frozen=True)
class Trust:
    """Everything a verifier trusts, per format.

    ``eu_dscs`` are document signer certificates; ``shc_issuers`` maps an issuer URL
    (``iss``) to its JWKS. ``own_eu_kids`` and ``own_shc_issuer`` name our own keys, so
    a verdict can say a card was exported by us.
    """

    divoc: divoc.TrustStore
    eu_dscs: tuple[x509.Certificate, ...] = ()
    shc_issuers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    own_eu_kids: frozenset[bytes] = frozenset()
    own_shc_issuer: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying one input.

    ``status`` is ``valid``, ``revoked`` (a health card named by its issuer's revocation
    list) or ``invalid``. ``certificate_id`` is the DIVOC certificate id: the credential's
    own, or for an EU DCC signed by our DSC the id in its UVCI. ``detail`` is the
    format's own result (:class:`~certify.credentials.verify.Outcome`,
    :class:`~certify.credentials.eudcc.HC1Result` or
    :class:`~certify.credentials.shc.ShcVerification`).
    """

    format: str
    status: str
    reasons: tuple[str, ...]
    certificate: dict[str, Any] | None = None
    certificate_id: str | None = None
    own: bool = False
    detail: Any = None

    @property
    def valid(self) -> bool:
        return self.status == "valid"


# --- Recognising the format ------------------------------------------------------------------

def detect_format(data: Union[bytes, str]) -> str:
    """``eu-dcc``, ``shc`` or ``divoc`` (the default) for scanned or uploaded content."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    stripped = raw.strip()
    if stripped[:4] == eudcc.HC1_PREFIX.encode("ascii"):
        return EU_DCC
    if stripped[:5].lower() == shc.QR_PREFIX.encode("ascii"):
        return SHC
    if len(stripped) <= shc.MAX_INPUT and _JWS.fullmatch(stripped):
        return SHC
    if stripped[:1] == b"{" and any(marker in stripped for marker in _SHC_FILE_MARKERS):
        try:
            doc = json.loads(stripped)
        except (ValueError, RecursionError):
            return DIVOC
        if isinstance(doc, Mapping) and _is_shc_document(doc):
            return SHC
    return DIVOC


def _is_shc_document(doc: Mapping[str, Any]) -> bool:
    """A ``.smart-health-card`` file or a FHIR Parameters answer (not a DIVOC credential)."""
    if "@context" in doc:
        return False
    return "verifiableCredential" in doc or doc.get("resourceType") == "Parameters"


# --- Entry points ------------------------------------------------------------------------------

def verify_bytes(data: bytes, trust: Trust, now: dt.datetime | None = None) -> Verdict:
    """Verify scanned QR content or an uploaded file's bytes, whatever the format."""
    if len(data) > divoc.MAX_INPUT_BYTES:
        return Verdict(DIVOC, "invalid", ("the input is too large",))
    fmt = detect_format(data)
    if fmt == EU_DCC:
        return _verify_eu(data.strip(), trust, now)
    if fmt == SHC:
        return _verify_shc(_shc_input(data), trust, now)
    return _verify_divoc(lambda: divoc.credential_from_bytes(data), trust)


def verify_request_json(body: Any, trust: Trust, now: dt.datetime | None = None) -> Verdict:
    """Verify a JSON request body: ``{"qr": base64}``, ``{"payload": text}``, a DIVOC
    credential, a ``.smart-health-card`` file or a FHIR Parameters answer."""
    if isinstance(body, Mapping) and "@context" not in body:
        if "qr" in body:
            value = body["qr"]
            if not isinstance(value, str):
                return Verdict(DIVOC, "invalid", ("qr must be a base64 string",))
            try:
                raw = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return Verdict(DIVOC, "invalid", ("qr is not valid base64",))
            return verify_bytes(raw, trust, now)
        if "payload" in body:
            value = body["payload"]
            if not isinstance(value, str):
                return Verdict(DIVOC, "invalid", ("payload must be a string",))
            return verify_bytes(value.encode("utf-8", "surrogatepass"), trust, now)
        if _is_shc_document(body):
            return _verify_shc(json.dumps(body, ensure_ascii=False), trust, now)
    return _verify_divoc(lambda: divoc.credential_from_request_json(body), trust)


def verify_image(image: bytes, trust: Trust, now: dt.datetime | None = None) -> Verdict:
    """Verify the QR code(s) in a PNG/JPEG: a DIVOC QR, an EU DCC or a health card
    (all chunks of a chunked card may be in the one image)."""
    try:
        symbols = divoc.read_qr_symbols(image)
    except divoc.InputError as exc:
        return Verdict(DIVOC, "invalid", (str(exc),))
    first = bytes(symbols[0].bytes)
    fmt = detect_format(first)
    if fmt == SHC:
        result = shc.verify_shc_symbols(symbols, trust.shc_issuers, now=_timestamp(now))
        return _shc_verdict(result, trust)
    return verify_bytes(first, trust, now)


# --- DIVOC -------------------------------------------------------------------------------------

def _verify_divoc(read: Callable[[], Any], trust: Trust) -> Verdict:
    """Read the credential (``read`` raises InputError for what is not one) and verify it."""
    try:
        credential = read()
    except divoc.InputError as exc:
        return Verdict(DIVOC, "invalid", (str(exc),))
    outcome = divoc.verify(credential, trust.divoc)
    summary = divoc.summary(outcome.credential) if outcome.credential else None
    return Verdict(DIVOC, "valid" if outcome.valid else "invalid", outcome.reasons, summary,
                   outcome.certificate_id, detail=outcome)


# --- EU DCC ------------------------------------------------------------------------------------

def _verify_eu(text: bytes, trust: Trust, now: dt.datetime | None) -> Verdict:
    result = eudcc.verify_hc1(text, trust.eu_dscs, now=now)
    own = result.signer is not None and result.kid is not None and bytes.fromhex(result.kid) in trust.own_eu_kids
    summary = eu_summary(result) if result.dcc is not None else None
    certificate_id = our_certificate_id(result.dcc) if own and result.dcc is not None else None
    return Verdict(EU_DCC, "valid" if result.valid else "invalid", result.reasons, summary, certificate_id,
                   own, result)


def _group(dcc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The DCC's one vaccination, test or recovery entry."""
    for key in ("v", "t", "r"):
        entries = dcc.get(key)
        if isinstance(entries, list) and entries and isinstance(entries[0], Mapping):
            return entries[0]
    return {}


def our_certificate_id(dcc: Mapping[str, Any]) -> str | None:
    """The certificate id in a UVCI we made (``URN:UVCI:01:<CC>:<id>#<check>``), if the
    check character is right."""
    uvci = _group(dcc).get("ci")
    if not isinstance(uvci, str) or not eudcc.uvci_is_valid(uvci):
        return None
    match = _UVCI.fullmatch(uvci)
    return match.group(1) if match else None


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    return str(value) if isinstance(value, (str, int, float)) else ""


def _iso(value: dt.datetime | None) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def eu_summary(result: eudcc.HC1Result) -> dict[str, Any]:
    """Display fields of a decoded EU DCC (vaccination, test or recovery)."""
    dcc = result.dcc or {}
    nam = dcc.get("nam") if isinstance(dcc.get("nam"), Mapping) else {}
    entry = _group(dcc)
    summary: dict[str, Any] = {
        "type": result.kind or "",
        "name": result.holder_name,
        "standardisedName": "<<".join(_text(nam.get(k)) for k in ("fnt", "gnt") if nam.get(k)),
        "dob": _text(dcc.get("dob")),
        "vaccine": "", "manufacturer": "", "dose": "", "totalDoses": "", "date": "", "facility": "",
        "country": _text(entry.get("co")),
        "issuer": _text(entry.get("is")),
        "certificateId": _text(entry.get("ci")),
        "issuedAt": _iso(result.issued_at),
        "expiresAt": _iso(result.expires_at),
        "signer": result.signer or "",
    }
    if result.kind == "vaccination":
        product, maker = _text(entry.get("mp")), _text(entry.get("ma"))
        summary.update(vaccine=MP_NAMES.get(product, product), manufacturer=MA_NAMES.get(maker, maker),
                       dose=entry.get("dn") if isinstance(entry.get("dn"), int) else _text(entry.get("dn")),
                       totalDoses=entry.get("sd") if isinstance(entry.get("sd"), int) else _text(entry.get("sd")),
                       date=_text(entry.get("dt")))
    elif result.kind == "test":
        summary.update(date=_text(entry.get("sc")), facility=_text(entry.get("tc")))
    elif result.kind == "recovery":
        summary.update(date=_text(entry.get("fr")))
    return summary


# --- SMART Health Card ---------------------------------------------------------------------------

def _timestamp(now: dt.datetime | None) -> float | None:
    return now.timestamp() if now is not None else None


def _shc_input(data: bytes) -> Union[str, list[str], bytes]:
    """The card text; several ``shc:/`` chunks (one per line) become a list."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # verify_shc names the problem
    parts = text.split()
    if len(parts) > 1 and all(p.lower().startswith(shc.QR_PREFIX) for p in parts):
        return parts
    return text.strip()


def _verify_shc(data: Union[str, bytes, Sequence[str]], trust: Trust, now: dt.datetime | None) -> Verdict:
    return _shc_verdict(shc.verify_shc(data, trust.shc_issuers, now=_timestamp(now)), trust)


def _shc_verdict(result: shc.ShcVerification, trust: Trust) -> Verdict:
    own = result.status != "invalid" and trust.own_shc_issuer is not None and result.issuer == trust.own_shc_issuer
    summary = shc_summary(result) if result.payloads else None
    return Verdict(SHC, result.status, result.reasons, summary, None, own, result)


def vaccine_label(system: str, code: str) -> str:
    """A readable vaccine name for a FHIR coding."""
    if system == shc.CVX_SYSTEM:
        return CVX_NAMES.get(code) or f"CVX {code}"
    if system in (shc.ICD11_SYSTEM, "http://id.who.int/icd11/mms"):
        term = ICD11_TERMS.get(code)
        return f"{term} (ICD-11 {code})" if term else f"ICD-11 {code}"
    return f"{code} ({system})" if system else code


def shc_summary(result: shc.ShcVerification) -> dict[str, Any]:
    """Display fields of a health card: the holder, and its newest vaccination as the
    headline (``dose`` is how many vaccinations the card holds)."""
    doses = [{"date": i.date[:10], "vaccine": vaccine_label(i.system, i.code), "lot": i.lot,
              "facility": i.performer} for i in result.immunizations]
    newest = doses[-1] if doses else {"date": "", "vaccine": "", "facility": ""}
    return {
        "name": result.name, "dob": result.birth_date,
        "vaccine": newest["vaccine"], "dose": len(doses) if doses else "", "totalDoses": "",
        "date": newest["date"], "facility": newest["facility"],
        "issuer": result.issuer or "", "certificateId": "",
        "immunizations": doses,
    }
