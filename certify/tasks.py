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


@job("render", timeout=900)
def prerender(certificate_pks: list[int]) -> int:
    """Render and cache the QR and the PDFs (in PRERENDER_LANGUAGES) of new certificates."""
    from . import services

    return services.prerender(certificate_pks)
