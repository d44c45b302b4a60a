"""flask facility add-user / users: accounts from the command line (the first system administrator)."""
from __future__ import annotations

import json

from sqlalchemy import select

from core import jobs
from core.extensions import db
from core.models import User
from tests.factories import facility_admin as fx


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["facility", *args])


def test_the_first_system_administrator(app):
    result = run(app, "add-user", "98765 43210", "--role", "system_admin", "--name", "Asha")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"mobile": "9876543210", "name": "Asha", "roles": ["system_admin"],
                                         "facility": None, "programs": [], "active": True}
    with app.app_context():
        assert db.session.scalar(select(User.roles).where(User.mobile == "9876543210")) == "system_admin"
        db.session.remove()


def test_staff_need_a_known_facility_and_program_admins_a_known_program(app):
    with app.app_context():
        fx.facility("KA-0001")
        fx.program("Measles")
        jobs.commit()
    refused = run(app, "add-user", "9876543211", "--role", "vaccinator")
    assert refused.exit_code == 1 and "facility_id: Facility roles need a facility." in refused.output
    unknown = run(app, "add-user", "9876543211", "--role", "vaccinator", "--facility", "NOPE")
    assert unknown.exit_code == 2 and "no facility with code 'NOPE'" in unknown.output
    no_program = run(app, "add-user", "9876543212", "--role", "program_admin")
    assert no_program.exit_code == 1 and "program_ids" in no_program.output
    assert run(app, "add-user", "9876543211", "--role", "vaccinator", "--facility", "KA-0001").exit_code == 0
    assert run(app, "add-user", "9876543212", "--role", "program_admin", "--program", "Measles").exit_code == 0
    # the same number again updates the account instead of making a second one
    assert run(app, "add-user", "9876543211", "--role", "facility_admin", "--facility", "KA-0001").exit_code == 0
    listed = [json.loads(line) for line in run(app, "users").output.splitlines()]
    assert sorted((u["mobile"], tuple(u["roles"]), u["facility"], tuple(u["programs"])) for u in listed) == [
        ("9876543211", ("facility_admin",), "KA-0001", ()), ("9876543212", ("program_admin",), None, ("Measles",))]
    only = run(app, "users", "--role", "program_admin").output.splitlines()
    assert [json.loads(line)["mobile"] for line in only] == ["9876543212"]
