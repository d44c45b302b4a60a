"""The facility app (staff, facility admin, program and system admin) — landing page for now."""
from flask import Blueprint

bp = Blueprint("facility", __name__, url_prefix="/facility")

from . import admin_views, models, views  # noqa: E402,F401
