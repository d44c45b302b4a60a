"""Vaccination and COVID-19 test certificate PDF rendering (A4, WeasyPrint).

This module is a plain library: no Flask, no ``current_app``. Build one
:class:`CertificateRenderer` per process (at app/worker start-up) and call
:meth:`CertificateRenderer.render_pdf` for each certificate. The renderer keeps
WeasyPrint's :class:`~weasyprint.text.fonts.FontConfiguration`, the parsed
stylesheet and the compiled Jinja templates between renders, which is what makes
rendering fast (parsing CSS and setting up fonts dominate a cold render).

The data shown on the certificate comes from a :class:`CertificateView`, a
frozen, display-ready projection of a signed DIVOC credential built with
:meth:`CertificateView.from_credential`. Templates only display its values;
every derived value (masked identity, one-line address, dose label, status,
dates in human form) is computed here.

WeasyPrint never touches the network or the file system while rendering: the
QR code is embedded as a ``data:`` URI and the URL fetcher refuses every other
URL (a refused URL aborts the render with :class:`CertificateRenderError`).
Fonts come from fontconfig (Debian ``fonts-noto-core``), which covers Latin,
Devanagari, Tamil and the other Indian scripts; see ``scripts/system-deps.sh``.

Test certificates ("COVID-19 Test Report") use :class:`TestCertificateView` and
:meth:`CertificateRenderer.render_test_pdf` with ``templates/certificates/test.html``;
``test.css`` is layered on the vaccination stylesheet, with the same fonts, QR
size and URL policy.

Languages: ``render_pdf(view, qr, lang="hi")`` picks
``templates/certificates/vaccination.hi.html`` (and ``vaccination.hi.css``) when
they exist, else the shared ``vaccination.html``, whose labels go through
``_()`` backed by the gettext catalog ``translations/<lang>/LC_MESSAGES/
messages.mo`` (English when there is none). :data:`LANGUAGES` lists the
languages with complete certificate catalogs: English, Hindi, Bengali, Tamil,
Telugu, Marathi, Gujarati, Kannada, Malayalam, Punjabi (Gurmukhi), Sinhala and
Urdu. Urdu (:data:`RTL_LANGUAGES`) is laid out right to left (``<html
dir="rtl">`` plus ``certificates/rtl.css``: mirrored header, QR box and
tables; ids, dates and numbers stay left to right).

Bilingual certificates: ``render_pdf(view, qr, lang="hi", bilingual=True)``
prints every label in the local language with the English original next to
it - on a second line in table labels, under it in a smaller size in the
title and notes, after a " / " in running text - and the layout of
``certificates/bilingual.css`` (a taller footer). ``bilingual`` is a no-op
for English. Values (names, vaccine, dates, ids) come from the credential and
are printed once, as issued.

In templates, ``_()``/``ngettext()`` give display labels (see :func:`_labels`
for the bilingual forms) and ``gettext()`` gives plain local text, for
attributes and the document title.

Speed: a renderer keeps WeasyPrint's computed styles and laid-out text lines
between renders (see :class:`_RenderCaches`); the second and later
certificates of a template and language reuse them. ``bench/pdf.py`` measures.
"""

from __future__ import annotations

import base64
import functools
import gc
import gettext
import io
import logging
import re
import struct
import threading
import unicodedata
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Final
from xml.etree import ElementTree

import cssselect2
import jinja2
from markupsafe import Markup
from PIL import Image, UnidentifiedImageError
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

__all__ = [
    "IST",
    "LANGUAGES",
    "RTL_LANGUAGES",
    "STATUS_FULL",
    "STATUS_PARTIAL",
    "STATUS_PRECAUTION",
    "STATUS_UNKNOWN",
    "TEST_RESULT_CLASSES",
    "CertificateRenderError",
    "CertificateRenderer",
    "CertificateView",
    "TestCertificateView",
    "VaxEvent",
    "mask_identity",
]

logger = logging.getLogger(__name__)

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
TEMPLATES_DIR: Final = REPO_ROOT / "templates"
TRANSLATIONS_DIR: Final = REPO_ROOT / "translations"

#: Languages with complete certificate catalogs: code -> (English name, own name).
LANGUAGES: Final = {
    "en": ("English", "English"),
    "hi": ("Hindi", "हिन्दी"),
    "bn": ("Bengali", "বাংলা"),
    "ta": ("Tamil", "தமிழ்"),
    "te": ("Telugu", "తెలుగు"),
    "mr": ("Marathi", "मराठी"),
    "gu": ("Gujarati", "ગુજરાતી"),
    "kn": ("Kannada", "ಕನ್ನಡ"),
    "ml": ("Malayalam", "മലയാളം"),
    "pa": ("Punjabi", "ਪੰਜਾਬੀ"),
    "si": ("Sinhala", "සිංහල"),
    "ur": ("Urdu", "اردو"),
}
#: Languages written right to left (``<html dir="rtl">`` and ``certificates/rtl.css``).
RTL_LANGUAGES: Final = frozenset({"ur", "ar", "fa", "ps", "sd", "ks", "dv", "he", "yi"})

#: India Standard Time (no DST). Vaccination timestamps are shown as IST dates.
IST: Final = timezone(timedelta(hours=5, minutes=30), "IST")

DEFAULT_ISSUER_NAME: Final = "Ministry of Health & Family Welfare, Government of India"

_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_LANG_RE: Final = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")

#: Display names of identity documents, keyed by a lowercase fragment of the
#: ``did:<method>:<value>`` method DIVOC puts in ``credentialSubject.id``.
_GENERIC_DID_METHODS: Final = frozenset({"divoc"})
_ID_TYPES: Final = (
    ("aadhaar", "Aadhaar"),
    ("passport", "Passport"),
    ("pan", "PAN Card"),
    ("driving", "Driving Licence"),
    ("voter", "Voter ID"),
    ("npr", "NPR Smart Card"),
    ("pension", "Pension Passbook"),
    ("mnrega", "MNREGA Job Card"),
    ("disability", "Unique Disability ID"),
    ("ration", "Ration Card"),
)

_COUNTRIES: Final = {"IN": "India", "IND": "India"}
_HOME_COUNTRIES: Final = frozenset({"IN", "IND", "INDIA"})


class CertificateRenderError(Exception):
    """Rendering failed (e.g. the template referenced a non-``data:`` URL)."""


# --------------------------------------------------------------------------- #
# Value helpers
# --------------------------------------------------------------------------- #

def _text(value: Any) -> str:
    """Return ``value`` as a stripped string; ``None`` and containers give ``""``."""
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    return str(value).strip()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = _text(value)
    if text.isdigit():
        return int(text)
    try:
        as_float = float(text)
    except ValueError:
        return None
    return int(as_float) if as_float.is_integer() else None


