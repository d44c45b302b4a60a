"""Runtime configuration: certificate templates, code maps and certificate settings,
versioned in the database, editable without a restart, with rollback.

Keys:
- ``settings``: JSON overriding issuer, issuerName, contextUrl, updateLimit, revokedMessage;
- ``map:icd11``: JSON ``{vaccine name: {"code", "term"}}`` (default: the seed's table);
- ``map:eu``: JSON ``{vaccine name: {"mp", "vp", "ma"}}`` (EU-DCC value-set codes);
- ``template:vaccination``, ``template:test``: the HTML template for every language, and
  ``template:vaccination:<lang>`` / ``template:test:<lang>`` for one language.

Everything is validated before it is saved; a rejected document changes nothing.
"""
from __future__ import annotations

import json
import re
from typing import Any

import jinja2
from flask import current_app
from sqlalchemy import func, select, text, update

from core.errors import FieldError, NotFound, ValidationError
from core.extensions import db

from .models import ConfigVersion

SETTINGS_FIELDS = {"issuer": str, "issuerName": str, "contextUrl": str, "updateLimit": int,
                   "revokedMessage": str}
TEMPLATE_KEY = re.compile(r"^template:(vaccination|test)(?::([a-z]{2,3}(?:-[A-Za-z]{2,4})?))?$")
FIXED_KEYS = ("settings", "map:icd11", "map:eu")


def is_known_key(key: str) -> bool:
    return key in FIXED_KEYS or bool(TEMPLATE_KEY.match(key))


def default_content(key: str) -> str:
    """What a key holds before anyone edits it (the shipped defaults)."""
    if key == "settings":
        cfg = current_app.config
        return json.dumps({"issuer": cfg["CERTIFICATE_ISSUER"], "issuerName": cfg["CERTIFICATE_ISSUER_NAME"],
                           "contextUrl": cfg["CERTIFICATE_CONTEXT_URL"],
                           "updateLimit": cfg["CERTIFICATE_UPDATE_LIMIT"],
                           "revokedMessage": cfg["CERTIFICATE_REVOKED_MESSAGE"]}, indent=2, ensure_ascii=False)
    if key == "map:icd11":
        from .credentials import DEFAULT_ICD11

        return json.dumps({row.name: {"code": row.code, "term": row.term} for row in DEFAULT_ICD11},
                          indent=2, ensure_ascii=False)
    if key == "map:eu":
        from .credentials.eumaps import DEFAULT_EU_MAP

        return json.dumps(DEFAULT_EU_MAP, indent=2, ensure_ascii=False)
    m = TEMPLATE_KEY.match(key)
    if m:
        from .render import TEMPLATES_DIR

        name = f"certificates/{m.group(1)}.html"
        if m.group(2) and (TEMPLATES_DIR / f"certificates/{m.group(1)}.{m.group(2)}.html").exists():
            name = f"certificates/{m.group(1)}.{m.group(2)}.html"
        return (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    raise NotFound(f"unknown configuration key {key!r}")


def active(key: str) -> ConfigVersion | None:
    return db.session.scalar(select(ConfigVersion).where(ConfigVersion.key == key, ConfigVersion.active))


VERSIONS_TTL = 1.0  # seconds other processes may serve the previous version after a publish


def active_versions(prefix: str = "") -> dict[str, int]:
    """{key: active version}, re-read at most every VERSIONS_TTL seconds per process.

    A publish or rollback clears this process's copy at once; other processes see it within
    VERSIONS_TTL, which keeps the cached-download path to one query.
    """
    import time

    cached = current_app.extensions.get("config_versions")
    if cached is None or time.monotonic() - cached[0] > VERSIONS_TTL:
        rows = db.session.execute(select(ConfigVersion.key, ConfigVersion.version).where(ConfigVersion.active))
        cached = current_app.extensions["config_versions"] = (time.monotonic(), dict(rows.all()))
    return {k: v for k, v in cached[1].items() if k.startswith(prefix)}


def current_content(key: str) -> tuple[str, int]:
    """(content, version); version 0 means the shipped default."""
    row = active(key)
    return (row.content, row.version) if row is not None else (default_content(key), 0)


def json_document(key: str) -> dict[str, Any]:
    return json.loads(current_content(key)[0])


def _line_error(message: str, line: int | None) -> ValidationError:
    where = f"line {line}: " if line else ""
    return ValidationError(f"rejected: {where}{message}; nothing was saved",
                           [FieldError("content", f"{where}{message}")])


def validate(key: str, content: str) -> None:
    """Raise ValidationError (with the error's line) unless ``content`` is valid for ``key``."""
    if not is_known_key(key):
        raise ValidationError(f"unknown configuration key {key!r}", [FieldError("key", "unknown key")])
    if TEMPLATE_KEY.match(key):
        try:
            jinja2.Environment(autoescape=True).parse(content)
        except jinja2.TemplateSyntaxError as exc:
            raise _line_error(exc.message or "template syntax error", exc.lineno) from None
        try:
            preview(key, content)  # renders sample data: undefined names and layout errors surface here
        except ValidationError:
            raise
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None) or _template_line(exc, template_file_name(key))
            raise _line_error(f"{type(exc).__name__}: {exc}", line) from None
        return
    try:
        doc = json.loads(content)
    except json.JSONDecodeError as exc:
        raise _line_error(f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(doc, dict):
        raise _line_error("must be a JSON object", 1)
    if key == "settings":
        for name, value in doc.items():
            if name not in SETTINGS_FIELDS:
                raise _line_error(f"unknown setting {name!r}; known: {', '.join(SETTINGS_FIELDS)}", None)
            if not isinstance(value, SETTINGS_FIELDS[name]) or isinstance(value, bool):
                raise _line_error(f"{name} must be a {SETTINGS_FIELDS[name].__name__}", None)
        if "updateLimit" in doc and doc["updateLimit"] < 0:
            raise _line_error("updateLimit must be ≥ 0", None)
        for url_key in ("issuer", "contextUrl"):
            if url_key in doc and ":" not in doc[url_key]:
                raise _line_error(f"{url_key} must be an absolute URI", None)
    elif key == "map:icd11":
        for name, entry in doc.items():
            if not isinstance(entry, dict) or not re.fullmatch(r"[0-9A-Z]{4,8}(\.[0-9A-Z]+)?", str(entry.get("code", ""))) \
                    or not isinstance(entry.get("term"), str) or not entry["term"].strip():
                raise _line_error(f"{name}: needs an ICD-11 code (e.g. XM9QW8) and a term", None)
    elif key == "map:eu":
        for name, entry in doc.items():
            if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) and entry[f] for f in ("mp", "vp", "ma")):
                raise _line_error(f"{name}: needs mp, vp and ma codes", None)


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The template line a runtime error came from (Jinja maps it into the traceback)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(filename) or tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def publish(key: str, content: str, author: str, comment: str = "") -> ConfigVersion:
    """Validate, store as the next version and make it active — all or nothing."""
    validate(key, content)
    _lock_key(key)
    last = db.session.scalar(select(func.max(ConfigVersion.version)).where(ConfigVersion.key == key)) or 0
    db.session.execute(update(ConfigVersion).where(ConfigVersion.key == key, ConfigVersion.active)
                       .values(active=False))
    db.session.flush()
    row = ConfigVersion(key=key, version=last + 1, content=content, author=author, comment=comment[:500],
                        active=True)
    db.session.add(row)
    db.session.flush()
    forget_caches()
    return row


