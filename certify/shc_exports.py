"""SMART Health Card and WHO DDCC exports of stored certificates (services).

The API views (``certify/shc_api.py``) validate the query and call one function here;
the portal can call the same functions for a signed-in holder.

A card holds every live (valid, not suspended) vaccination dose of the beneficiary, in
dose order.  Signatures are deterministic (RFC 6979) and ``nbf`` is the issue time of
the newest dose, so the same certificates always give the same card: the QR PNG and
the PDF are cached like the DIVOC renderings, keyed by a digest of the card's JWS.
Each card's ``vc.rid`` names its set of doses, and ``/.well-known/crl/<kid>.json`` lists the
cards that hold a revoked or suspended dose (see "revocation" below).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from core.errors import NotFound, ValidationError
from core.extensions import db
from core.models import as_aware, utcnow

from .credentials import shc
from .credentials.ddcc import ddcc_vs_document, ddcc_vs_from_credential
from .models import (
    REVOKED,
    VALID,
    Certificate,
    RenderedArtifact,
    StatusEvent,
    effective_status,
)

SHC_KINDS = ("qr", "pdf", "file")
SHC_FILE_MIMETYPE = "application/smart-health-card"
FHIR_MIMETYPE = "application/fhir+json"


class NotExportable(ValidationError):
    """The stored certificate lacks what the target format needs."""

    status = 422
    code = "not_exportable"


def default_shc_key_path() -> str:
    return os.path.join(current_app.instance_path, "shc-key.pem")


def write_shc_key(path: str) -> str:
    """Write a new ES256 issuer key (PKCS#8 PEM, owner-only); return its kid."""
    key = shc.generate_shc_key()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.private_key_pem())
    return key.kid


def shc_key() -> shc.ShcSigningKey:
    """This process's SMART Health Card key: SHC_PRIVATE_KEY (PEM or JWK), its _FILE, or instance/."""
    cached = current_app.extensions.get("shc_key")
    if cached is not None:
        return cached
    cfg = current_app.config
    material = cfg.get("SHC_PRIVATE_KEY")
    if not material:
        path = cfg.get("SHC_PRIVATE_KEY_FILE") or default_shc_key_path()
        if not os.path.exists(path):
            raise RuntimeError(f"no SMART Health Card key: set SHC_PRIVATE_KEY_FILE or run "
                               f"`flask --app wsgi certify keys generate-shc` (looked for {path})")
        with open(path, encoding="utf-8") as fh:
            material = fh.read()
    key = current_app.extensions["shc_key"] = shc.load_shc_key(material)
    return key


def jwks_document() -> dict[str, Any]:
    """The issuer's public JWKS (``/.well-known/jwks.json``); ``crlVersion`` tells verifiers
    that the key has a CRL (``/.well-known/crl/<kid>.json``) and which version is current."""
    return {"keys": [{**shc_key().public_jwk(), "crlVersion": crl_counter()}]}


# --- revocation ------------------------------------------------------------------------------
#
# A card holds the live doses of one beneficiary at the time it is made, and it is deterministic,
# so its ``rid`` is derived from exactly that set of certificate ids (keyed with a secret drawn
# from the issuer key). When a certificate is revoked, suspended or replaced by an update, every
# set of doses that was ever live together with it can be listed from the certificates' issue
# times and status events, and their rids go on the CRL. A card made afterwards holds another
# set, so it is not caught; a reinstated certificate's cards come off the list again.

def _rid_secret() -> bytes:
    key = shc_key()
    cached = current_app.extensions.get("shc_rid_secret")
    if cached is None or cached[0] != key.kid:
        scalar = key.private_key.private_numbers().private_value.to_bytes(32, "big")
        cached = current_app.extensions["shc_rid_secret"] = (
            key.kid, hashlib.sha256(b"divoc shc rid\0" + scalar).digest())
    return cached[1]


def card_rid(certificate_ids: Iterable[str]) -> str:
    """The ``vc.rid`` of a card holding exactly these certificates."""
    return shc.revocation_id(_rid_secret(), ",".join(sorted(certificate_ids)))


