"""A worker SIGKILLed in the middle of a send, and a Redis that lost its queue: every message
still goes out, and none goes out twice (real RQ worker processes, Twilio played locally)."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from core import jobs, notify
from core.extensions import db
from core.models import OutboxMessage
from tests.conftest import REDIS_URL, ROOT, TEST_DATABASE_URL
from tests.twilio_api import FakeTwilio


def start_worker(app, fake: FakeTwilio, log) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=TEST_DATABASE_URL, REDIS_URL=REDIS_URL,
               SECRET_KEY=app.config["SECRET_KEY"], CERTIFICATE_BASE_URL=app.config["CERTIFICATE_BASE_URL"],
               CERTIFICATE_DID=app.config["CERTIFICATE_DID"],
               CERTIFICATE_PRIVATE_KEY_FILE=app.config["CERTIFICATE_PRIVATE_KEY_FILE"],
               SWEEP_GRACE="2", SWEEP_INTERVAL="1", NOTIFY_SEND_TIMEOUT="2", NOTIFY_RETRY_BASE_DELAY="1",
               **{k: v for k, v in fake.config().items() if v})
    return subprocess.Popen([sys.executable, "worker.py", "notify"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def statuses(app) -> dict[str, int]:
    with app.app_context():
        out = dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        db.session.remove()
    return out


def queue_messages(app, n: int) -> None:
    with app.app_context():
        for i in range(n):
            notify.notify("otp", to_mobile=f"+9198000{i:05d}", context={"code": f"{i:06d}", "minutes": 5},
                          key=f"kill-{i}")
        jobs.commit()
        db.session.remove()


def kill_mid_send_then_restart(app, fake: FakeTwilio, n: int, tmp_path) -> None:
    log = open(tmp_path / "worker.log", "wb")
    worker = start_worker(app, fake, log)
    try:
        assert fake.held.wait(60), "the worker never reached the held send"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    at_kill = statuses(app)
    assert at_kill.get("sending") == 1 and at_kill.get("queued", 0) > 0, at_kill
    fake.release.set()  # the gateway finishes the request the dead worker made
    conn = app.extensions["redis"]
    conn.delete(*list(conn.scan_iter("rq:*")))  # and Redis restarts empty

    worker = start_worker(app, fake, log)
    try:
        deadline = time.monotonic() + 90
        while statuses(app) != {"sent": n}:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, statuses(app)
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(10)
        log.close()


def test_a_send_the_gateway_accepted_before_the_kill_is_not_sent_again(app, tmp_path):
    n = 30
    queue_messages(app, n)
    with FakeTwilio() as fake:
        fake.hold_post = 10
        kill_mid_send_then_restart(app, fake, n, tmp_path)
        posts = collections.Counter((p["To"], p["Body"]) for p in fake.posts)
        accepted = collections.Counter((m["to"], m["body"]) for m in fake.messages)
    assert len(posts) == n and set(posts.values()) == {1}  # nothing was posted twice
    assert len(accepted) == n and set(accepted.values()) == {1}
    with app.app_context():
        held = db.session.scalar(select(OutboxMessage).where(OutboxMessage.last_error.like("interrupted%")))
        assert held.to == fake.posts[9]["To"] and held.provider_id == fake.messages[9]["sid"]
        assert held.attempts == 1


def test_a_send_the_gateway_never_accepted_is_sent_once_after_the_restart(app, tmp_path):
    n = 5
    queue_messages(app, n)
    with FakeTwilio() as fake:
        fake.hold_post, fake.fail_held = 3, True
        kill_mid_send_then_restart(app, fake, n, tmp_path)
        accepted = collections.Counter((m["to"], m["body"]) for m in fake.messages)
        posted = len(fake.posts)
    assert len(accepted) == n and set(accepted.values()) == {1}  # each delivered exactly once
    assert posted == n + 1  # the lost request, then its one retry
    with app.app_context():
        retried = db.session.scalar(select(OutboxMessage).where(OutboxMessage.attempts == 2))
        assert retried.status == "sent" and retried.provider_id.startswith("SM")
