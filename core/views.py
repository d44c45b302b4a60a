"""Site-wide views: the OAuth2 token endpoint, the home page and a health check."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import text

from . import auth, jobs, otp, ratelimit
from .errors import FieldError, ValidationError
from .extensions import db
from .forms import CodeForm, MobileForm

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


@bp.get("/language/<code>")
def choose_language(code: str):
    """The language switcher: remember the choice for this browser and go back to the page."""
    from . import LANGUAGES

    if code in LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            jobs.commit()
    return redirect(_safe_next(request.args.get("next"), "portal") if request.args.get("next")
                    else url_for("core.home"))


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


def _safe_next(target: str | None, purpose: str) -> str:
    """Only same-site paths; anything else goes to the area's home page."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("facility.index" if purpose == "facility" else "portal.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    purpose = "facility" if request.args.get("purpose") == "facility" else "portal"
    form = MobileForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            mobile = otp.normalise_mobile(form.mobile.data)
            challenge = otp.request_otp(mobile, purpose, ratelimit.client_address())
            jobs.commit()
        except (ValidationError, ratelimit.RateLimited) as exc:
            jobs.rollback()
            form.mobile.errors.append(exc.message)
        else:
            session["otp_challenge"] = challenge.id
            session["otp_mobile_hint"] = mobile[-4:]
            return redirect(url_for("core.verify_code", purpose=purpose, next=form.next.data))
    return render_template("auth/login.html", form=form, purpose=purpose)


@bp.route("/login/code", methods=["GET", "POST"])
def verify_code():
    purpose = "facility" if request.args.get("purpose") == "facility" else "portal"
    challenge_id = session.get("otp_challenge")
    if challenge_id is None:
        return redirect(url_for("core.login", purpose=purpose))
    form = CodeForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            mobile = otp.check_otp(challenge_id, form.code.data.strip())
            user = otp.user_for(mobile)
            jobs.commit()
        except otp.OtpError as exc:
            jobs.commit()  # the failed try counts
            form.code.errors.append(exc.message)
        else:
            session.pop("otp_challenge", None)
            session.pop("otp_mobile_hint", None)
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(form.next.data, purpose))
    return render_template("auth/code.html", form=form, purpose=purpose,
                           hint=session.get("otp_mobile_hint", ""))


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("core.home"))
