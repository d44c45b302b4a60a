"""The citizen portal (login, members, appointments, downloads) — landing page for now."""
from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")

from . import booking_views, views  # noqa: E402,F401
