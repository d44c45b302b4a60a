"""``flask --app wsgi certify ...``: demo seed, dev keys, and the durability sweep."""
from __future__ import annotations

import base64
import json
import os

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core import auth, jobs
from core.extensions import db
from core.models import ApiClient, Facility, Program, Vaccine

from . import bp, services, signing, verification
from .models import ED25519_KEY, RSA_KEY


@bp.cli.command("seed")
def seed() -> None:
    """Seed demo data (idempotent): a program, the seed's vaccines, facilities, an API client and
    the portal's pre-enrolled demo member (portal/demo.py)."""
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
    from portal.demo import seed_demo

    out = {"program": program.name, **seed_demo(program)}
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


@keys.command("generate-shc")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Private key PEM path (default: instance/shc-key.pem).")
@click.option("--if-missing", is_flag=True, help="Do nothing when the file exists.")
def generate_shc_key(out: str | None, if_missing: bool) -> None:
    """Generate a dev SMART Health Card key (ES256, P-256)."""
    from .shc_exports import default_shc_key_path, write_shc_key

    path = out or default_shc_key_path()
    if os.path.exists(path):
        if if_missing:
            click.echo(f"key exists: {path}")
            return
        raise click.ClickException(f"{path} exists; refusing to overwrite a signing key")
    click.echo(f"wrote SMART Health Card key {write_shc_key(path)} to {path}")


@keys.command("eu-dsc")
@click.option("--if-missing", is_flag=True, help="Do nothing when a DSC is configured or exists.")
@click.option("--days", type=int, default=730, show_default=True, help="Validity of the certificate.")
def generate_eu_dsc(if_missing: bool, days: int) -> None:
    """Generate a self-signed development EU DSC (production DSCs come from your country's CSCA)."""
    from flask import current_app

    from .credentials.eudcc import country_alpha2
    from .eu_export import default_paths, write_dev_dsc

    cfg = current_app.config
    if cfg.get("EU_CERTIFICATE_PRIVATE_KEY") or cfg.get("EU_CERTIFICATE_PRIVATE_KEY_FILE"):
        if if_missing:
            click.echo("EU DSC configured in the environment")
            return
        raise click.ClickException("EU_CERTIFICATE_PRIVATE_KEY(_FILE) is set; refusing to generate another DSC")
    key_path, cert_path = default_paths()
    if os.path.exists(key_path):
        if if_missing:
            click.echo(f"EU DSC exists: {cert_path}")
            return
        raise click.ClickException(f"{key_path} exists; refusing to overwrite a signing key")
    write_dev_dsc(key_path, cert_path, country_alpha2(cfg["EU_CERTIFICATE_COUNTRY"]) or "IN", days)
    click.echo(f"wrote a self-signed EU DSC to {cert_path} (key: {key_path})")


@bp.cli.command("sweep")
@click.option("--grace", type=int, default=None, help="Seconds a request may stay pending.")
def sweep(grace: int | None) -> None:
    """Re-enqueue accepted-but-unsigned requests (also run by every worker)."""
    count = services.sweep(grace)
    jobs.commit()
    click.echo(json.dumps({"requeued": count}))


@bp.cli.command("status")
def status() -> None:
    """What operations watch, as JSON (certify.ops.snapshot): certify requests waiting and the
    oldest's age, failures, certificates issued in the last hour, notifications waiting or failed,
    and each RQ queue's length and failed jobs."""
    from core.extensions import db

    from .ops import snapshot

    out = snapshot()
    db.session.remove()
    click.echo(json.dumps(out, indent=2, default=str))


trust = AppGroup("trust", help="What the verifier trusts: DIVOC issuer keys and contexts, EU DSCs, SHC issuers.")
KEY_TYPES = {"ed25519": ED25519_KEY, "rsa": RSA_KEY}


@trust.command("add")
@click.option("--id", "key_id", required=True, help="The verificationMethod, e.g. did:india")
@click.option("--type", "key_type", type=click.Choice(sorted(KEY_TYPES)), required=True)
@click.option("--public-key-base58", default=None, help="Ed25519 public key (base58).")
@click.option("--public-key-pem", type=click.File("r"), default=None, help="PEM file (RSA or Ed25519).")
@click.option("--issuer-name", default="")
@click.option("--context", "contexts", multiple=True, metavar="URL=NAME|URL=FILE",
              help="Accept this context URL as a bundled context (vaccination-v1, vaccination-v2, "
                   "test-certificate-v1) or a JSON-LD file. Repeatable.")
