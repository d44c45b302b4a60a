"""Build DIVOC ``ProofOfVaccinationCredential`` documents (vaccination context v2).

:func:`build_vaccination_credential` turns one validated DIVOC
``CertificationRequestV2`` item into the unsigned W3C credential that DIVOC's
``transformW3`` (``certifyV3`` branch) produced, ready for
:func:`certify.credentials.proofs.sign_credential`.

Value types follow DIVOC, because its verifier canonicalises them (a JSON
number becomes an ``xsd:integer`` literal, a string a plain literal, so
``"2"`` and ``2`` sign differently): every field is a JSON string except
``evidence[0].dose`` and ``totalDoses``, which are JSON integers (``2``, never
``2.0`` or ``"2"``).  ``age`` is a string.  Fields DIVOC always wrote are written as ``""`` when unknown (as
DIVOC's ``R.pathOr('')`` did); optional extras (``uhid``, ``infoUrl``,
``feedbackUrl``) are omitted when absent.  No value is ever ``null``.

Every property written here is defined by the vaccination v2 context; DIVOC's
verifier (jsonld-signatures' strict expansion) rejects undefined terms, so the
``context_url`` passed in must serve the v2 document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Union
from urllib.parse import quote

from .contexts import CREDENTIALS_V1_URL

__all__ = [
    "DEFAULT_ICD11",
    "Icd11Vaccine",
    "Icd11Lookup",
    "build_vaccination_credential",
    "icd11_lookup",
    "lookup_icd11",
    "subject_id",
]


@dataclass(frozen=True, slots=True)
class Icd11Vaccine:
    """One row of the vaccine -> ICD-11 table (as DIVOC's docs list it)."""

    name: str
    manufacturer: str
    code: str
    term: str
    aliases: tuple[str, ...] = ()


#: DIVOC's vaccine -> ICD-11 table (from DIVOC's documentation).
DEFAULT_ICD11: tuple[Icd11Vaccine, ...] = (
    Icd11Vaccine("Zycov-D", "Cadila Healthcare", "XM6AT1", "COVID-19 vaccine, DNA-based", ("ZyCoV-D",)),
    Icd11Vaccine("Covaxin", "Bharat-Biotech", "XM1NL1", "COVID-19 vaccine, inactivated virus"),
    Icd11Vaccine(
        "Covishield", "Serum Institute Of India", "XM9QW8", "COVID-19 vaccine, non-replicating viral vector"
    ),
    Icd11Vaccine(
        "Sputnik V", "Gamaleya-Research-Institute", "XM9QW8", "COVID-19 vaccine, non-replicating viral vector"
    ),
    Icd11Vaccine(
        "Pfizer-BioNTech", "Biontech Manufacturing GmbH", "XM0GQ8", "COVID-19 vaccine, RNA-based", ("Comirnaty",)
    ),
    Icd11Vaccine("Janssen", "Janssen-Cilag International", "XM0CX4", "COVID-19 vaccine, replicating viral vector"),
    Icd11Vaccine(
        "Moderna", "Moderna Biotech Spain S.L.", "XM0GQ8", "COVID-19 vaccine, RNA-based", ("Modema", "Spikevax")
    ),
    Icd11Vaccine(
        "AstraZeneca", "AstraZeneca AB", "XM9QW8", "COVID-19 vaccine, non-replicating viral vector", ("Vaxzevria",)
    ),
    Icd11Vaccine("Sinovac", "Sinovac-Biotech", "XM1NL1", "COVID-19 vaccine, inactivated virus", ("Coronavac",)),
    Icd11Vaccine(
        "BBIBP-CorV",
        "China Sinopharm International Corp. - Beijing location",
        "XM1NL1",
        "COVID-19 vaccine, inactivated virus",
        ("Sinopharm",),
    ),
    Icd11Vaccine("Convidecia", "CanSino Biologics", "XM9QW8", "COVID-19 vaccine, non-replicating viral vector"),
    Icd11Vaccine("Corbevax", "Biological E. Limited (BioE)", "XM5JC5", "COVID-19 vaccine, virus protein subunit"),
    Icd11Vaccine(
        "Novavax", "Novavax", "XM5JC5", "COVID-19 vaccine, virus protein subunit", ("Covovax", "NVX-CoV2373")
    ),
    Icd11Vaccine(
        "Gemcovac-19", "Gennova Biopharmaceuticals Limited", "XM0GQ8", "COVID-19 Vaccine, Lyophilized mRNA vaccine"
    ),
)

#: Normalised vaccine name -> (ICD-11 code, prophylaxis term).
Icd11Lookup = Mapping[str, tuple[str, str]]

_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
# vc-js 0.6 rejects credentials whose issuanceDate does not match this.
_VC_DATE_RE = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):"
    r"([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)([01][0-9]|2[0-3]):([0-5][0-9]))"
)
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_KEEP_AS_IS_SCHEMES = frozenset({"did", "urn", "http", "https"})
_IDENTITY_REJECT = re.compile(r"NA|.?", re.IGNORECASE)  # DIVOC's IDENTITY_REJECTION_PATTERN
_IRI_SAFE = "!$&'()*+,;=:@/-._~"


