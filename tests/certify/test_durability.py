"""A certify request that was accepted is never lost and never issued twice,
even when the worker is killed with SIGKILL mid-batch and Redis loses its queue."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from certify.models import PENDING, Certificate, CertifyRequest
from core.extensions import db
from tests.conftest import REDIS_URL, ROOT, TEST_DATABASE_URL
from tests.factories import api_client, certify_item, seed_vaccines


def start_worker(app) -> subprocess.Popen:
    env = dict(os.environ,
               DATABASE_URL=TEST_DATABASE_URL, REDIS_URL=REDIS_URL,
               SECRET_KEY=app.config["SECRET_KEY"],
               CERTIFICATE_BASE_URL=app.config["CERTIFICATE_BASE_URL"],
               CERTIFICATE_DID=app.config["CERTIFICATE_DID"],
               CERTIFICATE_PRIVATE_KEY_FILE=app.config["CERTIFICATE_PRIVATE_KEY_FILE"],
               SWEEP_GRACE="2", SWEEP_INTERVAL="1")
    return subprocess.Popen([sys.executable, "worker.py", "certify"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        issued = db.session.scalar(select(func.count()).select_from(Certificate))
        pending = db.session.scalar(select(func.count()).select_from(CertifyRequest)
                                    .where(CertifyRequest.status == PENDING))
        db.session.remove()
    return issued, pending


def test_sigkilled_worker_and_lost_queue_still_issue_exactly_once(app, client):
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                              "client_secret": secret}).json["access_token"]
    app.config["SIGN_BATCH_SIZE"] = 25  # many jobs, so the kill lands inside a batch
    total = 0
    try:
        for batch in range(6):
            items = [certify_item(f"KILL-{batch}-{i}", dose=1 + i % 2) for i in range(250)]
            resp = client.post("/v3/certify", json=items, headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 202 and resp.json["accepted"] == 250
            total += 250
    finally:
        app.config["SIGN_BATCH_SIZE"] = 200

    worker = start_worker(app)
    try:
        deadline = time.monotonic() + 60
        while counts(app)[0] == 0:
            assert time.monotonic() < deadline, "the worker issued nothing"
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    issued_at_kill, pending_at_kill = counts(app)
    assert 0 < issued_at_kill < total and pending_at_kill > 0, (issued_at_kill, pending_at_kill)

    # Redis restarts and loses every queued job: only the database knows what is left.
    conn = app.extensions["redis"]
    conn.delete(*list(conn.scan_iter("rq:*")))

    worker = start_worker(app)
    try:
        deadline = time.monotonic() + 120
        while counts(app)[1] > 0:
            assert worker.poll() is None, "the restarted worker died"
            assert time.monotonic() < deadline, f"still pending: {counts(app)}"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(10)

    with app.app_context():
        per_dose = db.session.execute(
            select(Certificate.pre_enrollment_code, Certificate.dose, func.count())
            .group_by(Certificate.pre_enrollment_code, Certificate.dose)).all()
        statuses = dict(db.session.execute(
            select(CertifyRequest.status, func.count()).group_by(CertifyRequest.status)).all())
        linked = db.session.scalar(select(func.count()).select_from(Certificate)
                                   .join(CertifyRequest, CertifyRequest.id == Certificate.request_id)
                                   .where(CertifyRequest.certificate_id == Certificate.certificate_id))
    assert len(per_dose) == total
    assert {n for *_, n in per_dose} == {1}
    assert statuses == {"issued": total}
    assert linked == total