def trust_add(key_id, key_type, public_key_base58, public_key_pem, issuer_name, contexts) -> None:
    """Trust an issuer key (and the contexts its credentials use)."""
    from .credentials import (
        Ed25519VerificationKey,
        KeyFormatError,
        load_verification_key_pem,
    )

    try:
        if public_key_pem is not None:
            key = load_verification_key_pem(public_key_pem.read(), key_id)
            material = key.public_key_pem()
            if KEY_TYPES[key_type] == ED25519_KEY:
                material = key.public_key_base58
        elif public_key_base58 and key_type == "ed25519":
            material = Ed25519VerificationKey.from_base58(public_key_base58, key_id).public_key_base58
        else:
            raise click.UsageError("give --public-key-pem, or --public-key-base58 for ed25519")
    except KeyFormatError as exc:
        raise click.ClickException(str(exc)) from None
    for spec in contexts:
        _add_context(spec)
    _store_trusted(key_id, KEY_TYPES[key_type], material, issuer_name)
    click.echo(json.dumps({"trusted": key_id, "type": KEY_TYPES[key_type], "contexts": list(contexts)}))


def _add_context(spec: str) -> None:
    from .credentials import ContextNotAvailableError, load_context
    from .models import TrustedContext

    url, sep, source = spec.partition("=")
    if not sep or not url.startswith(("https://", "http://")):
        raise click.UsageError(f"--context wants URL=NAME or URL=FILE, got {spec!r}")
    try:
        document = load_context(source)
    except (ContextNotAvailableError, KeyError, ValueError):
        try:
            with open(source) as fh:
                document = json.load(fh)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{source}: not a bundled context name or a JSON-LD file ({exc})")
    if not isinstance(document, dict) or "@context" not in document:
        raise click.ClickException(f"{source}: a JSON-LD context document needs an @context")
    row = db.session.scalar(select(TrustedContext).where(TrustedContext.url == url))
    if row is None:
        db.session.add(TrustedContext(url=url, document=document))
    else:
        row.document = document


@trust.command("context")
@click.argument("spec", metavar="URL=NAME|URL=FILE")
def trust_context(spec: str) -> None:
    """Accept a context URL (bundled context name or JSON-LD file)."""
    _add_context(spec)
    jobs.commit()
    verification.forget_trust_cache()
    click.echo(json.dumps({"context": spec.partition("=")[0]}))


@trust.command("remove")
@click.argument("key_id")
def trust_remove(key_id: str) -> None:
    """Stop trusting a key (kept, marked inactive, for the record)."""
    from .models import TrustedKey

    rows = db.session.scalars(select(TrustedKey).where(TrustedKey.key_id == key_id)).all()
    if not rows:
        raise click.ClickException(f"no trusted key {key_id}")
    for row in rows:
        row.active = False
    jobs.commit()
    verification.forget_trust_cache()
    click.echo(json.dumps({"removed": key_id}))


