"""Fixed-window rate limits, counted in Redis (or in-process for the embedded run)."""
from __future__ import annotations

import threading
import time

from flask import current_app, request

from .errors import AppError


class RateLimited(AppError):
    status = 429
    code = "rate_limited"


_local: dict[str, tuple[int, int]] = {}
_lock = threading.Lock()


def client_address() -> str:
    return request.remote_addr or "unknown"


def hit(bucket: str, key: str, limit: int, window: int) -> bool:
    """Count one hit; return False when ``limit`` hits in ``window`` seconds are exceeded."""
    slot = int(time.time() // window)
    name = f"rl:{bucket}:{key}:{slot}"
    conn = current_app.extensions.get("redis")
    if conn is not None:
        try:
            pipe = conn.pipeline()
            pipe.incr(name)
            pipe.expire(name, window + 1)
            count = pipe.execute()[0]
            return count <= limit
        except Exception:  # Redis down: fall back to this process's counters
            current_app.logger.warning("rate limit counter unavailable; counting in-process")
    with _lock:
        prev_slot, count = _local.get(name, (slot, 0))
        count = count + 1 if prev_slot == slot else 1
        _local[name] = (slot, count)
        if len(_local) > 100_000:
            _local.clear()
    return count <= limit


def enforce(bucket: str, limit: int, window: int = 60, key: str | None = None) -> None:
    if not hit(bucket, key or client_address(), limit, window):
        raise RateLimited(f"too many requests; try again in a minute (limit {limit} per {window} s)")
