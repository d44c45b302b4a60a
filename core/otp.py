"""Mobile OTP sign-in: hashed, expiring, single-use codes with try and send limits.

Answers never reveal whether a number is registered: a code is "sent" either way, and a
wrong number and a wrong code fail alike.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from . import notify, ratelimit
from .errors import AppError, FieldError, ValidationError
from .extensions import db
from .models import OtpChallenge, User, utcnow

MOBILE = re.compile(r"^\+?[0-9]{10,15}$")


class OtpError(AppError):
    status = 400
    code = "otp_failed"


def normalise_mobile(raw: str) -> str:
    value = re.sub(r"[\s\-()]", "", raw or "")
    if not MOBILE.match(value):
        raise ValidationError(_("Enter a mobile number of 10 to 15 digits."),
                              [FieldError("mobile", _("Enter a mobile number of 10 to 15 digits."))])
    return value


def _hash(salt: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return salt + "$" + hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()[:48]


def may_sign_in(mobile: str, purpose: str) -> bool:
    if purpose == "portal":
        return True
    user = db.session.scalar(select(User).where(User.mobile == mobile))
    return user is not None and user.active and bool(user.role_set)


def request_otp(mobile: str, purpose: str, address: str) -> OtpChallenge:
    """Create a challenge and send its code by SMS (only to numbers allowed to sign in here)."""
    cfg = current_app.config
    if not ratelimit.hit("otp-address", address, cfg["OTP_SENDS_PER_ADDRESS_PER_HOUR"], 3600):
        raise ratelimit.RateLimited(_("Too many codes were requested from this network. Try again later."))
    since = utcnow() - dt.timedelta(hours=1)
    sent = db.session.scalar(select(func.count()).select_from(OtpChallenge)
                             .where(OtpChallenge.mobile == mobile, OtpChallenge.created_at >= since))
    if sent >= cfg["OTP_SENDS_PER_NUMBER_PER_HOUR"]:
        raise ratelimit.RateLimited(_("Too many codes were sent to this number. Try again in an hour."))
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(8)
    challenge = OtpChallenge(mobile=mobile, purpose=purpose, code_hash=_hash(salt, code),
                             expires_at=utcnow() + dt.timedelta(seconds=cfg["OTP_TTL"]),
                             client_address=address[:64])
    db.session.add(challenge)
    db.session.flush()
    if may_sign_in(mobile, purpose):  # templates/sms/otp.txt, in the language of the page
        notify.notify("otp", to_mobile=mobile, language=str(get_locale() or "en"), key=f"challenge-{challenge.id}",
                      context={"code": code, "minutes": cfg["OTP_TTL"] // 60})
    return challenge


def check_otp(challenge_id: int, code: str) -> str:
    """Consume the challenge if ``code`` matches; return the verified mobile number."""
    wrong = OtpError(_("The code is wrong or has expired. Request a new code."),
                     [FieldError("code", _("The code is wrong or has expired."))])
    challenge = db.session.get(OtpChallenge, challenge_id, with_for_update=True)
    now = utcnow()
    if challenge is None or challenge.used_at is not None:
        raise wrong
    expires = challenge.expires_at if challenge.expires_at.tzinfo else challenge.expires_at.replace(tzinfo=dt.timezone.utc)
    if expires <= now or challenge.attempts >= current_app.config["OTP_MAX_ATTEMPTS"]:
        raise wrong
    challenge.attempts += 1
    salt = challenge.code_hash.split("$", 1)[0]
    if not re.fullmatch(r"[0-9]{6}", code or "") or not hmac.compare_digest(_hash(salt, code), challenge.code_hash):
        left = current_app.config["OTP_MAX_ATTEMPTS"] - challenge.attempts
        raise OtpError(_("The code is wrong. %(left)d tries left.", left=left) if left > 0 else wrong.message,
                       [FieldError("code", _("The code is wrong."))])
    if not may_sign_in(challenge.mobile, challenge.purpose):
        raise wrong
    challenge.used_at = now
    return challenge.mobile


def user_for(mobile: str) -> User:
    user = db.session.scalar(select(User).where(User.mobile == mobile))
    if user is None:
        user = User(mobile=mobile)
        db.session.add(user)
        db.session.flush()
    return user
