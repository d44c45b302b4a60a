"""Facility jobs: CSV uploads processed in chunks by RQ workers. They take ids and are
idempotent: a chunk locks its still-pending rows (SKIP LOCKED), so running it twice does
nothing the second time."""
from __future__ import annotations

from core.jobs import job


@job("certify", timeout=900)
def process_upload(job_id: int, first_row: int, last_row: int) -> int:
    """Process rows first_row..last_row of an upload (bulk certification, pre-enrolment, facilities).

    Runs on the ``certify`` queue: bulk certification is issuance work, and the certify
    workers are the ones a deployment scales for it.
    """
    from . import uploads

    return uploads.process_rows(job_id, first_row, last_row)


@job("render", timeout=3600)
def refresh_analytics(tz: str) -> int:
    """Fold every certificate not yet counted into the analytics facts, a batch per commit."""
    from core.jobs import commit

    from . import analytics

    total = 0
    while True:
        folded = analytics.refresh(tz)
        commit()
        total += folded
        if folded < analytics.FOLD_BATCH:
            return total