def _crl_state(now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """The CRL's ``ctr`` and the time of the newest status event (a cache key with it)."""
    events, lapsed, last = db.session.execute(select(
        func.coalesce(func.max(StatusEvent.id), 0),
        func.count(StatusEvent.id).filter(StatusEvent.until <= now), func.max(StatusEvent.at))).one()
    return int(events) + int(lapsed) + 1, last


def crl_counter(now: dt.datetime | None = None) -> int:
    """The CRL's ``ctr`` (and the key's ``crlVersion``). It grows whenever the list can change:
    with every status event (revoke, suspend, reinstate, update) and when a suspension runs out."""
    return _crl_state(now or utcnow())[0]


def _status_at(events: Sequence[Any], at: dt.datetime) -> str:
    """A certificate's status at ``at`` from its status events (oldest first)."""
    status, until = VALID, None
    for event in events:
        if as_aware(event.at) > at:
            break
        status, until = event.status, event.until
    return effective_status(status, until, at)


def live_sets(doses: Sequence[Any], events: Mapping[str, Sequence[Any]]) -> set[frozenset[str]]:
    """Every set of one beneficiary's certificates that was live (valid, not suspended) at some
    moment: the set changes only at an issue time, a status event or the end of a suspension."""
    moments = {as_aware(c.issued_at) for c in doses}
    for evs in events.values():
        moments |= {as_aware(e.at) for e in evs} | {as_aware(e.until) for e in evs if e.until is not None}
    sets = set()
    for at in moments:
        live = frozenset(c.certificate_id for c in doses
                         if as_aware(c.issued_at) <= at and _status_at(events.get(c.certificate_id, ()), at) == VALID)
        if live:
            sets.add(live)
    return sets


def revoked_rids(now: dt.datetime | None = None) -> list[str]:
    """The rids of every card that holds a certificate which is now revoked or suspended."""
    now = now or utcnow()
    affected = select(Certificate.pre_enrollment_code).where(
        Certificate.kind == "vaccination", Certificate.status != VALID).scalar_subquery()
    by_code: dict[str, list[Any]] = {}
    for dose in db.session.execute(select(  # only the columns used, no parameter lists
            Certificate.pre_enrollment_code, Certificate.certificate_id, Certificate.issued_at, Certificate.status,
            Certificate.suspended_until).where(Certificate.kind == "vaccination",
                                               Certificate.pre_enrollment_code.in_(affected))):
        by_code.setdefault(dose.pre_enrollment_code, []).append(dose)
    events: dict[str, list[Any]] = {}
    for event in db.session.execute(
            select(StatusEvent.certificate_id, StatusEvent.at, StatusEvent.status, StatusEvent.until)
            .join(Certificate, Certificate.certificate_id == StatusEvent.certificate_id)
            .where(Certificate.kind == "vaccination", Certificate.pre_enrollment_code.in_(affected))
            .order_by(StatusEvent.at, StatusEvent.id)):
        events.setdefault(event.certificate_id, []).append(event)
    rids: set[str] = set()
    for doses in by_code.values():
        dead = {d.certificate_id for d in doses if effective_status(d.status, d.suspended_until, now) != VALID}
        if not dead:
            continue  # only suspensions that have run out
        mine = {d.certificate_id: events[d.certificate_id] for d in doses if d.certificate_id in events}
        rids |= {card_rid(live) for live in live_sets(doses, mine) if live & dead}
    return sorted(rids)


def crl_document(kid: str) -> dict[str, Any] | None:
    """``/.well-known/crl/<kid>.json`` for the current key (None for another kid)."""
    key = shc_key()
    if kid != key.kid:
        return None
    now = utcnow()
    state = (kid, *_crl_state(now))
    cached = current_app.extensions.get("shc_crl")
    if cached is None or cached[0] != state:  # rebuilt only when it changes
        cached = current_app.extensions["shc_crl"] = (state, shc.crl_document(kid, state[1], revoked_rids(now)))
    return cached[1]


def _live_doses(code: str) -> list[Certificate]:
    now = utcnow()
    rows = db.session.scalars(
        select(Certificate).where(Certificate.pre_enrollment_code == code, Certificate.kind == "vaccination",
                                  Certificate.status != REVOKED)
        .order_by(Certificate.dose, Certificate.issued_at)).all()
    doses = [c for c in rows if c.effective_status(now) == VALID]
    if not doses:
        raise NotFound("no valid vaccination certificate for this beneficiary")
    return doses


@dataclass(frozen=True)
class HealthCard:
    """A signed card and where it came from."""

    jws: str
    bundle: dict[str, Any]
    certificates: tuple[Certificate, ...]
    issuer: str
    kid: str

    @property
    def qr_contents(self) -> list[str]:
        return shc.qr_chunks(self.jws)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.jws.encode("ascii")).hexdigest()