def _parse_date(value: Any, display_tz: tzinfo) -> date | None:
    """Parse an ISO date or timestamp; timestamps with an offset go to ``display_tz``."""
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(display_tz)
    return moment.date()


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _human(day: date | None) -> str:
    """``17 Oct 2021`` (locale-independent)."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}" if day else ""


def _dose_label(dose: int | None, total: int | None) -> str:
    if dose is None:
        return ""
    return f"{dose} of {total}" if total else str(dose)


def _one_line_address(address: Any) -> str:
    """Join a DIVOC address into one line, skipping empty and repeated parts."""
    addr = _mapping(address)
    parts: list[str] = []
    seen: set[str] = set()
    for key in ("streetAddress", "streetAddress2", "city", "district", "addressRegion"):
        part = _text(addr.get(key)).strip(" ,")
        if part and part.casefold() not in seen:
            seen.add(part.casefold())
            parts.append(part)
    postal = _text(addr.get("postalCode"))
    if postal:
        if parts:
            parts[-1] = f"{parts[-1]} {postal}"
        else:
            parts.append(postal)
    country = _text(addr.get("addressCountry"))
    if country and country.upper() not in _HOME_COUNTRIES:
        parts.append(_COUNTRIES.get(country.upper(), country))
    return ", ".join(parts)


def mask_identity(value: str, visible: int = 4, mask_char: str = "X") -> str:
    """Mask an identity number, keeping the last ``visible`` characters.

    Spaces and hyphens are dropped first: ``"1234 5678 9012"`` gives
    ``"XXXXXXXX9012"``. Values of ``visible`` characters or fewer are fully masked.
    """
    compact = re.sub(r"[\s\-]", "", value)
    if not compact:
        return ""
    if len(compact) <= visible:
        return mask_char * len(compact)
    return mask_char * (len(compact) - visible) + compact[-visible:]


def _identity_parts(subject_id: str) -> tuple[str, str]:
    """Split ``did:<method>:<value>`` into (document type label, raw value)."""
    if not subject_id.lower().startswith("did:"):
        return "", subject_id
    _, _, rest = subject_id.partition(":")
    method, sep, value = rest.rpartition(":")
    if not sep:
        return "", rest
    lowered = method.lower()
    if lowered in _GENERIC_DID_METHODS:  # our own prefix for an identity of unknown type
        return "", value
    tokens = set(re.split(r"[^a-z]+", lowered))
    for fragment, label in _ID_TYPES:
        # Short fragments ("pan", "npr") must be whole words; longer ones may be
        # part of a word ("uidai.aadhaar", "DrivingLicense").
        if fragment in tokens or (len(fragment) > 3 and fragment in lowered):
            return label, value
    return method, value


# --------------------------------------------------------------------------- #
# View models
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class VaxEvent:
    """One dose, as a row of the certificate's doses table."""

    dose: int | None
    total_doses: int | None
    date: str
    """Vaccination date, ``YYYY-MM-DD`` (IST by default), or ``""``."""
    date_display: str
    """Vaccination date like ``17 Oct 2021``, or ``""``."""
    vaccine: str
    manufacturer: str
    batch: str
    facility: str
    """Facility name only (the doses table column)."""
    vaccinated_at: str
    """Facility name and its one-line address."""
    certificate_id: str

    @property
    def dose_label(self) -> str:
        """``"1 of 2"``, ``"3"`` or ``""``."""
        return _dose_label(self.dose, self.total_doses)

    @classmethod
    def from_evidence(cls, evidence: Mapping[str, Any], *,
                      display_tz: tzinfo = IST) -> VaxEvent:
        """Build from a DIVOC ``evidence[i]`` object (missing fields give ``""``)."""
        ev = _mapping(evidence)
        day = _parse_date(ev.get("date"), display_tz)
        facility = _mapping(ev.get("facility"))
        facility_name = _text(facility.get("name"))
        at = ", ".join(p for p in (facility_name, _one_line_address(facility.get("address"))) if p)
        return cls(
            dose=_int_or_none(ev.get("dose")),
            total_doses=_int_or_none(ev.get("totalDoses")),
            date=_iso(day),
            date_display=_human(day),
            vaccine=_text(ev.get("vaccine")),
            manufacturer=_text(ev.get("manufacturer")),
            batch=_text(ev.get("batch")),
            facility=facility_name,
            vaccinated_at=at,
            certificate_id=_text(ev.get("certificateId")),
        )

    @classmethod
    def coerce(cls, item: VaxEvent | Mapping[str, Any], *,
               display_tz: tzinfo = IST) -> VaxEvent:
        """Accept a :class:`VaxEvent`, a signed credential, or an evidence dict."""
        if isinstance(item, VaxEvent):
            return item
        if not isinstance(item, Mapping):
            raise TypeError(f"previous dose must be a VaxEvent or a mapping, not {type(item)!r}")
        if "evidence" in item:
            evidence = item.get("evidence")
            first = evidence[0] if isinstance(evidence, list) and evidence else evidence
            return cls.from_evidence(_mapping(first), display_tz=display_tz)
        return cls.from_evidence(item, display_tz=display_tz)


#: Values of :attr:`CertificateView.vaccination_status`.
STATUS_FULL: Final = "fully_vaccinated"
STATUS_PARTIAL: Final = "partially_vaccinated"
STATUS_PRECAUTION: Final = "precaution_dose"
STATUS_UNKNOWN: Final = "unknown"


@dataclass(frozen=True)
class CertificateView:
    """Display-ready data of one vaccination certificate.

    Every field is a plain string (``""`` when absent) unless typed otherwise.
    Build it with :meth:`from_credential`; the identity is always masked.
    """

    name: str
    age: str
    dob: str
    """Date of birth ``YYYY-MM-DD`` or ``""``."""
    dob_display: str
    gender: str
    nationality: str
    identity_type: str
    """e.g. ``"Aadhaar"``, from the ``did:`` method of ``credentialSubject.id``."""
    identity: str
    """Masked identity number, e.g. ``"XXXXXXXX1234"``."""
    beneficiary_id: str
    """``credentialSubject.refId`` (beneficiary reference id / pre-enrolment code)."""
    address: str
    """Beneficiary address on one line."""
    vaccine: str
    manufacturer: str
    batch: str
    icd11_code: str
    prophylaxis: str
    date: str
    """Date of this dose, ``YYYY-MM-DD``."""
    date_display: str
    """Date of this dose, e.g. ``17 Oct 2021``."""
    dose: int | None
    total_doses: int | None
    dose_label: str
    """``"1 of 2"`` (or ``"3"`` without a total, or ``""``)."""
    vaccination_status: str
    """One of ``fully_vaccinated``, ``partially_vaccinated``, ``precaution_dose``, ``unknown``."""
    vaccinated_by: str
    """``evidence[0].verifier.name``."""
    vaccinated_at: str
    """Facility name and its one-line address."""
    certificate_id: str
    issuer: str
    """Issuer id (DIVOC uses a URL)."""
    issuer_name: str
    """Issuer name when the credential's issuer is an object with a name, else ``""``."""
    issuance_date: str
    issuance_date_display: str
    effective_until: str
    effective_until_display: str
    vax_events: tuple[VaxEvent, ...]
    """Doses table rows in dose order: previous doses then this one."""

    @classmethod
    def from_credential(
        cls,
        credential: Mapping[str, Any],
        *,
        identity_masked: str | None = None,
        previous_doses: Iterable[VaxEvent | Mapping[str, Any]] = (),
        display_tz: tzinfo = IST,
    ) -> CertificateView:
        """Project a signed DIVOC vaccination credential onto the certificate.

        :param credential: the credential dict (``credentialSubject``, ``evidence``,
            ``issuer``...). Missing or empty fields render as blanks.
        :param identity_masked: the already masked identity to print; when
            ``None`` the value of ``credentialSubject.id`` is masked here.
        :param previous_doses: earlier doses for the doses table, as
            :class:`VaxEvent` objects, earlier signed credentials, or evidence
            dicts. A previous dose with the same dose number as this
            credential's is replaced by this credential's.
        :param display_tz: timestamps (``evidence.date``) are converted to this
            zone before taking the date; India Standard Time by default.
        """
        subject = _mapping(credential.get("credentialSubject"))
        evidence_list = credential.get("evidence")
        if isinstance(evidence_list, list):
            evidence = _mapping(evidence_list[0] if evidence_list else None)
        else:
            evidence = _mapping(evidence_list)

        id_type, raw_identity = _identity_parts(_text(subject.get("id")))
        if raw_identity and raw_identity == _text(subject.get("refId")):
            # The subject id was derived from the enrolment code: no ID document was given.
            id_type, raw_identity = "", ""
        identity = identity_masked if identity_masked is not None else mask_identity(raw_identity)

        current = VaxEvent.from_evidence(evidence, display_tz=display_tz)
        events = _merge_events(current, previous_doses, display_tz)

        dob = _parse_date(subject.get("dob"), display_tz)
        age = _text(subject.get("age"))
        vax_day = _parse_date(evidence.get("date"), display_tz)
        if not age and dob and vax_day:
            age = str(vax_day.year - dob.year
                      - ((vax_day.month, vax_day.day) < (dob.month, dob.day)))

        issuer_value = credential.get("issuer")
        if isinstance(issuer_value, Mapping):
            issuer, issuer_name = _text(issuer_value.get("id")), _text(issuer_value.get("name"))
        else:
            issuer, issuer_name = _text(issuer_value), ""

        issued = _parse_date(credential.get("issuanceDate"), display_tz)
        until = _parse_date(evidence.get("effectiveUntil"), display_tz)

        return cls(
            name=_text(subject.get("name")),
            age=age,
            dob=_iso(dob),
            dob_display=_human(dob),
            gender=_text(subject.get("gender")),
            nationality=_text(subject.get("nationality")),
            identity_type=id_type,
            identity=identity,
            beneficiary_id=_text(subject.get("refId")),
            address=_one_line_address(subject.get("address")),
            vaccine=current.vaccine,
            manufacturer=current.manufacturer,
            batch=current.batch,
            icd11_code=_text(evidence.get("icd11Code")),
            prophylaxis=_text(evidence.get("prophylaxis")),
            date=current.date,
            date_display=current.date_display,
            dose=current.dose,
            total_doses=current.total_doses,
            dose_label=current.dose_label,
            vaccination_status=_status(current.dose, current.total_doses),
            vaccinated_by=_text(_mapping(evidence.get("verifier")).get("name")),
            vaccinated_at=current.vaccinated_at,
            certificate_id=current.certificate_id,
            issuer=issuer,
            issuer_name=issuer_name,
            issuance_date=_iso(issued),
            issuance_date_display=_human(issued),
            effective_until=_iso(until),
            effective_until_display=_human(until),
            vax_events=events,
        )


