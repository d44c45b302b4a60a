"""Browser tests of the /verify page: the real app served from a thread, Debian's chromium.

Playwright drives /usr/bin/chromium (apt-get install chromium; `playwright install` is never
used). The app is the session ``app`` fixture (real PostgreSQL and Redis), served by werkzeug
on 127.0.0.1 with a random port. Screenshots go to test-artifacts/ (git-ignored).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from werkzeug.serving import WSGIRequestHandler, make_server

import certify.views  # noqa: F401  (the /verify routes; must register before the app is created)
from tests.conftest import ROOT, _truncate
from tests.factories import api_client, certify_item, seed_vaccines

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
AXE = Axe()  # axe-core inside the package (no network)
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORT = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):  # fail, never skip
        pytest.fail(f"{CHROMIUM} is missing: run `sh scripts/system-deps.sh --test` (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT, "device_scale_factor": 1,
            "locale": "en-IN", "service_workers": "allow"}


class _Body:
    """A WSGI response body that reports when the response is finished: fully iterated or
    closed, whichever comes first. (Werkzeug's dev server skips close() when draining a socket
    the browser reset, which left requests counted as in flight for ever.)"""

    def __init__(self, body, on_close):
        self.body, self.on_close, self.reported = body, on_close, False

    def _report(self) -> None:
        if not self.reported:
            self.reported = True
            self.on_close()

    def __iter__(self):
        yield from self.body
        self._report()

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self._report()


class _CountingApp:
    """WSGI middleware that records requests (a test can prove it ran offline) and knows
    when none is in flight (so the next test's TRUNCATE does not deadlock with one)."""

    def __init__(self, app):
        self.app = app
        self.requests: list[str] = []
        self.active = 0
        self.in_flight: dict[int, str] = {}
        self.lock = threading.Condition()

    def __call__(self, environ, start_response):
        token = object()  # kept alive by the closure below, so its id stays unique while in flight
        with self.lock:
            self.requests.append(environ.get("PATH_INFO", ""))
            self.active += 1
            self.in_flight[id(token)] = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}"
        done = lambda: self._done(id(token), token)  # noqa: E731
        try:
            body = self.app(environ, start_response)
        except BaseException:
            done()
            raise
        return _Body(body, done)

    def _done(self, key: int, _token: object = None) -> None:
        with self.lock:
            self.active -= 1
            self.in_flight.pop(key, None)
            self.lock.notify_all()

    def wait_idle(self, timeout: float = 15.0) -> None:
        with self.lock:
            if not self.lock.wait_for(lambda: self.active == 0, timeout=timeout):
                import sys

                print(f"live server still busy after {timeout}s: {sorted(self.in_flight.values())}", file=sys.stderr)


@dataclass
class LiveServer:
    url: str
    counter: _CountingApp

    def requests_since(self, mark: int) -> list[str]:
        return self.counter.requests[mark:]

    def mark(self) -> int:
        return len(self.counter.requests)


class _QuietHandler(WSGIRequestHandler):
    """No access log from the server threads: pytest swaps and closes the captured stderr
    between tests, and a log write that fails there skipped closing the response, leaving the
    request counted as in flight (every later test then waited 15 s for the server to idle)."""

    def log(self, type: str, message: str, *args) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def live_server(app):
    counter = _CountingApp(app)
    server = make_server("127.0.0.1", 0, counter, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", counter)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(autouse=True)
def _clean(request, app):
    """Empty tables before each test, once the live server has finished its requests."""
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server").counter.wait_idle()
    _truncate(app)
    yield


@dataclass
class Issued:
    code: str
    certificate_id: str
    credential: dict
    qr_png: Path


class Issuer:
    """A source system talking to the app's real API (Flask test client, bearer token)."""

    def __init__(self, client, run_jobs, tmp_path: Path, token: str) -> None:
        self.client, self.run_jobs, self.tmp_path = client, run_jobs, tmp_path
        self.headers = {"Authorization": f"Bearer {token}"}

    def issue(self, name: str = "Asha Verma", **sections) -> Issued:
        """POST /v3/certify, run the signing worker, fetch the credential and its QR PNG."""
        item = certify_item(name=name, **sections)
        resp = self.client.post("/v3/certify", json=[item], headers=self.headers)
        assert resp.status_code == 202, resp.data[:300]
        self.run_jobs()
        code = item["preEnrollmentCode"]
        listing = self.client.get(f"/v1/certificates?preEnrollmentCode={code}", headers=self.headers).json
        certificate_id = listing["certificates"][0]["certificateId"]
        credential = self.client.get(f"/v1/certificates/{certificate_id}", headers=self.headers).json
        png = self.client.get(f"/certificate/api/certificateQRCode/{code}", headers=self.headers)
        assert png.status_code == 200 and png.mimetype == "image/png"
        path = self.tmp_path / f"qr-{certificate_id}.png"
        path.write_bytes(png.data)
        return Issued(code, certificate_id, credential, path)

    def revoke(self, cert: Issued, reason: str = "issued with a wrong name") -> None:
        resp = self.client.delete(f"/v1/certificates/{cert.code}?doses=1&reason={reason}", headers=self.headers)
        assert resp.status_code == 200, resp.data[:300]

    def suspend(self, cert: Issued, reason: str, until: str | None = None) -> None:
        body = {"reason": reason, **({"until": until} if until else {})}
        resp = self.client.post(f"/v1/certificates/{cert.certificate_id}/suspend", json=body, headers=self.headers)
        assert resp.status_code == 200, resp.data[:300]


@pytest.fixture
def issuer(app, client, run_jobs, tmp_path) -> Issuer:
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                              "client_secret": secret}).json["access_token"]
    return Issuer(client, run_jobs, tmp_path, token)


@pytest.fixture
def shot():
    """Save a screenshot of the page as test-artifacts/<name>.png, and check the page with
    axe-core (WCAG 2.1 A and AA rules, shipped inside axe-playwright-python: no network)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def _shot(page, name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        results = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]})
        assert results.violations_count == 0, f"{name}: {results.generate_report()}"
        return path

    return _shot


def write_y4m(path: Path, png: Path | None, size=(640, 480), frames: int = 2) -> Path:
    """A Y4M video for Chromium's fake camera: the PNG (a QR code) centred on grey, or just grey."""
    from PIL import Image

    width, height = size
    frame = Image.new("RGB", size, (200, 200, 200))
    if png is not None:
        qr = Image.open(png).convert("RGB")
        scale = min(1.0, (min(size) - 40) / max(qr.size))
        if scale < 1.0:
            qr = qr.resize((int(qr.width * scale), int(qr.height * scale)), Image.Resampling.LANCZOS)
        frame.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half, Image.Resampling.BOX).tobytes() + cr.resize(half, Image.Resampling.BOX).tobytes()
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            fh.write(b"FRAME\n" + planes)
    return path


@pytest.fixture
def camera_page(browser_type, browser_type_launch_args, browser_context_args, live_server):
    """open(video) -> a page in a browser whose camera plays the given Y4M file."""
    opened = []

    def _open(video: Path):
        args = browser_type_launch_args["args"] + [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]
        browser = browser_type.launch(**{**browser_type_launch_args, "args": args})
        context = browser.new_context(**browser_context_args, permissions=["camera"])
        opened.append(browser)
        return context.new_page()

    yield _open
    for browser in opened:
        browser.close()
