"""Dates are the deployment's (CERTIFICATE_TIMEZONE), never the server's clock: a server on UTC is
5½ hours behind India, so between midnight and 05:30 a "today" from the server clock is yesterday."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from core.models import local_now, local_today
from tests.conftest import ROOT

SERVER_CLOCK = re.compile(r"\bdate\.today\(\)|\bdatetime\.now\(\)|\bdatetime\.utcnow\(\)|\btime\.localtime\(")


def test_no_application_code_reads_the_servers_local_date():
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for package in ("core", "certify", "portal", "facility")
             for path in sorted((ROOT / package).rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if SERVER_CLOCK.search(line)]
    assert found == [], "use core.models.local_today()/local_now() or utcnow():\n" + "\n".join(found)


def test_local_today_follows_the_configured_zone(app, monkeypatch):
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kolkata"):  # UTC+14, UTC-12, UTC+5:30
        monkeypatch.setitem(app.config, "CERTIFICATE_TIMEZONE", zone)
        with app.app_context():
            before = dt.datetime.now(ZoneInfo(zone))
            today, now = local_today(), local_now()
            after = dt.datetime.now(ZoneInfo(zone))
        assert today in {before.date(), after.date()} and now.utcoffset() == before.utcoffset()
