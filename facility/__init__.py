"""The facility app: the staff desk (staff_views), facility, program and system admin."""
from flask import Blueprint

bp = Blueprint("facility", __name__, url_prefix="/facility")

from . import admin_views, cli, models, notifications, staff_views, views  # noqa: E402,F401
