"""Notification benchmark through the real path: notify() → PostgreSQL → RQ → worker → twilio client.

    .venv/bin/python bench/notify.py [--n 3000] [--per-commit 200] [--workers 1]

Uses a scratch database (BENCH_DATABASE_URL, default .../divoc_bench_notify, recreated) and
Redis (REDIS_URL; its rq:* keys are cleared). Twilio is played by the local stand-in the tests
use (tests/twilio_api.py), so the twilio library, HTTP and JSON parsing are all real but nothing
leaves the machine. Prints messages written per second (rendering a Hindi template, the insert
with its idempotency key) and messages delivered per second by the workers.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import normalise_db_url  # noqa: E402
from tests.twilio_api import FakeTwilio  # noqa: E402

os.environ.setdefault("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/divoc_bench_notify")
sys.path.insert(0, str(ROOT / "bench"))
from issue import DB_URL, REDIS_URL, recreate_database  # noqa: E402  (the same scratch-database helper)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--per-commit", type=int, default=200)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    recreate_database()
    from flask_migrate import upgrade

    from core import create_app, jobs, notify
    from core.extensions import db
    from core.models import OutboxMessage

    app = create_app({"SQLALCHEMY_DATABASE_URI": DB_URL, "REDIS_URL": REDIS_URL, "SECRET_KEY": "bench"})
    conn = app.extensions["redis"]
    keys = list(conn.scan_iter("rq:*"))
    if keys:
        conn.delete(*keys)
    context = {"name": "आशा देवी", "dose": 1, "kind": "vaccination", "code": "BENCH",
               "link": "https://divoc.test/certificate/api/certificatePDF/BENCH?dose=1&lang=hi"}
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        for start in range(0, args.n, args.per_commit):
            for i in range(start, min(args.n, start + args.per_commit)):
                notify.notify("certificate_issued", to_mobile=f"+9198{i:08d}", language="hi", context=context,
                              key=f"cert-{i}")
            jobs.commit()
        written = time.perf_counter() - started
        db.session.remove()
    print(f"written: {args.n} messages in {written:.2f} s = {args.n / written:.0f} messages/s "
          f"({args.per_commit} per commit, Hindi template, one delivery job per 100)")

    engine = create_engine(normalise_db_url(DB_URL))
    with FakeTwilio() as fake:
        env = dict(os.environ, DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL, SECRET_KEY="bench",
                   **{k: v for k, v in fake.config().items() if v})
        started = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, "worker.py", "notify"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(args.workers)]
        try:
            while True:
                with engine.connect() as c:
                    sent = c.execute(select(func.count()).select_from(OutboxMessage.__table__)
                                     .where(OutboxMessage.__table__.c.status == "sent")).scalar_one()
                if sent >= args.n:
                    break
                time.sleep(0.05)
            delivered = time.perf_counter() - started
        finally:
            for w in workers:
                w.terminate()
                w.wait(10)
        duplicates = len(fake.posts) - len({(p["To"], p["Body"]) for p in fake.posts})
    print(f"delivered: {args.n} messages in {delivered:.2f} s (incl. worker start-up) = "
          f"{args.n / delivered:.0f} messages/s with {args.workers} worker(s); duplicate sends: {duplicates}")


if __name__ == "__main__":
    main()
