"""Validation of DIVOC CertificationRequestV2 items, with a JSON path for every problem."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from core.errors import FieldError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
MAX_TEXT = 500
ADDRESS_KEYS = ("addressLine1", "addressLine2", "district", "state", "pincode", "country")


class _Checker:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, reason: str) -> None:
        self.errors.append(FieldError(path, reason))

    def obj(self, data: Any, key: str, path: str, required: bool) -> dict | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", "is required")
            return None
        if not isinstance(value, dict):
            self.fail(f"{path}.{key}", "must be an object")
            return None
        return value

    def text(self, data: dict, key: str, path: str, required: bool = False,
             max_len: int = MAX_TEXT) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{path}.{key}", "is required" if value is None else "must not be empty")
            return None
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", "must be a string")
            return None
        if not value.strip():
            self.fail(f"{path}.{key}", "must not be blank")
        elif len(value) > max_len:
            self.fail(f"{path}.{key}", f"must be at most {max_len} characters")
        return value

    def integer(self, data: dict, key: str, path: str, minimum: int, required: bool) -> int | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(f"{path}.{key}", f"must be an integer ≥ {minimum}")
            return None
        return value

    def date(self, data: dict, key: str, path: str, required: bool = False) -> dt.date | None:
        value = self.text(data, key, path, required)
        if value is None:
            return None
        try:
            if not _DATE.match(value):
                raise ValueError
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{path}.{key}", "must be a date as YYYY-MM-DD")
            return None

    def datetime(self, data: dict, key: str, path: str, required: bool = False) -> dt.date | None:
        value = self.text(data, key, path, required)
        if value is None:
            return None
        m = _DATETIME.match(value)
        try:
            if not m:
                raise ValueError
            day = dt.date.fromisoformat(m.group(1))
            if m.group(2) and (int(m.group(2)) > 23 or int(m.group(3)) > 59
                               or int(m.group(4) or 0) > 59):
                raise ValueError
            return day
        except ValueError:
            self.fail(f"{path}.{key}", "must be a date-time as YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]")
            return None

    def address(self, data: dict, path: str) -> None:
        addr = self.obj(data, "address", path, required=False)
        if addr is not None:
            for key in ADDRESS_KEYS:
                self.text(addr, key, f"{path}.address")

    def recipient(self, item: dict, path: str, today: dt.date) -> dict | None:
        """The checks every request's ``recipient`` shares; returns it for kind-specific ones."""
        recipient = self.obj(item, "recipient", path, required=True)
        if recipient is None:
            return None
        rp = f"{path}.recipient"
        self.text(recipient, "name", rp, required=True, max_len=200)
        dob = self.date(recipient, "dob", rp)
        if dob and dob > today:
            self.fail(f"{rp}.dob", "must not be in the future")
        for key in ("gender", "nationality", "identity"):
            self.text(recipient, key, rp, max_len=200)
        self.text_list(recipient, "contact", rp)
        self.address(recipient, rp)
        return recipient

    def facility(self, item: dict, path: str) -> None:
        facility = self.obj(item, "facility", path, required=True)
        if facility is not None:
            self.text(facility, "name", f"{path}.facility", required=True, max_len=200)
            self.address(facility, f"{path}.facility")

    def text_list(self, data: dict, key: str, path: str) -> None:
        value = data.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            self.fail(f"{path}.{key}", "must be an array of strings")
            return
        for i, v in enumerate(value):
            if not isinstance(v, str):
                self.fail(f"{path}.{key}[{i}]", "must be a string")


def validate_certify_item(item: Any, path: str, today: dt.date) -> list[FieldError]:
    """Return every problem with one certification request item (empty when valid)."""
    c = _Checker()
    if not isinstance(item, dict):
        return [FieldError(path or "$", "must be an object")]
    c.text(item, "preEnrollmentCode", path, required=True, max_len=100)
    for key in ("programId", "enrollmentType"):
        c.text(item, key, path, max_len=100)
    c.text_list(item, "comorbidities", path)
    if item.get("meta") is not None and not isinstance(item["meta"], dict):
        c.fail(f"{path}.meta", "must be an object")

    recipient = c.recipient(item, path, today)
    if recipient is not None:
        rp = f"{path}.recipient"
        age = recipient.get("age")
        if age is not None:
            if isinstance(age, bool) or not (
                (isinstance(age, int) and 0 <= age <= 150)
                or (isinstance(age, str) and age.isdigit() and int(age) <= 150)
            ):
                c.fail(f"{rp}.age", "must be a whole number of years from 0 to 150")
        if recipient.get("dob") is None and age is None:
            c.fail(f"{rp}.dob", "dob or age is required")

    vaccination = c.obj(item, "vaccination", path, required=True)
    if vaccination is not None:
        vp = f"{path}.vaccination"
        c.text(vaccination, "name", vp, required=True, max_len=200)
        for key in ("batch", "manufacturer"):
            c.text(vaccination, key, vp, max_len=200)
        day = c.datetime(vaccination, "date", vp, required=True)
        if day and day > today + dt.timedelta(days=1):
            c.fail(f"{vp}.date", "must not be in the future")
        start = c.date(vaccination, "effectiveStart", vp)
        until = c.date(vaccination, "effectiveUntil", vp)
        if start and until and until < start:
            c.fail(f"{vp}.effectiveUntil", "must not be before effectiveStart")
        c.integer(vaccination, "dose", vp, 1, required=True)
        c.integer(vaccination, "totalDoses", vp, 1, required=True)

    vaccinator = c.obj(item, "vaccinator", path, required=True)
    if vaccinator is not None:
        c.text(vaccinator, "name", f"{path}.vaccinator", required=True, max_len=200)
    c.facility(item, path)
    return c.errors


