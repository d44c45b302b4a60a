"""Configuration layers: defaults in code, then the environment, then a test override.

Secrets and keys come only from the environment or from files named by it.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class Config:
    """Defaults for the embedded run: SQLite under instance/, jobs inline."""

    SECRET_KEY: str | None = None  # from SECRET_KEY or instance/secret_key
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE / 'divoc.sqlite3'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL: str | None = None  # None: jobs run inline, in-process
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024

    # Source-system API
    ACCESS_TOKEN_TTL = 3600
    CERTIFY_MAX_BATCH = 1000

    # The credential
    CERTIFICATE_BASE_URL = "http://127.0.0.1:5000"
    CERTIFICATE_ISSUER: str | None = None  # default: CERTIFICATE_BASE_URL + "/"
    CERTIFICATE_CONTEXT_URL: str | None = None  # default: base + /credentials/vaccination/v2
    CERTIFICATE_TEST_CONTEXT_URL: str | None = None  # default: base + /credentials/testCertificate/v1
    CERTIFICATE_ISSUER_NAME = "Ministry of Health & Family Welfare, Government of India"
    CERTIFICATE_SLOGAN = ""  # printed in the PDF footer when set
    CERTIFICATE_TIMEZONE = "Asia/Kolkata"  # dates on the PDF are shown in this zone
    CERTIFICATE_KEY_TYPE = "ed25519"  # or "rsa" (RsaSignature2018, PS256)
    CERTIFICATE_DID = "did:divoc:issuer#key-1"
    # Key material: *_FILE paths (PEM or base58 text) or the values themselves.
    CERTIFICATE_PRIVATE_KEY: str | None = None
    CERTIFICATE_PRIVATE_KEY_FILE: str | None = None
    CERTIFICATE_PUBLIC_KEY: str | None = None
    CERTIFICATE_PUBLIC_KEY_FILE: str | None = None

    # EU Digital COVID Certificate export: a document signer (DSC), EC P-256, PEM values or
    # *_FILE paths (default instance/eu-dsc-key.pem and instance/eu-dsc.pem).
    EU_CERTIFICATE_PRIVATE_KEY: str | None = None  # PKCS#8 PEM
    EU_CERTIFICATE_PRIVATE_KEY_FILE: str | None = None
    EU_CERTIFICATE_PUBLIC_KEY: str | None = None  # the DSC: an X.509 certificate, PEM
    EU_CERTIFICATE_PUBLIC_KEY_FILE: str | None = None
    EU_CERTIFICATE_EXPIRY = 365  # days an exported EU certificate is valid (never past the DSC)
    EU_CERTIFICATE_COUNTRY = "IN"  # ISO 3166 alpha-2: CWT iss, the UVCI and default country of vaccination
    EU_CERTIFICATE_ISSUER: str | None = None  # v[0].is (<= 80 characters); default: CERTIFICATE_ISSUER_NAME

    CERTIFICATE_UPDATE_LIMIT = 100  # updates per certificate chain
    CERTIFICATE_LANGUAGES = "en,hi,bn,ta,te,mr,gu,kn,ml,pa,si,ur"  # ?lang= on the PDF endpoints
    PRERENDER_LANGUAGES = ""  # e.g. "en,hi": workers render these PDFs right after issuance

    # SMART Health Card exports: ES256 (P-256) key as PEM or JWK, or a file holding it
    # (default instance/shc-key.pem); the issuer URL serves /.well-known/jwks.json.
    SHC_ISSUER_URL: str | None = None  # default: CERTIFICATE_BASE_URL
    SHC_PRIVATE_KEY: str | None = None
    SHC_PRIVATE_KEY_FILE: str | None = None

    # Verification
    CERTIFICATE_REVOKED_MESSAGE = ""  # e.g. "please download the updated certificate from the portal"
    CERTIFICATE_SCAN_TIMEOUT = 30  # seconds the camera scans before offering a retry
    VERIFY_CONTACT = "your state health helpline"
    VERIFY_RATE_LIMIT = 120  # verifications per client address per minute
    REVOCATION_LIST_MAX_AGE = 3600  # seconds until the next update

    # People: mobile OTP sign-in and SMS
    SMS_BACKEND = "outbox"  # outbox | console | twilio
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_FROM_NUMBER: str | None = None
    TWILIO_MESSAGING_SERVICE_SID: str | None = None
    TWILIO_API_BASE_URL: str | None = None  # a Twilio-compatible endpoint instead of api.twilio.com

    # Notifications (core/notify): email, retries, status callbacks
    EMAIL_BACKEND = "outbox"  # outbox | console | smtp
    EMAIL_FROM = "DIVOC <no-reply@localhost>"
    SMTP_HOST = "127.0.0.1"
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = False
    SMTP_SSL = False
    NOTIFY_DEFAULT_LANGUAGE = "en"  # when neither the request, the person nor the program says
    NOTIFY_DEFAULT_COUNTRY_CODE = "+91"  # national numbers are sent as +<code><number>
    NOTIFY_TIMEZONE: str | None = None  # quiet hours are in this zone (default CERTIFICATE_TIMEZONE)
    NOTIFY_MAX_ATTEMPTS = 6
    NOTIFY_RETRY_BASE_DELAY = 30  # seconds; doubled after each failed attempt
    NOTIFY_RETRY_MAX_DELAY = 3600
    NOTIFY_SEND_TIMEOUT = 120  # a send still unfinished after this is checked with the provider
    NOTIFY_HTTP_TIMEOUT = 20
    NOTIFY_STATUS_CALLBACK_URL: str | None = None  # default: CERTIFICATE_BASE_URL + /notifications/twilio/status
    NOTIFY_RESENDS_PER_HOUR = 3  # citizen-requested "certificate ready" resends per enrolment code
    # The "certificate issued" link: {base} {code} {dose} {lang}; e.g. a portal page instead of the PDF API.
    NOTIFY_CERTIFICATE_LINK = "{base}/portal/c/{code}?dose={dose}&lang={lang}"  # sign in, then the PDF
    NOTIFY_TEST_CERTIFICATE_LINK = "{base}/certificate/api/test/certificatePDF/{code}?lang={lang}"
    OTP_TTL = 300
    OTP_MAX_ATTEMPTS = 5
    OTP_SENDS_PER_NUMBER_PER_HOUR = 5
    OTP_SENDS_PER_ADDRESS_PER_HOUR = 30
    PERMANENT_SESSION_LIFETIME = 1800  # seconds of a signed-in session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SECURE: bool | None = None  # default: True when CERTIFICATE_BASE_URL is https
    # Reverse proxies in front of the app (a TLS terminator, a load balancer): their
    # X-Forwarded-For/-Proto/-Host are believed for that many hops, so rate limits count the
    # client's address and not the proxy's. 0: the peer address is the client.
    TRUSTED_PROXIES = 0
    METRICS_TOKEN: str | None = None  # bearer token for GET /metrics (Prometheus); unset: 404
    SESSION_COOKIE_SAMESITE = "Lax"
    MEMBERS_PER_MOBILE = 4  # CoWIN later raised it to 6
    BOOKING_DAYS_AHEAD = 14  # how far ahead citizens see appointment slots

    # Durability: re-enqueue accepted-but-unsigned requests older than this.
    SWEEP_INTERVAL = 30
    SWEEP_GRACE = 60
    SIGN_MAX_ATTEMPTS = 5
    SIGN_BATCH_SIZE = 200

    ENV_KEYS = (
        "SECRET_KEY", "REDIS_URL", "CERTIFICATE_BASE_URL", "CERTIFICATE_ISSUER",
        "CERTIFICATE_CONTEXT_URL", "CERTIFICATE_TEST_CONTEXT_URL", "CERTIFICATE_KEY_TYPE", "CERTIFICATE_DID",
        "CERTIFICATE_ISSUER_NAME", "CERTIFICATE_SLOGAN", "CERTIFICATE_TIMEZONE",
        "CERTIFICATE_REVOKED_MESSAGE", "VERIFY_CONTACT", "PRERENDER_LANGUAGES", "CERTIFICATE_LANGUAGES", "SMS_BACKEND", "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE_URL",
        "EMAIL_BACKEND", "EMAIL_FROM", "SMTP_HOST", "SMTP_USERNAME", "SMTP_PASSWORD",
        "NOTIFY_DEFAULT_LANGUAGE", "NOTIFY_DEFAULT_COUNTRY_CODE", "NOTIFY_TIMEZONE", "NOTIFY_STATUS_CALLBACK_URL",
        "NOTIFY_CERTIFICATE_LINK", "NOTIFY_TEST_CERTIFICATE_LINK",
        "CERTIFICATE_PRIVATE_KEY", "CERTIFICATE_PRIVATE_KEY_FILE",
        "CERTIFICATE_PUBLIC_KEY", "CERTIFICATE_PUBLIC_KEY_FILE",
        "SHC_ISSUER_URL", "SHC_PRIVATE_KEY", "SHC_PRIVATE_KEY_FILE",
        "EU_CERTIFICATE_PRIVATE_KEY", "EU_CERTIFICATE_PRIVATE_KEY_FILE", "EU_CERTIFICATE_PUBLIC_KEY",
        "EU_CERTIFICATE_PUBLIC_KEY_FILE", "EU_CERTIFICATE_COUNTRY", "EU_CERTIFICATE_ISSUER", "METRICS_TOKEN",
    )
    ENV_INTS = (
        "ACCESS_TOKEN_TTL", "CERTIFY_MAX_BATCH", "SWEEP_INTERVAL", "SWEEP_GRACE",
        "SIGN_MAX_ATTEMPTS", "SIGN_BATCH_SIZE", "MAX_CONTENT_LENGTH",
        "CERTIFICATE_SCAN_TIMEOUT", "VERIFY_RATE_LIMIT", "REVOCATION_LIST_MAX_AGE",
        "CERTIFICATE_UPDATE_LIMIT", "OTP_TTL", "OTP_MAX_ATTEMPTS", "OTP_SENDS_PER_NUMBER_PER_HOUR",
        "OTP_SENDS_PER_ADDRESS_PER_HOUR", "PERMANENT_SESSION_LIFETIME", "MEMBERS_PER_MOBILE",
        "BOOKING_DAYS_AHEAD", "EU_CERTIFICATE_EXPIRY",
        "SMTP_PORT", "NOTIFY_MAX_ATTEMPTS", "NOTIFY_RETRY_BASE_DELAY", "NOTIFY_RETRY_MAX_DELAY",
        "NOTIFY_SEND_TIMEOUT", "NOTIFY_HTTP_TIMEOUT", "NOTIFY_RESENDS_PER_HOUR", "TRUSTED_PROXIES",
    )
    ENV_BOOLS = ("SMTP_STARTTLS", "SMTP_SSL", "SESSION_COOKIE_SECURE")


def load(overrides: dict | None = None) -> dict:
    """Return the merged configuration: class defaults < environment < overrides."""
    cfg = {k: getattr(Config, k) for k in dir(Config) if k.isupper()}
    for key in Config.ENV_KEYS:
        if os.environ.get(key):
            cfg[key] = os.environ[key]
    for key in Config.ENV_INTS:
        cfg[key] = _env_int(key, cfg[key])
    for key in Config.ENV_BOOLS:
        if os.environ.get(key):
            cfg[key] = os.environ[key].strip().lower() in ("1", "true", "yes", "on")
    if os.environ.get("DATABASE_URL"):
        cfg["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(os.environ["DATABASE_URL"])
    cfg.update(overrides or {})
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(cfg["SQLALCHEMY_DATABASE_URI"])
    base = cfg["CERTIFICATE_BASE_URL"].rstrip("/")
    cfg["CERTIFICATE_BASE_URL"] = base
    if cfg.get("SESSION_COOKIE_SECURE") is None:  # sessions only over TLS when the site is served over TLS
        cfg["SESSION_COOKIE_SECURE"] = base.startswith("https://")
    cfg["CERTIFICATE_ISSUER"] = cfg.get("CERTIFICATE_ISSUER") or base + "/"
    cfg["CERTIFICATE_CONTEXT_URL"] = (
        cfg.get("CERTIFICATE_CONTEXT_URL") or base + "/credentials/vaccination/v2"
    )
    cfg["SHC_ISSUER_URL"] = (cfg.get("SHC_ISSUER_URL") or base).rstrip("/")
    cfg["CERTIFICATE_TEST_CONTEXT_URL"] = (
        cfg.get("CERTIFICATE_TEST_CONTEXT_URL") or base + "/credentials/testCertificate/v1"
    )
    cfg["NOTIFY_STATUS_CALLBACK_URL"] = (
        cfg.get("NOTIFY_STATUS_CALLBACK_URL") or base + "/notifications/twilio/status"
    )
    return cfg


def normalise_db_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
