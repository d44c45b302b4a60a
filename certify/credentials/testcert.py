"""Build DIVOC ``ProofOfTestCertificateCredential`` documents (test-certificate context v1).

:func:`build_test_credential` turns one validated DIVOC
``TestCertificationRequest`` item (``POST /v1/test/certify``) into the
unsigned W3C credential of a COVID-19 test result, ready for
:func:`certify.credentials.proofs.sign_credential`.

Value conventions are those of :mod:`certify.credentials.vaccination`: every
value is a JSON string, fields DIVOC always wrote are ``""`` when unknown,
nothing is ever ``null``, ``addressCountry`` defaults to ``"IND"`` and the
subject id follows :func:`~certify.credentials.vaccination.subject_id`.

Differences from the vaccination credential:

* only terms of the **test-certificate v1** context are written (it has no
  ``age``; DIVOC's verifier rejects undefined terms), so ``context_url`` must
  serve that document (bundled as ``"test-certificate-v1"``);
* ``evidence[0].result`` is canonical (``Positive``, ``Negative`` or
  ``Inconclusive``, whatever the case of the request);
* ``sampleCollectionTimestamp`` and ``resultTimestamp`` are written as UTC
  ISO 8601 with milliseconds (``2021-10-17T07:40:00.000Z``).  A request
  timestamp without a UTC offset is read in ``naive_tz`` (India Standard
  Time by default), so ``2021-10-17T13:10`` and ``2021-10-17T07:40Z`` are
  the same instant and the same test event (:func:`sample_event_key`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Final
from urllib.parse import quote

from .contexts import CREDENTIALS_V1_URL
from .vaccination import (
    _IRI_SAFE,
    _SCHEME_RE,
    _VC_DATE_RE,
    _address,
    _get,
    _mapping,
    _text,
    subject_id,
)

__all__ = [
    "DEFAULT_DISEASE",
    "IST",
    "TEST_CREDENTIAL_TYPE",
    "TEST_RESULTS",
    "build_test_credential",
    "canonical_test_result",
    "normalise_timestamp",
    "parse_timestamp",
    "sample_event_key",
]

#: The credential's second ``type`` (DIVOC's name; defined by the test context).
TEST_CREDENTIAL_TYPE: Final = "ProofOfTestCertificateCredential"

#: Allowed ``testDetails.result`` values, in their canonical spelling.
TEST_RESULTS: Final[tuple[str, ...]] = ("Positive", "Negative", "Inconclusive")

#: ``testDetails.disease`` when the request leaves it out.
DEFAULT_DISEASE: Final = "COVID-19"

#: India Standard Time: the zone of request timestamps that carry no offset.
IST: Final = timezone(timedelta(hours=5, minutes=30), "IST")

_RESULTS_BY_FOLD: Final = {r.casefold(): r for r in TEST_RESULTS}
# What certify.schemas accepts as a date-time, with the time part required.
_TIMESTAMP_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?"
)


def canonical_test_result(value: Any) -> str | None:
    """``"Positive"``, ``"Negative"`` or ``"Inconclusive"`` for ``value`` in any case.

    Surrounding whitespace is ignored.  Returns ``None`` for anything else
    (including non-strings).
    """
    if not isinstance(value, str):
        return None
    return _RESULTS_BY_FOLD.get(value.strip().casefold())


def parse_timestamp(value: Any, *, naive_tz: tzinfo = IST) -> datetime | None:
    """Parse a request date-time into an aware :class:`~datetime.datetime`.

    Accepts ``YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM]`` (a time is
    required: a bare date cannot tell two tests of one day apart).  Values
    without an offset are read in ``naive_tz``.  Fractions finer than a
    microsecond are truncated.  Returns ``None`` for anything unparseable
    (wrong shape, month 13, hour 24, non-strings, ...).
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=naive_tz)
    if not isinstance(value, str):
        return None
    m = _TIMESTAMP_RE.fullmatch(value.strip())
    if not m:
        return None
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    zone = m.group(8)
    tz: tzinfo
    if zone is None:
        tz = naive_tz
    elif zone in ("Z", "z"):
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


def normalise_timestamp(value: Any, *, naive_tz: tzinfo = IST) -> str | None:
    """``value`` as UTC ISO 8601 with milliseconds (``2021-10-17T07:40:00.000Z``).

    ``None`` when :func:`parse_timestamp` cannot parse it.
    """
    moment = parse_timestamp(value, naive_tz=naive_tz)
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sample_event_key(item: Mapping[str, Any], *, naive_tz: tzinfo = IST) -> str:
    """The idempotency key of one test event: its normalised sample collection time.

    A person (``preEnrollmentCode``) may have many tests, but one sample gives
    one certificate: posting the same ``testDetails.sampleCollectionTimestamp``
    again, in any equivalent spelling (``2021-10-17T13:10+05:30``,
    ``2021-10-17 07:40:00Z``, ``2021-10-17T13:10`` read as IST), gives the same
    key, e.g. ``"2021-10-17T07:40:00.000Z"``.  Scope it by
    ``preEnrollmentCode`` when storing it.

    Raises ``ValueError`` when the timestamp is missing or unparseable.
    """
    raw = _get(item, "testDetails", "sampleCollectionTimestamp")
    key = normalise_timestamp(raw, naive_tz=naive_tz)
    if key is None:
        raise ValueError(f"testDetails.sampleCollectionTimestamp is not a date-time: {raw!r}")
    return key


