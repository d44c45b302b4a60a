"""SMART Health Cards: export a DIVOC vaccination credential, and verify any health card.

Flask-free.  The export follows the SMART Health Cards framework
(https://spec.smarthealth.cards) and the SHC Vaccination & Testing IG:

* :func:`build_fhir_bundle` turns the holder's stored native credentials (one per
  dose) into a minimal FHIR R4 ``collection`` Bundle: ``resource:0`` is the
  Patient (name, birthDate), then one Immunization per dose (status
  ``completed``, a CVX code where one exists, else the credential's ICD-11
  code, the date, the lot and the facility as ``performer.actor.display``).
  No ``id``, ``meta``, ``text``, ``Coding.display`` or ``CodeableConcept.text``.
* :func:`build_shc_payload` wraps it as the JWS payload ``{iss, nbf, vc}``.
* :func:`sign_health_card` signs the minified, raw-DEFLATE-compressed payload as
  a compact JWS with header ``{"zip": "DEF", "alg": "ES256", "kid": <RFC 7638
  thumbprint>}`` and a 64-byte ``r || s`` signature.
* :func:`qr_numeric` / :func:`qr_chunks` give the ``shc:/`` numeric QR content
  (each JWS character as two digits, ``ord(c) - 45``); a JWS longer than
  :data:`MAX_SINGLE_QR_JWS` characters (version 22, error correction L) is
  split into balanced ``shc:/i/n/`` chunks (deprecated by the spec, still read).
  :func:`shc_qr_png` draws one with a byte segment for ``shc:/`` and a numeric
  segment for the digits.

:func:`verify_shc` reads a numeric QR (one or more chunks), a compact JWS or a
``.smart-health-card`` file, checks the header, the payload, the FHIR Bundle
and the ES256 signature against the trusted issuers' JWKS (keyed by ``iss``),
and optionally a revocation list; it never raises on bad input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .keys import KeyFormatError
from .vaccination import _norm

__all__ = [
    "CVX_SYSTEM",
    "DEFAULT_CVX",
    "FHIR_VERSION",
    "HEALTH_CARD_TYPE",
    "ICD11_SYSTEM",
    "MAX_CHUNK_JWS",
    "MAX_SINGLE_QR_JWS",
    "ShcImmunization",
    "ShcSigningKey",
    "ShcVerification",
    "build_fhir_bundle",
    "build_shc_payload",
    "check_fhir_bundle",
    "check_payload",
    "decode_numeric",
    "generate_shc_key",
    "health_card_file",
    "jwk_thumbprint",
    "load_shc_key",
    "minified",
    "public_key_from_jwk",
    "qr_chunks",
    "qr_numeric",
    "read_jws",
    "shc_qr_png",
    "sign_health_card",
    "usable_jwks_keys",
    "verify_shc",
    "verify_shc_images",
    "verify_shc_symbols",
]

HEALTH_CARD_TYPE = "https://smarthealth.cards#health-card"
FHIR_VERSION = "4.0.1"
CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"
#: ICD-11 MMS as the SHC Vaccination IG names it (the WHO DDCC IG uses ``http://id.who.int/icd11/mms``).
ICD11_SYSTEM = "http://id.who.int/icd/release/11/mms"
QR_PREFIX = "shc:/"
#: Longest JWS that fits one version-22 QR (error correction L) after ``shc:/``.
MAX_SINGLE_QR_JWS = 1195
#: Longest JWS part per chunk when a card is split (``shc:/i/n/`` takes more room).
MAX_CHUNK_JWS = 1191
#: Most chunks a card may claim (far more than any card needs).
MAX_CHUNKS = 64
#: Largest version the spec allows for a health-card QR.
MAX_QR_VERSION = 22
#: Largest accepted input (characters) and inflated payload (bytes).
MAX_INPUT = 256 * 1024
MAX_PAYLOAD = 1024 * 1024
#: A time value above this is taken for milliseconds (year 5138 in seconds).
_MS_THRESHOLD = 1e11

#: Normalised vaccine name -> CVX code.  Codes from CDC's CVX table as the WHO DDCC IG
#: maps them (ConceptMap vaccine-covid19-cvx-to-icd11); Covishield is the ChAdOx1
#: (AstraZeneca) product made by the Serum Institute, CVX 210.  Vaccines without a CVX
#: code (Covovax, Gemcovac-19) fall back to their ICD-11 code.
DEFAULT_CVX: Mapping[str, str] = {
    _norm(name): code for name, code in (
        ("Pfizer-BioNTech", "208"), ("Comirnaty", "208"),
        ("Moderna", "207"), ("Modema", "207"), ("Spikevax", "207"),
        ("Janssen", "212"),
        ("AstraZeneca", "210"), ("Vaxzevria", "210"), ("Covishield", "210"),
        ("Novavax", "211"), ("NVX-CoV2373", "211"),
        ("Covaxin", "502"),
        ("Sputnik V", "505"),
        ("Convidecia", "506"),
        ("BBIBP-CorV", "510"), ("Sinopharm", "510"),
        ("Sinovac", "511"), ("Coronavac", "511"),
        ("Zycov-D", "514"),
        ("Corbevax", "517"),
    )
}

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_RESOURCE_REF = re.compile(r"resource:(0|[1-9][0-9]*)")
_FHIR_DATE = re.compile(r"([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?")
_FHIR_DATETIME = re.compile(
    r"([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?")
_CHUNK_HEADER = re.compile(r"shc:/(?:([0-9]+)/([0-9]+)/)?([0-9]*)")
#: Plain http is accepted only for a development issuer on this machine.
_LOOPBACK_ISSUER = re.compile(r"http://(localhost|127\.0\.0\.1)(:[0-9]+)?(/|$)")
_CODING_KEYS = frozenset({"id", "extension", "system", "version", "code", "display", "userSelected"})
_IMMUNIZATION_OCCURRENCE = ("occurrenceDateTime", "occurrenceString")


# --------------------------------------------------------------------------- #
# base64url, JSON, keys
# --------------------------------------------------------------------------- #

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    """Strict JSON: NaN and Infinity (which Python's parser accepts) are refused."""
    return json.loads(text, parse_constant=_no_constant)


def minified(value: Any) -> bytes:
    """Compact JSON (no whitespace, key order kept), UTF-8: the form the spec signs."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _int_to_b64(value: int) -> str:
    return _b64url(value.to_bytes(32, "big"))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an EC public JWK (the spec's ``kid``)."""
    canonical = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]}
    return _b64url(hashlib.sha256(minified(canonical)).digest())


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of an EC JWK; :class:`KeyFormatError` for anything else."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise KeyFormatError("an SHC key must be an EC P-256 JWK")
    try:
        x, y = _b64url_decode(str(jwk["x"])), _b64url_decode(str(jwk["y"]))
    except (KeyError, ValueError, binascii.Error) as exc:
        raise KeyFormatError("JWK x/y are not base64url") from exc
    if len(x) != 32 or len(y) != 32:
        raise KeyFormatError("JWK x/y must be 32 bytes each")
    try:
        return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                             ec.SECP256R1()).public_key()
    except ValueError as exc:
        raise KeyFormatError(f"JWK point is not on P-256: {exc}") from exc


