"""Site-wide views: the OAuth2 token endpoint, the home page and a health check."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import text

from . import auth
from .errors import FieldError, ValidationError
from .extensions import db

bp = Blueprint("core", __name__)


@bp.post("/oauth/token")
def token():
    form = request.form
    missing = [FieldError(k, "is required") for k in ("grant_type", "client_id", "client_secret")
               if not form.get(k)]
    if missing:
        raise ValidationError("client credentials are required", missing)
    if form["grant_type"] != "client_credentials":
        raise ValidationError("unsupported grant type",
                              [FieldError("grant_type", "must be client_credentials")])
    resp = jsonify(auth.issue_token(form["client_id"], form["client_secret"]))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/")
def home():
    return render_template("home.html")


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
