"""EU Digital COVID Certificates (hcert 1.3) from DIVOC vaccination credentials, and back.

Export (what DIVOC's EU adapter did):

1. :func:`build_dcc` turns a stored vaccination credential plus the holder's own split
   of their name (``fn`` family, ``gn`` given) into the DCC payload: ``nam`` with
   ICAO 9303 ``fnt``/``gnt``, ``dob`` and ``v[0]`` (``tg vp mp ma dn sd dt co is ci``).
   Codes come from the editable EU map (vaccine name -> ``vp``/``mp``/``ma``); a
   vaccine with no entry is refused (:class:`ExportRefused`), never guessed.
2. :func:`encode_hc1` wraps it as a CWT (``iss``, ``iat``, ``exp``, ``hcert``
   ``-260: {1: dcc}``), signs it as a COSE_Sign1 ES256 with the document signer
   certificate's key (``kid`` = first 8 bytes of SHA-256 of the DSC's DER), then
   zlib, Base45 and the ``HC1:`` prefix.

Import: :func:`decode_hc1` reverses every step (with size limits);
:func:`verify_hc1` also checks the signature against trusted DSCs, the validity
times and the DSC's extended key usage, and returns a :class:`HC1Result` that names
every problem instead of raising.

The ``ci`` is a UVCI (eHealth Network guidelines, Annex 2):
``URN:UVCI:01:<country>:<certificate id>#<check>``, the check character computed
with Luhn mod N over the whole string, N = 38 (``A-Z 0-9 / :``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .base45 import Base45Error, b45decode, b45encode
from .cose import ALGORITHM_NAMES, CoseError, Sign1, parse_sign1, sign1, verify_sign1
from .icao import icao_transliterate, icao_words

__all__ = [
    "DCC_VERSION",
    "DSC_EKU",
    "HC1_PREFIX",
    "TG_COVID19",
    "DecodedHC1",
    "DscSigner",
    "EuCodes",
    "ExportRefused",
    "HC1Error",
    "HC1Result",
    "IssuedHC1",
    "build_dcc",
    "cbor_to_json",
    "country_alpha2",
    "decode_cose",
    "decode_hc1",
    "dsc_kid",
    "dsc_usages",
    "encode_hc1",
    "eu_codes",
    "expiration_problems",
    "generate_dev_dsc",
    "key_usage_problem",
    "load_certificate",
    "uvci",
    "uvci_check_character",
    "uvci_is_valid",
    "verify_hc1",
]

DCC_VERSION = "1.3.0"
TG_COVID19 = "840539006"  # SNOMED CT: COVID-19
HC1_PREFIX = "HC1:"
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
#: Largest accepted HC1 text, and largest decompressed COSE (a version-40 QR holds < 4300).
MAX_TEXT = 8 * 1024
MAX_COSE = 64 * 1024
NAME_MAX = 80
#: DSC extended key usages that limit which DCC types a DSC may sign (the ".0." forms
#: are the test-environment variants).
DSC_EKU = {
    "t": frozenset({"1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.1"}),
    "v": frozenset({"1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.2"}),
    "r": frozenset({"1.3.6.1.4.1.1847.2021.1.3", "1.3.6.1.4.1.0.1847.2021.1.3"}),
}
_KINDS = {"v": "vaccination", "t": "test", "r": "recovery"}
_DOB_RE = re.compile(r"^((19|20)\d\d(-\d\d){0,2})?$")
_UVCI_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"
_UVCI_OPAQUE = re.compile(r"[^A-Z0-9]")
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
#: CLDR region codes that are not countries (EU, UN, Eurozone, outlying Oceania, pseudo, unknown).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


# --- Codes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EuCodes:
    """A vaccine's EU value-set codes."""

    vp: str  # vaccine-prophylaxis (SNOMED CT)
    mp: str  # vaccine-medicinal-product
    ma: str  # vaccine-mah-manf (marketing authorisation holder or manufacturer)


def _norm(name: str) -> str:
    return _NON_ALNUM.sub("", name).casefold()


def eu_codes(vaccine: str, eu_map: Mapping[str, Mapping[str, str]]) -> EuCodes | None:
    """The EU codes for ``vaccine`` (matched ignoring case, spaces and punctuation)."""
    wanted = _norm(vaccine or "")
    for name, entry in eu_map.items():
        if wanted and _norm(name) == wanted:
            if all(isinstance(entry.get(k), str) and entry[k] for k in ("vp", "mp", "ma")):
                return EuCodes(entry["vp"], entry["mp"], entry["ma"])
            return None
    return None