def _status(dose: int | None, total: int | None) -> str:
    if dose is None or not total:
        return STATUS_UNKNOWN
    if dose > total:
        return STATUS_PRECAUTION
    return STATUS_FULL if dose == total else STATUS_PARTIAL


def _merge_events(current: VaxEvent,
                  previous: Iterable[VaxEvent | Mapping[str, Any]],
                  display_tz: tzinfo) -> tuple[VaxEvent, ...]:
    events = [VaxEvent.coerce(item, display_tz=display_tz) for item in previous]
    if current.dose is not None:
        events = [e for e in events if e.dose != current.dose]
    events.append(current)
    # Stable: dose number first (unknown last), then date.
    events.sort(key=lambda e: (e.dose is None, e.dose or 0, e.date))
    return tuple(events)


# --------------------------------------------------------------------------- #
# Test certificate view
# --------------------------------------------------------------------------- #

#: Canonical test result -> value of :attr:`TestCertificateView.result_class`.
TEST_RESULT_CLASSES: Final = {"Positive": "positive", "Negative": "negative",
                              "Inconclusive": "inconclusive"}


def _parse_moment(value: Any, display_tz: tzinfo) -> datetime | None:
    """Parse an ISO timestamp into ``display_tz``; naive values are taken as ``display_tz``."""
    text = _text(value)
    if not text or len(text) < 16:  # a bare date carries no time of day
        return None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=display_tz)
    return moment.astimezone(display_tz)


def _human_moment(moment: datetime | None) -> str:
    """``17 Oct 2021, 13:10 IST`` (locale-independent)."""
    if moment is None:
        return ""
    zone = moment.tzname() or ""
    return f"{_human(moment.date())}, {moment:%H:%M}" + (f" {zone}" if zone else "")


@dataclass(frozen=True)
class TestCertificateView:
    """Display-ready data of one COVID-19 test certificate (DIVOC ``TestDetails``).

    Every field is a plain string (``""`` when absent). Build it with
    :meth:`from_credential`; the identity is always masked.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    age: str
    """Age in whole years on the sample collection date (from ``dob``), or ``""``."""
    dob: str
    """Date of birth ``YYYY-MM-DD`` or ``""``."""
    dob_display: str
    gender: str
    nationality: str
    identity_type: str
    """e.g. ``"Aadhaar"``, from the ``did:`` method of ``credentialSubject.id``."""
    identity: str
    """Masked identity number, e.g. ``"XXXXXXXX1234"``."""
    beneficiary_id: str
    """``credentialSubject.refId`` (pre-enrolment code)."""
    address: str
    """Person's address on one line."""
    disease: str
    test_type: str
    """e.g. ``RT-PCR``, ``RAT``."""
    test_name: str
    manufacturer: str
    batch: str
    sample_origin: str
    sample_collected: str
    """Sample collection time, ISO 8601 in ``display_tz`` (``2021-10-17T13:10:00+05:30``), or ``""``."""
    sample_collected_display: str
    """e.g. ``17 Oct 2021, 13:10 IST``."""
    result_declared: str
    """Result time, ISO 8601 in ``display_tz``, or ``""``."""
    result_declared_display: str
    result: str
    """``Positive``, ``Negative``, ``Inconclusive`` (canonical case), another value as given, or ``""``."""
    result_class: str
    """``positive``, ``negative``, ``inconclusive`` or ``unknown`` (for styling)."""
    tested_by: str
    """``evidence[0].verifier.name``."""
    facility: str
    """Facility name."""
    tested_at: str
    """Facility name and its one-line address."""
    certificate_id: str
    issuer: str
    issuer_name: str
    """Issuer name when the credential's issuer is an object with a name, else ``""``."""
    issuance_date: str
    issuance_date_display: str

    @classmethod
    def from_credential(cls, credential: Mapping[str, Any], *,
                        display_tz: tzinfo = IST) -> TestCertificateView:
        """Project a signed DIVOC test credential onto the certificate.

        :param credential: the credential dict (``credentialSubject``,
            ``evidence[0]`` of type ``TestDetails``, ``issuer``...). Missing or
            empty fields render as blanks.
        :param display_tz: timestamps are shown in this zone (naive ones are
            taken to be in it); India Standard Time by default.
        """
        subject = _mapping(credential.get("credentialSubject"))
        evidence_list = credential.get("evidence")
        if isinstance(evidence_list, list):
            evidence = _mapping(evidence_list[0] if evidence_list else None)
        else:
            evidence = _mapping(evidence_list)

        id_type, raw_identity = _identity_parts(_text(subject.get("id")))
        if raw_identity and raw_identity == _text(subject.get("refId")):
            id_type, raw_identity = "", ""

        dob = _parse_date(subject.get("dob"), display_tz)
        collected = _parse_moment(evidence.get("sampleCollectionTimestamp"), display_tz)
        declared = _parse_moment(evidence.get("resultTimestamp"), display_tz)
        age = ""
        if dob and collected and dob <= collected.date():
            on = collected.date()
            age = str(on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day)))

        raw_result = _text(evidence.get("result"))
        result = next((r for r in TEST_RESULT_CLASSES if r.casefold() == raw_result.casefold()),
                      raw_result)

        facility = _mapping(evidence.get("facility"))
        facility_name = _text(facility.get("name"))
        tested_at = ", ".join(p for p in (facility_name, _one_line_address(facility.get("address"))) if p)

        issuer_value = credential.get("issuer")
        if isinstance(issuer_value, Mapping):
            issuer, issuer_name = _text(issuer_value.get("id")), _text(issuer_value.get("name"))
        else:
            issuer, issuer_name = _text(issuer_value), ""
        issued = _parse_date(credential.get("issuanceDate"), display_tz)

        return cls(
            name=_text(subject.get("name")),
            age=age,
            dob=_iso(dob),
            dob_display=_human(dob),
            gender=_text(subject.get("gender")),
            nationality=_text(subject.get("nationality")),
            identity_type=id_type,
            identity=mask_identity(raw_identity),
            beneficiary_id=_text(subject.get("refId")),
            address=_one_line_address(subject.get("address")),
            disease=_text(evidence.get("disease")),
            test_type=_text(evidence.get("testType")),
            test_name=_text(evidence.get("testName")),
            manufacturer=_text(evidence.get("manufacturer")),
            batch=_text(evidence.get("batch")),
            sample_origin=_text(evidence.get("sampleOrigin")),
            sample_collected=collected.isoformat() if collected else "",
            sample_collected_display=_human_moment(collected),
            result_declared=declared.isoformat() if declared else "",
            result_declared_display=_human_moment(declared),
            result=result,
            result_class=TEST_RESULT_CLASSES.get(result, "unknown"),
            tested_by=_text(_mapping(evidence.get("verifier")).get("name")),
            facility=facility_name,
            tested_at=tested_at,
            certificate_id=_text(evidence.get("certificateId")),
            issuer=issuer,
            issuer_name=issuer_name,
            issuance_date=_iso(issued),
            issuance_date_display=_human(issued),
        )


