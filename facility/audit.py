"""The administration's audit trail: one append-only row per change, in the change's transaction.

``record("user.save", f"user:{user.id}", facility_id=..., roles=[before, after])`` takes the actor
from the signed-in user (or "cli" outside a request), so services need no extra argument. The
system administrator reads it at /facility/admin/audit.
"""
from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import select

from core.extensions import db

from .models import AdminEvent

PAGE = 100


def _actor() -> tuple[int | None, str]:
    if has_request_context() and current_user.is_authenticated:
        return current_user.id, f"{current_user.name or '—'} ({current_user.mobile})"
    return None, "cli"


def record(action: str, target: str, *, facility_id: int | None = None, **details: Any) -> AdminEvent:
    actor_id, actor = _actor()
    event = AdminEvent(actor_id=actor_id, actor=actor, action=action, target=target, facility_id=facility_id,
                       details=details)
    db.session.add(event)
    return event


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for the fields that differ (JSON-ready values); a new record's
    empty fields are left out."""
    return {k: [_plain(before.get(k)), _plain(after.get(k))] for k in after
            if before.get(k) != after.get(k) and not (k not in before and after.get(k) in ("", [], None))}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return str(value)


def events(*, action: str = "", target: str = "", before_id: int | None = None, limit: int = PAGE) -> list[AdminEvent]:
    """Newest first; ``before_id`` pages back."""
    stmt = select(AdminEvent).order_by(AdminEvent.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AdminEvent.action.startswith(action))
    if target:
        stmt = stmt.where(AdminEvent.target == target)
    if before_id is not None:
        stmt = stmt.where(AdminEvent.id < before_id)
    return list(db.session.scalars(stmt))