def country_alpha2(value: Any) -> str | None:
    """ISO 3166-1 alpha-2 for an alpha-2, alpha-3 or numeric code or an English name
    (``"IND"``, ``"356"`` and ``"India"`` give ``"IN"``); ``None`` when unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _alpha2(value.strip())


@functools.lru_cache(maxsize=1024)
def _alpha2(text: str) -> str | None:
    from babel.core import get_global

    territories = _territories()
    code = text.upper()
    if code in territories:
        return code
    aliases = get_global("territory_aliases").get(code)
    if aliases and aliases[0] in territories:
        return str(aliases[0])
    folded = text.casefold()
    return next((alpha2 for alpha2, name in territories.items() if name.casefold() == folded), None)


@functools.lru_cache(maxsize=1)
def _territories() -> dict[str, str]:
    """CLDR's English country names by alpha-2 code (Babel's data, no network)."""
    from babel import Locale

    return {code: name for code, name in Locale("en").territories.items()
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES}


# --- UVCI ------------------------------------------------------------------------------------

def uvci_check_character(text: str) -> str:
    """The Luhn mod 38 check character of ``text`` (characters ``A-Z 0-9 / :``)."""
    n = len(_UVCI_CHARSET)
    factor, total = 2, 0
    for ch in reversed(text):
        try:
            addend = factor * _UVCI_CHARSET.index(ch)
        except ValueError:
            raise ValueError(f"{ch!r} is not a UVCI character") from None
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return _UVCI_CHARSET[(n - total % n) % n]


def uvci_is_valid(value: str) -> bool:
    """Whether ``value`` ends with ``#`` and the right check character."""
    body, sep, check = value.rpartition("#")
    if not sep or len(check) != 1:
        return False
    try:
        return uvci_check_character(body) == check
    except ValueError:
        return False


def uvci(certificate_id: str, country: str) -> str:
    """``URN:UVCI:01:<country>:<id>#<check>`` for a certificate (id letters and digits only)."""
    opaque = _UVCI_OPAQUE.sub("", str(certificate_id).upper())
    if not opaque:
        raise ValueError("the certificate id has no letters or digits")
    body = f"URN:UVCI:01:{country}:{opaque}"
    return f"{body}#{uvci_check_character(body)}"


# --- The payload -----------------------------------------------------------------------------

class ExportRefused(ValueError):
    """The credential cannot be exported; ``problems`` lists ``(path, reason)`` pairs."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        super().__init__("; ".join(f"{p}: {r}" for p, r in self.problems))


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    if isinstance(value, float) and value.is_integer() and value >= 1:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) >= 1:
        return int(value)
    return None


def _vaccination_date(value: Any, display_tz: dt.tzinfo) -> str | None:
    """The day of vaccination: a date, or a date-time (in ``display_tz`` if it has a zone)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(display_tz)
    return moment.date().isoformat()


def _name_part(value: Any, path: str, credential_words: set[str] | None,
               problems: list[tuple[str, str]]) -> tuple[str, str]:
    """(as given, ICAO form) for one of ``fn``/``gn``."""
    text = " ".join(str(value).split()) if isinstance(value, str) else ""
    if not text:
        return "", ""
    if len(text) > NAME_MAX:
        problems.append((path, f"at most {NAME_MAX} characters"))
        return "", ""
    standard = icao_transliterate(text, NAME_MAX)
    if not standard:
        problems.append((path, "has no letters that can be written in the ICAO 9303 alphabet"))
        return "", ""
    if credential_words is not None:
        foreign = [w for w in standard.split("<") if w not in credential_words]
        if foreign:
            problems.append((path, f"{', '.join(foreign)} is not part of the name on the certificate"))
    return text, standard


