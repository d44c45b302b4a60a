"""HTML pages of the certify blueprint: the public certificate verify page.

``GET /verify`` is a page that verifies DIVOC certificates **in the browser**
(static/vendor/divoc-verifier.js): the QR code is decoded, unzipped,
canonicalised and its signature checked on the device, against the trust
document (``/api/v1/verify/trust``) and the revocation list
(``/certificate/api/revocationList``).  ``GET /verify/sw.js`` is a service
worker scoped to ``/verify`` that precaches the page, its assets and those two
documents, so after one online visit the page keeps working with no network.
"""
from __future__ import annotations

import hashlib
import json
import os

from flask import Response, current_app, render_template, url_for
from flask_babel import get_locale
from jinja2 import TemplateNotFound

from . import bp

#: Static files the page needs, precached by the service worker.
VERIFY_ASSETS = (
    "css/site.css",
    "verify/verify.css",
    "verify/verify.js",
    "vendor/divoc-verifier.js",
    "vendor/zxing_reader.wasm",
)
_SW_SOURCE = "verify/sw.js"
_DEFAULT_CONTACT = "your state health helpline"

_digests: dict[str, tuple[float, str]] = {}


def _digest(filename: str) -> str:
    """A short content hash of a static file."""
    return _file_digest(os.path.join(current_app.static_folder or "", filename))


def _file_digest(path: str) -> str:
    """A short content hash of a file (cached until its mtime changes)."""
    mtime = os.stat(path).st_mtime
    cached = _digests.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()[:12]
    _digests[path] = (mtime, digest)
    return digest


def asset_url(filename: str) -> str:
    """URL of a static file with a content version, safe to cache forever."""
    return url_for("static", filename=filename, v=_digest(filename))


def _scan_timeout() -> int:
    try:
        value = int(current_app.config.get("CERTIFICATE_SCAN_TIMEOUT", 30))
    except (TypeError, ValueError):
        value = 30
    return max(5, value)


@bp.get("/verify")
def verify_page():
    cfg = current_app.config
    html = render_template(
        "certify/verify.html",
        page_lang=str(get_locale() or "en").replace("_", "-"),
        scan_timeout=_scan_timeout(),
        contact=cfg.get("VERIFY_CONTACT") or _DEFAULT_CONTACT,
        asset_url=asset_url,
        trust_url=url_for("certify.verify_trust"),
        revocation_url=url_for("certify.revocation_list"),
        sw_url=url_for("certify.verify_service_worker"),
        sw_scope=url_for("certify.verify_page"),
    )
    resp = Response(html, mimetype="text/html")
    # The service worker serves it offline; online, always revalidate.
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/verify/sw.js")
def verify_service_worker():
    """The service worker, with its precache list; its bytes change whenever an asset does."""
    assets = [asset_url(name) for name in VERIFY_ASSETS]
    page = url_for("certify.verify_page")
    config = {
        "page": page,
        "assets": assets,
        "data": [url_for("certify.verify_trust"), url_for("certify.revocation_list")],
    }
    version_input = json.dumps(config, sort_keys=True) + _digest(_SW_SOURCE) + _digest_templates()
    config["version"] = hashlib.sha256(version_input.encode()).hexdigest()[:16]
    path = os.path.join(current_app.static_folder or "", _SW_SOURCE)
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    body = f"self.DIVOC_SW_CONFIG = {json.dumps(config)};\n{source}"
    resp = Response(body, mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = page
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _digest_templates() -> str:
    """Changes when the page templates do, so a deploy refreshes the cached page."""
    loader = current_app.jinja_loader
    parts = []
    for name in ("base.html", "certify/verify.html", "certify/_verify_result.html"):
        try:
            _source, path, _uptodate = loader.get_source(current_app.jinja_env, name)  # type: ignore[union-attr]
            parts.append(_file_digest(path) if path else "-")
        except (OSError, TemplateNotFound):  # a missing template fails the page, not the worker
            parts.append("-")
    return ",".join(parts)