def _validate_batch(body: Any, max_items: int, today: dt.date, noun: str,
                    validate_item: Callable[[Any, str, dt.date], list[FieldError]]) -> list[FieldError]:
    """A JSON array of 1..max_items items, each validated with its ``[i]`` path."""
    if not isinstance(body, list):
        return [FieldError("$", f"must be a JSON array of {noun}s")]
    if not body:
        return [FieldError("$", f"must contain at least one {noun}")]
    if len(body) > max_items:
        return [FieldError("$", f"has {len(body)} items; at most {max_items} are allowed per request")]
    errors: list[FieldError] = []
    for i, item in enumerate(body):
        errors.extend(validate_item(item, f"[{i}]", today))
    return errors


def validate_certify_batch(body: Any, max_items: int, today: dt.date) -> list[FieldError]:
    return _validate_batch(body, max_items, today, "certification request", validate_certify_item)


# --------------------------------------------------------------------------- #
# COVID-19 test certificates (DIVOC TestCertificationRequest, POST /v1/test/certify)
# --------------------------------------------------------------------------- #

_TEST_DETAIL_TEXT_KEYS = ("batch", "testName", "testType", "disease", "manufacturer", "sampleOrigin")
_TIMESTAMP_REASON = "must be a date-time as YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]"


def _test_timestamp(c: _Checker, data: dict, key: str, path: str, required: bool,
                    today: dt.date) -> dt.datetime | None:
    """A test date-time (time part required; no offset means IST), not in the future."""
    from certify.credentials.testcert import parse_timestamp

    value = c.text(data, key, path, required, max_len=64)
    if value is None:
        return None
    moment = parse_timestamp(value)
    if moment is None:
        c.fail(f"{path}.{key}", _TIMESTAMP_REASON)
        return None
    if moment.date() > today + dt.timedelta(days=1):
        c.fail(f"{path}.{key}", "must not be in the future")
    return moment


def validate_test_item(item: Any, path: str, today: dt.date) -> list[FieldError]:
    """Return every problem with one test certification request item (empty when valid).

    ``testDetails.result`` is matched case-insensitively (``negative`` is fine;
    the credential builder stores the canonical ``Negative``).  Timestamps need
    a time of day; ``resultTimestamp`` must not be before
    ``sampleCollectionTimestamp``.
    """
    from certify.credentials.testcert import TEST_RESULTS, canonical_test_result

    c = _Checker()
    if not isinstance(item, dict):
        return [FieldError(path or "$", "must be an object")]
    c.text(item, "preEnrollmentCode", path, required=True, max_len=100)
    if item.get("meta") is not None and not isinstance(item["meta"], dict):
        c.fail(f"{path}.meta", "must be an object")

    c.recipient(item, path, today)

    details = c.obj(item, "testDetails", path, required=True)
    if details is not None:
        tp = f"{path}.testDetails"
        for key in _TEST_DETAIL_TEXT_KEYS:
            c.text(details, key, tp, max_len=200)
        collected = _test_timestamp(c, details, "sampleCollectionTimestamp", tp, True, today)
        resulted = _test_timestamp(c, details, "resultTimestamp", tp, False, today)
        if collected and resulted and resulted < collected:
            c.fail(f"{tp}.resultTimestamp", "must not be before sampleCollectionTimestamp")
        result = details.get("result")
        if result is None or result == "":
            c.fail(f"{tp}.result", "is required" if result is None else "must not be empty")
        elif canonical_test_result(result) is None:
            c.fail(f"{tp}.result", f"must be one of {', '.join(TEST_RESULTS)}")

    verifier = c.obj(item, "verifier", path, required=False)
    if verifier is not None:
        c.text(verifier, "name", f"{path}.verifier", max_len=200)
    c.facility(item, path)
    return c.errors


def validate_test_batch(body: Any, max_items: int, today: dt.date) -> list[FieldError]:
    """Validate a JSON array of test certification requests; every problem with its path."""
    return _validate_batch(body, max_items, today, "test certification request", validate_test_item)
