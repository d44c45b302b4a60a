"""Staff and administrator accounts from the command line.

``flask --app wsgi facility add-user MOBILE --role system_admin`` makes the first system
administrator of a new installation (who then manages every other account at
/facility/admin/users); the same command adds facility staff (``--facility CODE``) and program
administrators (``--program NAME``). ``flask --app wsgi facility users`` lists the accounts with a
role. ``flask --app wsgi facility demo-users`` adds the demo accounts ``make run`` prints.
"""
from __future__ import annotations

import json

import click
from sqlalchemy import select

from core import jobs
from core.errors import AppError
from core.extensions import db
from core.models import Facility, Program, User
from core.roles import ROLES

from . import admin_services as svc
from . import bp
from .models import Vaccinator

#: mobile, name, roles, facility code (demo data from certify seed), program admin?
DEMO_USERS = (
    ("9000000100", "Demo System Administrator", ("system_admin",), None, False),
    ("9000000101", "Demo Program Administrator", ("program_admin",), None, True),
    ("9000000102", "Demo Facility Administrator", ("facility_admin",), "DEMO-001", False),
    ("9000000103", "Demo Vaccinator", ("facility_staff", "vaccinator"), "DEMO-001", False),
    ("9000000104", "Demo Certificate Printer", ("certificate_printer",), "DEMO-001", False),
)


def _user_json(user: User) -> dict:
    facility = db.session.get(Facility, user.facility_id) if user.facility_id else None
    return {"mobile": user.mobile, "name": user.name, "roles": user.roles.split(),
            "facility": facility.code if facility else None,
            "programs": [p.name for p in db.session.scalars(
                select(Program).where(Program.id.in_(svc.user_program_ids(user.id))).order_by(Program.name))],
            "active": user.active}


def _facility_id(code: str | None) -> int | None:
    if not code:
        return None
    facility = db.session.scalar(select(Facility).where(Facility.code == code))
    if facility is None:
        raise click.BadParameter(f"no facility with code {code!r}", param_hint="--facility")
    return facility.id


def _program_ids(names: tuple[str, ...]) -> list[int]:
    ids = []
    for name in names:
        program = db.session.scalar(select(Program).where(Program.name == name))
        if program is None:
            raise click.BadParameter(f"no program named {name!r}", param_hint="--program")
        ids.append(program.id)
    return ids


@bp.cli.command("add-user")
@click.argument("mobile")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="Repeat for several roles.")
@click.option("--name", default="", help="Shown in the app and the audit trail.")
@click.option("--facility", "facility_code", default=None, help="Facility code (facility roles need one).")
@click.option("--program", "programs", multiple=True, help="Program name a program administrator runs; repeat.")
@click.option("--employee-id", default="")
def add_user(mobile: str, roles: tuple[str, ...], name: str, facility_code: str | None,
             programs: tuple[str, ...], employee_id: str) -> None:
    """Create or update the account of MOBILE with these roles, and print it as JSON.

    The person signs in at /login?purpose=facility with a one-time code sent to MOBILE."""
    try:
        user = svc.save_user(None, mobile=mobile, name=name, roles=roles, facility_id=_facility_id(facility_code),
                             program_ids=_program_ids(programs), employee_id=employee_id, active=True)
    except AppError as exc:
        jobs.rollback()
        reasons = "; ".join(f"{f.path}: {f.reason}" for f in getattr(exc, "fields", []) or []) or exc.message
        raise click.ClickException(reasons) from None
    jobs.commit()
    click.echo(json.dumps(_user_json(user), ensure_ascii=False))


@bp.cli.command("users")
@click.option("--role", type=click.Choice(ROLES), default=None)
def list_users(role: str | None) -> None:
    """The accounts with a role, one JSON object per line."""
    for user in svc.list_users(role or ""):
        click.echo(json.dumps(_user_json(user), ensure_ascii=False))


@bp.cli.command("demo-users")
def demo_users() -> None:
    """Add the demo staff and administrator accounts, and a vaccinator for the desk to record
    (idempotent; run after ``certify seed``)."""
    program_ids = list(db.session.scalars(select(Program.id).order_by(Program.id).limit(1)))
    demo_facility = _facility_id("DEMO-001")
    if db.session.scalar(select(Vaccinator).where(Vaccinator.facility_id == demo_facility)) is None:
        db.session.add(Vaccinator(facility_id=demo_facility, name="Dr. Meera Nair", mobile="9000000103",
                                  licence_number="DEMO-MCI-0001", program_ids=program_ids, active=True))
    for mobile, name, roles, facility_code, runs_program in DEMO_USERS:
        if db.session.scalar(select(User).where(User.mobile == mobile)) is None:
            svc.save_user(None, mobile=mobile, name=name, roles=roles, facility_id=_facility_id(facility_code),
                          program_ids=program_ids if runs_program else [], employee_id="", active=True)
        click.echo(f"  {mobile}  {name} ({', '.join(roles)}{', ' + facility_code if facility_code else ''})")
    jobs.commit()
