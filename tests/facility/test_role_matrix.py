"""Every facility URL, every role: who gets the page, who gets 403, and anonymous users go to sign-in.

The table below is explicit on purpose: a new view under /facility/ (or the beneficiaries API)
fails these tests until it is guarded with ``core.roles.roles_required`` and listed here with
the roles that may use it.
"""
from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from core import jobs
from core.roles import ROLES
from tests.factories import facility_staff as f

EVERYONE = frozenset(ROLES)
DESK = frozenset({"facility_staff", "vaccinator"})
PRINTERS = frozenset({"certificate_printer", "facility_staff", "vaccinator", "facility_admin", "system_admin"})
SYSTEM = frozenset({"system_admin"})
PROGRAM_ADMINS = frozenset({"system_admin", "program_admin"})
FACILITY_ADMIN = frozenset({"facility_admin"})
ADMINS = frozenset({"system_admin", "program_admin", "facility_admin"})
FACILITY_OR_SYSTEM = frozenset({"facility_admin", "system_admin"})

#: endpoint -> the roles that get in. Nothing else under /facility/ may exist.
EXPECTED: dict[str, frozenset[str]] = {
    # the staff desk (facility/staff_views.py)
    "facility.index": EVERYONE,
    "facility.verify": DESK,
    "facility.queue_add": DESK,
    "facility.queue": DESK,
    "facility.queue_leave": DESK,
    "facility.walk_in": DESK,
    "facility.vaccinate": DESK,
    "facility.certificate_issued": DESK,
    "facility.print_search": PRINTERS,
    "facility.print_pdf": PRINTERS,
    "facility_api.beneficiaries_api": PRINTERS,  # signed-in users; bearer clients need certify or fetch
    # the system admin's configuration editor (facility/views.py)
    "facility.config_list": SYSTEM,
    "facility.config_edit": SYSTEM,
    "facility.config_preview": SYSTEM,
    "facility.config_publish": SYSTEM,
    "facility.config_rollback": SYSTEM,
    # the notification log (facility/notifications.py)
    "facility.notifications": PROGRAM_ADMINS,
    "facility.notifications_preview": PROGRAM_ADMINS,
    "facility.notifications_notice": PROGRAM_ADMINS,
    "facility.notifications_resend": SYSTEM,
    "facility.notification_settings": SYSTEM,
    # administration home and analytics (facility/admin_views.py)
    "facility.admin_home": ADMINS,
    "facility.analytics": ADMINS,
    # a facility administrator's own facility
    "facility.admin_beneficiaries": FACILITY_ADMIN,
    "facility.admin_vaccinators": FACILITY_ADMIN,
    "facility.admin_vaccinator_edit": FACILITY_ADMIN,
    "facility.admin_vaccinator_active": FACILITY_ADMIN,
    "facility.admin_vaccinator_training": FACILITY_ADMIN,
    "facility.admin_staff": FACILITY_ADMIN,
    "facility.admin_staff_edit": FACILITY_ADMIN,
    "facility.admin_staff_active": FACILITY_ADMIN,
    "facility.admin_slots": FACILITY_ADMIN,
    "facility.admin_slot_edit": FACILITY_ADMIN,
    # CSV uploads: certificates
    "facility.admin_upload_certificates": FACILITY_ADMIN,
    "facility.admin_upload_certificates_post": FACILITY_ADMIN,
    "facility.admin_upload_certificates_template": FACILITY_ADMIN,
    "facility.admin_upload_certificates_job": FACILITY_ADMIN,
    "facility.admin_upload_certificates_errors": FACILITY_ADMIN,
    "facility.admin_upload_certificates_resume": FACILITY_ADMIN,
    # CSV uploads: enrolments
    "facility.admin_upload_enrolments": FACILITY_OR_SYSTEM,
    "facility.admin_upload_enrolments_post": FACILITY_OR_SYSTEM,
    "facility.admin_upload_enrolments_template": FACILITY_OR_SYSTEM,
    "facility.admin_upload_enrolments_job": FACILITY_OR_SYSTEM,
    "facility.admin_upload_enrolments_errors": FACILITY_OR_SYSTEM,
    "facility.admin_upload_enrolments_resume": FACILITY_OR_SYSTEM,
    # CSV uploads: facilities
    "facility.admin_upload_facilities": PROGRAM_ADMINS,
    "facility.admin_upload_facilities_post": PROGRAM_ADMINS,
    "facility.admin_upload_facilities_template": PROGRAM_ADMINS,
    "facility.admin_upload_facilities_job": PROGRAM_ADMINS,
    "facility.admin_upload_facilities_errors": PROGRAM_ADMINS,
    "facility.admin_upload_facilities_resume": PROGRAM_ADMINS,
    # CSV uploads: vaccinators
    "facility.admin_upload_vaccinators": FACILITY_OR_SYSTEM,
    "facility.admin_upload_vaccinators_post": FACILITY_OR_SYSTEM,
    "facility.admin_upload_vaccinators_template": FACILITY_OR_SYSTEM,
    "facility.admin_upload_vaccinators_job": FACILITY_OR_SYSTEM,
    "facility.admin_upload_vaccinators_errors": FACILITY_OR_SYSTEM,
    "facility.admin_upload_vaccinators_resume": FACILITY_OR_SYSTEM,
    # program administrators: facilities active in a program
    "facility.admin_facility_activation_home": PROGRAM_ADMINS,
    "facility.admin_facility_activation": PROGRAM_ADMINS,
    "facility.admin_facility_activation_update": PROGRAM_ADMINS,
    # system administrators: programs, vaccines, users and roles
    "facility.admin_programs": SYSTEM,
    "facility.admin_program_edit": SYSTEM,
    "facility.admin_vaccines": SYSTEM,
    "facility.admin_vaccine_edit": SYSTEM,
    "facility.admin_users": SYSTEM,
    "facility.admin_user_edit": SYSTEM,
    "facility.admin_audit": SYSTEM,
}
#: Outside /facility/ but part of the facility app.
EXTRA_PATHS = ("/certificate/api/beneficiaries",)
#: The query a parameter-less GET needs to answer 200.
QUERY = {"facility_api.beneficiaries_api": "?phoneno=9876500001&dob=1980-05-17"}