# --------------------------------------------------------------------------- #
# Renderer
# --------------------------------------------------------------------------- #

def _qr_png_for_pdf(qr_png: bytes) -> bytes:
    """Return the QR PNG as 8-bit grayscale, the cheapest form for WeasyPrint.

    WeasyPrint first turns 1-bit and palette images (what QR libraries emit)
    into RGB; a grayscale PNG skips that conversion and is a third of the RGB
    data. The PNG is written by :func:`_gray_png`, whose pixel data
    :func:`_install_png_passthrough` lets WeasyPrint embed as is.
    """
    if not qr_png.startswith(_PNG_SIGNATURE):
        raise ValueError("qr_png must be PNG image bytes")
    try:
        with Image.open(io.BytesIO(qr_png)) as image:
            if image.mode == "L" and "transparency" not in image.info:
                return qr_png
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # Flatten onto white so transparent quiet zones stay white.
                rgba = image.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                flat.alpha_composite(rgba)
                gray = flat.convert("L")
            else:
                gray = image.convert("L")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"qr_png is not a readable PNG: {exc}") from exc
    return _gray_png(gray)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _gray_png(gray: Image.Image) -> bytes:
    """Encode an 8-bit grayscale image as PNG, fast: QR codes repeat rows.

    Each pixel row that repeats the one above (most rows of a QR code: a
    module is several pixels tall) is written with PNG's "Up" filter, i.e. as
    zeros; other rows unfiltered. Deflate then takes ~1 ms for a 516 px code
    (Pillow's adaptive filtering: ~3.5 ms) and the file is smaller.
    """
    width, height = gray.size
    raw = gray.tobytes()
    same = b"\x02" + bytes(width)
    rows: list[bytes] = []
    previous = None
    for start in range(0, width * height, width):
        row = raw[start:start + width]
        rows.append(same if row == previous else b"\x00" + row)
        previous = row
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray, not interlaced
    return (_PNG_SIGNATURE + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 5)) + _png_chunk(b"IEND", b""))


def _png_idat(image: Any) -> bytes | None:
    """The zlib pixel data of an opened 8-bit gray or RGB, non-interlaced PNG file.

    That data (PNG-filtered rows) is exactly what a PDF ``/FlateDecode``
    stream with ``/Predictor 15`` holds. ``None`` for anything else (other
    bit depths, palettes, interlacing, images not read from PNG bytes).
    """
    fp = getattr(image, "fp", None)
    if getattr(image, "format", None) != "PNG" or not isinstance(fp, io.BytesIO):
        return None
    data = fp.getbuffer()
    if bytes(data[:8]) != _PNG_SIGNATURE or bytes(data[12:16]) != b"IHDR":
        return None
    depth, color, compression, filtering, interlace = data[24:29]
    expected_mode = {0: "L", 2: "RGB"}.get(color)
    if (depth != 8 or expected_mode is None or expected_mode != image.mode
            or (compression, filtering, interlace) != (0, 0, 0)):
        return None
    chunks: list[bytes] = []
    offset = 8
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        kind = bytes(data[offset + 4:offset + 8])
        if kind == b"IDAT":
            chunks.append(bytes(data[offset + 8:offset + 8 + length]))
        elif kind == b"IEND":
            break
        offset += 12 + length
    return b"".join(chunks) or None


def _install_png_passthrough() -> None:
    """Let WeasyPrint embed 8-bit gray/RGB PNG pixel data without re-encoding it.

    WeasyPrint decodes every PNG and re-encodes it with Pillow to take the
    IDAT data for the PDF (~5 ms per render for the QR code). For a PNG that
    is already in the form the PDF stream needs, its IDAT data is used as is;
    the embedded image (``/FlateDecode``, ``/Predictor 15``, same size and
    colour space) decodes to the same pixels. Other images take the original
    path. Idempotent.
    """
    from weasyprint import images as wp_images

    original = wp_images.RasterImage._get_png_data
    if getattr(original, "_passthrough", False):
        return

    def _get_png_data(pillow_image: Any) -> bytes:
        idat = _png_idat(pillow_image)
        return idat if idat is not None else original(pillow_image)

    _get_png_data._passthrough = True  # type: ignore[attr-defined]
    wp_images.RasterImage._get_png_data = staticmethod(_get_png_data)


_install_png_passthrough()


_INTER_TAG_WS: Final = re.compile(r">[ \t]*\n\s*<")


def _base_lang(lang: str) -> str:
    """``"ur"`` for ``"ur"``, ``"ur-PK"``, ``"ur_IN"``."""
    return re.split(r"[-_]", lang, maxsplit=1)[0].lower()


def _same(value: Any) -> Any:
    return value


def _ltr_data(value: Any) -> Any:
    """In right-to-left pages, a left-to-right mark (U+200E) before a left-to-right value.

    WeasyPrint lays out each text box in its element's direction and has no
    ``unicode-bidi``/``dir="auto"``: a date ("01 Apr 1990") or an address
    ("12, MG Road") in an RTL cell would come out as "Apr 1990 01", its
    leading digits taking the paragraph's direction. After the mark they
    follow the letters (Unicode bidi rule W7), so the value reads left to right
    as one run; no ``<span dir="ltr">`` (a box of its own, per value) is
    needed. Values whose first strong character is RTL (an Urdu name), and
    markup, are kept.
    """
    if not isinstance(value, str) or isinstance(value, Markup) or not value:
        return value
    for char in value:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return value
        if kind == "L":
            break
    return Markup("\u200e{}").format(value)


def _labels(
    translations: gettext.NullTranslations, bilingual: bool, rtl: bool,
) -> tuple[Callable[..., str], Callable[..., str]]:
    """The templates' ``_(message, *, lines=False, stacked=False)`` and ``ngettext``.

    Monolingual: the catalog's text. Bilingual: the local text and the English
    original, as one run of text so that a label costs one text box, not three:

    - ``local / English`` by default;
    - ``local`` and ``English`` on two lines with ``lines=True``, for label
      cells (bilingual.css gives ``th`` ``white-space: pre-line``);
    - ``local<span class="en" lang="en">English</span>`` with ``stacked=True``,
      for the title, notes and result, where bilingual.css sets the English on
      a line of its own in a smaller size.

    In right-to-left pages the English starts with a left-to-right mark, so
    that "1 of 2" is not reordered to "2 of 1". Nothing is added when the
    catalog has no translation. The result still takes ``% {...}``.
    """
    if not bilingual:
        def plain(message: str, *, lines: bool = False, stacked: bool = False) -> str:
            return translations.gettext(message)

        def nplain(singular: str, plural: str, n: int, *, lines: bool = False) -> str:
            return translations.ngettext(singular, plural, n)

        return plain, nplain

    mark = "\u200e" if rtl else ""
    inline = Markup("{} / %s{}" % mark)
    two_lines = Markup("{}\n%s{}" % mark)
    apart = Markup('{}<span class="en" lang="en"%s>{}</span>' % (' dir="ltr"' if rtl else ""))

    def both(local: str, english: str, lines: bool, stacked: bool) -> str:
        if local == english:
            return english
        return (apart if stacked else two_lines if lines else inline).format(local, english)

    def label(message: str, *, lines: bool = False, stacked: bool = False) -> str:
        return both(translations.gettext(message), message, lines, stacked)

    def nlabel(singular: str, plural: str, n: int, *, lines: bool = False) -> str:
        return both(translations.ngettext(singular, plural, n), singular if n == 1 else plural,
                    lines, False)

    return label, nlabel