@trust.command("add-eu-dsc")
@click.argument("certificate", type=click.File("rb"))
@click.option("--issuer-name", default="", help="A label (default: the certificate's subject).")
def trust_add_eu_dsc(certificate, issuer_name: str) -> None:
    """Trust an EU DCC document signer certificate (PEM, DER or base64 DER) for HC1: codes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    from .credentials.eudcc import dsc_kid, load_certificate
    from .models import EU_DSC

    try:
        cert = load_certificate(certificate.read())
    except ValueError as exc:
        raise click.ClickException(f"{certificate.name}: not an X.509 certificate ({exc})") from None
    if not isinstance(cert.public_key(), (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise click.ClickException("a DSC signs with an EC (ES256) or RSA (PS256) key")
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    subject = cert.subject.rfc4514_string()
    _store_trusted(fingerprint, EU_DSC, cert.public_bytes(Encoding.PEM).decode("ascii"), (issuer_name or subject)[:200])
    click.echo(json.dumps({"trusted": fingerprint, "type": "eu-dsc", "kid": base64.b64encode(dsc_kid(cert)).decode(),
                           "subject": subject, "notAfter": cert.not_valid_after_utc.isoformat()}))


@trust.command("add-shc-issuer")
@click.argument("iss")
@click.argument("jwks", type=click.File("r"))
@click.option("--issuer-name", default="")
def trust_add_shc_issuer(iss: str, jwks, issuer_name: str) -> None:
    """Trust a SMART Health Card issuer: its URL (the cards' iss) and its JWKS file
    (what it serves at ISS/.well-known/jwks.json)."""
    from .credentials.shc import check_payload, usable_jwks_keys
    from .models import SHC_ISSUER

    problems = [p for p in check_payload({"iss": iss})[0] if p.startswith("iss")]
    if problems:
        raise click.ClickException(problems[0])
    try:
        document = json.load(jwks)
    except ValueError as exc:
        raise click.ClickException(f"{jwks.name}: not JSON ({exc})") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if isinstance(entries, list) and any(isinstance(k, dict) and "d" in k for k in entries):
        raise click.ClickException(f"{jwks.name} holds a private key; give the issuer's public JWKS")
    usable, skipped = usable_jwks_keys(document)
    if not usable:
        raise click.ClickException(f"{jwks.name} has no usable ES256 key: " + "; ".join(skipped or ["empty"]))
    public = {"keys": [{k: v for k, v in key.items() if k in ("kty", "kid", "use", "alg", "crv", "x", "y")}
                       for key in entries if isinstance(key, dict) and key.get("kid") in usable]}
    _store_trusted(iss, SHC_ISSUER, json.dumps(public, sort_keys=True), issuer_name[:200])
    click.echo(json.dumps({"trusted": iss, "type": "shc-issuer", "kids": sorted(usable), "skipped": skipped}))


def _store_trusted(key_id: str, key_type: str, material: str, issuer_name: str) -> None:
    from .models import TrustedKey

    row = db.session.scalar(select(TrustedKey).where(TrustedKey.key_id == key_id, TrustedKey.key_type == key_type))
    if row is None:
        row = TrustedKey(key_id=key_id, key_type=key_type)
        db.session.add(row)
    row.public_key, row.issuer_name, row.active = material, issuer_name, True
    jobs.commit()
    verification.forget_trust_cache()


@trust.command("list")
def trust_list() -> None:
    """Print what the verifier trusts as JSON: DIVOC keys and contexts, EU DSCs, SHC issuers."""
    doc = verification.trust_document()
    click.echo(json.dumps({
        "keys": doc["keys"], "contexts": sorted(doc["contexts"]),
        "euDscs": [{k: d[k] for k in ("kid", "subject", "notBefore", "notAfter", "own")} for d in doc["euDscs"]],
        "shcIssuers": [{"iss": i["iss"], "kids": [k["kid"] for k in i["keys"]], "own": i["own"]}
                       for i in doc["shcIssuers"]],
    }, indent=2))





config = AppGroup("config", help="Runtime configuration: templates, code maps, certificate settings.")


def _key_arg(key: str) -> str:
    from . import config_store

    if not config_store.is_known_key(key):
        raise click.BadParameter(
            "use settings, map:icd11, map:eu, template:vaccination[:LANG] or template:test[:LANG]")
    return key


@config.command("list")
def config_list() -> None:
    """The editable keys with their active version (0 = the shipped default)."""
    from . import config_store

    versions = config_store.active_versions()
    keys = sorted(set(config_store.FIXED_KEYS) | {"template:vaccination", "template:test"} | set(versions))
    click.echo(json.dumps({k: versions.get(k, 0) for k in keys}, indent=2))


@config.command("show")
@click.argument("key")
@click.option("--version", type=int, default=None, help="An older version (default: the active one).")
def config_show(key: str, version: int | None) -> None:
    """Print a document (the active version unless --version)."""
    from . import config_store

    key = _key_arg(key)
    if version is None:
        click.echo(config_store.current_content(key)[0])
        return
    row = next((r for r in config_store.history(key) if r.version == version), None)
    if row is None:
        raise click.ClickException(f"{key} has no version {version}")
    click.echo(row.content)


@config.command("set")
@click.argument("key")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--comment", default="")
def config_set(key: str, source, comment: str) -> None:
    """Validate SOURCE and publish it as the next version of KEY (all or nothing)."""
    from core.errors import ValidationError

    from . import config_store

    key = _key_arg(key)
    try:
        row = config_store.publish(key, source.read(), author="cli", comment=comment)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    jobs.commit()
    click.echo(json.dumps({"key": key, "version": row.version, "active": True}))


@config.command("history")
@click.argument("key")
def config_history(key: str) -> None:
    from core.models import iso_utc

    from . import config_store

    key = _key_arg(key)
    click.echo(json.dumps([{"version": r.version, "active": r.active, "author": r.author,
                            "comment": r.comment, "createdAt": iso_utc(r.created_at)}
                           for r in config_store.history(key)], indent=2))


@config.command("rollback")
@click.argument("key")
@click.argument("version", type=int)
def config_rollback(key: str, version: int) -> None:
    """Make VERSION active again (0 = the shipped default)."""
    from core.errors import NotFound

    from . import config_store

    key = _key_arg(key)
    try:
        config_store.rollback(key, version, author="cli")
    except NotFound as exc:
        raise click.ClickException(exc.message) from None
    jobs.commit()
    click.echo(json.dumps({"key": key, "active": version}))


def register(app) -> None:
    app.cli.add_command(trust)
    app.cli.add_command(config)
