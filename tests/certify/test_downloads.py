"""Download counts for analytics: counted in Redis on the download path, folded into download_counts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from certify import downloads
from certify.models import DownloadCount
from core.extensions import db
from tests.certify.test_shc_api import headers, issued  # noqa: F401  (fixtures)
from tests.factories import facility_admin as fx


def table(app) -> list[tuple[str, str, int]]:
    with app.app_context():
        rows = [(r.channel, r.kind, r.count) for r in db.session.scalars(
            select(DownloadCount).order_by(DownloadCount.channel, DownloadCount.kind))]
        db.session.remove()
    return rows


def test_api_downloads_are_counted_in_redis_then_folded(app, client, headers, issued):  # noqa: F811
    for _ in range(2):
        assert client.get(f"/certificate/api/certificatePDF/{issued}", headers=headers).status_code == 200
    assert client.get(f"/certificate/api/certificateQRCode/{issued}", headers=headers).status_code == 200
    assert client.get(f"/certificate/api/shc-certificate?refId={issued}&type=file", headers=headers).status_code == 200
    assert client.head(f"/certificate/api/certificatePDF/{issued}", headers=headers).status_code == 200  # not counted
    conn = app.extensions["redis"]
    downloads.flush(conn)  # a process sends its counts about once a second; now, for the test
    [key] = conn.keys("dl:*")
    assert {k.decode(): int(v) for k, v in conn.hgetall(key).items()} == {"api:pdf": 2, "api:qr": 1, "api:shc": 1}
    assert table(app) == []  # nothing in the database until a fold

    with app.app_context():
        assert downloads.fold() == 4
        db.session.remove()
    assert table(app) == [("api", "pdf", 2), ("api", "qr", 1), ("api", "shc", 1)]
    assert conn.keys("dl:*") == []

    client.get(f"/certificate/api/certificatePDF/{issued}", headers=headers)  # later the same day: added up
    with app.app_context():
        assert downloads.fold() == 1
        db.session.remove()
    assert ("api", "pdf", 3) in table(app)


def test_a_fold_cut_off_before_deleting_its_copy_is_finished_next_time(app):
    conn = app.extensions["redis"]
    day = dt.date(2026, 11, 20).isoformat()
    conn.hset(f"dl:folding:deadbeef:{day}", mapping={"portal:pdf": 5})  # renamed, then the process died
    conn.hset(f"dl:{day}", mapping={"portal:pdf": 2, "facility:pdf": 1})
    with app.app_context():
        assert downloads.fold() == 8
        assert downloads.totals(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == [
            ("portal", "pdf", 7), ("facility", "pdf", 1)]
        db.session.remove()
    assert conn.keys("dl:*") == []


def test_only_one_process_folds_at_a_time(app):
    conn = app.extensions["redis"]
    conn.hset("dl:2026-11-20", mapping={"portal:qr": 1})
    conn.set("dl:fold-lock", "someone-else", ex=60)
    with app.app_context():
        assert downloads.fold() == 0
        db.session.remove()
    conn.delete("dl:fold-lock")
    with app.app_context():
        assert downloads.fold() == 1
        db.session.remove()


def test_the_analytics_page_shows_them_to_administrators(app, client, headers, issued):  # noqa: F811
    client.get(f"/certificate/api/certificatePDF/{issued}", headers=headers)
    with app.app_context():
        admin = fx.user("system_admin", mobile="9811100050").id
        fx.commit()
    fx.sign_in(client, admin)
    page = client.get("/facility/analytics").get_data(as_text=True)
    assert "Certificates handed out, by channel" in page and "Source systems (API) · PDF" in page


def test_counts_wait_in_the_process_and_survive_a_failed_send(app, monkeypatch):
    conn = app.extensions["redis"]
    monkeypatch.setattr(downloads, "FLUSH_SECONDS", 3600.0)  # no send falls due during the test
    with app.test_request_context():
        downloads.count("portal", "qr")
        downloads.count("portal", "qr")
    assert conn.keys("dl:*") == []  # waiting in the process

    class Down:
        def pipeline(self, transaction=False):
            raise ConnectionError("redis is down")

    downloads.flush(Down())  # the counts stay for the next try
    downloads.flush(conn)
    [key] = conn.keys("dl:*")
    assert conn.hgetall(key) == {b"portal:qr": b"2"}
