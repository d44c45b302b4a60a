"""Factories for appointment booking: programs, facilities with slot configuration, citizens, members.

Each function adds rows and commits (the booking paths under test run in other sessions and
threads, which must see them); call inside an app context. Traits are keyword arguments.
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from core import jobs
from core.extensions import db
from core.models import Enrolment, Facility, FacilityProgram, Member, Program, User

_seq = itertools.count(1)


def program(name: str | None = None, **fields) -> Program:
    row = Program(name=name or f"Program {next(_seq)}", **fields)
    db.session.add(row)
    jobs.commit()
    return row


def facility(name: str | None = None, pincode: str = "560001", district: str = "Bengaluru Urban",
             active: bool = True, **fields) -> Facility:
    n = next(_seq)
    row = Facility(code=f"FAC-{n:04d}", name=name or f"Health Centre {n}", pincode=pincode, district=district,
                   state="Karnataka", active=active,
                   address={"addressLine1": f"{n} Hospital Road", "district": district, "pincode": pincode},
                   **fields)
    db.session.add(row)
    jobs.commit()
    return row


def facility_program(facility_: Facility, program_: Program, active: bool = True, **config) -> FacilityProgram:
    """A facility's activation in a program; by default hour slots 09:00-12:00 of 5 places each."""
    values = {"appointment_start": dt.time(9, 0), "appointment_end": dt.time(12, 0), "slot_minutes": 60,
              "slot_capacity": 5, "walkin_days": [0, 1, 2, 3, 4, 5], "walkin_start": dt.time(9, 0),
              "walkin_end": dt.time(13, 0), **config}
    row = FacilityProgram(facility_id=facility_.id, program_id=program_.id, active=active, **values)
    db.session.add(row)
    jobs.commit()
    return row


def citizen(mobile: str) -> User:
    user = User(mobile=mobile)
    db.session.add(user)
    jobs.commit()
    return user


def enrolment(mobile: str, program_: Program, name: str | None = None, pincode: str = "560001",
              code: str | None = None) -> Enrolment:
    """A member under ``mobile`` registered in the program."""
    n = next(_seq)
    member = Member(mobile=mobile, name=name or f"Member {n}", gender="Female", birth_year=1980,
                    address={"addressLine1": "1 Main Road", "district": "Bengaluru Urban", "pincode": pincode})
    row = Enrolment(code=code or f"ENR{n:08d}", program_id=program_.id, member=member)
    db.session.add(row)
    jobs.commit()
    return row


@dataclass
class BookingWorld:
    """A program at one facility, and a citizen account with members registered in it."""

    program_id: int
    facility_id: int
    config_id: int
    mobile: str
    user_id: int
    enrolment_ids: list[int]


def booking_world(mobile: str = "9800000001", members: tuple[str, ...] = ("Asha Verma", "Ravi Verma"),
                  **config) -> BookingWorld:
    prog = program("COVID-19 Vaccination")
    fac = facility("Primary Health Centre, Indiranagar", pincode="560038")
    fp = facility_program(fac, prog, **config)
    user = citizen(mobile)
    ids = [enrolment(mobile, prog, name=name, pincode="560038").id for name in members]
    return BookingWorld(prog.id, fac.id, fp.id, mobile, user.id, ids)
