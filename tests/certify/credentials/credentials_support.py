"""Test data and helpers for certify.credentials tests (imported by conftest and tests)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
INTEROP = REPO_ROOT.parent / "shared" / "interop" / "divoc"
OUR_CONTEXT_URL = "https://example.org/credentials/vaccination/v2"
ISSUER = "https://example.org/"
EVIDENCE_BASE = "https://example.org/vaccine/"


def interop(name: str) -> Path:
    path = INTEROP / name
    assert path.is_file(), f"interop fixture missing: {path}"
    return path


def interop_json(name: str) -> Any:
    return json.loads(interop(name).read_text(encoding="utf-8"))


BASE_ITEM: dict[str, Any] = {
    "preEnrollmentCode": "12346",
    "recipient": {
        "name": "Bhaya Mitra",
        "dob": "1994-11-30",
        "age": "",
        "gender": "Male",
        "nationality": "Indian",
        "identity": "did:in.gov.uidai.aadhaar:2342343334",
        "contact": ["tel:9880414888"],
        "address": {
            "addressLine1": "12, MG Road",
            "addressLine2": "",
            "district": "Bengaluru Urban",
            "state": "Karnataka",
            "pincode": "560001",
            "country": "IND",
        },
    },
    "vaccination": {
        "name": "Covishield",
        "batch": "4121Z025",
        "manufacturer": "Serum Institute of India",
        "date": "2021-05-12T10:15:00.000Z",
        "effectiveStart": "2021-05-12",
        "effectiveUntil": "2022-05-12",
        "dose": 1,
        "totalDoses": 2,
    },
    "vaccinator": {"name": "Sooraj Singh"},
    "facility": {
        "name": "ABC Medical Center",
        "address": {
            "addressLine1": "123, Koramangala",
            "addressLine2": "",
            "district": "Bengaluru South",
            "state": "Karnataka",
            "pincode": "560034",
        },
    },
}


def item_with(**changes: Any) -> dict[str, Any]:
    """BASE_ITEM with dotted-path changes; value None deletes the key."""
    item = copy.deepcopy(BASE_ITEM)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = item
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return item


#: Items with awkward names and missing optional data (name -> item).
TRICKY_ITEMS: dict[str, dict[str, Any]] = {
    "plain": item_with(),
    "quotes": item_with(recipient__name='Ravi "Rocky" Kumar'),
    "apostrophe": item_with(recipient__name="D'Souza O'Brien", facility__name="St. Mary's Hospital"),
    "hindi": item_with(recipient__name="राम कुमार शर्मा", recipient__address__district="वाराणसी"),
    "tamil": item_with(recipient__name="முருகன் செல்வம்", vaccinator__name="கார்த்திக்"),
    "backslash_newline": item_with(recipient__name="Line\\One\nTwo\r\nThree"),
    "tab": item_with(recipient__name="Tab\tSeparated"),
    "emoji_and_private_use": item_with(recipient__name="Asha \U0001F489 \uE000 \uFFFD"),
    "no_identity": item_with(recipient__identity=None),
    "plain_identity": item_with(recipient__identity="123456789012"),
    "typed_identity": item_with(recipient__identity="in.gov.uidai.aadhaar:1234 5678 9012"),
    "minimal": {
        "preEnrollmentCode": "P-77",
        "recipient": {"name": "Minimal Person"},
        "vaccination": {"name": "Unknown Vaccine", "dose": 2},
    },
    "second_dose_covaxin": item_with(
        vaccination__name="COVAXIN", vaccination__dose=2.0, vaccination__totalDoses="2"
    ),
}


def build(item: dict[str, Any], certificate_id: str = "1234567890", **kwargs: Any) -> dict[str, Any]:
    """Our vaccination credential for ``item`` with test deployment settings."""
    from certify.credentials.vaccination import build_vaccination_credential

    options: dict[str, Any] = {
        "certificate_id": certificate_id,
        "issuer": ISSUER,
        "context_url": OUR_CONTEXT_URL,
        "issuance_date": "2021-08-27T10:57:57.237Z",
        "evidence_base_url": EVIDENCE_BASE,
    }
    options.update(kwargs)
    return build_vaccination_credential(item, **options)
