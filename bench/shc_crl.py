"""SMART Health Card revocation list benchmark: build /.well-known/crl/<kid>.json at scale.

    .venv/bin/python bench/shc_crl.py [--beneficiaries 500000] [--revoked 20000] [--suspended 2000]

Uses a scratch database (BENCH_CRL_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/divoc_bench_crl, recreated). Every beneficiary has two doses;
--revoked of them had dose 2 revoked (half of those replaced by an update) and --suspended had
dose 1 suspended. Prints the time to work out the revoked rids (a rebuild, done once per change
of the list), to answer the CRL from the per-process copy, and the JWKS's crlVersion query.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))

from issue import recreate_database  # noqa: E402  (the scratch-database helper)

from core.config import normalise_db_url  # noqa: E402

DB_URL = os.environ.get("BENCH_CRL_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/divoc_bench_crl")


def recreate(url: str) -> None:
    recreate_database(url)
    env = dict(os.environ, DATABASE_URL=DB_URL, SECRET_KEY="bench")
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)


def seed(beneficiaries: int, revoked: int, suspended: int) -> None:
    start = dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc)
    t0 = time.perf_counter()
    with psycopg.connect(DB_URL, autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy("COPY certificates (certificate_id, pre_enrollment_code, dose, total_doses, kind, event_key, "
                      "name, vaccine, credential, status, issued_at, status_reason, revision) FROM STDIN") as copy:
            for n in range(beneficiaries):
                for dose in (1, 2):
                    copy.write_row((f"{10**19 + 2 * n + dose}", f"B{n:09d}", dose, 2, "vaccination", str(dose),
                                    f"Beneficiary {n}", "Covishield", "{}", "valid",
                                    start + dt.timedelta(seconds=n, days=28 * (dose - 1)), "", 0))
        later = start + dt.timedelta(days=200)
        step = max(1, beneficiaries // max(1, revoked))
        for i in range(revoked):
            n = i * step
            cid = f"{10**19 + 2 * n + 2}"
            at = later + dt.timedelta(seconds=i)
            cur.execute("UPDATE certificates SET status = 'revoked', revoked_at = %s, status_changed_at = %s "
                        "WHERE certificate_id = %s", (at, at, cid))
            cur.execute("INSERT INTO certificate_status_events (certificate_id, status, reason, at) "
                        "VALUES (%s, 'revoked', 'bench', %s)", (cid, at))
            if i % 2:  # replaced by an update
                cur.execute("INSERT INTO certificates (certificate_id, pre_enrollment_code, dose, total_doses, kind, "
                            "event_key, name, vaccine, credential, status, issued_at, status_reason, revision) "
                            "VALUES (%s, %s, 2, 2, 'vaccination', '2', 'x', 'Covishield', '{}', 'valid', %s, '', 1)",
                            (f"U{cid}", f"B{n:09d}", at))
        for i in range(suspended):
            n = i * step + 1
            cid = f"{10**19 + 2 * n + 1}"
            at = later + dt.timedelta(days=1, seconds=i)
            cur.execute("UPDATE certificates SET status = 'suspended', status_changed_at = %s WHERE certificate_id = %s",
                        (at, cid))
            cur.execute("INSERT INTO certificate_status_events (certificate_id, status, reason, at) "
                        "VALUES (%s, 'suspended', 'bench', %s)", (cid, at))
        cur.execute("VACUUM ANALYZE")
    print(f"seeded {2 * beneficiaries:,} certificates ({beneficiaries:,} beneficiaries), {revoked:,} revoked "
          f"doses, {suspended:,} suspended, in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beneficiaries", type=int, default=500_000)
    parser.add_argument("--revoked", type=int, default=20_000)
    parser.add_argument("--suspended", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    recreate(DB_URL)
    seed(args.beneficiaries, args.revoked, args.suspended)

    from certify import shc_exports
    from certify.credentials import shc
    from core import create_app
    from core.extensions import db

    key_path = Path(tempfile.mkdtemp()) / "shc.pem"
    shc_exports.write_shc_key(str(key_path))
    app = create_app({"SQLALCHEMY_DATABASE_URI": normalise_db_url(DB_URL), "SECRET_KEY": "bench",
                      "REDIS_URL": None, "SHC_PRIVATE_KEY_FILE": str(key_path)})
    with app.app_context():
        kid = shc_exports.shc_key().kid
        builds = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            rids = shc_exports.revoked_rids()
            builds.append(time.perf_counter() - t0)
        crl = shc_exports.crl_document(kid)
        assert crl is not None and len(crl["rids"]) == len(rids)
        errors = shc.validate_crl(crl, {"kid": kid, "crlVersion": crl["ctr"]})
        served, versions = [], []
        for _ in range(200):
            t0 = time.perf_counter()
            shc_exports.crl_document(kid)
            served.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            shc_exports.crl_counter()
            versions.append(time.perf_counter() - t0)
        db.session.remove()
    print(f"CRL: {len(rids):,} rids, {len(str(crl)) / 1024:,.0f} KiB, valid: {not errors}")
    print(f"  rebuild (once per change of the list)  median {statistics.median(builds) * 1000:8.0f} ms")
    print(f"  served from the process copy            median {statistics.median(served) * 1000:8.2f} ms "
          f"(the ctr check)")
    print(f"  JWKS crlVersion query                   median {statistics.median(versions) * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
