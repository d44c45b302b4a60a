"""Demo data for the portal, added by ``flask --app wsgi certify seed`` (idempotent).

The pre-enrolled member matches the README's certify example (preEnrollmentCode 987456126,
contact 1691742639): after posting it, sign in to the portal as 1691742639 to see and download
the certificate, and report side effects to "MOH Gothatuwa".
"""
from __future__ import annotations

from sqlalchemy import select

from core import vocabulary
from core.extensions import db
from core.models import Enrolment, Facility, Member, Program

COMORBIDITIES = list(vocabulary.CONDITIONS)
SIDE_EFFECTS = list(vocabulary.SYMPTOMS)
FACILITIES = [
    {"code": "DEMO-002", "name": "MOH Gothatuwa", "district": "Colombo", "state": "Western", "pincode": "00500",
     "contact_mobile": "9000000002", "latitude": 6.9271, "longitude": 79.8612,
     "address": {"addressLine1": "Gothatuwa", "district": "Colombo", "state": "Western", "pincode": "00500"}},
    {"code": "DEMO-003", "name": "Primary Health Centre, Lake Road", "district": "Demo District",
     "state": "Demo State", "pincode": "560002", "contact_mobile": "9000000003", "latitude": 12.975,
     "longitude": 77.59, "address": {"addressLine1": "4 Lake Road", "district": "Demo District",
                                     "state": "Demo State", "pincode": "560002"}},
]


def seed_demo(program: Program) -> dict:
    """Eligibility rules and symptoms for ``program``, two more facilities, one pre-enrolled member."""
    if program.min_age is None:
        program.min_age = 12
    if not program.comorbidities:
        program.comorbidities = list(COMORBIDITIES)
    if not program.side_effects:
        program.side_effects = list(SIDE_EFFECTS)
    demo = db.session.scalar(select(Facility).where(Facility.code == "DEMO-001"))
    if demo is not None and not demo.contact_mobile:
        demo.contact_mobile, demo.latitude, demo.longitude = "9000000001", 12.9716, 77.5946
    for values in FACILITIES:
        if db.session.scalar(select(Facility).where(Facility.code == values["code"])) is None:
            db.session.add(Facility(**values))
    if db.session.scalar(select(Enrolment).where(Enrolment.code == "987456126")) is None:
        member = Member(mobile="1691742639", name="John Doe", gender="Male", birth_year=1987, source="preenrolment",
                        id_type="passport", id_number="872550100V", contact="1691742639", nationality="Indian",
                        address={"addressLine1": "12 Main St", "district": "Colombo", "state": "Western",
                                 "pincode": "00500", "country": "LK"})
        db.session.add(member)
        db.session.flush()
        db.session.add(Enrolment(code="987456126", member_id=member.id, program_id=program.id))
    db.session.flush()
    from .booking import seed_demo_facility_programs

    seed_demo_facility_programs(program.id)  # appointment slots at every demo facility
    return {"portal_demo_mobile": "1691742639"}
