"""The demo seed gives the portal something to show: program rules, facilities, a pre-enrolled member."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from core.extensions import db
from core.models import Enrolment, Facility, Member, Program


def test_seed_is_idempotent_and_preenrols_the_readme_beneficiary(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["certify", "seed"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["portal_demo_mobile"] == "1691742639"
    assert runner.invoke(args=["certify", "seed"]).exit_code == 0
    with app.app_context():
        program = db.session.scalar(select(Program))
        assert program.min_age == 12 and "Diabetes" in program.comorbidities and "Fever" in program.side_effects
        assert db.session.scalar(select(func.count()).select_from(Facility)) == 3
        assert db.session.scalar(select(Facility).where(Facility.name == "MOH Gothatuwa")).contact_mobile
        member = db.session.scalar(select(Member))
        enrolment = db.session.scalar(select(Enrolment))
        assert (member.mobile, member.source, enrolment.code, enrolment.member_id) == (
            "1691742639", "preenrolment", "987456126", member.id)
        db.session.remove()
