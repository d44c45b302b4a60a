"""A local HTTP server that plays the Twilio Messages API (the edge that leaves the machine).

The code under test talks to it through twilio's own client (TWILIO_API_BASE_URL points the
client's HTTP at it), so everything of ours runs for real. It checks the account credentials,
refuses numbers that are not +E.164 as Twilio does (21211), and can be scripted to fail the
next requests or to hold one request open (to kill the worker mid-send).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import threading
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "0" * 30 + "7e57"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


class FakeTwilio:
    def __init__(self) -> None:
        self.messages: list[dict] = []  # accepted, oldest first
        self.posts: list[dict] = []  # every create request, accepted or not
        self.script: list[tuple[int, dict]] = []  # responses for the next POSTs
        self.hold_post: int | None = None  # 1-based index of a POST to hold open
        self.fail_held = False  # after the release: refuse the held POST (500) instead of accepting it
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def config(self) -> dict:
        return {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_FROM_NUMBER": "+15005550006", "TWILIO_MESSAGING_SERVICE_SID": None,
                "TWILIO_API_BASE_URL": self.url}

    def fail_next(self, status: int, code: int | None, message: str = "scripted failure") -> None:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        self.script.append((status, body))

    def __enter__(self) -> "FakeTwilio":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _record(self, form: dict) -> dict:
        now = dt.datetime.now(dt.timezone.utc)
        msg = {"sid": "SM" + secrets.token_hex(16), "account_sid": ACCOUNT_SID, "to": form.get("To"),
               "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
               "body": form.get("Body"), "status": "queued", "num_segments": "1", "direction": "outbound-api",
               "date_created": format_datetime(now, usegmt=True), "date_updated": format_datetime(now, usegmt=True),
               "date_sent": None, "error_code": None, "error_message": None, "price": None,
               "api_version": "2010-04-01", "uri": None, "status_callback": form.get("StatusCallback")}
        self.messages.append(msg)
        return msg

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client is gone (a killed worker)
                    pass

            def _authorised(self) -> bool:
                expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return False
                return True

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                if path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                    return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                if not self._authorised():
                    return None
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                with fake.lock:
                    fake.posts.append(form)
                    index = len(fake.posts)
                    scripted = fake.script.pop(0) if fake.script else None
                if index == fake.hold_post:
                    fake.held.set()
                    fake.release.wait(60)
                    if fake.fail_held:
                        return self._reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
                if scripted is not None:
                    return self._reply(*scripted)
                if not E164.match(form.get("To", "")):
                    return self._reply(400, {"code": 21211, "status": 400,
                                             "message": f"The 'To' number {form.get('To')} is not a valid phone number."})
                with fake.lock:
                    msg = fake._record(form)
                return self._reply(201, msg)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                    return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                if not self._authorised():
                    return None
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                size = int(query.get("PageSize", 50))
                with fake.lock:
                    found = [m for m in reversed(fake.messages) if m["to"] == query.get("To", m["to"])][:size]
                return self._reply(200, {"messages": found, "end": len(found) - 1, "first_page_uri": parts.path,
                                         "next_page_uri": None, "page": 0, "page_size": size,
                                         "previous_page_uri": None, "start": 0, "uri": self.path})

        return Handler