def build_dcc(
    credential: Mapping[str, Any],
    *,
    family_name: Any,
    given_name: Any,
    eu_map: Mapping[str, Mapping[str, str]],
    issuer: str,
    country: str,
    display_tz: dt.tzinfo = dt.timezone.utc,
    check_name: bool = True,
) -> dict[str, Any]:
    """The hcert v1.3 vaccination payload for a signed DIVOC vaccination credential.

    :param family_name: ``fn`` as the holder states it ("" for none); ``fnt`` is its
        ICAO 9303 transliteration.
    :param given_name: ``gn`` likewise. At least one of the two is required.
    :param eu_map: vaccine name -> ``{"vp", "mp", "ma"}`` (the ``map:eu`` document).
    :param issuer: the certificate issuer (``v[0].is``), at most 80 characters.
    :param country: the issuing country (ISO 3166-1 alpha-2), used in the UVCI and as
        the country of vaccination when the facility names none we know.
    :param display_tz: the zone whose calendar day a vaccination time falls on.
    :param check_name: require every word of ``fn``/``gn`` to be a word of the
        credential's name (compared in ICAO form), so that the signed EU certificate
        can only split the name the native certificate carries.
    :raises ExportRefused: with every problem found, each as (path, reason).
    """
    problems: list[tuple[str, str]] = []
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    evidence_list = credential.get("evidence")
    evidence = evidence_list[0] if isinstance(evidence_list, list) and evidence_list else {}
    evidence = evidence if isinstance(evidence, Mapping) else {}
    types = credential.get("type") or []
    if "ProofOfVaccinationCredential" not in types:
        raise ExportRefused([("type", "only vaccination certificates have an EU-DCC form here")])
    if not re.fullmatch(r"[A-Z]{2}", country or ""):
        raise ValueError(f"country must be an ISO 3166-1 alpha-2 code, got {country!r}")
    if not issuer or len(issuer) > NAME_MAX:
        raise ValueError(f"issuer must be 1 to {NAME_MAX} characters")

    words = set(icao_words(str(subject.get("name") or ""))) if check_name else None
    fn, fnt = _name_part(family_name, "fn", words, problems)
    gn, gnt = _name_part(given_name, "gn", words, problems)
    if not fnt and not gnt and not any(p in ("fn", "gn") for p, _ in problems):
        problems.append(("fn", "give the family name (fn), the given name (gn) or both"))

    dob = str(subject.get("dob") or "")
    if not _DOB_RE.match(dob):
        problems.append(("credentialSubject.dob", f"{dob!r} is not a date (YYYY-MM-DD) between 1900 and 2099"))

    vaccine = str(evidence.get("vaccine") or "")
    codes = eu_codes(vaccine, eu_map)
    if codes is None:
        problems.append(("evidence[0].vaccine",
                         f"{vaccine or 'this vaccine'} has no EU-DCC codes (vp, mp, ma) in the EU map"))
    dose = _positive_int(evidence.get("dose"))
    if dose is None:
        problems.append(("evidence[0].dose", "must be a whole number ≥ 1"))
    total = _positive_int(evidence.get("totalDoses"))
    if total is None:
        problems.append(("evidence[0].totalDoses", "must be a whole number ≥ 1"))
    day = _vaccination_date(evidence.get("date"), display_tz)
    if day is None:
        problems.append(("evidence[0].date", "must be an ISO 8601 date or date-time"))
    certificate_id = str(evidence.get("certificateId") or "")
    if not _UVCI_OPAQUE.sub("", certificate_id.upper()):
        problems.append(("evidence[0].certificateId", "is required"))
    facility = evidence.get("facility")
    address = facility.get("address") if isinstance(facility, Mapping) else None
    where = country_alpha2(address.get("addressCountry")) if isinstance(address, Mapping) else None
    if problems:
        raise ExportRefused(problems)

    assert codes is not None and dose is not None and total is not None and day is not None
    name: dict[str, str] = {}
    if fnt:
        name.update(fn=fn, fnt=fnt)
    if gnt:
        name.update(gn=gn, gnt=gnt)
    return {
        "ver": DCC_VERSION,
        "nam": name,
        "dob": dob,
        "v": [{
            "tg": TG_COVID19, "vp": codes.vp, "mp": codes.mp, "ma": codes.ma,
            "dn": dose, "sd": total, "dt": day, "co": where or country,
            "is": issuer, "ci": uvci(certificate_id, country),
        }],
    }


# --- Keys: the document signer certificate -------------------------------------------------------

def load_certificate(value: Union[x509.Certificate, bytes, str]) -> x509.Certificate:
    """An X.509 certificate from an object, PEM (text or bytes), DER, or base64 DER text
    (the form of the EU test vectors and trust lists)."""
    import base64
    import binascii

    if isinstance(value, x509.Certificate):
        return value
    raw = value.encode("ascii") if isinstance(value, str) else bytes(value)
    if b"-----BEGIN" in raw:
        return x509.load_pem_x509_certificate(raw)
    if raw[:1] == b"\x30":
        return x509.load_der_x509_certificate(raw)
    try:
        der = base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a PEM, DER or base64 DER certificate") from None
    return x509.load_der_x509_certificate(der)