#: Scripts whose glyphs do not map one to one onto characters (Hebrew,
#: Arabic, Syriac, Thaana, N'Ko, the Indic scripts, Sinhala, Myanmar, Arabic
#: presentation forms).
_COMPLEX_SCRIPT: Final = re.compile("[\u0590-\u08ff\u0900-\u0dff\u1000-\u109f\ufb1d-\ufdff\ufe70-\ufeff]")


def _install_actual_text() -> None:
    """Make WeasyPrint tag complex-script lines with their text (``/ActualText``).

    WeasyPrint maps each glyph of a font to one Unicode string, the first
    cluster it was seen in. That cannot describe Indic and Arabic text: a
    pre-base vowel sign (ि), a reph or a ligature is one glyph in many
    clusters, so copy-paste, search and ``pdftotext`` give garbage
    ("शमार्मा" for "शर्मा"). PDF's answer is a marked-content span whose
    ``/ActualText`` is the logical text, which readers use instead of the
    glyph map. This wraps ``weasyprint.draw.text.draw_first_line`` (one line
    of a text box) in such a span when the line holds a complex script;
    Latin lines are drawn exactly as before. Idempotent.
    """
    import pydyf
    from weasyprint.draw import text as wp_text

    original = wp_text.draw_first_line
    if getattr(original, "_actual_text", False):
        return

    def draw_first_line(stream: Any, textbox: Any, *args: Any, **kwargs: Any) -> Any:
        text = getattr(textbox, "text", "")
        if not text or not _COMPLEX_SCRIPT.search(text):
            return original(stream, textbox, *args, **kwargs)
        stream.begin_marked_content("Span", pydyf.Dictionary({"ActualText": pydyf.String(text)}))
        try:
            return original(stream, textbox, *args, **kwargs)
        finally:
            stream.end_marked_content()

    draw_first_line._actual_text = True  # type: ignore[attr-defined]
    wp_text.draw_first_line = draw_first_line


_install_actual_text()


# --------------------------------------------------------------------------- #
# Work shared between renders
# --------------------------------------------------------------------------- #
#
# Two certificates in the same template and language differ only in their
# values: the elements, their matched CSS rules and every label are the same.
# WeasyPrint computes styles and shapes text afresh for each document; the
# renderer keeps both between renders instead (~40% of a render). Both caches
# are only consulted while a CertificateRenderer renders (a thread-local points
# at its caches), so other WeasyPrint users in the process are unaffected.
#
# - Computed styles. WeasyPrint itself already shares one computed style
#   between the elements of a document that have the same parent style and the
#   same cascaded declarations (``StyleFor.__init__``), and its layout code
#   copies a style before changing it; here that sharing extends across
#   documents. A style is lazily filled in as the layout reads it, so a shared
#   style arrives with its values computed.
# - Text lines. ``split_first_line(text, style, ...)`` (Pango layout, HarfBuzz
#   shaping, line breaking) depends only on its arguments; with shared styles
#   the same label in the same place gives the same call. Its Pango layout is
#   also kept for drawing, which otherwise builds and shapes it again.


class _RenderCaches:
    """Computed styles and text lines kept by one renderer between renders."""

    #: Bounds: the styles of all templates and languages in use fit many times
    #: over; text lines also hold the values (names, dates) of recent renders.
    max_styles: Final = 20_000
    max_lines: Final = 8_192

    def __init__(self) -> None:
        # (id(parent style), pseudo type, cascaded declarations) ->
        # (parent style, computed style); holding the parent keeps its id unique.
        self.styles: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        # (text, id(style), max width, ...) -> (style, split_first_line result)
        self.lines: OrderedDict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]] = OrderedDict()
        # (text, lang) -> whether the text has a line break opportunity
        self.breaks: dict[tuple[str, Any], bool] = {}
        # (stylesheets, element tree without its text) -> (stylesheets,
        # ((element index, pseudo type, computed style), ...))
        self.documents: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]] = {}
        # ids of the stylesheets known to have no [src] selector: when all of a
        # document's have none, the value of src attributes (the QR code's
        # data: URI, different in every certificate) is left out of its tree.
        self.src_blind_sheets: set[int] = set()

    #: Element trees kept: a template's variants (dose count, optional rows,
    #: status) in each language and layout.
    max_documents: Final = 512


_active_caches = threading.local()


def _cascade_key(cascaded: Mapping[str, tuple[Any, Any]]) -> tuple[Any, ...]:
    """A hashable value of an element's cascaded declarations.

    Declarations from attributes (``lang``) are parsed per document: they are
    compared by value. Unhashable values (lists: ``content``, backgrounds) come
    from stylesheets and are compared by identity; the computed style kept
    with the key holds its cascaded declarations, so while the key is in the
    cache no other object can take such an id.
    """
    key = tuple(cascaded.items())  # ((name, (value, weight)), ...)
    try:
        hash(key)
    except TypeError:
        key = tuple((name, (("id", id(value)) if type(value) is list else value, weight))
                    for name, (value, weight) in key)
        try:
            hash(key)
        except TypeError:  # something else unhashable (page rules' weights): its text
            key = tuple((name, repr(declaration)) for name, declaration in cascaded.items())
    return key


_SRC_SELECTOR: Final = re.compile(r"\[\s*src\b", re.IGNORECASE)


def _matched_attributes(attributes: Mapping[str, str], src_blind: bool) -> Iterable[Any]:
    """An element's attributes as selectors see them (``src`` values unseen
    when no stylesheet selects on ``src``)."""
    if not src_blind or "src" not in attributes:
        return attributes.items()
    return ((name, None if name == "src" else value) for name, value in attributes.items())