def facility_rules(app):
    return [r for r in app.url_map.iter_rules()
            if r.rule.startswith("/facility/") or r.rule in EXTRA_PATHS]


def path_arguments(rule) -> set[str]:
    """The URL's own parameters (a ``/new`` rule carries its id as a default, not in the path)."""
    return set(rule.arguments) - set(rule.defaults or {})


def sample_values(rule) -> dict:
    return {name: 999999 if isinstance(rule._converters[name], IntegerConverter) else "x"
            for name in path_arguments(rule)}


@pytest.fixture
def users(app):
    """One user per role, all at a facility active in a program."""
    with app.app_context():
        d = f.desk()
        ids = {role: f.user(role, d.facility).id for role in ROLES}
        jobs.commit()
    return ids


def as_user(client, user_id: int | None) -> None:
    with client.session_transaction() as sess:
        sess.clear()
        if user_id is not None:
            sess["_user_id"] = str(user_id)
            sess["_fresh"] = True


def test_the_table_lists_exactly_the_facility_endpoints(app):
    found = {r.endpoint for r in facility_rules(app)}
    assert found - set(EXPECTED) == set(), "new facility views: guard them and add them to EXPECTED"
    assert set(EXPECTED) - found == set(), "EXPECTED names views that no longer exist"


def test_every_facility_view_declares_its_roles(app):
    for endpoint, allowed in EXPECTED.items():
        view = app.view_functions[endpoint]
        declared = getattr(view, "required_roles", None)
        assert declared, f"{endpoint} has no role check (use core.roles.roles_required)"
        assert frozenset(declared) == allowed, f"{endpoint}: declares {sorted(declared)}, expected {sorted(allowed)}"


def test_each_role_gets_200_or_403_on_every_page(app, client, users):
    checked = 0
    for rule in facility_rules(app):
        if path_arguments(rule) or "GET" not in rule.methods:
            continue
        url = rule.rule + QUERY.get(rule.endpoint, "")
        for role, uid in users.items():
            as_user(client, uid)
            status = client.get(url, follow_redirects=True).status_code  # e.g. a program admin's first program
            expected = 200 if role in EXPECTED[rule.endpoint] else 403
            assert status == expected, f"GET {url} as {role}: {status}, expected {expected}"
            checked += 1
    assert checked >= 6 * 6


def test_anonymous_users_are_sent_to_sign_in(app, client):
    adapter = app.url_map.bind("localhost")
    for rule in facility_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = adapter.build(rule.endpoint, sample_values(rule), method=method)
            resp = client.open(url, method=method)
            if rule.rule in EXTRA_PATHS:  # an API: 401 with a JSON error, no redirect
                assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized", url
                continue
            assert resp.status_code == 302, f"{method} {url} as anonymous: {resp.status_code}"
            assert "/login?" in resp.headers["Location"] and "purpose=facility" in resp.headers["Location"]


def test_every_route_refuses_roles_it_does_not_name(app, client, users):
    """Every method of every URL, with sample parameters: a role not in the table gets 403
    before anything is looked up or changed."""
    adapter = app.url_map.bind("localhost")
    for rule in facility_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = adapter.build(rule.endpoint, sample_values(rule), method=method) + QUERY.get(rule.endpoint, "")
            for role, uid in users.items():
                if role in EXPECTED[rule.endpoint]:
                    continue
                as_user(client, uid)
                status = client.open(url, method=method).status_code
                assert status == 403, f"{method} {url} as {role}: {status}, expected 403"


def test_a_signed_in_citizen_without_a_role_gets_403(app, client):
    with app.app_context():
        citizen = f.user("").id
        jobs.commit()
    as_user(client, citizen)
    for rule in facility_rules(app):
        if not path_arguments(rule) and "GET" in rule.methods:
            assert client.get(rule.rule + QUERY.get(rule.endpoint, "")).status_code == 403, rule.rule
