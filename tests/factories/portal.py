"""Portal test data: programs, facilities, members, enrolments, issued certificates, citizens.

Call inside an app context. Certificates go through the real certify path (accept, then sign),
so what the portal lists is what a source system's request produces.
"""
from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from core import jobs, otp
from core.extensions import db
from core.models import Enrolment, Facility, Member, Program, User, Vaccine

from . import certify_item, seed_vaccines

_seq = itertools.count(1)

SYMPTOMS = ["Fever", "Headache", "Pain at the injection site", "Tiredness", "Difficulty breathing"]
CONDITIONS = ["Diabetes", "Hypertension", "Chronic kidney disease"]


def program(name: str | None = None, **kw: Any) -> Program:
    """An open program with conditions and symptoms; ``min_age=``, ``comorbidity_required=`` etc."""
    values = {"name": name or f"Program {next(_seq)}", "description": "", "active": True,
              "comorbidities": list(CONDITIONS), "side_effects": list(SYMPTOMS)} | kw
    row = Program(**values)
    db.session.add(row)
    db.session.flush()
    return row


def facility(name: str | None = None, **kw: Any) -> Facility:
    n = next(_seq)
    values = {"code": f"F{n:05d}", "name": name or f"Health Centre {n}", "district": "Demo District",
              "state": "Demo State", "pincode": "560001", "contact_mobile": f"90000{n:05d}",
              "address": {"addressLine1": f"{n} Hospital Road"}} | kw
    row = Facility(**values)
    db.session.add(row)
    db.session.flush()
    return row


def citizen(mobile: str) -> User:
    """The user of ``mobile``, made as a first OTP sign-in makes it."""
    return otp.user_for(mobile)


def member(mobile: str, name: str | None = None, **kw: Any) -> Member:
    values = {"name": name or f"Member {next(_seq)}", "gender": "Female", "birth_year": 1985,
              "id_type": "aadhaar", "id_number": "123412341234", "contact": mobile,
              "address": {"addressLine1": "4 Lake Road", "district": "Demo District", "state": "Demo State",
                          "pincode": "560001", "country": "IN"}} | kw
    citizen(mobile)
    row = Member(mobile=mobile, **values)
    db.session.add(row)
    db.session.flush()
    return row


def enrolment(of: Member, in_program: Program, code: str | None = None, **kw: Any) -> Enrolment:
    row = Enrolment(code=code or f"{next(_seq):012d}", member_id=of.id, program_id=in_program.id, **kw)
    db.session.add(row)
    db.session.flush()
    db.session.refresh(of)
    return row


def certificate(code: str, dose: int = 1, facility_name: str = "MOH Gothatuwa", total_doses: int = 2,
                **sections: dict):
    """Issue a certificate for ``code`` through the certify services; commits."""
    from certify import services as certify_services
    from certify.models import Certificate

    if db.session.scalar(select(Vaccine.id).limit(1)) is None:
        seed_vaccines()
    item = certify_item(code=code, dose=dose, **sections)
    item["vaccination"]["totalDoses"] = total_doses
    item["facility"]["name"] = facility_name
    results = certify_services.accept_certify_batch([item], "tests")
    certify_services.sign_pending([r.request_id for r in results if r.request_id])
    jobs.commit()
    return db.session.scalar(select(Certificate).where(Certificate.pre_enrollment_code == code,
                                                       Certificate.dose == dose,
                                                       Certificate.status != "revoked"))


def sign_in(client, mobile: str) -> None:
    """Make ``client`` a signed-in citizen (the OTP flow itself is tested in tests/core)."""
    user = citizen(mobile)
    jobs.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
