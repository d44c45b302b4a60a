"""How many certificates were handed out, for analytics: per local day, channel and kind.

The download path only adds one to a per-process counter; about once a second (or every 500
downloads) the process sends its counts to a Redis hash in one pipeline (``HINCRBY dl:<day>
<channel>:<kind>``), and :func:`fold` moves them into ``download_counts`` when analytics is read.
Measured on the cached-PDF path, a Redis round trip per download cost 8-12% of the requests per
second; the buffer costs nothing measurable. Without Redis (``make run``) the due counts are
upserted in the transaction of the request that carries them (an upsert per download held the
cached-PDF path to ~620 requests/s on one hot row). Up to a second of a killed process's counts,
or counts in Redis not folded yet when Redis loses its data, are lost: these are statistics, not
records.
"""
from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
import uuid
from collections import Counter

from flask import has_app_context
from sqlalchemy import func, select

from core import jobs
from core.extensions import db
from core.models import local_today

from .models import DownloadCount

logger = logging.getLogger(__name__)

_PREFIX, _FOLDING = "dl:", "dl:folding:"


FLUSH_SECONDS, FLUSH_COUNT = 1.0, 500
_buffer: Counter = Counter()
_buffer_lock = threading.Lock()
_last_flush = time.monotonic()


def count(channel: str, kind: str) -> None:
    """One certificate handed out through ``channel`` as ``kind``."""
    global _last_flush
    day = local_today()
    conn = jobs.redis_connection()
    if conn is not None:
        _remember_target(conn)
    with _buffer_lock:
        _buffer[(day, channel, kind)] += 1
        due = time.monotonic() - _last_flush >= FLUSH_SECONDS or sum(_buffer.values()) >= FLUSH_COUNT
        if due:
            _last_flush = time.monotonic()
    if due:
        flush(conn)


def flush(conn=None) -> None:
    """Send this process's buffered counts to Redis (kept for the next try if Redis is down), or
    without Redis add them to the database in the current transaction."""
    if conn is None:
        conn = jobs.redis_connection() if has_app_context() else _flush_target
    if conn is None and not has_app_context():
        return
    with _buffer_lock:
        pending = dict(_buffer)
        _buffer.clear()
    if not pending:
        return
    if conn is None:
        _add(pending)
        return
    try:
        pipe = conn.pipeline(transaction=False)
        for (day, channel, kind), n in pending.items():
            pipe.hincrby(f"{_PREFIX}{day.isoformat()}", f"{channel}:{kind}", n)
        pipe.execute()
    except Exception:
        logger.warning("could not send download counts to Redis; keeping them", exc_info=True)
        with _buffer_lock:
            _buffer.update(pending)


_flush_target = None  # the Redis connection used at exit


def _remember_target(conn) -> None:
    global _flush_target
    if _flush_target is None:
        _flush_target = conn
        atexit.register(flush)


def _add(counts: dict[tuple[dt.date, str, str], int]) -> None:
    from .services import _insert

    for (day, channel, kind), n in counts.items():
        stmt = _insert(DownloadCount.__table__).values(day=day, channel=channel, kind=kind, count=n)
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=["day", "channel", "kind"], set_={"count": DownloadCount.count + stmt.excluded.count}))


def fold() -> int:
    """Move the counts waiting in Redis into the table; returns how many downloads were moved.

    Each day's hash is renamed first (atomic), so increments that arrive meanwhile start a new
    hash; a renamed hash is deleted only after its counts are committed, and one left behind
    by a crash is folded next time."""
    conn = jobs.redis_connection()
    flush(conn)  # this process's own counts first (without Redis: into the caller's transaction)
    if conn is None:
        return 0
    token = uuid.uuid4().hex
    if not conn.set(f"{_PREFIX}fold-lock", token, nx=True, ex=60):
        return 0  # another process is folding
    try:
        return _fold(conn)
    finally:
        if (conn.get(f"{_PREFIX}fold-lock") or b"").decode() == token:
            conn.delete(f"{_PREFIX}fold-lock")


def _fold(conn) -> int:
    moved = 0
    for key in list(conn.scan_iter(f"{_PREFIX}????-??-??")):
        key = key.decode() if isinstance(key, bytes) else key
        try:
            conn.rename(key, f"{_FOLDING}{uuid.uuid4().hex}:{key[len(_PREFIX):]}")
        except Exception:  # folded by someone else meanwhile
            continue
    for key in list(conn.scan_iter(f"{_FOLDING}*")):
        key = key.decode() if isinstance(key, bytes) else key
        day = dt.date.fromisoformat(key.rsplit(":", 1)[1])
        counts = {}
        for field, value in conn.hgetall(key).items():
            channel, _, kind = (field.decode() if isinstance(field, bytes) else field).partition(":")
            counts[(day, channel, kind)] = int(value)
        _add(counts)
        jobs.commit()
        conn.delete(key)
        moved += sum(counts.values())
    return moved


def totals(start: dt.date, end: dt.date) -> list[tuple[str, str, int]]:
    """(channel, kind, count) over the days ``start``..``end`` (local days), largest first."""
    rows = db.session.execute(select(DownloadCount.channel, DownloadCount.kind, func.sum(DownloadCount.count))
                              .where(DownloadCount.day >= start, DownloadCount.day <= end)
                              .group_by(DownloadCount.channel, DownloadCount.kind)).all()
    return sorted(((c, k, int(n)) for c, k, n in rows), key=lambda r: -r[2])
