"""Issuance benchmark through the real path: HTTP API → PostgreSQL → RQ worker → signed row.

    .venv/bin/python bench/issue.py [--n 5000] [--batch 50] [--clients 4] [--workers 2]

Starts gunicorn and `worker.py` processes against a scratch database (BENCH_DATABASE_URL,
default postgresql://postgres@127.0.0.1:5432/divoc_bench, recreated) and Redis, posts N
certify items, and prints acceptance latency per request and certificates signed per second.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import normalise_db_url  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/divoc_bench")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PORT = int(os.environ.get("BENCH_PORT", "5099"))


def recreate_database(url: str | None = None) -> None:
    """Drop and create the scratch database ``url`` (default BENCH_DATABASE_URL)."""
    name = (url or DB_URL).rsplit("/", 1)[1]
    engine = create_engine(normalise_db_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))


def wait_until_up(base: str) -> None:
    """Wait (up to ~10 s) until the server at ``base`` answers /healthz."""
    for _ in range(100):
        try:
            httpx.get(base + "/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)


def flask(env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True)
    return out.stdout


def item(i: int) -> dict:
    return {
        "preEnrollmentCode": f"BENCH{i:09d}",
        "recipient": {"name": f"Beneficiary {i}", "dob": "1980-01-01", "gender": "Female",
                      "nationality": "Indian", "identity": f"did:in.gov.uidai.aadhaar:{i:012d}",
                      "contact": [f"tel:9{i:09d}"],
                      "address": {"addressLine1": "1 Main Road", "district": "Pune",
                                  "state": "Maharashtra", "pincode": "411001", "country": "IN"}},
        "vaccination": {"name": "Covishield", "batch": "4120Z025", "manufacturer": "Serum Institute of India",
                        "date": "2021-05-01T10:00:00.000Z", "effectiveStart": "2021-05-01",
                        "effectiveUntil": "2022-05-01", "dose": 1, "totalDoses": 2},
        "vaccinator": {"name": "Dr. A. Rao"},
        "facility": {"name": "PHC Pune", "address": {"addressLine1": "PHC Road", "district": "Pune",
                                                      "state": "Maharashtra", "country": "IN"}},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--web", type=int, default=2)
    args = ap.parse_args()

    recreate_database()
    keyfile = Path(tempfile.mkdtemp()) / "bench-key.pem"
    env = dict(os.environ, DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL, SECRET_KEY="bench",
               CERTIFICATE_PRIVATE_KEY_FILE=str(keyfile), SIGN_BATCH_SIZE=str(args.batch))
    flask(env, "certify", "keys", "generate", "--out", str(keyfile))
    flask(env, "db", "upgrade")
    creds = json.loads(flask(env, "clients", "create", "bench", "--role", "certify"))
    flask(env, "certify", "seed")
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    stale = list(r.scan_iter("rq:*"))
    if stale:
        r.delete(*stale)

    procs = [subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.web), "-b",
                               f"127.0.0.1:{PORT}", "wsgi:app"], cwd=ROOT, env=env,
                              stderr=open("/tmp/bench-web.log", "w"))]
    procs += [subprocess.Popen([sys.executable, "worker.py", "certify"], cwd=ROOT, env=env,
                               stderr=subprocess.DEVNULL) for _ in range(args.workers)]
    base = f"http://127.0.0.1:{PORT}"
    engine = create_engine(normalise_db_url(DB_URL))
    try:
        wait_until_up(base)
        token = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials",
                                                        **creds}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        batches = [[item(i) for i in range(s, min(s + args.batch, args.n))]
                   for s in range(0, args.n, args.batch)]
        latencies: list[float] = []
        lock = threading.Lock()

        def post_all(mine: list[list[dict]]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                for b in mine:
                    t = time.perf_counter()
                    resp = http.post("/v3/certify", json=b)
                    dt_ = time.perf_counter() - t
                    assert resp.status_code == 202, resp.text
                    with lock:
                        latencies.append(dt_)

        start = time.perf_counter()
        threads = [threading.Thread(target=post_all, args=(batches[k::args.clients],))
                   for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_at = time.perf_counter()
        with engine.connect() as conn:
            while True:
                done = conn.execute(text("SELECT count(*) FROM certificates")).scalar()
                if done >= args.n:
                    break
                time.sleep(0.05)
        finished = time.perf_counter()
        with engine.connect() as conn:
            first, last = conn.execute(text("SELECT min(issued_at), max(issued_at) FROM certificates")).one()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)

    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    print(f"items: {args.n}, batch: {args.batch} items/request, clients: {args.clients}, "
          f"web workers: {args.web}, rq workers: {args.workers}, cores: {os.cpu_count()}")
    print(f"acceptance: {len(lat)} requests, p50 {p(0.50):.1f} ms, p95 {p(0.95):.1f} ms, "
          f"max {lat[-1] * 1000:.1f} ms, mean {statistics.mean(lat) * 1000:.1f} ms")
    print(f"accepted: {args.n / (accepted_at - start):.0f} items/s")
    print(f"end to end (first post → last certificate stored): {args.n / (finished - start):.0f} certificates/s")
    span = (last - first).total_seconds() or 1e-9
    print(f"signing (first → last certificate stored): {args.n / span:.0f} certificates/s")


if __name__ == "__main__":
    main()