def health_card(code: str, family: str | None = None, given: str | None = None) -> HealthCard:
    """The SMART Health Card of a beneficiary's valid doses (``family``/``given``: how the
    holder's name splits; without them the name goes into ``name.text``)."""
    doses = _live_doses(code)
    credentials = [c.credential for c in doses]
    try:
        bundle = shc.build_fhir_bundle(credentials, family=family,
                                       given=given.split() if given else None)
    except ValueError as exc:
        raise NotExportable(f"cannot export as a SMART Health Card: {exc}") from None
    key = shc_key()
    issuer = current_app.config["SHC_ISSUER_URL"]
    nbf = int(max(c.issued_at for c in doses).timestamp())
    payload = shc.build_shc_payload(bundle, issuer=issuer, nbf=nbf, rid=card_rid(c.certificate_id for c in doses))
    jws = shc.sign_health_card(payload, key)
    return HealthCard(jws, bundle, tuple(doses), issuer, key.kid)


def _cached(card: HealthCard, kind: str, render) -> bytes:
    """A card rendering from the artifact cache (keyed by the newest dose and the JWS digest)."""
    from . import config_store

    owner = card.certificates[-1]
    version = f"{card.digest[:24]}.{config_store.shipped_templates_digest()}"[:40]
    cached = db.session.scalar(select(RenderedArtifact.content).where(
        RenderedArtifact.certificate_pk == owner.id, RenderedArtifact.kind == kind,
        RenderedArtifact.lang == "", RenderedArtifact.version == version))
    if cached is not None:
        return cached
    content = render()
    from .services import _insert

    db.session.execute(_insert(RenderedArtifact.__table__).values(
        certificate_pk=owner.id, kind=kind, lang="", version=version, content=content,
        created_at=utcnow()).on_conflict_do_nothing())
    return content


def _qr_pngs(card: HealthCard) -> list[bytes]:
    return [shc.shc_qr_png(content) for content in card.qr_contents]


def _stacked(pngs: list[bytes]) -> bytes:
    """One PNG of the card's QR codes, top to bottom (normally just one)."""
    if len(pngs) == 1:
        return pngs[0]
    import io

    from PIL import Image

    images = [Image.open(io.BytesIO(p)) for p in pngs]
    canvas = Image.new("1", (max(i.width for i in images), sum(i.height for i in images)), 1)
    top = 0
    for image in images:
        canvas.paste(image, (0, top))
        top += image.height
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def shc_renderer():
    """This process's SMART Health Card PDF renderer (fonts and templates kept warm)."""
    renderer = current_app.extensions.get("shc_renderer")
    if renderer is None:
        from .render_shc import HealthCardRenderer

        renderer = current_app.extensions["shc_renderer"] = HealthCardRenderer()
    return renderer


@dataclass(frozen=True)
class Export:
    content: bytes
    mimetype: str
    filename: str


def shc_export(code: str, kind: str, family: str | None = None, given: str | None = None) -> Export:
    """The card as ``qr`` (a PNG of its QR code; a card too long for one version-22 code
    shows its chunks one under the other), ``pdf`` or ``file`` (``.smart-health-card``)."""
    card = health_card(code, family, given)
    name = f"smart-health-card-{card.certificates[-1].certificate_id}"
    if kind == "file":
        return Export(shc.health_card_file([card.jws]), SHC_FILE_MIMETYPE, f"{name}.smart-health-card")
    if kind == "qr":
        return Export(_cached(card, "shc-qr", lambda: _stacked(_qr_pngs(card))), "image/png", f"{name}.png")
    from .render_shc import HealthCardView
    from .signing import effective_config

    def render() -> bytes:
        view = HealthCardView.from_card(card.bundle, [c.credential for c in card.certificates],
                                        issuer=card.issuer, kid=card.kid,
                                        issuer_name=effective_config()["CERTIFICATE_ISSUER_NAME"])
        return shc_renderer().render_shc_pdf(view, _qr_pngs(card))

    return Export(_cached(card, "shc-pdf", render), "application/pdf", f"{name}.pdf")


