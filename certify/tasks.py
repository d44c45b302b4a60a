"""Certify jobs. They take ids and are idempotent (see services.sign_pending)."""
from __future__ import annotations

from core.jobs import job


@job("certify", timeout=300)
def sign_requests(request_ids: list[int]) -> int:
    from . import services

    return services.sign_pending(request_ids)


@job("certify", timeout=300)
def sweep_pending() -> int:
    from . import services

    return services.sweep()
