"""Appointment benchmark: facility search (cold, materialising slots, and warm) and contended booking.

    .venv/bin/python bench/booking.py [--facilities 20] [--citizens 400] [--threads 16] [--capacity 10]

Runs in-process (Flask test clients in threads, one app context and DB connection each) against a
scratch database (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/divoc_bench,
recreated). Prints search latency, booking latency and throughput while every citizen races for the
slots of one facility-day, and checks that no slot was overbooked.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from issue import DB_URL, recreate_database  # noqa: E402  (the scratch database, BENCH_DATABASE_URL)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facilities", type=int, default=20)
    parser.add_argument("--citizens", type=int, default=400)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--capacity", type=int, default=10)
    args = parser.parse_args()

    recreate_database()
    from flask_migrate import upgrade

    from core import create_app
    from core.extensions import db
    from core.models import Appointment, Slot
    from portal import booking
    from tests.factories import booking as f

    app = create_app({"SQLALCHEMY_DATABASE_URI": DB_URL, "SECRET_KEY": "bench", "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "REDIS_URL": None,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": args.threads + 2}})
    with app.app_context():
        upgrade()
        prog = f.program("COVID-19 Vaccination")
        for i in range(args.facilities):
            f.facility_program(f.facility(f"Centre {i:03d}", pincode="411001"), prog,
                               appointment_end=booking.dt.time(17, 0), slot_capacity=args.capacity)
        users = []
        for i in range(args.citizens):
            mobile = f"96{i:08d}"
            users.append((f.citizen(mobile).id, f.enrolment(mobile, prog, name=f"Citizen {i}").id))
        program_id = prog.id
        db.session.remove()

    def client_for(user_id: int):
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"] = str(user_id)
        return client

    searcher = client_for(users[0][0])
    url = f"/portal/book?program={program_id}&pincode=411001"
    t0 = time.perf_counter()
    assert searcher.get(url).status_code == 200
    cold = time.perf_counter() - t0
    with app.app_context():
        slots = db.session.scalar(select(func.count()).select_from(Slot))
    warm = []
    for _ in range(20):
        t0 = time.perf_counter()
        assert searcher.get(url, headers={"HX-Request": "true"}).status_code == 200
        warm.append(time.perf_counter() - t0)
    print(f"search, {args.facilities} facilities x 14 days: cold {cold * 1000:.0f} ms "
          f"(materialised {slots} slots), warm median {statistics.median(warm) * 1000:.0f} ms, "
          f"p95 {pct(warm, .95) * 1000:.0f} ms")

    with app.app_context():
        first_day = booking.booking_days()[0]
        day_slots = list(db.session.scalars(select(Slot.id).where(Slot.day == first_day)
                                            .order_by(Slot.facility_id, Slot.start_time)))

    def run(jobs: list[tuple[int, int, int]]) -> tuple[list[int], list[float], float]:
        """POST each (user, enrolment, slot) booking from ``--threads`` threads; statuses, latencies, seconds."""
        latencies: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()
        queue = list(jobs)

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    user_id, enrolment_id, slot_id = queue.pop()
                client = client_for(user_id)
                t0 = time.perf_counter()
                status = client.post(f"/portal/book/slots/{slot_id}", data={"members": [enrolment_id]}).status_code
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    statuses.append(status)

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return statuses, latencies, time.perf_counter() - t0

    def report(label: str, statuses: list[int], latencies: list[float], elapsed: float) -> None:
        print(f"{label}: {len(statuses) / elapsed:.0f} requests/s, median {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {pct(latencies, .95) * 1000:.0f} ms; booked {statuses.count(302)}, "
              f"refused {statuses.count(409)}, other {len(statuses) - statuses.count(302) - statuses.count(409)}")

    half = len(users) // 2
    spread = [(u, e, day_slots[i % len(day_slots)]) for i, (u, e) in enumerate(users[:half])]
    report(f"booking, {half} citizens spread over {len(day_slots)} slots ({args.threads} threads)", *run(spread))
    targets = day_slots[-2:]
    raced = [(u, e, targets[i % 2]) for i, (u, e) in enumerate(users[half:])]
    statuses, latencies, elapsed = run(raced)
    report(f"contended booking, {len(raced)} citizens for 2 slots of {args.capacity}", statuses, latencies, elapsed)

    with app.app_context():
        over = db.session.scalar(select(func.count()).select_from(Slot).where(Slot.booked > Slot.capacity))
        counted = db.session.scalar(select(func.sum(Slot.booked)))
        live = db.session.scalar(select(func.count()).select_from(Appointment).where(Appointment.status == "booked"))
        target_booked = db.session.scalar(select(func.sum(Slot.booked)).where(Slot.id.in_(targets)))
        db.session.remove()
        db.engine.dispose()
    expected_target = min(len(raced), 2 * args.capacity) + sum(1 for *_, s in spread if s in targets)
    assert over == 0 and counted == live and target_booked == min(expected_target, 2 * args.capacity), \
        (over, counted, live, target_booked)
    print(f"no overbooking: {live} live appointments == sum of booked counters; raced slots hold {target_booked}")


if __name__ == "__main__":
    main()
