"""Background jobs on named RQ queues, enqueued only after the transaction commits.

A job is a plain function decorated with ``@job("queue")``. Callers schedule it
with ``fn.after_commit(*ids)``; nothing reaches Redis until ``commit()`` has
committed the rows the job will look for. With no ``REDIS_URL`` configured the
jobs run inline, in-process, right after the commit.

Jobs take ids, not ORM objects, and must be idempotent: a job may run twice
(a sweep re-enqueues work whose worker died) and must not do the work twice.
"""
from __future__ import annotations

import datetime as dt
import functools
import importlib
import logging
from typing import Any, Callable

from flask import current_app, g

from .extensions import db

logger = logging.getLogger(__name__)

QUEUES = ("certify", "render", "notify")
_REGISTRY: dict[str, "Job"] = {}


class Job:
    def __init__(self, func: Callable[..., Any], queue: str, timeout: int) -> None:
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        self.func = func
        self.queue = queue
        self.timeout = timeout
        self.name = f"{func.__module__}:{func.__name__}"
        functools.update_wrapper(self, func)
        _REGISTRY[self.name] = self

    def __call__(self, *args: Any) -> Any:
        return self.func(*args)

    def after_commit(self, *args: Any) -> None:
        """Schedule this job; it is sent when the current transaction commits."""
        g.setdefault("_pending_jobs", []).append((self, args))


def job(queue: str, timeout: int = 600) -> Callable[[Callable[..., Any]], Job]:
    return lambda func: Job(func, queue, timeout)


def _lookup(name: str) -> Job:
    if name not in _REGISTRY:
        importlib.import_module(name.split(":")[0])
    return _REGISTRY[name]


def execute(name: str, *args: Any) -> Any:
    """Run a job in its own transaction: commit on success, roll back on error."""
    return _run(name, args, release_session=True)


def _run(name: str, args: tuple, release_session: bool) -> Any:
    job_ = _lookup(name)
    try:
        result = job_.func(*args)
        commit()
        return result
    except BaseException:
        rollback()
        raise
    finally:
        if release_session:  # a worker's job; an inline job shares the request's session
            db.session.remove()


def commit() -> None:
    """The one commit point: commit the session, then send the jobs it scheduled."""
    db.session.commit()
    pending = g.pop("_pending_jobs", [])
    for job_, args in pending:
        _send(job_, args)


def rollback() -> None:
    db.session.rollback()
    g.pop("_pending_jobs", None)


def redis_connection():
    return current_app.extensions.get("redis")


def backlog_since(queue: str) -> dt.datetime | None:
    """When the oldest job still waiting in ``queue`` was enqueued; None if it is empty.

    A sweep uses it to tell work that is only waiting behind a backlog from work whose
    job was lost. Without Redis (inline jobs) there is no backlog.
    """
    conn = redis_connection()
    if conn is None:
        return None
    from rq import Queue

    try:
        q = Queue(queue, connection=conn)
        for job_id in q.get_job_ids(0, 1):
            head = q.fetch_job(job_id)
            if head is not None and head.enqueued_at is not None:
                at = head.enqueued_at
                return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
    except Exception:  # Redis down: the sweep falls back to its grace period
        logger.exception("could not read the %s queue", queue)
    return None


def _send(job_: Job, args: tuple) -> None:
    conn = redis_connection()
    if conn is None:
        try:  # the request goes on with its objects after the commit, so they stay in its session
            _run(job_.name, args, release_session=False)
        except Exception:  # the rows stay pending; a sweep retries them
            logger.exception("inline job %s failed", job_.name)
        return
    from rq import Queue

    try:
        Queue(job_.queue, connection=conn).enqueue(
            execute, job_.name, *args, job_timeout=job_.timeout,
            result_ttl=60, failure_ttl=7 * 86400,
        )
    except Exception:  # Redis down: the rows are committed and a sweep re-enqueues them
        logger.exception("could not enqueue %s; left for the sweep", job_.name)


def transactional(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a view so its writes commit once at the end, or roll back on any error."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            rv = view(*args, **kwargs)
        except BaseException:
            rollback()
            raise
        commit()
        return rv

    return wrapper