def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": _int_to_b64(numbers.x), "y": _int_to_b64(numbers.y)}
    return {"kty": "EC", "kid": jwk_thumbprint(jwk), "use": "sig", "alg": "ES256",
            "crv": "P-256", "x": jwk["x"], "y": jwk["y"]}


@dataclass(frozen=True, slots=True)
class ShcSigningKey:
    """An ES256 (P-256) issuer key; ``kid`` is the RFC 7638 thumbprint of its public JWK."""

    private_key: ec.EllipticCurvePrivateKey
    kid: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey) or not isinstance(
                self.private_key.curve, ec.SECP256R1):
            raise KeyFormatError("an SHC signing key must be an EC P-256 private key")
        object.__setattr__(self, "kid", _public_jwk(self.private_key.public_key())["kid"])

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> "ShcSigningKey":
        """Load a private EC JWK (``d`` present); the public part must match."""
        public = public_key_from_jwk(jwk)
        try:
            d = int.from_bytes(_b64url_decode(str(jwk["d"])), "big")
        except (KeyError, ValueError, binascii.Error) as exc:
            raise KeyFormatError("private JWK needs a base64url 'd'") from exc
        try:
            key = ec.derive_private_key(d, ec.SECP256R1())
        except ValueError as exc:
            raise KeyFormatError(f"bad private scalar: {exc}") from exc
        if key.public_key().public_numbers() != public.public_numbers():
            raise KeyFormatError("JWK 'd' does not match its x/y")
        return cls(key)

    def public_jwk(self) -> dict[str, str]:
        """``{kty, kid, use: sig, alg: ES256, crv, x, y}`` for the issuer's JWKS."""
        return _public_jwk(self.private_key.public_key())

    def private_key_pem(self) -> str:
        """Unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def sign(self, data: bytes) -> bytes:
        """ES256 signature as JWS wants it: 32-byte ``r`` then 32-byte ``s``.

        Deterministic (RFC 6979): the same payload always gives the same JWS.
        """
        der = self.private_key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def load_shc_key(material: Union[str, bytes], kid: str | None = None) -> ShcSigningKey:
    """An :class:`ShcSigningKey` from PEM (PKCS#8 or SEC1), a private JWK, or a private
    JWKS (its only ES256 signing key, or the one whose ``kid`` is given)."""
    text = material.decode("utf-8") if isinstance(material, bytes) else material
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeError) as exc:
            raise KeyFormatError(f"cannot load SHC private key PEM: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyFormatError("the SHC private key must be an EC P-256 key")
        return ShcSigningKey(key)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise KeyFormatError("SHC key is neither PEM nor JSON (JWK)") from exc
    if isinstance(doc, Mapping) and isinstance(doc.get("keys"), list):
        private = [k for k in doc["keys"] if isinstance(k, Mapping) and "d" in k and k.get("use", "sig") == "sig"
                   and k.get("alg", "ES256") == "ES256" and (kid is None or k.get("kid") == kid)]
        if len(private) != 1:
            raise KeyFormatError("a JWKS SHC key must hold exactly one private ES256 signing key"
                                 + (f" with kid {kid}" if kid else " (or name its kid)"))
        doc = private[0]
    if not isinstance(doc, Mapping):
        raise KeyFormatError("SHC key JSON must be a JWK object")
    return ShcSigningKey.from_jwk(doc)


def generate_shc_key() -> ShcSigningKey:
    """A new random P-256 issuer key."""
    return ShcSigningKey(ec.generate_private_key(ec.SECP256R1()))


# --------------------------------------------------------------------------- #
# Export: native credential -> FHIR Bundle -> JWS -> numeric QR
# --------------------------------------------------------------------------- #

def _evidence(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    evidence = credential.get("evidence")
    if isinstance(evidence, list) and evidence and isinstance(evidence[0], Mapping):
        return evidence[0]
    return {}


def _subject(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    subject = credential.get("credentialSubject")
    return subject if isinstance(subject, Mapping) else {}


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def vaccine_coding(vaccine: str, icd11_code: str, cvx: Mapping[str, str] = DEFAULT_CVX) -> dict[str, str]:
    """The Immunization's ``vaccineCode.coding[0]``: CVX when the vaccine has one, else ICD-11.

    :raises ValueError: the vaccine has neither (a card must name what was given).
    """
    code = cvx.get(_norm(vaccine)) if vaccine else None
    if code:
        return {"system": CVX_SYSTEM, "code": code}
    if icd11_code:
        return {"system": ICD11_SYSTEM, "code": icd11_code}
    raise ValueError(f"vaccine {vaccine!r} has no CVX and no ICD-11 code")


def _fhir_date(value: str) -> str:
    """``YYYY-MM-DD`` of a DIVOC date or date-time (the spec wants the day only)."""
    day = value[:10]
    if len(day) == 10 and _FHIR_DATE.fullmatch(day):
        return day
    raise ValueError(f"not a date: {value!r}")


def build_fhir_bundle(credentials: Sequence[Mapping[str, Any]], *, family: str | None = None,
                      given: Sequence[str] | None = None,
                      cvx: Mapping[str, str] = DEFAULT_CVX) -> dict[str, Any]:
    """The SHC FHIR Bundle for one holder's vaccination credentials (one per dose).

    The Patient comes from the last credential.  DIVOC keeps one name string, which
    cannot be split reliably, so it goes into ``name.text`` unless the holder states
    ``family`` (and optionally ``given``) names, as the IG allows either.
    Immunizations follow the order given (the caller sorts by dose).

    :raises ValueError: no credentials, or a dose without a date or vaccine code.
    """
    if not credentials:
        raise ValueError("no vaccination credentials to export")
    subject = _subject(credentials[-1])
    name: dict[str, Any]
    if family and family.strip():
        name = {"family": family.strip()}
        given_names = [g.strip() for g in (given or ()) if g and g.strip()]
        if given_names:
            name["given"] = given_names
    else:
        text = _str(subject.get("name"))
        if not text:
            raise ValueError("the credential has no holder name")
        name = {"text": text}
    patient: dict[str, Any] = {"resourceType": "Patient", "name": [name]}
    dob = _str(subject.get("dob"))
    if dob:
        patient["birthDate"] = _fhir_date(dob)
    entries: list[dict[str, Any]] = [{"fullUrl": "resource:0", "resource": patient}]
    for credential in credentials:
        ev = _evidence(credential)
        immunization: dict[str, Any] = {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {"coding": [vaccine_coding(_str(ev.get("vaccine")), _str(ev.get("icd11Code")), cvx)]},
            "patient": {"reference": "resource:0"},
            "occurrenceDateTime": _fhir_date(_str(ev.get("date"))),
        }
        facility = ev.get("facility")
        facility_name = _str(facility.get("name")) if isinstance(facility, Mapping) else ""
        if facility_name:
            immunization["performer"] = [{"actor": {"display": facility_name}}]
        lot = _str(ev.get("batch"))
        if lot:
            immunization["lotNumber"] = lot
        entries.append({"fullUrl": f"resource:{len(entries)}", "resource": immunization})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def build_shc_payload(bundle: Mapping[str, Any], *, issuer: str, nbf: Union[int, float],
                      rid: str | None = None) -> dict[str, Any]:
    """The JWS payload ``{iss, nbf, vc: {type, credentialSubject: {fhirVersion, fhirBundle}[, rid]}}``.

    ``issuer`` is the issuer URL (https, no trailing slash; its ``/.well-known/jwks.json``
    serves the key); ``nbf`` seconds since the epoch.
    """
    if not issuer.startswith("https://") and not issuer.startswith("http://"):
        raise ValueError(f"issuer must be a URL, got {issuer!r}")
    if issuer.endswith("/"):
        raise ValueError("issuer must not end with '/'")
    vc: dict[str, Any] = {"type": [HEALTH_CARD_TYPE],
                          "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": bundle}}
    if rid is not None:
        vc["rid"] = rid
    return {"iss": issuer, "nbf": nbf, "vc": vc}


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush()


def sign_health_card(payload: Mapping[str, Any], key: ShcSigningKey) -> str:
    """Compact JWS of the minified payload: raw DEFLATE, header ``{zip, alg, kid}``."""
    header = _b64url(minified({"zip": "DEF", "alg": "ES256", "kid": key.kid}))
    body = _b64url(_deflate(minified(payload)))
    signing_input = f"{header}.{body}".encode("ascii")
    return f"{header}.{body}.{_b64url(key.sign(signing_input))}"


def qr_numeric(jws: str) -> str:
    """``shc:/`` followed by two digits per character (``ord(c) - 45``) of one JWS (or chunk)."""
    return QR_PREFIX + "".join(f"{ord(c) - 45:02d}" for c in jws)


def qr_chunks(jws: str) -> list[str]:
    """The QR contents for ``jws``: one when it fits version 22, else balanced ``shc:/i/n/`` chunks."""
    if len(jws) <= MAX_SINGLE_QR_JWS:
        return [qr_numeric(jws)]
    count = math.ceil(len(jws) / MAX_CHUNK_JWS)
    size = math.ceil(len(jws) / count)
    return [f"{QR_PREFIX}{i + 1}/{count}/" + qr_numeric(jws[i * size:(i + 1) * size])[len(QR_PREFIX):]
            for i in range(count)]


def health_card_file(jws_list: Iterable[str]) -> bytes:
    """A ``.smart-health-card`` file: ``{"verifiableCredential": [jws, ...]}``."""
    return minified({"verifiableCredential": list(jws_list)})


def shc_qr_png(content: str, *, box_size: int = 4, border: int = 4) -> bytes:
    """PNG of one ``shc:/`` QR: error correction L, ``shc:/`` (and any ``i/n/``) in a byte
    segment and the digits in a numeric segment (zxing-cpp picks the shortest segmentation).

    :raises ValueError: the content is not a health-card QR, or needs a version above 22.
    """
    from .qr import qr_text_png

    if not _CHUNK_HEADER.fullmatch(content):
        raise ValueError("content must be shc:/ followed by digits")
    png, version = qr_text_png(content, ec_level="L", box_size=box_size, border=border)
    if version > MAX_QR_VERSION:
        raise ValueError(f"the card needs a version {version} QR; the spec allows at most {MAX_QR_VERSION}")
    return png


# --------------------------------------------------------------------------- #
# Checks shared by the verifier and the tests
# --------------------------------------------------------------------------- #

def _short(path: str) -> str:
    return path if len(path) <= 120 else f"{path[:60]}...{path[-50:]}"


def _walk_empty(value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, Mapping):
        if not value:
            errors.append(f"{_short(path)} is empty (FHIR forbids empty objects)")
        for k, v in value.items():
            _walk_empty(v, f"{path}.{k}", errors)
    elif isinstance(value, list):
        if not value:
            errors.append(f"{_short(path)} is empty (FHIR forbids empty arrays)")
        for i, v in enumerate(value):
            _walk_empty(v, f"{path}[{i}]", errors)
    elif isinstance(value, str) and not value.strip():
        errors.append(f"{_short(path)} is an empty string (FHIR forbids empty values)")
    elif value is None:
        errors.append(f"{_short(path)} is null (FHIR forbids null values)")


def _walk_references(value: Any, path: str, targets: frozenset[str], errors: list[str],
                     warnings: list[str]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str):
                if _RESOURCE_REF.fullmatch(v):
                    if v not in targets:
                        errors.append(f"{_short(path)}.reference {v[:80]!r} names no entry of the Bundle")
                else:
                    warnings.append(f"{_short(path)}.reference {v[:80]!r} should be a short resource:N reference")
            elif k == "display" and isinstance(value.get("system"), str):
                warnings.append(f"{_short(path)}.display: Coding.display should be left out")
            elif k == "coding" and isinstance(value.get("text"), str):
                warnings.append(f"{_short(path)}.text: CodeableConcept.text should be left out")
            _walk_references(v, f"{path}.{k}", targets, errors, warnings)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk_references(v, f"{path}[{i}]", targets, errors, warnings)


def _check_codings(concept: Any, path: str, errors: list[str]) -> None:
    coding = concept.get("coding") if isinstance(concept, Mapping) else None
    if not isinstance(coding, list) or not coding:
        errors.append(f"{path}.coding is required")
        return
    for i, c in enumerate(coding):
        if not isinstance(c, Mapping) or not isinstance(c.get("system"), str) or not isinstance(c.get("code"), str):
            errors.append(f"{path}.coding[{i}] needs a system and a code")
        elif set(c) - _CODING_KEYS:
            errors.append(f"{path}.coding[{i}] has unknown elements {sorted(set(c) - _CODING_KEYS)}")


def _check_meta(meta: Any, path: str, errors: list[str], warnings: list[str]) -> None:
    if not isinstance(meta, Mapping):
        errors.append(f"{path}.meta must be an object")
        return
    extra = sorted(set(meta) - {"security"})
    if extra:
        warnings.append(f"{path}.meta may only carry security (found {extra})")
    security = meta.get("security")
    if security is None:
        warnings.append(f"{path}.meta has no security label")
        return
    if not isinstance(security, list):
        errors.append(f"{path}.meta.security must be a list of codings")
        return
    for i, c in enumerate(security):
        if not isinstance(c, Mapping) or set(c) - _CODING_KEYS:
            errors.append(f"{path}.meta.security[{i}] is not a Coding")


def _check_immunization(res: Mapping[str, Any], path: str, errors: list[str]) -> None:
    if res.get("status") != "completed":
        errors.append(f"{path}.status must be 'completed', got {res.get('status')!r}")
    _check_codings(res.get("vaccineCode"), f"{path}.vaccineCode", errors)
    patient = res.get("patient")
    if not isinstance(patient, Mapping) or not isinstance(patient.get("reference"), str):
        errors.append(f"{path}.patient.reference is required")
    occurrences = [k for k in _IMMUNIZATION_OCCURRENCE if k in res]
    if len(occurrences) != 1:
        errors.append(f"{path} needs exactly one of occurrenceDateTime/occurrenceString (found {len(occurrences)})")
    elif "occurrenceDateTime" in res and not (isinstance(res["occurrenceDateTime"], str)
                                               and _FHIR_DATETIME.fullmatch(res["occurrenceDateTime"])):
        errors.append(f"{path}.occurrenceDateTime is not a FHIR dateTime")


def check_fhir_bundle(bundle: Any) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a health card's FHIR Bundle.

    Errors are what makes a card unusable: not a ``collection`` Bundle, empty or null
    values, a ``fullUrl`` other than ``resource:N`` or a ``resource:N`` reference to no
    entry, an Immunization that is not ``completed`` or lacks its code, patient or single
    occurrence, malformed dates or ``meta``.  Warnings are the spec's "SHOULD"s: short
    references, data minimisation (ids, text, displays).
    """
    errors: list[str] = []
    warnings: list[str] = []
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        return ["fhirBundle is not a FHIR Bundle"], warnings
    if bundle.get("type") != "collection":
        errors.append(f"fhirBundle.type must be 'collection', got {bundle.get('type')!r}")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        return errors + ["fhirBundle.entry must list the resources"], warnings
    _walk_empty(bundle, "fhirBundle", errors)
    targets = frozenset(e.get("fullUrl") for e in entries if isinstance(e, Mapping) and isinstance(e.get("fullUrl"), str))
    for i, entry in enumerate(entries):
        path = f"fhirBundle.entry[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
            errors.append(f"{path}.resource is required")
            continue
        full_url = entry.get("fullUrl")
        if not isinstance(full_url, str) or not _RESOURCE_REF.fullmatch(full_url):
            errors.append(f"{path}.fullUrl {full_url!r} is not resource:N")
        res = entry["resource"]
        rtype = res.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            errors.append(f"{path}.resource.resourceType is required")
            continue
        rpath = f"{path}.resource({rtype})"
        for key in ("id", "text"):
            if key in res:
                warnings.append(f"{rpath}.{key} should be left out")
        if "meta" in res:
            _check_meta(res["meta"], rpath, errors, warnings)
        _walk_references(res, rpath, targets, errors, warnings)
        if rtype == "Immunization":
            _check_immunization(res, rpath, errors)
        elif rtype == "Patient":
            birth = res.get("birthDate")
            if birth is not None and not (isinstance(birth, str) and _FHIR_DATE.fullmatch(birth)):
                errors.append(f"{rpath}.birthDate is not a FHIR date")
            if not isinstance(res.get("name"), list):
                errors.append(f"{rpath}.name is required")
        elif rtype == "Observation":
            _check_codings(res.get("code"), f"{rpath}.code", errors)
    return errors, warnings


def _time_value(payload: Mapping[str, Any], name: str, errors: list[str]) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.append(f"{name} must be a number of seconds")
        return None
    if not math.isfinite(value):
        errors.append(f"{name} must be a finite number")
        return None
    if value > _MS_THRESHOLD:
        errors.append(f"{name} must be seconds since the epoch (this looks like milliseconds)")
    return float(value)


def check_payload(payload: Any, *, now: float | None = None,
                  skew: float = 300.0) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a decoded JWS payload, its times checked against ``now``."""
    now = time.time() if now is None else now
    errors: list[str] = []
    warnings: list[str] = []
    if not isinstance(payload, Mapping):
        return ["the payload is not a JSON object"], warnings
    iss = payload.get("iss")
    if not isinstance(iss, str) or not iss:
        errors.append("iss is required")
    elif not iss.startswith("https://") and not _LOOPBACK_ISSUER.match(iss):
        errors.append(f"iss must be an https URL, got {iss!r}")
    elif iss.endswith("/"):
        errors.append("iss must not end with '/'")
    nbf = _time_value(payload, "nbf", errors)
    if "nbf" not in payload:
        errors.append("nbf is required")
    elif nbf is not None and nbf > now + skew:
        errors.append("the card is not yet valid (nbf is in the future)")
    exp = _time_value(payload, "exp", errors)
    if exp is not None:
        if nbf is not None and exp < nbf:
            errors.append("exp is before nbf")
        elif exp < now - skew:
            errors.append("the card has expired")
    vc = payload.get("vc")
    if not isinstance(vc, Mapping):
        return errors + ["vc is required"], warnings
    types = vc.get("type")
    if not isinstance(types, list) or HEALTH_CARD_TYPE not in types:
        errors.append(f"vc.type must include {HEALTH_CARD_TYPE}")
    else:
        other = [t for t in types if t != HEALTH_CARD_TYPE and not (
            isinstance(t, str) and t.startswith("https://smarthealth.cards#") and t[26:] in (
                "immunization", "covid19", "laboratory"))]
        if other:
            warnings.append(f"vc.type has types the spec does not define: {other}")
    subject = vc.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return errors + ["vc.credentialSubject is required"], warnings
    if not isinstance(subject.get("fhirVersion"), str):
        errors.append("vc.credentialSubject.fhirVersion is required")
    bundle_errors, bundle_warnings = check_fhir_bundle(subject.get("fhirBundle"))
    return errors + bundle_errors, warnings + bundle_warnings


def usable_jwks_keys(jwks: Any) -> tuple[dict[str, ec.EllipticCurvePublicKey], list[str]]:
    """The ES256 verification keys of an issuer's JWKS by ``kid``, and why others were skipped.

    A key counts only when it is EC P-256, ``use`` is ``sig``, ``alg`` is ES256 and its
    ``kid`` is its RFC 7638 thumbprint, as the spec requires; private members are refused.
    """
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    problems: list[str] = []
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        return keys, ["the JWKS has no keys list"]
    for i, jwk in enumerate(entries):
        if not isinstance(jwk, Mapping):
            problems.append(f"keys[{i}] is not an object")
            continue
        if jwk.get("use") != "sig" or jwk.get("alg") != "ES256":
            problems.append(f"keys[{i}] is not an ES256 signing key (use={jwk.get('use')!r}, alg={jwk.get('alg')!r})")
            continue
        if "d" in jwk:
            problems.append(f"keys[{i}] exposes a private key")
            continue
        try:
            public = public_key_from_jwk(jwk)
            thumbprint = jwk_thumbprint(jwk)
        except (KeyFormatError, KeyError) as exc:
            problems.append(f"keys[{i}]: {exc}")
            continue
        if jwk.get("kid") != thumbprint:
            problems.append(f"keys[{i}] kid is not its RFC 7638 thumbprint")
            continue
        keys[thumbprint] = public
    return keys, problems


# --------------------------------------------------------------------------- #
# Verification
# --------------------------------------------------------------------------- #

@dataclass(frozen=True, slots=True)
class ShcImmunization:
    """One vaccination as a verifier shows it."""

    date: str
    system: str
    code: str
    lot: str = ""
    performer: str = ""


@dataclass(frozen=True)
class ShcVerification:
    """What :func:`verify_shc` found.  ``status`` is ``valid``, ``revoked`` or ``invalid``."""

    status: str
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    issuer: str | None = None
    kid: str | None = None
    name: str = ""
    birth_date: str = ""
    immunizations: tuple[ShcImmunization, ...] = ()
    payloads: tuple[Mapping[str, Any], ...] = ()
    jws: tuple[str, ...] = ()

    format = "shc"

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def summary(self) -> dict[str, Any]:
        """Display fields for a verifier page or API."""
        return {"format": "shc", "issuer": self.issuer, "name": self.name, "birthDate": self.birth_date,
                "immunizations": [{"date": i.date, "system": i.system, "code": i.code, "lot": i.lot,
                                   "performer": i.performer} for i in self.immunizations]}


class _Invalid(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_numeric(chunks: Sequence[str]) -> tuple[str, list[str]]:
    """(JWS, warnings) from the ``shc:/`` contents of one QR or of all chunks of a card.

    :raises ValueError: a malformed header or digits, or a missing, repeated, out-of-range
        or oversized chunk.
    """
    parts: dict[int, str] = {}
    warnings: list[str] = []
    total: int | None = None
    for raw in chunks:
        match = _CHUNK_HEADER.fullmatch(raw)
        if match is None:
            raise ValueError("not a health-card QR: expected shc:/ followed by digits")
        index_text, count_text, digits = match.groups()
        if not digits or len(digits) % 2:
            raise ValueError("the numeric QR content must be a non-empty, even number of digits")
        pairs = [int(digits[i:i + 2]) for i in range(0, len(digits), 2)]
        if max(pairs) > 77:
            raise ValueError("the numeric QR content has a value above 77")
        text = "".join(chr(p + 45) for p in pairs)
        if index_text is None:
            index, count = 1, 1
            if len(chunks) > 1:
                raise ValueError("a QR without a chunk header cannot be combined with others")
            if len(text) > MAX_SINGLE_QR_JWS:
                warnings.append(f"the JWS is longer than {MAX_SINGLE_QR_JWS} characters (version 22)")
        else:
            index, count = int(index_text), int(count_text)
            if count > MAX_CHUNKS:
                raise ValueError(f"a card has at most {MAX_CHUNKS} chunks, this one claims {count}")
            if count == 1:
                warnings.append("a single QR should not carry a chunk header")
            if not 1 <= index <= count:
                raise ValueError(f"chunk {index} of {count} is out of range")
            if len(text) > MAX_CHUNK_JWS:
                raise ValueError(f"chunk {index} holds {len(text)} characters (max {MAX_CHUNK_JWS})")
        if total is not None and count != total:
            raise ValueError("the chunks disagree on how many there are")
        total = count
        if index in parts:
            raise ValueError(f"chunk {index} appears twice")
        parts[index] = text
    if total is None:
        raise ValueError("no QR content")
    missing = [i for i in range(1, total + 1) if i not in parts]
    if missing:
        raise ValueError(f"missing chunk(s) {missing} of {total}")
    if total > 1:
        warnings.append("chunked QR codes are deprecated by the spec")
    return "".join(parts[i] for i in range(1, total + 1)), warnings


def read_jws(jws: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, payload, signing input, 64-byte signature) of a health-card JWS.

    :raises ValueError: not three base64url parts, a header without ``alg`` ES256,
        ``zip`` DEF and ``kid``, a payload that does not inflate to a UTF-8 JSON object,
        or a signature that is not 64 bytes (e.g. DER).
    """
    parts = jws.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError("not a compact JWS (header.payload.signature)")
    try:
        header = _loads(_b64url_decode(parts[0]).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("the JWS header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise ValueError("the JWS header is not a JSON object")
    if header.get("alg") != "ES256":
        raise ValueError(f"JWS header alg must be ES256, got {header.get('alg')!r}")
    if header.get("zip") != "DEF":
        raise ValueError("JWS header zip must be DEF (a compressed payload)")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise ValueError("JWS header kid is required")
    try:
        compressed = _b64url_decode(parts[1])
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise ValueError("the JWS payload or signature is not base64url") from exc
    if len(signature) != 64:
        raise ValueError(f"the ES256 signature must be 64 bytes (r||s), got {len(signature)} (DER?)")
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(compressed, MAX_PAYLOAD + 1)
    except zlib.error as exc:
        raise ValueError(f"the payload does not inflate (raw DEFLATE): {exc}") from exc
    if len(raw) > MAX_PAYLOAD or inflater.unconsumed_tail:
        raise ValueError(f"the payload inflates to more than {MAX_PAYLOAD} bytes")
    if not inflater.eof:
        raise ValueError("the DEFLATE stream is truncated")
    try:
        text = raw.decode("utf-8")
        if text.startswith("\ufeff") or text != text.strip():
            raise ValueError("the payload has a byte-order mark or surrounding whitespace")
        payload = _loads(text)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("the payload is not UTF-8 JSON") from exc
    except ValueError as exc:
        raise ValueError(f"the payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a JSON object")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


# --- revocation: revocation ids and the issuer's CRL ----------------------------------------

RID_MAX_LENGTH = 24  # base64url characters before an optional ".<timestamp>"
_CRL_ENTRY = re.compile(r"([A-Za-z0-9_-]{1,%d})(?:\.([0-9]+))?" % RID_MAX_LENGTH)


def revocation_id(secret: bytes, subject: str) -> str:
    """A card's ``vc.rid``: the first 64 bits of HMAC-SHA-256(secret, subject), base64url (11
    characters). Without the secret it cannot be linked to the subject, as the spec asks."""
    return _b64url(hmac.new(secret, subject.encode("utf-8"), hashlib.sha256).digest()[:8])


def crl_document(kid: str, ctr: int, rids: Iterable[str]) -> dict[str, Any]:
    """``/.well-known/crl/<kid>.json``: ``{kid, method: "rid", ctr, rids}``; the key's JWK carries
    ``crlVersion`` equal to ``ctr``."""
    return {"kid": kid, "method": "rid", "ctr": ctr, "rids": sorted(set(rids))}


def validate_crl(crl: Any, jwk: Mapping[str, Any]) -> list[str]:
    """What is wrong with an issuer's CRL for the key ``jwk`` (empty: nothing): the method is
    ``rid``, ``kid`` and ``ctr`` match the key's ``kid`` and ``crlVersion``, and every entry is a
    base64url rid of at most 24 characters with an optional ``.<timestamp>``, listed once."""
    if not isinstance(crl, Mapping):
        return ["the CRL is not a JSON object"]
    errors = []
    if crl.get("method") != "rid":
        errors.append(f"unknown CRL method {crl.get('method')!r} (expected 'rid')")
    if crl.get("kid") != jwk.get("kid"):
        errors.append(f"the CRL's kid {crl.get('kid')!r} is not the key's {jwk.get('kid')!r}")
    ctr, version = crl.get("ctr"), jwk.get("crlVersion")
    if isinstance(ctr, bool) or not isinstance(ctr, int) or ctr < 1:
        errors.append("ctr must be a positive integer")
    elif version is None:
        errors.append("the key has no crlVersion, so verifiers will not fetch this CRL")
    elif ctr != version:
        errors.append(f"the CRL's ctr {ctr} does not match the key's crlVersion {version}")
    rids = crl.get("rids")
    if not isinstance(rids, list):
        return errors + ["rids must be a list"]
    seen: set[str] = set()
    for entry in rids:
        match = _CRL_ENTRY.fullmatch(entry) if isinstance(entry, str) else None
        if match is None:
            base = entry.partition(".")[0] if isinstance(entry, str) else ""
            too_long = len(base) > RID_MAX_LENGTH and _B64URL.fullmatch(base)
            errors.append(f"rid {entry!r} is longer than {RID_MAX_LENGTH} characters" if too_long
                          else f"rid {entry!r} is not base64url with an optional .<timestamp>")
            continue
        if match.group(1) in seen:
            errors.append(f"rid {match.group(1)!r} is listed more than once")
        seen.add(match.group(1))
    return errors


def _revoked(payload: Mapping[str, Any], kid: str, crls: Sequence[Mapping[str, Any]]) -> bool:
    vc = payload.get("vc")
    rid = vc.get("rid") if isinstance(vc, Mapping) else None
    if not isinstance(rid, str):
        return False
    nbf = payload.get("nbf")
    for crl in crls:
        if not isinstance(crl, Mapping) or crl.get("kid") != kid or crl.get("method") != "rid":
            continue
        for entry in crl.get("rids") or ():
            if not isinstance(entry, str):
                continue
            revoked_rid, _, until = entry.partition(".")
            if revoked_rid != rid:
                continue
            if not until:
                return True
            if until.isdigit() and isinstance(nbf, (int, float)) and nbf < int(until):
                return True
    return False


def _verify_one(jws: str, trusted: Mapping[str, Any], now: float,
                crls: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[str, list[str], list[str], dict[str, Any] | None, str | None, str | None]:
    """(status, errors, warnings, payload, issuer, kid) of one JWS."""
    warnings: list[str] = []
    if len(jws) > MAX_SINGLE_QR_JWS:
        warnings.append(f"the JWS is longer than {MAX_SINGLE_QR_JWS} characters: it needs more than one QR")
    try:
        header, payload, signing_input, signature = read_jws(jws)
    except ValueError as exc:
        return "invalid", [str(exc)], warnings, None, None, None
    issuer = payload.get("iss") if isinstance(payload.get("iss"), str) else None
    kid = header["kid"]
    try:
        errors, payload_warnings = check_payload(payload, now=now)
    except RecursionError:
        return "invalid", ["the payload is nested too deeply"], warnings, None, None, None
    warnings += payload_warnings
    jwks = trusted.get(issuer) if issuer else None
    if jwks is None:
        errors.insert(0, f"unknown issuer: {issuer!r} is not a trusted SMART Health Card issuer")
        return "invalid", errors, warnings, payload, issuer, kid
    keys, _ = usable_jwks_keys(jwks)
    public = keys.get(kid)
    if public is None:
        errors.insert(0, f"unknown key: {kid!r} is not in the JWKS of {issuer}")
        return "invalid", errors, warnings, payload, issuer, kid
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        errors.insert(0, "bad signature: the card was changed after it was signed, or signed by another key")
        return "invalid", errors, warnings, payload, issuer, kid
    if errors:
        return "invalid", errors, warnings, payload, issuer, kid
    if _revoked(payload, kid, crls.get(issuer or "", ())):
        return "revoked", ["revoked by the issuer (its revocation list names this card)"], warnings, payload, issuer, kid
    return "valid", [], warnings, payload, issuer, kid


def _jws_list(data: Union[str, bytes, Sequence[str]]) -> tuple[list[str], list[str]]:
    """The JWS strings in any accepted input, and input warnings."""
    warnings: list[str] = []
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_INPUT:
            raise _Invalid("the input is too large")
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise _Invalid("the input is not UTF-8 text") from None
    items = [data] if isinstance(data, str) else list(data)
    if not items or any(not isinstance(i, str) for i in items):
        raise _Invalid("no health card given")
    if sum(len(i) for i in items) > MAX_INPUT:
        raise _Invalid("the input is too large")
    stripped = [i.strip() for i in items]
    if stripped != items:
        warnings.append("whitespace around the input was ignored")
    if not all(stripped):
        raise _Invalid("the input is empty")
    first = stripped[0]
    if first.lower().startswith(QR_PREFIX[:4]):
        try:
            jws, numeric_warnings = decode_numeric(stripped)
        except ValueError as exc:
            raise _Invalid(str(exc)) from None
        return [jws], warnings + numeric_warnings
    if len(stripped) > 1:
        raise _Invalid("only numeric QR chunks can be combined")
    if first.startswith("{"):
        try:
            doc = _loads(first)
        except (ValueError, RecursionError):
            raise _Invalid("not a .smart-health-card file: not JSON") from None
        if isinstance(doc, Mapping) and doc.get("resourceType") == "Parameters":
            # the FHIR $health-cards-issue answer: parameter[name=verifiableCredential].valueString
            params = doc.get("parameter") if isinstance(doc.get("parameter"), list) else []
            cards = [p.get("valueString") for p in params
                     if isinstance(p, Mapping) and p.get("name") == "verifiableCredential"]
        else:
            cards = doc.get("verifiableCredential") if isinstance(doc, Mapping) else None
        if not isinstance(cards, list) or not cards or not all(isinstance(c, str) for c in cards):
            raise _Invalid("not a .smart-health-card file: verifiableCredential must list JWS strings")
        return list(cards), warnings
    return [first], warnings


def verify_shc(data: Union[str, bytes, Sequence[str]], trusted: Mapping[str, Any], *,
               now: float | None = None,
               crls: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> ShcVerification:
    """Verify a SMART Health Card.

    :param data: a numeric QR's text (``shc:/...``), the texts of all its chunks, a
        compact JWS, a ``.smart-health-card`` file or a FHIR ``$health-cards-issue``
        Parameters answer (every JWS in a file must verify).
    :param trusted: trusted issuers: ``{iss URL: JWKS document}`` (what each issuer
        serves at ``<iss>/.well-known/jwks.json``).
    :param now: the time to check ``nbf``/``exp`` against (default: now).
    :param crls: optional revocation lists by issuer (``{"kid", "method": "rid", "rids"}``).
    """
    now = time.time() if now is None else now
    try:
        cards, warnings = _jws_list(data)
    except _Invalid as exc:
        return ShcVerification("invalid", (exc.reason,))
    reasons: list[str] = []
    statuses, payloads, issuers, kids = [], [], [], []
    for index, jws in enumerate(cards):
        status, errors, card_warnings, payload, issuer, kid = _verify_one(jws, trusted, now, crls or {})
        prefix = f"card {index + 1}: " if len(cards) > 1 else ""
        reasons += [prefix + e for e in errors]
        warnings += [prefix + w for w in card_warnings]
        statuses.append(status)
        if payload is not None:
            payloads.append(payload)
        issuers.append(issuer)
        kids.append(kid)
    status = "invalid" if "invalid" in statuses else "revoked" if "revoked" in statuses else "valid"
    name, birth_date, immunizations = _holder(payloads)
    return ShcVerification(status, tuple(reasons), tuple(warnings), issuers[0], kids[0], name, birth_date,
                           tuple(immunizations), tuple(payloads), tuple(cards))


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first(value: Any) -> Mapping[str, Any]:
    return _obj(value[0]) if isinstance(value, list) and value else {}


def _holder(payloads: Sequence[Mapping[str, Any]]) -> tuple[str, str, list[ShcImmunization]]:
    """Name, birth date and vaccinations for display (whatever shape the payload has)."""
    name, birth_date, immunizations = "", "", []
    for payload in payloads:
        bundle = _obj(_obj(_obj(payload.get("vc")).get("credentialSubject")).get("fhirBundle"))
        entries = bundle.get("entry")
        for entry in entries if isinstance(entries, list) else ():
            res = _obj(_obj(entry).get("resource"))
            if res.get("resourceType") == "Patient" and not name:
                first = _first(res.get("name"))
                given = first.get("given") if isinstance(first.get("given"), list) else []
                parts = [str(g) for g in given] + ([str(first["family"])] if first.get("family") else [])
                name = str(first.get("text") or " ".join(parts))
                birth_date = str(res.get("birthDate") or "")
            elif res.get("resourceType") == "Immunization":
                coding = _first(_obj(res.get("vaccineCode")).get("coding"))
                actor = _obj(_first(res.get("performer")).get("actor"))
                immunizations.append(ShcImmunization(
                    str(res.get("occurrenceDateTime") or res.get("occurrenceString") or ""),
                    str(coding.get("system") or ""), str(coding.get("code") or ""),
                    str(res.get("lotNumber") or ""), str(actor.get("display") or "")))
    return name, birth_date, immunizations


def verify_shc_images(images: Sequence[bytes], trusted: Mapping[str, Any], *, now: float | None = None,
                      crls: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> ShcVerification:
    """Verify a card from photos of its QR code(s) (one image per chunk).

    Besides :func:`verify_shc`'s checks, each symbol must be version 22 or lower.
    """
    from .verify import InputError, read_qr_symbols

    symbols: list[Any] = []
    for image in images:
        try:
            symbols += read_qr_symbols(image)
        except InputError as exc:
            return ShcVerification("invalid", (str(exc),))
    return verify_shc_symbols(symbols, trusted, now=now, crls=crls)


def verify_shc_symbols(symbols: Sequence[Any], trusted: Mapping[str, Any], *, now: float | None = None,
                       crls: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> ShcVerification:
    """Verify a card from QR symbols already read (``zxingcpp.Barcode``: ``text`` and
    ``extra["Version"]``); each must be version 22 or lower."""
    texts: list[str] = []
    for symbol in symbols:
        version = int(symbol.extra.get("Version", "0") or 0)
        if version > MAX_QR_VERSION:
            return ShcVerification("invalid", (
                f"the QR is version {version}; a health card QR is at most version {MAX_QR_VERSION}"
                " (the JWS must be in a numeric segment)",))
        texts.append(symbol.text)
    if not texts:
        return ShcVerification("invalid", ("no QR code found",))
    return verify_shc(texts, trusted, now=now, crls=crls)
