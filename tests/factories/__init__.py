"""Factories for test data, with traits as keyword arguments."""
from __future__ import annotations

import copy
import itertools
from typing import Any

from core import auth, jobs
from core.extensions import db
from core.models import Vaccine

_seq = itertools.count(1)

SAMPLE_ITEM: dict[str, Any] = {  # the seed's sample payload (000_*.txt)
    "preEnrollmentCode": "987456126",
    "recipient": {
        "name": "John Doe", "dob": "1987-04-21", "gender": "Male", "nationality": "Dutch",
        "identity": "872550100V", "contact": ["tel:1691742639"],
        "address": {"addressLine1": "12 Main St", "addressLine2": "", "district": "Colombo",
                    "state": "Western", "pincode": "00500", "country": "LK"},
    },
    "vaccination": {
        "name": "Covishield", "batch": "41202025", "manufacturer": "astrazeneca",
        "date": "2021-10-17T13:10", "effectiveStart": "2021-10-25", "effectiveUntil": "2022-10-24",
        "dose": 1, "totalDoses": 2,
    },
    "vaccinator": {"name": "Bartjan Verduijn"},
    "facility": {"name": "MOH Gothatuwa", "address": {"addressLine1": "Gothatuwa", "district": "Colombo",
                                                      "state": "Western", "country": "LK"}},
}


def certify_item(code: str | None = None, dose: int = 1, name: str | None = None,
                 **sections: dict) -> dict:
    """A valid certify item; ``recipient={...}`` etc. override fields of a section."""
    item = copy.deepcopy(SAMPLE_ITEM)
    item["preEnrollmentCode"] = code or f"PEC{next(_seq):08d}"
    item["vaccination"]["dose"] = dose
    if name is not None:
        item["recipient"]["name"] = name
    for section, values in sections.items():
        item[section].update(values)
    return item


def seed_vaccines() -> None:
    from certify.credentials.vaccination import DEFAULT_ICD11

    for row in DEFAULT_ICD11:
        db.session.add(Vaccine(name=row.name, manufacturer=row.manufacturer,
                               icd11_code=row.code, icd11_term=row.term))
    jobs.commit()


def api_client(roles=("certify",)) -> tuple[str, str]:
    client, secret = auth.create_client(f"client-{next(_seq)}", list(roles))
    jobs.commit()
    return client.client_id, secret


def program(name: str | None = None, **notification_settings: Any) -> int:
    """A program; keyword arguments become its NotificationSettings (events, sender_id, quiet hours…)."""
    from core.models import NotificationSettings, Program

    row = Program(name=name or f"Program {next(_seq)}")
    db.session.add(row)
    db.session.flush()
    if notification_settings:
        db.session.add(NotificationSettings(program_id=row.id, **notification_settings))
    jobs.commit()
    return row.id
