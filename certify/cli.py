"""``flask --app wsgi certify ...``: demo seed, dev keys, and the durability sweep."""
from __future__ import annotations

import json
import os

import click
from sqlalchemy import select

from core import auth, jobs
from core.extensions import db
from core.models import ApiClient, Facility, Program, Vaccine

from . import bp, services, signing


@bp.cli.command("seed")
def seed() -> None:
    """Seed demo data (idempotent): a program, the seed's vaccines, a facility, an API client."""
    from .credentials.vaccination import DEFAULT_ICD11

    program = db.session.scalar(select(Program).where(Program.name == "COVID-19 Vaccination"))
    if program is None:
        program = Program(name="COVID-19 Vaccination",
                          description="National COVID-19 vaccination programme")
        db.session.add(program)
        db.session.flush()
    existing = {v.name for v in db.session.scalars(select(Vaccine))}
    for row in DEFAULT_ICD11:
        if row.name not in existing:
            db.session.add(Vaccine(name=row.name, manufacturer=row.manufacturer,
                                   icd11_code=row.code, icd11_term=row.term, program_id=program.id))
    if db.session.scalar(select(Facility).where(Facility.code == "DEMO-001")) is None:
        db.session.add(Facility(code="DEMO-001", name="District Hospital, Demo Town",
                                district="Demo District", state="Demo State", pincode="560001",
                                address={"addressLine1": "1 Hospital Road", "district": "Demo District",
                                         "state": "Demo State", "pincode": "560001", "country": "IN"}))
    out = {"program": program.name}
    if db.session.scalar(select(ApiClient).where(ApiClient.name == "demo-source-system")) is None:
        client, secret = auth.create_client("demo-source-system", ["certify"])
        out.update(client_id=client.client_id, client_secret=secret)
        path = os.path.join(os.path.dirname(db.engine.url.database or "."), "demo-client.json")
        if db.engine.url.get_backend_name() == "sqlite":
            with open(path, "w") as fh:
                json.dump({"client_id": client.client_id, "client_secret": secret}, fh)
            os.chmod(path, 0o600)
    jobs.commit()
    click.echo(json.dumps(out))


@bp.cli.group("keys")
def keys() -> None:
    """Signing keys."""


@keys.command("generate")
@click.option("--type", "key_type", type=click.Choice(["ed25519", "rsa"]), default="ed25519")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Private key PEM path (default: instance/certificate-key.pem).")
@click.option("--if-missing", is_flag=True, help="Do nothing when the file exists.")
def generate_key(key_type: str, out: str | None, if_missing: bool) -> None:
    """Generate a dev signing key pair (production keys come from your key ceremony)."""
    path = out or signing.default_key_path()
    if os.path.exists(path):
        if if_missing:
            click.echo(f"key exists: {path}")
            return
        raise click.ClickException(f"{path} exists; refusing to overwrite a signing key")
    signing.write_private_key(path, key_type)
    click.echo(f"wrote {key_type} private key to {path}")


@bp.cli.command("sweep")
@click.option("--grace", type=int, default=None, help="Seconds a request may stay pending.")
def sweep(grace: int | None) -> None:
    """Re-enqueue accepted-but-unsigned requests (also run by every worker)."""
    count = services.sweep(grace)
    jobs.commit()
    click.echo(json.dumps({"requeued": count}))
