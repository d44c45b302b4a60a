"""Cached certificate download benchmark over HTTP (gunicorn + PostgreSQL), driven by wrk.

    .venv/bin/python bench/downloads.py [--seconds 10] [--connections 16] [--web 2]

Issues a few certificates through the real API, renders each PDF once (first render over
HTTP), then measures cached GET /certificate/api/certificatePDF/{code} requests per second.
The issuing server runs its jobs inline; the measured one is restarted with REDIS_URL, as in
production (each download is counted with one HINCRBY); ``--no-redis`` measures the inline
setup instead (the count is a database upsert). Needs `wrk` (Debian package wrk).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from issue import DB_URL, PORT, REDIS_URL, flask, item, recreate_database, wait_until_up  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--web", type=int, default=2)
    ap.add_argument("--no-redis", action="store_true", help="serve without Redis (downloads counted in the database)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")

    recreate_database()
    keyfile = Path(tempfile.mkdtemp()) / "bench-key.pem"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # jobs inline: no worker needed
    env.update(DATABASE_URL=DB_URL, SECRET_KEY="bench", CERTIFICATE_PRIVATE_KEY_FILE=str(keyfile))
    flask(env, "certify", "keys", "generate", "--out", str(keyfile))
    flask(env, "db", "upgrade")
    import json

    creds = json.loads(flask(env, "clients", "create", "bench", "--role", "certify"))
    flask(env, "certify", "seed")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.web), "-b", f"127.0.0.1:{PORT}",
                            "wsgi:app"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{PORT}"
    try:
        wait_until_up(base)
        token = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials", **creds}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        items = [item(i) for i in range(20)]
        assert httpx.post(base + "/v3/certify", json=items, headers=headers, timeout=60).status_code == 202
        firsts = []
        for it in items:
            t = time.perf_counter()
            resp = httpx.get(f"{base}/certificate/api/certificatePDF/{it['preEnrollmentCode']}", headers=headers, timeout=60)
            firsts.append(time.perf_counter() - t)
            assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
        firsts.sort()
        size = len(resp.content)
        code = items[0]["preEnrollmentCode"]
        if not args.no_redis:  # serve the downloads as production does, with Redis
            web.terminate()
            web.wait(10)
            web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.web), "-b", f"127.0.0.1:{PORT}",
                                    "wsgi:app"], cwd=ROOT, env={**env, "REDIS_URL": REDIS_URL},
                                   stderr=subprocess.DEVNULL)
            wait_until_up(base)
        out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
                              "-H", f"Authorization: Bearer {token}",
                              f"{base}/certificate/api/certificatePDF/{code}"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        web.terminate()
        web.wait(10)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
    lat = dict(re.findall(r"\s+(50|90|99)%\s+([\d.]+\w+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print(f"first render over HTTP (20 certificates): median {firsts[len(firsts) // 2] * 1000:.0f} ms, "
          f"max {firsts[-1] * 1000:.0f} ms")
    print(f"cached downloads ({size} byte PDF, {args.web} gunicorn workers, {args.connections} connections, "
          f"{'no Redis' if args.no_redis else 'Redis'}, "
          f"{os.cpu_count()} cores shared with wrk): {rps} req/s, latency p50 {lat.get('50')}, p99 {lat.get('99')}"
          + (f", NON-2xx: {non2xx.group(1)}" if non2xx else ""))


if __name__ == "__main__":
    main()