def dsc_kid(certificate: x509.Certificate) -> bytes:
    """The COSE ``kid`` of a DSC: the first 8 bytes of SHA-256 of its DER encoding."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


@dataclass(frozen=True)
class DscSigner:
    """A document signer: its EC P-256 private key and X.509 certificate."""

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey) \
                or self.private_key.curve.name != "secp256r1":
            raise ValueError("the EU DSC key must be an EC P-256 key (ES256)")
        pub = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if self.private_key.public_key().public_bytes(*pub) != self.certificate.public_key().public_bytes(*pub):
            raise ValueError("the EU DSC certificate does not belong to the private key")

    @classmethod
    def from_pem(cls, private_key_pem: Union[str, bytes], certificate_pem: Union[str, bytes]) -> "DscSigner":
        """Load a PKCS#8 (or SEC1) PEM private key and a PEM certificate."""
        key_bytes = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        key = serialization.load_pem_private_key(key_bytes, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the EU DSC key must be an EC P-256 key (ES256)")
        return cls(key, load_certificate(certificate_pem))

    @property
    def kid(self) -> bytes:
        return dsc_kid(self.certificate)

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc


def generate_dev_dsc(country: str = "IN", organisation: str = "DIVOC development",
                     days: int = 730, now: dt.datetime | None = None) -> tuple[str, str]:
    """A self-signed development DSC: (PKCS#8 private key PEM, certificate PEM).

    EC P-256, valid ``days`` from ``now``, with the extended key usage for vaccination
    certificates. Production DSCs are issued by the country's CSCA from a CSR.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} DSC (self-signed)"),
    ])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in sorted(DSC_EKU["v"])]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


# --- Encoding ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedHC1:
    """A signed EU certificate: the ``HC1:`` text and its CWT times."""

    text: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    kid: bytes


def encode_hc1(dcc: Mapping[str, Any], signer: DscSigner, *, issuer_country: str,
               issued_at: dt.datetime, validity: dt.timedelta) -> IssuedHC1:
    """Sign ``dcc`` and encode it as ``HC1:`` text.

    ``exp`` is ``issued_at + validity``, but never after the DSC expires (a verifier
    rejects a DCC that outlives its signer).

    :raises ValueError: the DSC is not valid at ``issued_at``.
    """
    issued_at = issued_at.astimezone(dt.timezone.utc).replace(microsecond=0)
    if not signer.not_before <= issued_at <= signer.not_after:
        raise ValueError(f"the EU DSC is valid from {signer.not_before:%Y-%m-%d} to {signer.not_after:%Y-%m-%d}, "
                         f"not at {issued_at:%Y-%m-%d %H:%M}Z")
    expires_at = min(issued_at + validity, signer.not_after.replace(microsecond=0))
    claims = {CLAIM_ISS: issuer_country, CLAIM_IAT: int(issued_at.timestamp()),
              CLAIM_EXP: int(expires_at.timestamp()), CLAIM_HCERT: {1: dict(dcc)}}
    cose = sign1(cbor2.dumps(claims), signer.private_key, signer.kid)
    text = HC1_PREFIX + b45encode(zlib.compress(cose, 9))
    return IssuedHC1(text, issued_at, expires_at, signer.kid)


# --- Decoding ----------------------------------------------------------------------------------

class HC1Error(ValueError):
    """An ``HC1:`` text could not be decoded; ``stage`` names the failing step
    (``prefix``, ``base45``, ``zlib``, ``cose`` or ``cwt``)."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


def unprefix(text: str) -> str:
    """The Base45 part of an ``HC1:`` text."""
    text = text.strip()
    if not text.startswith(HC1_PREFIX):
        raise HC1Error("prefix", f"an EU DCC starts with {HC1_PREFIX!r}, this starts with {text[:4]!r}")
    return text[len(HC1_PREFIX):]


def decompress(data: bytes) -> bytes:
    """zlib-inflate ``data``, refusing more than :data:`MAX_COSE` bytes of output."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_COSE + 1)
    except zlib.error as exc:
        raise HC1Error("zlib", f"not zlib data: {exc}") from None
    if len(out) > MAX_COSE:
        raise HC1Error("zlib", f"inflates to more than {MAX_COSE} bytes")
    if not inflater.eof:
        raise HC1Error("zlib", "the compressed data is truncated")
    return out


def cbor_to_json(value: Any) -> Any:
    """CBOR values as JSON values (date/date-time tags become ISO 8601 text)."""
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, str) else k: cbor_to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cbor_to_json(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, cbor2.CBORTag):
        return cbor_to_json(value.value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return value


def _numeric_date(claims: Mapping[Any, Any], label: int, name: str) -> dt.datetime | None:
    value = claims.get(label)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HC1Error("cwt", f"{name} is not a NumericDate")
    try:
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise HC1Error("cwt", f"{name} is out of range") from None


@dataclass(frozen=True)
class DecodedHC1:
    """An ``HC1:`` text taken apart (nothing verified yet)."""

    message: Sign1
    claims: Mapping[Any, Any]
    dcc: Mapping[str, Any]
    issuer_country: str | None
    issued_at: dt.datetime | None
    expires_at: dt.datetime | None


def decode_cose(cose: bytes) -> DecodedHC1:
    """The COSE_Sign1 and CWT claims in ``cose`` (the inflated bytes of an HC1)."""
    try:
        message = parse_sign1(cose)
    except CoseError as exc:
        raise HC1Error("cose", str(exc)) from None
    try:
        claims = cbor2.loads(message.payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise HC1Error("cwt", f"the payload is not CBOR: {exc}") from None
    if not isinstance(claims, Mapping):
        raise HC1Error("cwt", "the payload is not a CWT claims map")
    hcert = claims.get(CLAIM_HCERT)
    if not isinstance(hcert, Mapping) or not isinstance(hcert.get(1), Mapping):
        raise HC1Error("cwt", "no hcert claim (-260) with a DCC (1)")
    issuer = claims.get(CLAIM_ISS)
    return DecodedHC1(message=message, claims=claims, dcc=cbor_to_json(hcert[1]),
                      issuer_country=issuer if isinstance(issuer, str) else None,
                      issued_at=_numeric_date(claims, CLAIM_IAT, "iat"),
                      expires_at=_numeric_date(claims, CLAIM_EXP, "exp"))


def decode_hc1(text: Union[str, bytes]) -> DecodedHC1:
    """Take an ``HC1:`` text apart: prefix, Base45, zlib, COSE_Sign1, CWT, DCC.

    :raises HC1Error: at the first step that fails, with that step's name.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise HC1Error("prefix", "an EU DCC is ASCII text") from None
    if len(text) > MAX_TEXT:
        raise HC1Error("prefix", f"longer than {MAX_TEXT} characters")
    try:
        compressed = b45decode(unprefix(text))
    except Base45Error as exc:
        raise HC1Error("base45", str(exc)) from None
    return decode_cose(decompress(compressed))


# --- Verification --------------------------------------------------------------------------------

def dcc_kind(dcc: Mapping[str, Any]) -> str | None:
    """``"v"``, ``"t"`` or ``"r"`` when the DCC holds exactly one of those groups."""
    present = [k for k in ("v", "t", "r") if k in dcc]
    return present[0] if len(present) == 1 else None


def expiration_problems(decoded: DecodedHC1, certificate: x509.Certificate, now: dt.datetime) -> list[str]:
    """Why the DCC is not valid at ``now``: it needs ``iat`` and ``exp``, its DSC must have
    been valid when it was issued, and ``iat <= now <= exp``.

    (An issuer keeps ``exp`` within the DSC's validity, as :func:`encode_hc1` does; the EU
    test vectors do not require verifiers to check that.)
    """
    problems: list[str] = []
    iat, exp = decoded.issued_at, decoded.expires_at
    if iat is None or exp is None:
        return ["the CWT has no " + " and ".join(n for n, v in (("iat", iat), ("exp", exp)) if v is None)]
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not not_before <= iat <= not_after:
        problems.append(f"issued at {iat:%Y-%m-%dT%H:%M:%SZ}, when its DSC was not valid "
                        f"({not_before:%Y-%m-%d} to {not_after:%Y-%m-%d})")
    if iat > now:
        problems.append(f"not yet valid: issued at {iat:%Y-%m-%dT%H:%M:%SZ}")
    if now > exp:
        problems.append(f"expired at {exp:%Y-%m-%dT%H:%M:%SZ}")
    return problems


def _extended_key_usages(certificate: x509.Certificate) -> frozenset[str]:
    """The DSC's extended key usage OIDs; none when absent, empty or unreadable (some
    member-state test DSCs carry extensions ``cryptography`` refuses to parse)."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except (x509.ExtensionNotFound, ValueError):
        return frozenset()
    return frozenset(eku.dotted_string for eku in extension.value)


def dsc_usages(certificate: x509.Certificate) -> tuple[str, ...]:
    """The DCC types (``"v"``, ``"t"``, ``"r"``) a DSC's extended key usage limits it to;
    empty when it names none (no extension, or only other usages): it may sign every type."""
    usages = _extended_key_usages(certificate)
    return tuple(k for k, oids in DSC_EKU.items() if usages & oids)


def key_usage_problem(dcc: Mapping[str, Any], certificate: x509.Certificate) -> str | None:
    """A DSC whose extended key usage names DCC types may sign only those types; one that
    names none (no extension, or only other usages) may sign every type."""
    kind = dcc_kind(dcc)
    allowed = dsc_usages(certificate)
    if not allowed or kind is None or kind in allowed:
        return None
    return (f"the DSC may sign {', '.join(_KINDS[k] for k in allowed)} certificates, "
            f"not {_KINDS[kind]} certificates")


@dataclass(frozen=True)
class HC1Result:
    """The verdict on an ``HC1:`` text: ``valid`` when ``reasons`` is empty."""

    valid: bool
    reasons: tuple[str, ...]
    dcc: Mapping[str, Any] | None = None
    issuer_country: str | None = None
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    kid: str | None = None  # hex
    algorithm: str | None = None
    signer: str | None = None  # the DSC subject (RFC 4514)

    @property
    def kind(self) -> str | None:
        """``vaccination``, ``test`` or ``recovery``."""
        found = dcc_kind(self.dcc or {})
        return _KINDS[found] if found else None

    @property
    def holder_name(self) -> str:
        nam = (self.dcc or {}).get("nam")
        if not isinstance(nam, Mapping):
            return ""
        return " ".join(str(nam.get(k) or nam.get(k + "t") or "") for k in ("gn", "fn")).strip()


def verify_hc1(text: Union[str, bytes], trusted_certs: Iterable[Union[x509.Certificate, bytes, str]],
               *, now: dt.datetime | None = None) -> HC1Result:
    """Decode and verify an ``HC1:`` text against trusted document signer certificates.

    Checks, in order: the encoding (prefix, Base45, zlib, COSE, CWT), the DSC found by
    ``kid``, its signature (ES256 or PS256; the algorithm must fit the key), the times
    (:func:`expiration_problems` at ``now``) and the DSC's key usage. Never raises for
    bad input: every problem is a reason.
    """
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    try:
        decoded = decode_hc1(text)
    except HC1Error as exc:
        return HC1Result(False, (f"not a readable EU DCC ({exc.stage}): {exc.reason}",))
    message = decoded.message
    kid = message.kid
    alg = ALGORITHM_NAMES.get(message.alg, str(message.alg)) if message.alg is not None else None
    base = dict(dcc=decoded.dcc, issuer_country=decoded.issuer_country, issued_at=decoded.issued_at,
                expires_at=decoded.expires_at, kid=kid.hex() if kid else None, algorithm=alg)
    if kid is None:
        return HC1Result(False, ("unknown key: the COSE message has no kid",), **base)
    candidates = []
    for cert in trusted_certs:
        try:
            loaded = load_certificate(cert)
        except ValueError:
            continue
        if dsc_kid(loaded) == kid:
            candidates.append(loaded)
    if not candidates:
        return HC1Result(False, (f"unknown key: kid {kid.hex()} is not a trusted document signer",), **base)
    failures: list[str] = []
    for cert in candidates:
        try:
            verify_sign1(message, cert.public_key())
        except CoseError as exc:
            failures.append(str(exc))
            continue
        reasons = expiration_problems(decoded, cert, now)
        usage = key_usage_problem(decoded.dcc, cert)
        if usage:
            reasons.append(usage)
        if dcc_kind(decoded.dcc) is None:
            reasons.append("the DCC must hold exactly one of v, t, r")
        return HC1Result(not reasons, tuple(reasons), signer=cert.subject.rfc4514_string(), **base)
    return HC1Result(False, (f"bad signature: {'; '.join(dict.fromkeys(failures))}",), **base)
