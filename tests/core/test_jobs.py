"""Jobs reach Redis only after the transaction commits; nothing accepted is lost."""
from __future__ import annotations

import datetime as dt
import threading

import redis as redis_lib
from rq import Queue
from sqlalchemy import func, select

from certify import services
from certify.models import PENDING, Certificate, CertifyRequest
from core import jobs
from core.extensions import db
from tests.factories import api_client, certify_item, seed_vaccines


def queued(app) -> int:
    return Queue("certify", connection=app.extensions["redis"]).count


def test_job_is_not_sent_when_the_transaction_rolls_back(app, ctx):
    seed_vaccines()
    services.accept_certify_batch([certify_item()], None)
    assert queued(app) == 0  # scheduled, not yet sent
    jobs.rollback()
    jobs.commit()
    assert queued(app) == 0
    assert db.session.scalar(select(func.count()).select_from(CertifyRequest)) == 0


def test_job_is_sent_after_commit(app, ctx):
    seed_vaccines()
    services.accept_certify_batch([certify_item(), certify_item()], None)
    jobs.commit()
    assert queued(app) == 1  # one batch job for both items


def token_for(client, app) -> dict:
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    return {"Authorization": f"Bearer {tok}"}


def test_redis_down_at_accept_loses_nothing(app, client, run_jobs):
    headers = token_for(client, app)
    real = app.extensions["redis"]
    app.extensions["redis"] = redis_lib.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens
    try:
        resp = client.post("/v3/certify", json=[certify_item("DOWN-1")], headers=headers)
    finally:
        app.extensions["redis"] = real
    assert resp.status_code == 202  # accepted: the request is in the database
    with app.app_context():
        assert services.sweep(grace_seconds=0) == 1
        jobs.commit()
    run_jobs()
    with app.app_context():
        assert db.session.scalar(select(Certificate.pre_enrollment_code)) == "DOWN-1"


def test_sweep_gives_up_visibly_after_max_attempts(app, ctx):
    seed_vaccines()
    services.accept_certify_batch([certify_item("STUCK-1")], None)
    db.session.commit()  # a bare commit: the scheduled job never reaches Redis
    for _ in range(app.config["SIGN_MAX_ATTEMPTS"] - 1):
        assert services.sweep(grace_seconds=0) == 1
        db.session.commit()
    assert services.sweep(grace_seconds=0) == 0
    db.session.commit()
    req = db.session.scalar(select(CertifyRequest))
    assert req.status == "failed" and "attempts" in req.error


def test_concurrent_posts_of_one_dose_accept_it_once(app, run_jobs):
    client = app.test_client()
    headers = token_for(client, app)
    item = certify_item("RACE-1")
    barrier = threading.Barrier(6)
    statuses = []

    def post():
        c = app.test_client()
        barrier.wait()
        statuses.append(c.post("/v3/certify", json=[item], headers=headers).json["items"][0]["status"])

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == ["accepted"] + ["duplicate"] * 5
    run_jobs()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
        assert db.session.scalar(select(func.count()).select_from(CertifyRequest)
                                 .where(CertifyRequest.status == PENDING)) == 0


def test_sweep_leaves_a_backlog_alone_and_recovers_only_lost_work(app, ctx):
    """Requests waiting behind a long queue are not re-enqueued or charged an attempt."""
    seed_vaccines()
    services.accept_certify_batch([certify_item("LOST-1")], None)
    db.session.commit()  # bare commit: this request's job never reached Redis
    services.accept_certify_batch([certify_item("WAITING-1")], None)
    jobs.commit()  # this one's job is in the queue, behind a backlog
    now = services.utcnow()
    q = Queue("certify", connection=app.extensions["redis"])
    head = q.fetch_job(q.get_job_ids(0, 1)[0])
    head.enqueued_at = now - dt.timedelta(seconds=300)  # waiting for five minutes
    head.save()
    by_code = {r.pre_enrollment_code: r for r in db.session.scalars(select(CertifyRequest))}
    by_code["LOST-1"].enqueued_at = now - dt.timedelta(seconds=600)
    by_code["WAITING-1"].enqueued_at = now - dt.timedelta(seconds=300)
    db.session.commit()

    assert services.sweep(grace_seconds=60) == 1
    db.session.commit()  # bare: keep the re-enqueued job out of the queue

    db.session.expire_all()
    lost, waiting = by_code["LOST-1"], by_code["WAITING-1"]
    assert lost.attempts == 1  # lost work was re-enqueued (and charged an attempt)
    assert waiting.status == PENDING and waiting.attempts == 0  # still just waiting its turn