def _install_render_caches() -> None:
    """Let WeasyPrint reuse computed styles and text lines across a renderer's
    documents (see :class:`_RenderCaches`). Idempotent; inactive outside
    :meth:`CertificateRenderer._write_pdf`."""
    from weasyprint import css as wp_css
    from weasyprint.formatting_structure import boxes as wp_boxes
    from weasyprint.layout import inline as wp_inline
    from weasyprint.layout import preferred as wp_preferred
    from weasyprint.text import line_break as wp_line_break

    style_for = wp_css.StyleFor
    if getattr(style_for.set_computed_styles, "_shared", False):
        return
    original_set_computed_styles = style_for.set_computed_styles
    original_style_for_init = style_for.__init__
    original_split_first_line = wp_line_break.split_first_line
    original_deactivate = wp_line_break.Layout.deactivate
    original_reactivate = wp_line_break.Layout.reactivate

    def set_computed_styles(self: Any, element: Any, parent: Any, root: Any = None,
                            pseudo_type: str | None = None, base_url: Any = None,
                            target_collector: Any = None) -> None:
        caches: _RenderCaches | None = getattr(_active_caches, "caches", None)
        if caches is None:
            original_set_computed_styles(self, element, parent, root, pseudo_type, base_url,
                                         target_collector)
            return
        computed_styles = self._computed_styles
        parent_style = None if parent is None else computed_styles[parent, None]
        # Elements are interchangeable; a page context (@page and its margin
        # boxes) is named by its page type (side, first, blank, index, name).
        page_type = None if hasattr(element, "tag") else repr(element)
        key = (id(parent_style), pseudo_type, page_type,
               _cascade_key(self._cascaded_styles.get((element, pseudo_type), {})))
        shared = caches.styles.get(key)
        if shared is None:
            original_set_computed_styles(self, element, parent, root, pseudo_type, base_url,
                                         target_collector)
            if len(caches.styles) >= caches.max_styles:
                caches.styles.clear()
            caches.styles[key] = (parent_style, computed_styles[element, pseudo_type])
            return
        style = computed_styles[element, pseudo_type] = shared[1]
        if target_collector and style["anchor"]:
            target_collector.collect_anchor(style["anchor"])

    # Whole documents: certificates of a template and language mostly have the
    # same element tree (tags, attributes, element order) and differ in their
    # text only. Selector matching and the cascade depend on that tree alone,
    # not on the text (the templates' CSS has no :empty), so a document whose
    # tree was seen before gets that tree's computed styles, element by
    # element, without matching a selector.
    def style_for_init(self: Any, html: Any, sheets: Any, presentational_hints: bool,
                       font_config: Any, target_collector: Any) -> None:
        caches: _RenderCaches | None = getattr(_active_caches, "caches", None)
        if caches is None:
            original_style_for_init(self, html, sheets, presentational_hints, font_config,
                                    target_collector)
            return
        elements = list(html.etree_element.iter())
        sheet_ids = tuple(id(sheet) for sheet, _, _ in sheets)
        src_blind = caches.src_blind_sheets.issuperset(sheet_ids)
        key = (presentational_hints, sheet_ids,
               tuple((element.tag, tuple(_matched_attributes(element.attrib, src_blind)),
                      bool(element.text), bool(element.tail)) for element in elements))
        known = caches.documents.get(key)
        if known is None:
            original_style_for_init(self, html, sheets, presentational_hints, font_config,
                                    target_collector)
            index = {element: i for i, element in enumerate(elements)}
            styles = tuple((index[element], pseudo_type, style)
                           for (element, pseudo_type), style in self._computed_styles.items())
            if len(caches.documents) >= caches.max_documents:
                caches.documents.clear()
            # The stylesheets are kept with the styles: their ids are in the key.
            caches.documents[key] = (tuple(sheet for sheet, _, _ in sheets), styles)
            return
        # What StyleFor.__init__ leaves behind, from the known tree's styles.
        self._cascaded_styles = {}
        self._computed_styles = computed_styles = {}
        self.initial_page_sizes = {"box": None, "area": None}
        self._sheets = sheets
        self.font_config = font_config
        for i, pseudo_type, style in known[1]:
            computed_styles[elements[i], pseudo_type] = style
            if target_collector and style["anchor"]:
                target_collector.collect_anchor(style["anchor"])

    def split_first_line(text: str, style: Any, context: Any, max_width: Any,
                         justification_spacing: Any, is_line_start: bool = True,
                         minimum: bool = False) -> Any:
        caches: _RenderCaches | None = getattr(_active_caches, "caches", None)
        if (caches is None or style["text_overflow"] != "clip"
                or style["block_ellipsis"] != "none"):
            # Ellipses are drawn by changing the layout's text: not shareable.
            return original_split_first_line(text, style, context, max_width,
                                             justification_spacing, is_line_start, minimum)
        key = (text, id(style), max_width, justification_spacing, is_line_start, minimum)
        cached = caches.lines.get(key)
        if cached is not None:
            caches.lines.move_to_end(key)
            return cached[1]
        result = original_split_first_line(text, style, context, max_width,
                                            justification_spacing, is_line_start, minimum)
        result[0].keep_for_drawing = True
        caches.lines[key] = (style, result)  # the style keeps its id unique
        if len(caches.lines) > caches.max_lines:
            caches.lines.popitem(last=False)
        return result

    def deactivate(self: Any) -> None:
        # Drawing reactivates a laid-out line (new Pango layout, shaped again),
        # draws it and deactivates it: keep that layout for the next drawing.
        if getattr(self, "keep_for_drawing", False):
            self.drawing_state = (self.layout, self.language, self.style)
        original_deactivate(self)

    def reactivate(self: Any, style: Any) -> None:
        state = getattr(self, "drawing_state", None)
        if state is not None and state[2] is style:
            self.layout, self.language, self.style = state
            return
        original_reactivate(self, style)

    # Per-style answers that WeasyPrint recomputes for every box and line from
    # the same style values; kept on the (shared) style object itself. Styles
    # are copied before WeasyPrint changes them, so a kept answer stays true.
    original_strut = wp_line_break.strut
    original_in_flow = wp_boxes.Box.is_in_normal_flow
    original_can_break_text = wp_line_break.can_break_text

    def strut(style: Any) -> Any:
        if getattr(_active_caches, "caches", None) is None:
            return original_strut(style)
        try:
            return style.divoc_strut
        except AttributeError:
            style.divoc_strut = result = original_strut(style)
            return result

    def is_in_normal_flow(self: Any) -> bool:
        style = self.style
        if getattr(_active_caches, "caches", None) is None:
            return bool(original_in_flow(self))
        try:
            return bool(style.divoc_in_flow)
        except AttributeError:
            style.divoc_in_flow = result = original_in_flow(self)
            return bool(result)

    def can_break_text(text: str, lang: Any) -> bool:
        caches: _RenderCaches | None = getattr(_active_caches, "caches", None)
        if caches is None:
            return bool(original_can_break_text(text, lang))
        key = (text, lang)
        result = caches.breaks.get(key)
        if result is None:
            if len(caches.breaks) >= caches.max_lines:
                caches.breaks.clear()
            result = caches.breaks[key] = bool(original_can_break_text(text, lang))
        return result

    # Right-to-left lines. get_next_linebox() lays a line out, asks
    # avoid_collisions() where the line may go and lays it out again unless the
    # place is unchanged, comparing "x + width" for RTL lines with the width
    # the line box had *before* layout (0 when no float is around). So every
    # RTL line was laid out twice for the same result. With no float in the
    # formatting context the place cannot change: give the line's x as its
    # left edge so that the comparison holds. Only get_next_linebox() calls
    # avoid_collisions() in that module, and the x of those calls is used only
    # for this comparison and for the next (now skipped) pass.
    original_avoid_collisions = wp_inline.avoid_collisions
    line_box = wp_boxes.LineBox

    def avoid_collisions(context: Any, box: Any, containing_block: Any,
                         outer: bool = True) -> Any:
        position_x, position_y, available_width = original_avoid_collisions(
            context, box, containing_block, outer)
        if (not outer and type(box) is line_box and not context.excluded_shapes
                and containing_block.style["direction"] == "rtl"
                and getattr(_active_caches, "caches", None) is not None):
            position_x -= box.width
        return position_x, position_y, available_width

    # Stylesheets in the document: WeasyPrint looks for <style> and <link>
    # with a selector query over the whole tree; the shipped templates have
    # none (their CSS is parsed once by the renderer). ElementTree's own
    # iteration answers "none" in C for the trees of _parse_xhtml().
    original_find_stylesheets = wp_css.find_stylesheets

    def find_stylesheets(wrapper_element: Any, *args: Any) -> Any:
        root = wrapper_element.etree_element
        if (getattr(_active_caches, "caches", None) is not None and root.tag == "html"
                and next(root.iter("style"), None) is None
                and next(root.iter("link"), None) is None):
            return iter(())
        return original_find_stylesheets(wrapper_element, *args)

    # pydyf deflates every PDF stream (font subsets, page content) at level 9;
    # zlib's default level 6 takes 40% less time for <1% more bytes.
    import pydyf

    class DefaultLevelZlib:
        def __getattr__(self, name: str) -> Any:
            return getattr(zlib, name)

        @staticmethod
        def compressobj(level: int = zlib.Z_DEFAULT_COMPRESSION, *args: Any, **kwargs: Any) -> Any:
            if getattr(_active_caches, "caches", None) is not None:
                level = zlib.Z_DEFAULT_COMPRESSION
            return zlib.compressobj(level, *args, **kwargs)

    set_computed_styles._shared = True  # type: ignore[attr-defined]
    style_for.set_computed_styles = set_computed_styles
    style_for.__init__ = style_for_init
    wp_inline.split_first_line = split_first_line
    wp_preferred.split_first_line = split_first_line
    wp_line_break.Layout.deactivate = deactivate
    wp_line_break.Layout.reactivate = reactivate
    wp_inline.strut = strut
    wp_boxes.Box.is_in_normal_flow = is_in_normal_flow
    wp_inline.can_break_text = can_break_text
    wp_preferred.can_break_text = can_break_text
    wp_inline.avoid_collisions = avoid_collisions
    wp_css.find_stylesheets = find_stylesheets
    pydyf.zlib = DefaultLevelZlib()


