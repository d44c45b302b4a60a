"""Test fixtures: the real PostgreSQL and Redis, never SQLite, never skipped.

Each test starts from empty tables. We truncate after each test instead of rolling back
a savepoint because the issuance path crosses processes (API → commit → worker), and
a worker must see committed rows.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
INTEROP = SHARED / "interop"

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def pytest_sessionstart(session) -> None:
    if not (INTEROP / "divoc" / "ed25519-signed-valid.json").is_file():
        pytest.exit(f"the shared interop fixtures are missing: expected {INTEROP} beside the repo", returncode=3)


def _check_services() -> None:
    from core.config import normalise_db_url

    try:
        with create_engine(normalise_db_url(TEST_DATABASE_URL)).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # fail, never skip
        pytest.exit(f"PostgreSQL is unreachable at {TEST_DATABASE_URL}: {exc}", returncode=3)
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:
        pytest.exit(f"Redis is unreachable at {REDIS_URL}: {exc}", returncode=3)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def app(key_dir):
    _check_services()
    from certify import signing
    from certify.shc_exports import write_shc_key
    from core import create_app

    key_path = key_dir / "ed25519.pem"
    signing.write_private_key(str(key_path), "ed25519")
    write_shc_key(str(key_dir / "shc.pem"))
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CERTIFICATE_BASE_URL": "https://divoc.test",
        "CERTIFICATE_DID": "did:divoc:test#key-1",
        "CERTIFICATE_PRIVATE_KEY_FILE": str(key_path),
        "SHC_PRIVATE_KEY_FILE": str(key_dir / "shc.pem"),
        "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        from flask_migrate import upgrade

        from core.extensions import db

        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()  # the real migrations, as production applies them
        db.session.remove()
    yield app


def _truncate(app) -> None:
    from core.extensions import db

    with app.app_context():
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.session.remove()
        for cache in ("divoc_trust", "config_versions", "effective_settings"):
            app.extensions.pop(cache, None)  # per-process caches of what we just truncated
        from certify import downloads

        with downloads._buffer_lock:  # download counts this process has not sent yet
            downloads._buffer.clear()
        conn_r = app.extensions["redis"]
        keys = [k for pattern in ("rq:*", "rl:*", "dl:*") for k in conn_r.scan_iter(pattern)]
        if keys:
            conn_r.delete(*keys)


@pytest.fixture(autouse=True)
def _clean(request, app):
    _truncate(app)
    yield


@pytest.fixture
def dsc(app, tmp_path, monkeypatch):
    """Our EU document signer: a DSC in files named by EU_CERTIFICATE_*_FILE, as production
    configures it (a DscSigner)."""
    from certify.credentials.eudcc import DscSigner, generate_dev_dsc

    key_pem, cert_pem = generate_dev_dsc("IN")
    (tmp_path / "dsc-key.pem").write_text(key_pem)
    (tmp_path / "dsc.pem").write_text(cert_pem)
    monkeypatch.setitem(app.config, "EU_CERTIFICATE_PRIVATE_KEY_FILE", str(tmp_path / "dsc-key.pem"))
    monkeypatch.setitem(app.config, "EU_CERTIFICATE_PUBLIC_KEY_FILE", str(tmp_path / "dsc.pem"))
    return DscSigner.from_pem(key_pem, cert_pem)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        from core.extensions import db

        db.session.remove()


@pytest.fixture
def run_jobs(app):
    """Drain the RQ queues in-process with a real worker (burst mode)."""
    from rq import SimpleWorker

    from core.jobs import QUEUES

    def run(queues=QUEUES) -> None:
        with app.app_context():
            SimpleWorker(list(queues), connection=app.extensions["redis"]).work(
                burst=True, logging_level="WARNING")

    return run