def rollback(key: str, version: int, author: str) -> ConfigVersion:
    """Make an earlier version active again (version 0: back to the shipped default)."""
    _lock_key(key)
    rows = db.session.scalars(select(ConfigVersion).where(ConfigVersion.key == key)).all()
    target = next((r for r in rows if r.version == version), None)
    if version != 0 and target is None:
        raise NotFound(f"{key} has no version {version}")
    for r in rows:
        r.active = False
    db.session.flush()
    if target is not None:
        target.active = True
    db.session.flush()
    forget_caches()
    return target


def _lock_key(key: str) -> None:
    """Serialise publishes of one key (PostgreSQL advisory lock; SQLite writes are serial)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": "config:" + key})


def history(key: str) -> list[ConfigVersion]:
    return list(db.session.scalars(select(ConfigVersion).where(ConfigVersion.key == key)
                                   .order_by(ConfigVersion.version.desc())))


def forget_caches() -> None:
    for name in ("divoc_issuer", "divoc_trust", "certificate_renderer", "config_versions", "effective_settings"):
        current_app.extensions.pop(name, None)


# --- Templates ----------------------------------------------------------------------------

SAMPLE_VACCINATION = {
    "preEnrollmentCode": "SAMPLE-0001",
    "recipient": {"name": "प्रिया शर्मा (Priya Sharma)", "dob": "1990-04-01", "gender": "Female",
                  "nationality": "Indian", "identity": "did:in.gov.uidai.aadhaar:123456789012",
                  "address": {"addressLine1": "12, MG Road", "district": "Bengaluru Urban",
                              "state": "Karnataka", "pincode": "560001", "country": "IN"}},
    "vaccination": {"name": "Covishield", "batch": "4121Z015", "manufacturer": "Serum Institute of India",
                    "date": "2021-10-17T10:30:00.000Z", "effectiveStart": "2021-10-17",
                    "effectiveUntil": "2022-10-17", "dose": 2, "totalDoses": 2},
    "vaccinator": {"name": "Dr. Sooraj Singh"},
    "facility": {"name": "District Hospital", "address": {"addressLine1": "Hospital Road",
                                                           "district": "Bengaluru Urban", "state": "Karnataka"}},
}


def template_key_parts(key: str) -> tuple[str, str | None]:
    m = TEMPLATE_KEY.match(key)
    if not m:
        raise ValidationError(f"{key} is not a template key", [FieldError("key", "not a template")])
    return m.group(1), m.group(2)


def preview(key: str, content: str | None = None, lang: str | None = None) -> bytes:
    """Render sample data with ``content`` (or the current template) to a PDF, without saving."""
    import datetime as dt

    from .credentials import pack_qr_payload, qr_png
    from .render import CertificateView, TestCertificateView
    from .services import new_certificate_id
    from .signing import current_issuer

    kind, key_lang = template_key_parts(key)
    lang = lang or key_lang or "en"
    renderer = template_renderer({key: content} if content is not None else None)
    issuer = current_issuer()
    now = dt.datetime.now(dt.timezone.utc)
    if kind == "test":
        credential = issuer.issue_test(SAMPLE_TEST, new_certificate_id(), now)
        return renderer.render_test_pdf(TestCertificateView.from_credential(credential),
                                        qr_png(pack_qr_payload(credential)), lang=lang)
    credential = issuer.issue_vaccination(SAMPLE_VACCINATION, new_certificate_id(),
                                          {"Covishield": ("XM9QW8", "COVID-19 vaccine, non-replicating viral vector")}, now)
    return renderer.render_pdf(CertificateView.from_credential(credential),
                               qr_png(pack_qr_payload(credential)), lang=lang)


def preview_png(key: str, content: str, dpi: int = 60) -> bytes:
    """Page 1 of the preview as a PNG (poppler's pdftoppm), for the admin page."""
    import subprocess
    import tempfile
    from pathlib import Path

    pdf = preview(key, content)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "preview.pdf"
        src.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", "-f", "1", "-l", "1",
                        str(src), str(Path(tmp) / "page")], check=True, capture_output=True, timeout=60)
        return (Path(tmp) / "page.png").read_bytes()