_install_render_caches()


class _DataURLOnlyFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint is untyped
    """WeasyPrint URL fetcher that serves ``data:`` URLs and refuses all others."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, fail_on_errors=True)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if not url.lower().startswith("data:"):
            logger.error("Refused to fetch %r while rendering a certificate", url[:200])
            raise PermissionError(f"certificate renderer only allows data: URLs, got {url[:80]!r}")
        return super().fetch(url, headers)


class _ParsedHTML(HTML):  # type: ignore[misc]  # weasyprint is untyped
    """A WeasyPrint document from an already parsed element tree.

    The shipped certificate templates are well-formed XHTML-compatible HTML
    (void elements self-closed, explicit ``<head>``/``<body>``/``<tbody>``,
    no named entities), so the C XML parser builds the same tree as
    WeasyPrint's pure-Python HTML5 parser (``tinyhtml5``) in a tenth of
    the time (~0.5 ms instead of ~5 ms). Mirrors ``HTML.__init__``.

    Its user-agent stylesheet is WeasyPrint's without the rules for
    footnotes, notes and list markers, which the shipped templates do not
    use: those rules select pseudo-elements of *every* element, whose styles
    WeasyPrint computes whether or not they are shown (~6% of a render).
    """

    def __init__(self, root: ElementTree.Element, url_fetcher: URLFetcher) -> None:
        self.base_url = None  # the templates have no <base>
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        if forms:
            return list(super()._ua_stylesheets(forms))
        return [_certificate_ua_stylesheet()]


_UNUSED_UA_RULES: Final = re.compile(r"^::(?:footnote|note|marker)\b.*$", re.MULTILINE)


def _user_agent_stylesheets() -> list[tuple[str, CSS]]:
    """(source, stylesheet) of the user-agent stylesheets of certificates:
    WeasyPrint's (HTML5 parser) and the trimmed one (:class:`_ParsedHTML`)."""
    from weasyprint import html as wp_html

    return [(wp_html.UA, wp_html.UA_STYLESHEET),
            (_UNUSED_UA_RULES.sub("", wp_html.UA), _certificate_ua_stylesheet())]


@functools.cache
def _certificate_ua_stylesheet() -> CSS:
    """WeasyPrint's HTML user-agent stylesheet less footnote, note and marker rules."""
    from weasyprint import html as wp_html

    trimmed = _UNUSED_UA_RULES.sub("", wp_html.UA)
    if trimmed == wp_html.UA:  # pragma: no cover - a WeasyPrint upgrade moved them
        logger.warning("WeasyPrint's user-agent stylesheet changed; using it as is")
    # Its @counter-style rules are already in WeasyPrint's UA counter styles,
    # which documents copy; registering them there twice logs errors.
    from weasyprint.css.counters import CounterStyle

    return CSS(string=trimmed, counter_style=CounterStyle())


def _parse_xhtml(html: str) -> ElementTree.Element | None:
    """The element tree of well-formed markup without namespaces, ``<base>`` or
    ``<script>``; ``None`` when the HTML5 parser must be used."""
    try:
        root = ElementTree.fromstring(html)
    except ElementTree.ParseError:
        return None
    if root.tag != "html" or any(e.tag in ("base", "script") or "}" in e.tag for e in root.iter()):
        return None
    return root


_SHIPPED_TEMPLATES_DIR: Final = (TEMPLATES_DIR / "certificates").resolve()


