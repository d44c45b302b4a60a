"""flask certify status: what operations watch, from the real database and Redis."""
from __future__ import annotations

import json

from tests.certify.test_shc_api import headers  # noqa: F401  (fixture)
from tests.factories import certify_item


def status(app) -> dict:
    result = app.test_cli_runner().invoke(args=["certify", "status"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_waiting_requests_then_issued_certificates(app, client, headers, run_jobs):  # noqa: F811
    assert client.post("/v3/certify", json=[certify_item(), certify_item()], headers=headers).status_code == 202
    before = status(app)
    assert before["certify_requests"]["pending"] == 2 and before["certify_requests"]["oldest_pending_seconds"] >= 0
    assert before["queues"]["certify"]["waiting"] >= 1 and before["redis"] == "ok"
    assert before["certificates_issued_last_hour"] == 0

    run_jobs()
    after = status(app)
    assert after["certify_requests"] == {"pending": 0, "oldest_pending_seconds": None, "failed": 0}
    assert after["certificates_issued_last_hour"] == 2 and after["queues"]["certify"]["waiting"] == 0
    assert after["notifications"] == {} and after["queues"]["notify"]["waiting"] == 0  # the SMS went out too


def test_metrics_for_prometheus_need_the_token(app, client, headers):  # noqa: F811
    assert client.get("/metrics").status_code == 404  # no METRICS_TOKEN: no endpoint
    client.post("/v3/certify", json=[certify_item()], headers=headers)
    app.config["METRICS_TOKEN"] = "scrape-secret"
    try:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        resp = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    finally:
        app.config["METRICS_TOKEN"] = None
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    body = resp.get_data(as_text=True)
    assert "divoc_certify_requests_pending 1\n" in body and "divoc_redis_up 1\n" in body
    assert 'divoc_queue_jobs{queue="certify",state="waiting"} 1\n' in body
    samples = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert all(len(line.rsplit(" ", 1)) == 2 and line.rsplit(" ", 1)[1].replace(".", "").isdigit() for line in samples)
