"""RQ worker for the certify, render and notify queues.

    python worker.py [queue ...]

At start-up, and then every SWEEP_INTERVAL seconds, it re-enqueues certify requests
that were accepted but are still unsigned (a worker killed mid-job, a Redis restart), and
notifications that are due (retries after backoff, the end of quiet hours, a lost queue) or
whose send was interrupted (checked with the provider first, never sent twice).
Jobs run in this process (no fork per job): signing is batched and the PDF renderer
keeps its fonts warm between jobs.
"""
from __future__ import annotations

import logging
import sys
import threading

from rq import SimpleWorker

from core import create_app, jobs

logger = logging.getLogger("worker")


def _sweep(app, sweep) -> int:
    with app.app_context():
        try:
            count = sweep()
            jobs.commit()
            return count
        except Exception:
            jobs.rollback()
            logger.exception("sweep failed")
            return 0
        finally:
            from core.extensions import db

            db.session.remove()


def sweep_once(app) -> int:
    """Re-enqueue pending certify requests; enqueue due notifications and check interrupted sends."""
    from certify import services
    from core import notify

    return _sweep(app, services.sweep) + _sweep(app, notify.sweep)


def sweeper(app, stop: threading.Event) -> None:
    while not stop.wait(app.config["SWEEP_INTERVAL"]):
        count = sweep_once(app)
        if count:
            logger.warning("sweep re-enqueued %d pending request(s) and message(s)", count)


def main(argv: list[str]) -> None:
    app = create_app()
    conn = app.extensions["redis"]
    if conn is None:
        sys.exit("REDIS_URL is not set: without Redis, jobs run inline in the web process.")
    queues = argv or list(jobs.QUEUES)
    count = sweep_once(app)
    logger.info("start-up sweep re-enqueued %d request(s)", count)
    stop = threading.Event()
    threading.Thread(target=sweeper, args=(app, stop), daemon=True).start()
    with app.app_context():
        try:
            SimpleWorker(queues, connection=conn).work(with_scheduler=False)
        finally:
            stop.set()


if __name__ == "__main__":
    main(sys.argv[1:])