class CertificateRenderer:
    """Renders certificates to A4 PDFs. Build once per process and reuse.

    :param templates_dir: Jinja template root (the repository's ``templates/``).
    :param translations_dir: gettext catalogs, ``<lang>/LC_MESSAGES/messages.mo``.
    :param issuer_name: heading printed at the top when the credential's issuer
        carries no name.
    :param verify_url: optional address printed (as text) in the QR caption.
    :param loader: Jinja loader for the ``certificates/*.html`` templates
        (e.g. published versions before the shipped files); stylesheets are
        always read from ``templates_dir``.
    :param reuse: keep computed styles, element trees and laid-out text lines
        between renders (see :class:`_RenderCaches`). ``False`` lays every
        certificate out from scratch, as WeasyPrint alone does: slower, same
        pages (the tests compare the two).

    ``render_pdf`` is serialized by a lock: WeasyPrint/Pango state shared between
    renders is not documented as thread-safe. Use processes for parallelism.
    """

    template_name: Final = "vaccination"
    #: Template (and extra stylesheet) of COVID-19 test certificates; its
    #: stylesheet is layered on top of the vaccination one.
    test_template_name: Final = "test"

    def __init__(
        self,
        templates_dir: Path | str = TEMPLATES_DIR,
        translations_dir: Path | str = TRANSLATIONS_DIR,
        *,
        issuer_name: str = DEFAULT_ISSUER_NAME,
        verify_url: str = "",
        slogan: str = "",
        loader: jinja2.BaseLoader | None = None,
        reuse: bool = True,
    ) -> None:
        self._templates_dir = Path(templates_dir)
        self._translations_dir = Path(translations_dir)
        self._issuer_name = issuer_name
        self._verify_url = verify_url
        self._slogan = slogan
        self._env = jinja2.Environment(
            loader=loader if loader is not None else jinja2.FileSystemLoader(self._templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._font_config = FontConfiguration()
        self._caches: _RenderCaches | None = _RenderCaches() if reuse else None
        for ua_text, ua_sheet in _user_agent_stylesheets():
            if self._caches is not None and not _SRC_SELECTOR.search(ua_text):
                self._caches.src_blind_sheets.add(id(ua_sheet))
        self._fetcher = _DataURLOnlyFetcher()
        self._lock = threading.Lock()
        self._css_cache: dict[tuple[str, bool], tuple[CSS, ...]] = {}
        self._test_css_cache: dict[tuple[str, bool], tuple[CSS, ...]] = {}
        self._translations: dict[str, gettext.NullTranslations] = {}
        self._shipped_files: dict[str | None, bool] = {}
        # Parse the shared stylesheet and compile the default template up front.
        base = self._parse_css(f"{self.template_name}.css")
        self._base_css: tuple[CSS, ...] = (base,) if base is not None else ()
        self._template("en")

    # -- per-language resources (cached) ------------------------------------ #

    def _template(self, lang: str, name: str | None = None) -> jinja2.Template:
        base = f"certificates/{name or self.template_name}"
        return self._env.select_template([f"{base}.{lang}.html", f"{base}.html"])

    def _parse_css(self, name: str) -> CSS | None:
        path = self._templates_dir / "certificates" / name
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8")
        css = CSS(string=text, font_config=self._font_config, url_fetcher=self._fetcher)
        if self._caches is not None and not _SRC_SELECTOR.search(text):
            self._caches.src_blind_sheets.add(id(css))  # kept in _css_cache for good
        return css

    def _layout_css(self, lang: str, bilingual: bool) -> tuple[CSS, ...]:
        """``rtl.css`` for right-to-left languages, ``bilingual.css`` for bilingual output."""
        names = (["rtl.css"] if _base_lang(lang) in RTL_LANGUAGES else []) + (
            ["bilingual.css"] if bilingual else [])
        return tuple(css for css in map(self._parse_css, names) if css is not None)

    def _stylesheets(self, lang: str, bilingual: bool = False) -> tuple[CSS, ...]:
        """The shared stylesheet plus ``<template>.<lang>.css`` if any, parsed once."""
        key = (lang, bilingual)
        cached = self._css_cache.get(key)
        if cached is None:
            extra = self._parse_css(f"{self.template_name}.{lang}.css")
            cached = (self._base_css + ((extra,) if extra is not None else ())
                      + self._layout_css(lang, bilingual))
            self._css_cache[key] = cached
        return cached

    def _test_stylesheets(self, lang: str, bilingual: bool = False) -> tuple[CSS, ...]:
        """Vaccination stylesheets plus ``test.css`` and ``test.<lang>.css``, parsed once."""
        key = (lang, bilingual)
        cached = self._test_css_cache.get(key)
        if cached is None:
            extra = tuple(
                css for css in (self._parse_css(f"{self.test_template_name}.css"),
                                self._parse_css(f"{self.test_template_name}.{lang}.css"))
                if css is not None
            )
            vaccination = self._stylesheets(lang)
            cached = vaccination + extra + self._layout_css(lang, bilingual)
            self._test_css_cache[key] = cached
        return cached

    def _gettext(self, lang: str) -> gettext.NullTranslations:
        cached = self._translations.get(lang)
        if cached is None:
            cached = gettext.translation("messages", localedir=self._translations_dir,
                                         languages=[lang], fallback=True)
            self._translations[lang] = cached
        return cached

    # -- public API ---------------------------------------------------------- #

    def render_html(self, context: CertificateView, qr_png: bytes, lang: str = "en", *,
                    bilingual: bool = False) -> str:
        """Return the certificate's HTML (what :meth:`render_pdf` lays out)."""
        return self._render_html(self.template_name, context, context.issuer_name, qr_png, lang,
                                 bilingual)

    def _render_html(self, template_name: str, view: Any, issuer_name: str,
                     qr_png: bytes, lang: str, bilingual: bool = False) -> str:
        if not _LANG_RE.match(lang):
            raise ValueError(f"invalid language code: {lang!r}")
        translations = self._gettext(lang)
        bilingual = bool(bilingual) and _base_lang(lang) != "en"
        rtl = _base_lang(lang) in RTL_LANGUAGES
        png = _qr_png_for_pdf(qr_png)
        qr_uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        label, nlabel = _labels(translations, bilingual, rtl)
        html = self._template(lang, template_name).render(
            cert=view,
            qr_data_uri=qr_uri,
            lang=lang,
            dir="rtl" if rtl else "ltr",
            bilingual=bilingual,
            issuer_heading=issuer_name or self._issuer_name,
            verify_url=self._verify_url,
            slogan=self._slogan,
            _=label,
            ngettext=nlabel,
            gettext=translations.gettext,
            data=_ltr_data if rtl else _same,
        )
        # Whitespace-only text between tags on different lines is layout work
        # for nothing (text boxes, line breaking); inline spaces are kept.
        return _INTER_TAG_WS.sub("><", html)

    def render_pdf(self, context: CertificateView, qr_png: bytes, lang: str = "en", *,
                   bilingual: bool = False) -> bytes:
        """Render one certificate to PDF bytes (A4, one page).

        :param context: the certificate data.
        :param qr_png: PNG bytes of the QR code; printed at 2.5 in × 2.5 in.
        :param lang: language code selecting template, stylesheet and catalog
            (see :data:`LANGUAGES`; others fall back to English labels).
        :param bilingual: print each label in ``lang`` and in English
            (ignored for English).
        :raises ValueError: bad ``lang`` or ``qr_png`` is not a PNG. (Any PNG
            works; it is converted to 8-bit grayscale, flattened on white.)
        :raises CertificateRenderError: WeasyPrint failed (e.g. a non-data URL).
        """
        html = self.render_html(context, qr_png, lang, bilingual=bilingual)
        bilingual = bool(bilingual) and _base_lang(lang) != "en"
        return self._write_pdf(html, lambda: self._stylesheets(lang, bilingual),
                               self._shipped(lang, self.template_name))

    def render_test_html(self, view: TestCertificateView, qr_png: bytes, lang: str = "en", *,
                         bilingual: bool = False) -> str:
        """Return the test certificate's HTML (what :meth:`render_test_pdf` lays out)."""
        return self._render_html(self.test_template_name, view, view.issuer_name, qr_png, lang,
                                 bilingual)

    def render_test_pdf(self, view: TestCertificateView, qr_png: bytes, lang: str = "en", *,
                        bilingual: bool = False) -> bytes:
        """Render one COVID-19 test certificate ("COVID-19 Test Report") to PDF bytes.

        Same page (A4, one page), fonts, QR size (2.5 in), URL policy and
        language selection as :meth:`render_pdf`, with the template
        ``templates/certificates/test[.<lang>].html`` and ``test.css`` layered
        on the vaccination stylesheet.

        :param view: the certificate data (:meth:`TestCertificateView.from_credential`).
        :param qr_png: PNG bytes of the QR code; printed at 2.5 in × 2.5 in.
        :param lang: language code selecting template, stylesheet and catalog.
        :param bilingual: print each label in ``lang`` and in English.
        :raises ValueError: bad ``lang`` or ``qr_png`` is not a PNG.
        :raises CertificateRenderError: WeasyPrint failed (e.g. a non-data URL).
        """
        html = self.render_test_html(view, qr_png, lang, bilingual=bilingual)
        bilingual = bool(bilingual) and _base_lang(lang) != "en"
        return self._write_pdf(html, lambda: self._test_stylesheets(lang, bilingual),
                               self._shipped(lang, self.test_template_name))

    def render_document_pdf(self, name: str, qr_png: bytes, **context: Any) -> bytes:
        """Render another certificate document (e.g. ``"eu"``, the EU-DCC) to PDF bytes.

        The template is ``templates/certificates/<name>.html`` with its own stylesheet
        ``<name>.css`` (not layered on the vaccination one), in English, with the same
        fonts, ``data:``-only URL policy and lock as :meth:`render_pdf`. ``context``
        goes to the template as is, plus ``qr_data_uri`` for ``qr_png``.

        :raises ValueError: ``qr_png`` is not a PNG.
        :raises CertificateRenderError: WeasyPrint failed.
        """
        png = _qr_png_for_pdf(qr_png)
        qr_uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        html = _INTER_TAG_WS.sub("><", self._template("en", name).render(qr_data_uri=qr_uri, **context))

        def stylesheets() -> tuple[CSS, ...]:
            key = (f"document:{name}", False)
            if key not in self._css_cache:
                css = self._parse_css(f"{name}.css")
                self._css_cache[key] = (css,) if css is not None else ()
            return self._css_cache[key]

        return self._write_pdf(html, stylesheets, self._shipped("en", name))

    def _shipped(self, lang: str, name: str) -> bool:
        """Whether the template for ``lang`` is one of the shipped files (not a
        published or test template), whose output :func:`_parse_xhtml` may parse."""
        filename = self._template(lang, name).filename
        shipped = self._shipped_files.get(filename)
        if shipped is None:
            shipped = bool(filename) and Path(filename).resolve().parent == _SHIPPED_TEMPLATES_DIR
            self._shipped_files[filename] = shipped
        return shipped

    def _write_pdf(self, html: str, stylesheets_for: Callable[[], tuple[CSS, ...]],
                   shipped: bool = False) -> bytes:
        with self._lock:
            stylesheets = stylesheets_for()  # parsed on first use, under the lock
            # A render allocates ~10^5 short-lived objects (boxes, styles) that
            # trigger several full cyclic-GC passes over the whole heap; pausing
            # the collector for the render and collecting the young generation
            # after it is ~7% faster on average and removes the slow outliers.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            _active_caches.caches = self._caches
            try:
                root = _parse_xhtml(html) if shipped else None
                document = (_ParsedHTML(root, self._fetcher) if root is not None
                            else HTML(string=html, url_fetcher=self._fetcher))
                pdf: bytes | None = document.write_pdf(stylesheets=list(stylesheets),
                                                       font_config=self._font_config)
            except FatalURLFetchingError as exc:  # a BaseException: keep it contained
                raise CertificateRenderError(str(exc)) from exc
            finally:
                _active_caches.caches = None
                if gc_was_enabled:
                    gc.enable()
                    gc.collect(0)
        if pdf is None:  # pragma: no cover - write_pdf returns bytes without a target
            raise CertificateRenderError("WeasyPrint returned no PDF")
        return pdf
