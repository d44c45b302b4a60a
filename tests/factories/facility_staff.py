"""Factories for the facility desk: a facility active in a program with a vaccine and vaccinators,
staff users, enrolled members. Call them inside an app context; they flush, the caller commits.
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from core.extensions import db
from core.models import (
    Enrolment,
    Facility,
    FacilityProgram,
    Member,
    Program,
    User,
    Vaccine,
)
from facility.models import QueueEntry, Vaccinator

_seq = itertools.count(1)


def facility(**kw) -> Facility:
    n = next(_seq)
    row = Facility(code=kw.pop("code", f"FAC-{n:04d}"), name=kw.pop("name", f"Primary Health Centre {n}"),
                   district=kw.pop("district", "Pune"), state=kw.pop("state", "Maharashtra"),
                   pincode=kw.pop("pincode", "411001"),
                   address=kw.pop("address", {"addressLine1": f"{n} Station Road", "country": "IN"}), **kw)
    db.session.add(row)
    db.session.flush()
    return row


def program(**kw) -> Program:
    row = Program(name=kw.pop("name", f"COVID-19 Vaccination {next(_seq)}"), **kw)
    db.session.add(row)
    db.session.flush()
    return row


def vaccine(prog: Program, **kw) -> Vaccine:
    row = Vaccine(name=kw.pop("name", "Covishield"), manufacturer=kw.pop("manufacturer", "Serum Institute of India"),
                  icd11_code=kw.pop("icd11_code", "XM9QW8"), icd11_term=kw.pop("icd11_term", "COVID-19 vaccine, non-replicating viral vector"),
                  doses=kw.pop("doses", 2), interval_days=kw.pop("interval_days", 28), program_id=prog.id, **kw)
    db.session.add(row)
    db.session.flush()
    return row


def activate(fac: Facility, prog: Program, active: bool = True) -> FacilityProgram:
    row = FacilityProgram(facility_id=fac.id, program_id=prog.id, active=active)
    db.session.add(row)
    db.session.flush()
    return row


def vaccinator(fac: Facility, **kw) -> Vaccinator:
    n = next(_seq)
    row = Vaccinator(facility_id=fac.id, name=kw.pop("name", f"Nurse Kavita {n}"),
                     licence_number=kw.pop("licence_number", f"MH-NUR-{n:05d}"), **kw)
    db.session.add(row)
    db.session.flush()
    return row


def user(roles: str, fac: Facility | None = None, **kw) -> User:
    row = User(mobile=kw.pop("mobile", f"90{next(_seq):08d}"), name=kw.pop("name", "Desk Staff"), roles=roles,
               facility_id=fac.id if fac else None, **kw)
    db.session.add(row)
    db.session.flush()
    return row


def member(**kw) -> Member:
    n = next(_seq)
    row = Member(mobile=kw.pop("mobile", f"98{n:08d}"), name=kw.pop("name", f"Asha Verma {n}"),
                 gender=kw.pop("gender", "Female"), birth_date=kw.pop("birth_date", dt.date(1980, 5, 17)),
                 id_type=kw.pop("id_type", "aadhaar"), id_number=kw.pop("id_number", f"2345 6789 {n:04d}"),
                 address=kw.pop("address", {"addressLine1": "4 MG Road", "district": "Pune", "state": "Maharashtra",
                                            "pincode": "411001"}), **kw)
    row.birth_year = row.birth_year or (row.birth_date.year if row.birth_date else None)
    row.contact = row.contact or row.mobile
    db.session.add(row)
    db.session.flush()
    return row


def enrolment(prog: Program, mem: Member | None = None, **kw) -> Enrolment:
    mem = mem or member()
    row = Enrolment(code=kw.pop("code", f"{7000000000 + next(_seq)}"), member_id=mem.id, program_id=prog.id, **kw)
    db.session.add(row)
    db.session.flush()
    return row


def queued(fac: Facility, enr: Enrolment, by: User | None = None, dose: int = 1, **kw) -> QueueEntry:
    row = QueueEntry(facility_id=fac.id, enrolment_id=enr.id, dose=dose, status=kw.pop("status", "waiting"),
                     verified_by=by.id if by else None, **kw)
    db.session.add(row)
    db.session.flush()
    return row


@dataclass
class Desk:
    """A facility active in a program with a two-dose vaccine, a vaccinator and a desk user."""

    facility: Facility
    program: Program
    vaccine: Vaccine
    vaccinator: Vaccinator
    staff: User


def desk(roles: str = "facility_staff", **program_kw) -> Desk:
    fac = facility()
    prog = program(**program_kw)
    activate(fac, prog)
    vac = vaccine(prog, denied_batches=["BAD-001"])
    return Desk(fac, prog, vac, vaccinator(fac, program_ids=[prog.id]), user(roles, fac))


def sign_in(client, user_id: int) -> None:
    """Sign a test client in as this user (what the OTP flow ends with)."""
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess["_fresh"] = True