def fhir_document(code: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The WHO DDCC:VS document Bundle of the beneficiary's newest valid dose."""
    from .signing import effective_config

    cert = _live_doses(code)[-1]
    try:
        ddcc = ddcc_vs_from_credential(cert.credential)
    except ValueError as exc:
        raise NotExportable(f"cannot export as a WHO DDCC document: {exc}") from None
    cfg = effective_config()
    stamp = (now or utcnow()).astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ddcc_vs_document(ddcc, issuer_name=cfg["CERTIFICATE_ISSUER_NAME"], timestamp=stamp,
                            base_url=cfg["CERTIFICATE_BASE_URL"])


def card_certificates(payloads: Sequence[Mapping[str, Any]]) -> list[Certificate]:
    """Our certificates behind a health card we exported (its signature already checked),
    in the card's order; empty when they cannot be found.

    A card names no certificate id, so it is matched the way :func:`health_card` made it:
    ``nbf`` is the issue time (whole seconds) of the newest dose, and each Immunization is
    exactly what :func:`shc.build_fhir_bundle` makes of one dose's credential. A dose
    counts if it was issued by ``nbf`` and not revoked before it (the card was made when it
    was live), so a dose revoked or suspended after the export is found with that status.
    """
    if len(payloads) != 1:
        return []
    payload = payloads[0]
    nbf = payload.get("nbf")
    if isinstance(nbf, bool) or not isinstance(nbf, (int, float)):
        return []
    bundle = (((payload.get("vc") or {}).get("credentialSubject") or {}).get("fhirBundle") or {})
    resources = [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, dict)]
    immunizations = [r for r in resources if isinstance(r, dict) and r.get("resourceType") == "Immunization"]
    patient = next((r for r in resources if isinstance(r, dict) and r.get("resourceType") == "Patient"), {})
    if not immunizations:
        return []
    start = dt.datetime.fromtimestamp(int(nbf), dt.timezone.utc)
    end = start + dt.timedelta(seconds=1)
    newest = db.session.scalars(select(Certificate).where(
        Certificate.kind == "vaccination", Certificate.issued_at >= start, Certificate.issued_at < end)).all()
    for code in dict.fromkeys(c.pre_enrollment_code for c in newest):
        doses = db.session.scalars(select(Certificate).where(
            Certificate.pre_enrollment_code == code, Certificate.kind == "vaccination",
            Certificate.issued_at < end).order_by(Certificate.dose, Certificate.issued_at)).all()
        live = [c for c in doses if c.revoked_at is None or c.revoked_at >= start]
        matched = _match_doses(immunizations, live)
        if matched and patient.get("birthDate", "") == _card_birth_date(matched[-1]):
            return matched
    return []


def _card_birth_date(cert: Certificate) -> str:
    try:
        patient = shc.build_fhir_bundle([cert.credential])["entry"][0]["resource"]
    except ValueError:
        return "?"
    return patient.get("birthDate", "")


def _match_doses(immunizations: list[dict[str, Any]], doses: list[Certificate]) -> list[Certificate]:
    """One distinct dose per Immunization, equal to what the export makes of it; or []."""
    made: list[tuple[Certificate, dict[str, Any]]] = []
    for cert in doses:
        try:
            made.append((cert, shc.build_fhir_bundle([cert.credential])["entry"][1]["resource"]))
        except ValueError:
            continue
    matched: list[Certificate] = []
    for immunization in immunizations:
        hit = next((c for c, resource in made if resource == immunization and c not in matched), None)
        if hit is None:
            return []
        matched.append(hit)
    return matched
