"""The credential core and the API that source systems call."""
from flask import Blueprint

bp = Blueprint("certify", __name__)

from . import api, cli, eu_export, ops, shc_api, views  # noqa: E402,F401  (routes and commands register on bp)
