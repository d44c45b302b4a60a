"""Analytics query benchmark: seed N certificates with COPY, then time every dashboard chart.

    .venv/bin/python bench/analytics.py [--rows 1000000] [--days 365] [--repeat 5] [--reuse]

Uses a scratch database (BENCH_ANALYTICS_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/divoc_bench_analytics, recreated unless --reuse). The
certificates look like ours: a full credential (subject, evidence with facility and address),
spread over --days days, 2,000 facilities in 40 districts, 3 vaccines in 2 programs, a fifth of
them with an enrolment. Each chart query (facility/analytics.py) runs --repeat times for the
default 30-day window and for a full year, for every scope (everything, one program, one
facility); the median is printed in milliseconds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from issue import recreate_database  # noqa: E402  (the scratch-database helper)

DB_URL = os.environ.get("BENCH_ANALYTICS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/divoc_bench_analytics")
TARGET_MS = 200
VACCINES = (("Covishield", 1), ("Covaxin", 1), ("Corbevax", 2))
GENDERS = ("Female", "Male", "Other")


def flask(*args: str) -> None:
    env = dict(os.environ, DATABASE_URL=DB_URL, SECRET_KEY="bench")
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True)


def credential(rng: random.Random, n: int, facility: tuple[str, str], gender: str, age: int, vaccine: str,
               dose: int, when: dt.datetime) -> str:
    name, district = facility
    return json.dumps({
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://divoc.test/credentials/vaccination/v2"],
        "type": ["VerifiableCredential", "ProofOfVaccinationCredential"],
        "credentialSubject": {
            "type": "Person", "id": f"did:in.gov.uidai.aadhaar:{rng.randrange(10**11, 10**12)}",
            "refId": f"B{n:09d}", "name": f"Beneficiary {n}", "uhid": "", "gender": gender, "age": str(age),
            "nationality": "Indian",
            "address": {"streetAddress": f"{n % 500} Main Road", "streetAddress2": "", "district": district,
                        "city": "", "addressRegion": "Karnataka", "addressCountry": "IN", "postalCode": "560001"}},
        "issuer": "https://divoc.test/", "issuanceDate": when.isoformat().replace("+00:00", "Z"),
        "evidence": [{
            "id": f"https://divoc.test/vaccine/{10**19 + n}", "feedbackUrl": "", "infoUrl": "",
            "type": ["Vaccination"], "batch": f"B{rng.randrange(10**6)}", "vaccine": vaccine,
            "manufacturer": "Serum Institute of India", "date": when.isoformat(), "effectiveStart": when.date().isoformat(),
            "effectiveUntil": (when.date() + dt.timedelta(days=365)).isoformat(), "dose": dose, "totalDoses": 2,
            "verifier": {"name": "Dr. Meera Rao"},
            "facility": {"name": name, "address": {"streetAddress": "PHC Road", "streetAddress2": "", "district": district,
                                                   "city": "", "addressRegion": "Karnataka", "addressCountry": "IN",
                                                   "postalCode": ""}},
            "icd11Code": "XM9QW8", "prophylaxis": "COVID-19 vaccine, non-replicating viral vector"}],
        "nonTransferable": "true",
        "proof": {"type": "Ed25519Signature2018", "created": when.isoformat(), "verificationMethod": "did:divoc:bench#key-1",
                  "proofPurpose": "assertionMethod", "jws": "eyJhbGciOiJFZERTQSIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19.." + "x" * 86},
    }, separators=(",", ":"))


def seed(rows: int, days: int) -> None:
    rng = random.Random(7)
    districts = [f"District {d:02d}" for d in range(40)]
    facilities = [(f"PHC {i:04d}", districts[i % 40]) for i in range(2000)]
    end = dt.datetime.now(dt.timezone.utc)
    start = end - dt.timedelta(days=days)
    conn_url = DB_URL.replace("postgresql+psycopg://", "postgresql://")
    t0 = time.perf_counter()
    with psycopg.connect(conn_url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO programs (name, description, active, logo, comorbidities, comorbidity_required, "
                        "side_effects) VALUES ('COVID-19', '', true, '', '[]', false, '[]'), "
                        "('Booster', '', true, '', '[]', false, '[]')")
            for name, program in VACCINES:
                cur.execute("UPDATE vaccines SET program_id = %s WHERE name = %s", (program, name))
            cur.execute("INSERT INTO facilities (code, name, address, district, state, pincode, category, contact_mobile,"
                        " email, active) SELECT 'F' || i, 'PHC ' || lpad(i::text, 4, '0'), '{}', "
                        "'District ' || lpad((i % 40)::text, 2, '0'), 'Karnataka', '', 'government', '', '', true "
                        "FROM generate_series(0, 1999) AS i")
            with cur.copy("COPY certificates (certificate_id, pre_enrollment_code, dose, total_doses, kind, event_key, "
                          "name, mobile, vaccine, credential, status, issued_at, status_reason, revision) "
                          "FROM STDIN") as copy:
                moments = sorted(rng.randrange(days * 86400) for _ in range(rows))  # ids follow issuance
                for n in range(rows):
                    when = start + dt.timedelta(seconds=moments[n])
                    dose = 1 + n % 2
                    vaccine = VACCINES[rng.randrange(len(VACCINES))][0]
                    copy.write_row((str(10**19 + n), f"B{n:09d}", dose, 2, "vaccination", str(dose), f"Beneficiary {n}",
                                    f"98{n % 10**8:08d}", vaccine,
                                    credential(rng, n, facilities[rng.randrange(len(facilities))],
                                               GENDERS[rng.randrange(3)], rng.randrange(12, 95), vaccine, dose, when),
                                    "valid", when, "", 0))
            enrolled = rows // 5
            cur.execute("INSERT INTO members (mobile, name, gender, id_type, id_number, nationality, address, contact, "
                        "email, locale, source, created_at, updated_at) SELECT '98' || lpad(i::text, 8, '0'), "
                        "'Beneficiary ' || i, '', '', '', '', '{}', '', '', '', 'bench', now(), now() "
                        "FROM generate_series(0, %s) AS i", (enrolled - 1,))
            cur.execute("INSERT INTO enrolments (code, member_id, program_id, comorbidities, created_at) "
                        "SELECT 'B' || lpad((id - 1)::text, 9, '0'), id, 1 + (id % 2), '[]', now() FROM members")
            cur.execute("VACUUM ANALYZE")
    print(f"seeded {rows:,} certificates over {days} days in {time.perf_counter() - t0:.0f} s")


def measure(repeat: int) -> list[tuple[str, str, str, float]]:
    os.environ.update(DATABASE_URL=DB_URL, SECRET_KEY="bench")
    os.environ.pop("REDIS_URL", None)
    from core import create_app
    from core.extensions import db
    from core.models import Facility
    from facility import analytics

    app = create_app()
    tz = app.config["CERTIFICATE_TIMEZONE"]
    today = dt.datetime.now(dt.timezone.utc).date()
    out = []
    with app.app_context():
        t, folded = time.perf_counter(), 0
        while True:  # what the refresh job does after a backlog (the first visit)
            n = analytics.refresh(tz)
            db.session.commit()
            folded += n
            if n < analytics.FOLD_BATCH:
                break
        if folded:
            took = time.perf_counter() - t
            print(f"folded {folded:,} certificates into the facts and roll-up in {took:.0f} s "
                  f"({folded / took:,.0f}/s)")
        t = time.perf_counter()
        analytics.refresh(tz)
        db.session.commit()
        print(f"an up-to-date refresh (what every dashboard view runs first): {(time.perf_counter() - t) * 1000:.1f} ms")
        facility = db.session.scalar(db.select(Facility).where(Facility.name == "PHC 0042"))
        scopes = {"all": analytics.Scope(), "program": analytics.Scope(program_ids=[1]),
                  "facility": analytics.Scope(facility=facility)}
        for window, days in (("30 days", 29), ("1 year", 364)):
            start = today - dt.timedelta(days=days)
            for scope_name, scope in scopes.items():
                charts = {name: getattr(analytics, name) for name in analytics.CHARTS}
                charts["side_effects"] = analytics.side_effects
                for name, fn in charts.items():
                    times = []
                    for _ in range(repeat):
                        t = time.perf_counter()
                        fn(scope, start, today, tz)
                        times.append((time.perf_counter() - t) * 1000)
                        db.session.rollback()
                    out.append((window, scope_name, name, statistics.median(times)))
            t = time.perf_counter()
            analytics.verifications(start, today, tz)
            out.append((window, "all", "verifications", (time.perf_counter() - t) * 1000))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="keep the seeded database from a previous run")
    args = ap.parse_args()
    if not args.reuse:
        recreate_database(DB_URL)
        flask("db", "upgrade")
        flask("certify", "seed")
        seed(args.rows, args.days)
    results = measure(args.repeat)
    print(f"{'window':<8} {'scope':<9} {'chart':<14} {'median ms':>10}")
    for window, scope, name, ms in results:
        flag = "" if ms < TARGET_MS else f"  over {TARGET_MS} ms"
        print(f"{window:<8} {scope:<9} {name:<14} {ms:>10.1f}{flag}")
    slow = sum(ms >= TARGET_MS for *_, ms in results)
    print(f"{len(results) - slow} of {len(results)} queries under {TARGET_MS} ms")


if __name__ == "__main__":
    main()
