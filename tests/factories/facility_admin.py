"""Factories for the admin tests: facilities, programs, people with roles, and CSV files."""
from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable

from core import jobs
from core.extensions import db
from core.models import Facility, FacilityProgram, Program, User, Vaccine
from facility.models import ProgramAdmin
from facility.uploads import HEADERS

_seq = itertools.count(1)


def facility(code: str | None = None, name: str | None = None, *, state: str = "Karnataka",
             district: str = "Bengaluru Urban", category: str = "government", contact_mobile: str = "",
             active: bool = True) -> Facility:
    n = next(_seq)
    row = Facility(code=code or f"FAC{n:04d}", name=name or f"Health Centre {n}", state=state, district=district,
                   category=category, contact_mobile=contact_mobile, active=active, address={})
    db.session.add(row)
    db.session.flush()
    return row


def program(name: str | None = None, **fields) -> Program:
    row = Program(name=name or f"Program {next(_seq)}", **fields)
    db.session.add(row)
    db.session.flush()
    return row


def vaccine(name: str, program_id: int | None = None, **fields) -> Vaccine:
    defaults = {"icd11_code": "XM9QW8", "icd11_term": "COVID-19 vaccine, non-replicating viral vector"}
    row = Vaccine(name=name, program_id=program_id, **{**defaults, **fields})
    db.session.add(row)
    db.session.flush()
    return row


def link(facility_: Facility, program_: Program, active: bool = True, **fields) -> FacilityProgram:
    row = FacilityProgram(facility_id=facility_.id, program_id=program_.id, active=active, **fields)
    db.session.add(row)
    db.session.flush()
    return row


def user(roles: str, facility_: Facility | None = None, *, mobile: str | None = None, name: str = "Test user",
         programs: Iterable[Program] = ()) -> User:
    row = User(mobile=mobile or f"90000{next(_seq):05d}", name=name, roles=roles,
               facility_id=facility_.id if facility_ else None)
    db.session.add(row)
    db.session.flush()
    for p in programs:
        db.session.add(ProgramAdmin(user_id=row.id, program_id=p.id))
    db.session.flush()
    return row


def commit() -> None:
    jobs.commit()


def sign_in(client, user_id: int) -> None:
    """Sign the test client in as this user (what the OTP flow ends with)."""
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess["_fresh"] = True


def csv_bytes(kind: str, rows: Iterable[dict], header: Iterable[str] | None = None) -> bytes:
    """A CSV file in DIVOC's template for ``kind``; rows name only the columns they fill."""
    out = io.StringIO()
    columns = list(header or HEADERS[kind])
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue().encode()


def certificate_row(code: str, dose: int = 1, **overrides) -> dict:
    """One good certificates.csv row (the facility is filled in from the uploader's facility)."""
    row = {
        "preEnrollmentCode": code, "recipientName": "Asha Verma", "recipientMobileNumber": "9812345678",
        "recipientDOB": "1987-04-21", "recipientGender": "Female", "recipientNationality": "Indian",
        "recipientIdentity": "did:in.gov.uidai.aadhaar:111122223333", "recipientAddressLine1": "12 MG Road",
        "recipientDistrict": "Bengaluru Urban", "recipientState": "Karnataka", "recipientPincode": "560001",
        "vaccinationBatch": "4120Z025", "vaccinationDate": "2021-10-17T13:10:00.000Z", "vaccinationDose": str(dose),
        "vaccinationTotalDoses": "2", "vaccinationEffectiveStart": "2021-10-17", "vaccinationEffectiveEnd": "2022-10-17",
        "vaccinationManufacturer": "Serum Institute of India", "vaccinationName": "Covishield",
        "vaccinatorName": "Dr. Meera Rao",
    }
    row.update(overrides)
    return row


def issue(app, run_jobs, items: list[dict]) -> None:
    """Certify items through the /v3/certify service and let a real worker sign them."""
    from certify.services import accept_certify_batch

    with app.app_context():
        accept_certify_batch(items, None)
        jobs.commit()
        db.session.remove()
    run_jobs()