def _norm(name: str) -> str:
    return _NON_ALNUM.sub("", name).casefold()


def icd11_lookup(
    rows: Union[Iterable[Icd11Vaccine], Mapping[str, tuple[str, str]]] = DEFAULT_ICD11,
) -> dict[str, tuple[str, str]]:
    """Build a case- and punctuation-insensitive vaccine-name lookup.

    ``rows`` is a sequence of :class:`Icd11Vaccine` (names and aliases are
    indexed) or a mapping ``name -> (code, term)``.
    """
    out: dict[str, tuple[str, str]] = {}
    if isinstance(rows, Mapping):
        for name, (code, term) in rows.items():
            out[_norm(name)] = (code, term)
        return out
    for row in rows:
        for name in (row.name, *row.aliases):
            out.setdefault(_norm(name), (row.code, row.term))
    return out


_DEFAULT_LOOKUP = icd11_lookup(DEFAULT_ICD11)


def lookup_icd11(
    vaccine: str, icd11: Union[Iterable[Icd11Vaccine], Mapping[str, tuple[str, str]]] = DEFAULT_ICD11
) -> tuple[str, str] | None:
    """(code, term) for ``vaccine`` (matched ignoring case, spaces and punctuation)."""
    table = _DEFAULT_LOOKUP if icd11 is DEFAULT_ICD11 else icd11_lookup(icd11)
    return table.get(_norm(vaccine)) if vaccine else None


def _text(value: Any) -> str:
    """DIVOC's ``R.pathOr('', ...)`` as a string: absent/None -> ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return _iso_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _iso_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _dose(value: Any) -> Union[int, str]:
    """Dose numbers as JSON integers; '' when absent (as DIVOC)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        raise ValueError(f"dose must be a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(f"dose must be a whole number, got {value!r}")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _get(mapping: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def subject_id(identity: Any, pre_enrollment_code: Any, *, did_prefix: str = "did:divoc") -> str:
    """The ``credentialSubject.id`` for a recipient.

    Rule (DIVOC's ``populateIdentity``, made deterministic):

    1. ``identity`` that is already a URI with scheme ``did``, ``urn``,
       ``http`` or ``https`` is kept as is (e.g.
       ``did:in.gov.uidai.aadhaar:2342343334``).
    2. ``identity`` of the form ``type:value`` (any other scheme-like prefix)
       becomes ``did:type:value``.
    3. Any other ``identity`` becomes ``<did_prefix>:<identity>``, unless it
       is empty, ``NA`` or a single character (DIVOC's rejection pattern).
    4. Otherwise ``<did_prefix>:<preEnrollmentCode>``.

    Characters not allowed in an IRI (spaces, non-ASCII, ...) in the value
    parts are percent-encoded so the id stays an absolute IRI, which JSON-LD
    needs (a non-IRI id would silently drop the subject's triples).
    """
    ident = _text(identity).strip()
    if ident and not _IDENTITY_REJECT.fullmatch(ident):
        scheme, sep, rest = ident.partition(":")
        if sep and rest and _SCHEME_RE.fullmatch(scheme):
            if scheme.lower() in _KEEP_AS_IS_SCHEMES:
                return scheme + ":" + quote(rest, safe=_IRI_SAFE + "#?%")
            return "did:" + scheme + ":" + quote(rest, safe=_IRI_SAFE)
        return did_prefix + ":" + quote(ident, safe=_IRI_SAFE)
    code = _text(pre_enrollment_code).strip()
    if not code:
        raise ValueError("recipient has no usable identity and no preEnrollmentCode")
    return did_prefix + ":" + quote(code, safe=_IRI_SAFE)


def _age(recipient: Mapping[str, Any], on: date) -> str:
    age = recipient.get("age")
    if age not in (None, "", 0, "0"):
        return _text(age)
    dob = recipient.get("dob")
    try:
        born = dob if isinstance(dob, date) else date.fromisoformat(str(dob)[:10])
    except (TypeError, ValueError):
        return ""
    if isinstance(born, datetime):
        born = born.date()
    if born.year <= 1900 or born > on:
        return ""
    return str(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))


def _address(address: Any, default_country: str) -> dict[str, Any]:
    address = address if isinstance(address, Mapping) else {}
    return {
        "streetAddress": _text(address.get("addressLine1")),
        "streetAddress2": _text(address.get("addressLine2")),
        "district": _text(address.get("district")),
        "city": _text(address.get("city")),
        "addressRegion": _text(address.get("state")),
        "addressCountry": _text(address.get("country")) or default_country,
        "postalCode": _text(address.get("pincode", address.get("pin"))),
    }


