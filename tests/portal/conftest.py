"""Portal fixtures: services translate their messages, so they run in a request context."""
from __future__ import annotations

import pytest


@pytest.fixture
def ctx(app):
    """A request context (English), for services that speak to the citizen."""
    with app.test_request_context("/portal/"):
        yield
        from core.extensions import db

        db.session.remove()
