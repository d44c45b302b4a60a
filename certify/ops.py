"""What operations watch: one snapshot for ``flask certify status`` (JSON) and ``GET /metrics``
(Prometheus text format, behind ``METRICS_TOKEN``)."""
from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from flask import Response, abort, current_app, request
from sqlalchemy import func, select

from core import jobs
from core.extensions import db
from core.models import OutboxMessage, as_aware, utcnow

from . import bp
from .models import FAILED, PENDING, Certificate, CertifyRequest

NOTIFY_WATCHED = ("queued", "sending", "failed", "undelivered")


def snapshot() -> dict[str, Any]:
    """Certify requests waiting and the oldest's age, failures, certificates issued in the last
    hour, notifications waiting or failed, and each RQ queue's length and failed jobs
    (``"redis": "unreachable: …"`` when Redis is down: accepted requests wait in the database and
    the workers' sweep queues them again)."""
    now = utcnow()
    pending, oldest = db.session.execute(select(func.count(), func.min(CertifyRequest.created_at))
                                         .where(CertifyRequest.status == PENDING)).one()
    out: dict[str, Any] = {
        "certify_requests": {
            "pending": pending,
            "oldest_pending_seconds": round((now - as_aware(oldest)).total_seconds()) if oldest else None,
            "failed": db.session.scalar(select(func.count()).where(CertifyRequest.status == FAILED))},
        "certificates_issued_last_hour": db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.issued_at >= now - dt.timedelta(hours=1))),
        "notifications": dict(db.session.execute(select(OutboxMessage.status, func.count()).where(
            OutboxMessage.status.in_(NOTIFY_WATCHED)).group_by(OutboxMessage.status)).all()),
    }
    conn = jobs.redis_connection()
    if conn is None:
        out["redis"] = "not configured (jobs run inline)"
        return out
    from rq import Queue
    from rq.registry import FailedJobRegistry

    try:
        out["queues"] = {name: {"waiting": len(Queue(name, connection=conn)),
                                "failed": len(FailedJobRegistry(name, connection=conn))} for name in jobs.QUEUES}
        out["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report it; the status must not fail with Redis
        out["redis"] = f"unreachable: {exc.__class__.__name__}"
    return out


def prometheus(snap: dict[str, Any]) -> str:
    """The snapshot in the Prometheus text exposition format."""
    requests = snap["certify_requests"]
    lines = [
        "# HELP divoc_certify_requests_pending Accepted certify requests not signed yet.",
        "# TYPE divoc_certify_requests_pending gauge",
        f"divoc_certify_requests_pending {requests['pending']}",
        "# HELP divoc_certify_requests_oldest_pending_seconds Age of the oldest pending certify request.",
        "# TYPE divoc_certify_requests_oldest_pending_seconds gauge",
        f"divoc_certify_requests_oldest_pending_seconds {requests['oldest_pending_seconds'] or 0}",
        "# HELP divoc_certify_requests_failed Certify requests that failed for good.",
        "# TYPE divoc_certify_requests_failed gauge",
        f"divoc_certify_requests_failed {requests['failed']}",
        "# HELP divoc_certificates_issued_last_hour Certificates issued in the last hour.",
        "# TYPE divoc_certificates_issued_last_hour gauge",
        f"divoc_certificates_issued_last_hour {snap['certificates_issued_last_hour']}",
        "# HELP divoc_notifications Notifications waiting or failed, by status.",
        "# TYPE divoc_notifications gauge",
        *(f'divoc_notifications{{status="{s}"}} {snap["notifications"].get(s, 0)}' for s in NOTIFY_WATCHED),
        "# HELP divoc_redis_up 1 when Redis answers (0 also when jobs run inline).",
        "# TYPE divoc_redis_up gauge",
        f"divoc_redis_up {1 if snap['redis'] == 'ok' else 0}",
    ]
    if "queues" in snap:
        lines += ["# HELP divoc_queue_jobs RQ jobs by queue and state.", "# TYPE divoc_queue_jobs gauge"]
        for name, counts in snap["queues"].items():
            lines += [f'divoc_queue_jobs{{queue="{name}",state="{state}"}} {n}' for state, n in counts.items()]
    return "\n".join(lines) + "\n"


@bp.get("/metrics")
def metrics():
    """Prometheus scrape endpoint: ``Authorization: Bearer <METRICS_TOKEN>``; 404 when no token is set."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        abort(401)
    return Response(prometheus(snapshot()), mimetype="text/plain; version=0.0.4")