def build_vaccination_credential(
    item: Mapping[str, Any],
    *,
    certificate_id: str,
    issuer: str,
    context_url: str,
    issuance_date: str,
    evidence_base_url: str,
    icd11: Union[Iterable[Icd11Vaccine], Mapping[str, tuple[str, str]]] = DEFAULT_ICD11,
    info_base_url: str | None = None,
    feedback_base_url: str | None = None,
    default_country: str = "IND",
    default_total_doses: int | None = 2,
    did_prefix: str = "did:divoc",
) -> dict[str, Any]:
    """The unsigned vaccination credential for one certification request item.

    ``item`` is a validated DIVOC ``CertificationRequestV2`` item
    (``preEnrollmentCode``, ``recipient``, ``vaccination``, ``vaccinator``,
    ``facility``).  ``context_url`` is the deployment's URL for the
    vaccination **v2** context; ``issuance_date`` an ISO 8601 date-time
    (e.g. ``2021-08-27T10:57:57.237Z``; vc-js rejects other forms).
    ``evidence[0].id`` is ``evidence_base_url + certificate_id``;
    ``infoUrl``/``feedbackUrl`` likewise when their base URLs are given.
    ``icd11`` maps vaccine names (case-insensitively) to ICD-11 code and
    prophylaxis term; unknown vaccines get ``""`` for both, as in DIVOC.
    ``did_prefix`` is used by :func:`subject_id`.

    Raises ``ValueError`` for inputs DIVOC's verifier would reject.
    """
    if not isinstance(item, Mapping):
        raise TypeError("item must be a mapping")
    if not _VC_DATE_RE.fullmatch(issuance_date or ""):
        raise ValueError(f"issuance_date must be an ISO 8601 date-time, got {issuance_date!r}")
    if ":" not in issuer:
        raise ValueError(f"issuer must be a URL, got {issuer!r}")
    if ":" not in context_url:
        raise ValueError(f"context_url must be an absolute URL, got {context_url!r}")
    certificate_id = _text(certificate_id)
    if not certificate_id:
        raise ValueError("certificate_id is required")
    evidence_id = evidence_base_url + quote(certificate_id, safe=_IRI_SAFE)
    if not _SCHEME_RE.match(evidence_id) or ":" not in evidence_id:
        raise ValueError(f"evidence_base_url must be an absolute URL, got {evidence_base_url!r}")

    recipient: Mapping[str, Any] = _mapping(item.get("recipient"))
    vaccination: Mapping[str, Any] = _mapping(item.get("vaccination"))
    pre_enrollment_code = _text(item.get("preEnrollmentCode"))
    issued_on = datetime.fromisoformat(issuance_date.replace("Z", "+00:00")).date()

    subject: dict[str, Any] = {
        "type": "Person",
        "id": subject_id(recipient.get("identity"), pre_enrollment_code, did_prefix=did_prefix),
        "refId": pre_enrollment_code,
        "name": _text(recipient.get("name")),
    }
    if recipient.get("uhid") not in (None, ""):
        subject["uhid"] = _text(recipient.get("uhid"))
    subject.update(
        {
            "gender": _text(recipient.get("gender")),
            "age": _age(recipient, issued_on),
            "nationality": _text(recipient.get("nationality")),
            "address": _address(recipient.get("address"), default_country),
            "dob": _text(recipient.get("dob")),
        }
    )

    vaccine = _text(vaccination.get("name"))
    code_term = lookup_icd11(vaccine, icd11)
    total_doses = vaccination.get("totalDoses")
    if total_doses in (None, "") and default_total_doses is not None:
        total_doses = default_total_doses

    evidence: dict[str, Any] = {"id": evidence_id}
    if feedback_base_url is not None:
        evidence["feedbackUrl"] = feedback_base_url + certificate_id
    if info_base_url is not None:
        evidence["infoUrl"] = info_base_url + certificate_id
    evidence.update(
        {
            "certificateId": certificate_id,
            "type": ["Vaccination"],
            "batch": _text(vaccination.get("batch")),
            "vaccine": vaccine,
            "manufacturer": _text(vaccination.get("manufacturer")),
            "date": _text(vaccination.get("date")),
            "effectiveStart": _text(vaccination.get("effectiveStart")),
            "effectiveUntil": _text(vaccination.get("effectiveUntil")),
            "dose": _dose(vaccination.get("dose")),
            "totalDoses": _dose(total_doses),
            "verifier": {"name": _text(_get(item, "vaccinator", "name"))},
            "facility": {
                "name": _text(_get(item, "facility", "name")),
                "address": _address(_get(item, "facility", "address"), default_country),
            },
            "icd11Code": code_term[0] if code_term else "",
            "prophylaxis": code_term[1] if code_term else "",
        }
    )

    return {
        "@context": [CREDENTIALS_V1_URL, context_url],
        "type": ["VerifiableCredential", "ProofOfVaccinationCredential"],
        "credentialSubject": subject,
        "issuer": issuer,
        "issuanceDate": issuance_date,
        "evidence": [evidence],
        "nonTransferable": "true",
    }
