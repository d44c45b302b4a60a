"""The administration's audit trail: who changed what, append-only, readable by system administrators."""
from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import select, text

from core import jobs
from core.extensions import db
from facility.models import AdminEvent
from tests.factories import facility_admin as fx


def events(app) -> list[AdminEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AdminEvent).order_by(AdminEvent.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


@pytest.fixture
def people(app):
    with app.app_context():
        home = fx.facility("KA-0001", name="PHC Home")
        ids = {"home": home.id,
               "admin": fx.user("facility_admin", home, mobile="9811100001", name="Asha Admin").id,
               "staff": fx.user("facility_staff", home, mobile="9811100002", name="Ravi Staff").id,
               "system": fx.user("system_admin", mobile="9811100003", name="Sita System").id}
        jobs.commit()
    return ids


def test_staff_changes_are_recorded_with_who_and_what(app, client, people):
    fx.sign_in(client, people["admin"])
    assert client.post("/facility/admin/staff/new", data={"name": "Kavya", "mobile": "9811100077",
                                                          "roles": ["facility_staff"], "active": "y"}).status_code == 302
    assert client.post(f"/facility/admin/staff/{people['staff']}/active", data={"active": "0"}).status_code == 302
    created, disabled = events(app)
    assert (created.action, created.actor_id, created.actor, created.facility_id) == (
        "staff.save", people["admin"], "Asha Admin (9811100001)", people["home"])
    assert created.details["created"] is True and created.details["changes"]["roles"] == [None, ["facility_staff"]]
    assert (disabled.action, disabled.target, disabled.details["changes"]["active"]) == (
        "staff.active", f"user:{people['staff']}", [True, False])


def test_a_role_grant_by_the_system_admin_shows_before_and_after(app, client, people):
    fx.sign_in(client, people["system"])
    resp = client.post(f"/facility/admin/users/{people['staff']}/edit", data={
        "name": "Ravi Staff", "mobile": "9811100002", "roles": ["facility_staff", "facility_admin"],
        "facility_id": str(people["home"]), "employee_id": "", "active": "y"})
    assert resp.status_code == 302, resp.data[-500:]
    [grant] = events(app)
    assert (grant.action, grant.actor_id) == ("user.save", people["system"])
    assert grant.details["changes"] == {"roles": [["facility_staff"], ["facility_admin", "facility_staff"]]}

    page = client.get("/facility/admin/audit").get_data(as_text=True)
    assert "user.save" in page and "Sita System (9811100003)" in page and "facility_admin" in page
    only = client.get(f"/facility/admin/audit?target=user:{people['staff']}").get_data(as_text=True)
    assert "user.save" in only
    none = client.get("/facility/admin/audit?action=vaccine").get_data(as_text=True)
    assert "user.save" not in none and "No changes recorded yet." in none


def test_the_command_line_is_named_as_the_actor(app, people):
    result = app.test_cli_runner().invoke(args=["facility", "add-user", "9811100099", "--role", "system_admin"])
    assert result.exit_code == 0, result.output
    [event] = events(app)
    assert (event.actor_id, event.actor, event.action) == (None, "cli", "user.save")


def test_the_trail_cannot_be_edited_or_deleted(app, client, people):
    fx.sign_in(client, people["admin"])
    client.post(f"/facility/admin/staff/{people['staff']}/active", data={"active": "0"})
    with app.app_context():
        for statement in ("UPDATE admin_events SET actor = 'someone else'", "DELETE FROM admin_events"):
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        db.session.remove()
    assert len(events(app)) == 1