SAMPLE_TEST = {
    "preEnrollmentCode": "SAMPLE-0002",
    "recipient": {"name": "Bhaya Mitra", "dob": "1994-11-30", "gender": "Male", "nationality": "Indian",
                  "identity": "did:in.gov.uidai.aadhaar:2342343334",
                  "address": {"addressLine1": "12, MG Road", "district": "Bengaluru Urban", "state": "Karnataka"}},
    "testDetails": {"batch": "RTPCR-118", "testName": "SARS-CoV-2 RT-PCR", "testType": "RT-PCR",
                    "disease": "COVID-19", "manufacturer": "ICMR", "sampleOrigin": "Nasopharyngeal swab",
                    "sampleCollectionTimestamp": "2021-10-17T09:30:00+05:30",
                    "resultTimestamp": "2021-10-18T14:05:00+05:30", "result": "Negative"},
    "verifier": {"name": "Sooraj Singh"},
    "facility": {"name": "ABC Diagnostics", "address": {"addressLine1": "123, Koramangala", "district": "Bengaluru"}},
}


def template_file_name(key: str) -> str:
    kind, lang = template_key_parts(key)
    return f"certificates/{kind}.{lang}.html" if lang else f"certificates/{kind}.html"


_digest_cache: dict[str, str] = {}


def shipped_templates_digest() -> str:
    """A short hash of the shipped certificate templates and styles (changes on deploy)."""
    if "d" not in _digest_cache:
        import hashlib

        from .render import TEMPLATES_DIR

        h = hashlib.sha256()
        for path in sorted((TEMPLATES_DIR / "certificates").glob("*")):
            h.update(path.name.encode() + path.read_bytes())
        _digest_cache["d"] = h.hexdigest()[:10]
    return _digest_cache["d"]


def template_renderer(overrides: dict[str, str | None] | None = None):
    """A renderer that reads published templates before the shipped files.

    Cached per set of active versions, so a publish takes effect on the next render in every
    process without a restart. ``overrides`` (unsaved text, for previews) gives a one-off renderer.
    """
    from .render import TEMPLATES_DIR, CertificateRenderer
    from .signing import effective_config

    cfg = effective_config()
    versions = tuple(sorted((k, v) for k, v in active_versions("template:").items()))
    cache_key = (versions, cfg["_settings_version"])
    cached = current_app.extensions.get("certificate_renderer")
    if overrides is None and cached is not None and cached[0] == cache_key:
        return cached[1]
    published = {template_file_name(k): row.content for k in dict(versions)
                 if (row := active(k)) is not None}
    for key, text_ in (overrides or {}).items():
        if text_ is not None:
            published[template_file_name(key)] = text_
    loader = jinja2.ChoiceLoader([jinja2.DictLoader(published), jinja2.FileSystemLoader(TEMPLATES_DIR)])
    renderer = CertificateRenderer(loader=loader, issuer_name=cfg["CERTIFICATE_ISSUER_NAME"],
                                   slogan=cfg["CERTIFICATE_SLOGAN"])
    if overrides is None:
        current_app.extensions["certificate_renderer"] = (cache_key, renderer)
    return renderer