# pytest would otherwise collect the public ``sample_event_key`` as a test when
# it is imported into a test module.
sample_event_key.__test__ = False  # type: ignore[attr-defined]


def build_test_credential(
    item: Mapping[str, Any],
    *,
    certificate_id: str,
    issuer: str,
    context_url: str,
    issuance_date: str,
    evidence_base_url: str,
    did_prefix: str = "did:divoc",
    info_base_url: str | None = None,
    feedback_base_url: str | None = None,
    default_country: str = "IND",
    naive_tz: tzinfo = IST,
) -> dict[str, Any]:
    """The unsigned test-result credential for one test certification request item.

    ``item`` is a validated DIVOC ``TestCertificationRequest`` item
    (``preEnrollmentCode``, ``recipient``, ``testDetails``, ``verifier``,
    ``facility``; see :func:`certify.schemas.validate_test_item`).
    ``context_url`` is the deployment's URL of the **test-certificate v1**
    context; ``issuance_date`` an ISO 8601 date-time such as
    ``2021-08-27T10:57:57.237Z``.  ``evidence[0].id`` is
    ``evidence_base_url + certificate_id``; ``infoUrl``/``feedbackUrl`` are
    added likewise when their base URLs are given.  ``did_prefix`` is used by
    :func:`~certify.credentials.vaccination.subject_id`; ``naive_tz`` reads
    timestamps without an offset (see :func:`parse_timestamp`).

    Raises ``ValueError`` for a bad ``issuance_date``/``issuer``/
    ``context_url``/``certificate_id``, a ``result`` that is not Positive,
    Negative or Inconclusive, or a missing/unparseable
    ``sampleCollectionTimestamp`` or unparseable ``resultTimestamp``.
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

    recipient = _mapping(item.get("recipient"))
    details = _mapping(item.get("testDetails"))
    pre_enrollment_code = _text(item.get("preEnrollmentCode"))

    result = canonical_test_result(details.get("result"))
    if result is None:
        raise ValueError(
            f"testDetails.result must be one of {', '.join(TEST_RESULTS)}, got {details.get('result')!r}"
        )
    sample_collected = sample_event_key(item, naive_tz=naive_tz)
    raw_result_at = details.get("resultTimestamp")
    result_at = ""
    if raw_result_at not in (None, ""):
        normalised = normalise_timestamp(raw_result_at, naive_tz=naive_tz)
        if normalised is None:
            raise ValueError(f"testDetails.resultTimestamp is not a date-time: {raw_result_at!r}")
        result_at = normalised

    subject: dict[str, Any] = {
        "type": "Person",
        "id": subject_id(recipient.get("identity"), pre_enrollment_code, did_prefix=did_prefix),
        "refId": pre_enrollment_code,
        "name": _text(recipient.get("name")),
        "gender": _text(recipient.get("gender")),
        "dob": _text(recipient.get("dob")),
        "nationality": _text(recipient.get("nationality")),
        "address": _address(recipient.get("address"), default_country),
    }

    evidence: dict[str, Any] = {"id": evidence_id}
    if feedback_base_url is not None:
        evidence["feedbackUrl"] = feedback_base_url + certificate_id
    if info_base_url is not None:
        evidence["infoUrl"] = info_base_url + certificate_id
    evidence.update(
        {
            "type": ["TestDetails"],
            "certificateId": certificate_id,
            "batch": _text(details.get("batch")),
            "testName": _text(details.get("testName")),
            "testType": _text(details.get("testType")),
            "manufacturer": _text(details.get("manufacturer")),
            "disease": _text(details.get("disease")) or DEFAULT_DISEASE,
            "sampleOrigin": _text(details.get("sampleOrigin")),
            "sampleCollectionTimestamp": sample_collected,
            "resultTimestamp": result_at,
            "result": result,
            "verifier": {"name": _text(_get(item, "verifier", "name"))},
            "facility": {
                "name": _text(_get(item, "facility", "name")),
                "address": _address(_get(item, "facility", "address"), default_country),
            },
        }
    )

    return {
        "@context": [CREDENTIALS_V1_URL, context_url],
        "type": ["VerifiableCredential", TEST_CREDENTIAL_TYPE],
        "credentialSubject": subject,
        "issuer": issuer,
        "issuanceDate": issuance_date,
        "evidence": [evidence],
        "nonTransferable": "true",
    }
