"""Verification: the API, the CLI, trusted keys of other DIVOC deployments, revocation."""
from __future__ import annotations

import base64
import copy
import io
import json
import subprocess
import sys
import zipfile

import pytest
from sqlalchemy import func, select

from certify.credentials import pack_qr_payload, qr_png
from certify.models import Certificate, VerificationEvent
from core.extensions import db
from tests.conftest import INTEROP, REDIS_URL, ROOT, TEST_DATABASE_URL
from tests.factories import api_client, certify_item, seed_vaccines

DIVOC = INTEROP / "divoc"


def vector(name: str) -> dict:
    return json.loads((DIVOC / name).read_text())


def trust_divoc_keys(app) -> None:
    runner = app.test_cli_runner()
    keys = json.loads((DIVOC / "ed25519-keys.json").read_text())
    out = runner.invoke(args=["trust", "add", "--id", "did:india", "--type", "ed25519",
                              "--public-key-base58", keys["publicKeyBase58"],
                              "--context", "https://divoc.dev/credentials/vaccination/v1=vaccination-v1"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(args=["trust", "add", "--id", "did:india", "--type", "rsa",
                              "--public-key-pem", str(DIVOC / "rsa-public.pem")])
    assert out.exit_code == 0, out.output


def verify(client, **kw):
    resp = client.post("/api/v1/verify", **kw)
    assert resp.status_code == 200, resp.data[:300]
    return resp.json


@pytest.fixture
def issued(app, client, run_jobs):
    """A certificate issued through the real path: (credential, QR PNG)."""
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    headers = {"Authorization": f"Bearer {tok}"}
    item = certify_item(name="प्रिया शर्मा")
    client.post("/v3/certify", json=[item], headers=headers)
    run_jobs()
    code = item["preEnrollmentCode"]
    cid_ = client.get(f"/v1/certificates?preEnrollmentCode={code}", headers=headers).json["certificates"][0]["certificateId"]
    credential = client.get(f"/v1/certificates/{cid_}", headers=headers).json
    png = client.get(f"/certificate/api/certificateQRCode/{code}", headers=headers).data
    return credential, png


def test_divoc_vectors_verify_once_their_keys_are_trusted(app, client):
    assert verify(client, json=vector("ed25519-signed-valid.json"))["status"] == "invalid"  # not trusted yet
    trust_divoc_keys(app)
    ed = verify(client, json=vector("ed25519-signed-valid.json"))
    rsa = verify(client, json=vector("rsa-signed-valid.json"))
    tampered = verify(client, json=vector("rsa-signed-tampered.json"))
    assert (ed["status"], rsa["status"], tampered["status"]) == ("valid", "valid", "invalid")
    assert ed["certificate"]["name"] == "Bhaya Mitra"
    assert tampered["reasons"] == ["bad signature: the certificate was changed after it was signed"]


def test_untrusted_key_is_named(client):
    result = verify(client, json=vector("ed25519-signed-valid.json"))
    assert result["status"] == "invalid"
    assert "did:india" in result["reasons"][0] and "unknown" in result["reasons"][0]


def test_our_certificate_verifies_from_json_qr_bytes_and_image(client, issued):
    credential, png = issued
    assert verify(client, json=credential)["status"] == "valid"
    payload = pack_qr_payload(credential)
    by_qr = verify(client, json={"qr": base64.b64encode(payload).decode()})
    assert by_qr["status"] == "valid" and by_qr["certificate"]["name"] == "प्रिया शर्मा"
    by_image = verify(client, data={"image": (io.BytesIO(png), "qr.png")}, content_type="multipart/form-data")
    assert by_image["status"] == "valid"
    assert by_image["certificate"]["certificateId"] == credential["evidence"][0]["certificateId"]
    raw = verify(client, data=payload, content_type="application/octet-stream")
    assert raw["status"] == "valid"


def test_one_flipped_byte_anywhere_in_the_signed_content_is_invalid(client, issued):
    credential, _ = issued
    text = json.dumps({k: v for k, v in credential.items() if k != "proof"}, ensure_ascii=False)
    flipped = 0
    for i, ch in enumerate(text):
        if not ch.isalnum():
            continue
        changed = text[:i] + ("X" if ch != "X" else "Y") + text[i + 1:]
        try:
            doc = json.loads(changed)
        except ValueError:
            continue
        doc["proof"] = credential["proof"]
        if doc == credential:
            continue
        assert verify(client, json=doc)["status"] == "invalid", f"byte {i} ({ch!r}) changed yet valid"
        flipped += 1
        if flipped >= 60:  # a spread of positions, not all of them: the API is rate-limited
            break
    assert flipped >= 60


def test_revoked_and_suspended_certificates_say_so(app, client, issued):
    credential, _ = issued
    app.config["CERTIFICATE_REVOKED_MESSAGE"] = "please download the updated certificate from the portal"
    try:
        with app.app_context():
            cert = db.session.scalar(select(Certificate))
            cert.status, cert.revoked_at = "revoked", cert.issued_at
            db.session.commit()
        result = verify(client, json=credential)
        assert result["status"] == "revoked"
        assert result["reasons"][0].startswith("revoked at 20")
        assert result["reasons"][1] == "please download the updated certificate from the portal"
        with app.app_context():
            db.session.scalar(select(Certificate)).status = "suspended"
            db.session.commit()
        assert verify(client, json=credential)["status"] == "suspended"
        listing = client.get("/certificate/api/revocationList").json
        assert [e["certificateId"] for e in listing["entries"]] == [credential["evidence"][0]["certificateId"]]
        assert listing["entries"][0]["status"] == "suspended"
    finally:
        app.config["CERTIFICATE_REVOKED_MESSAGE"] = ""


def zip_of(data: bytes, name="certificate.json") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


BAD_INPUTS = [
    ("garbage bytes", dict(data=b"\x00\x01\x02garbage\xff" * 10, content_type="application/octet-stream")),
    ("truncated zip", dict(data=zip_of(b'{"a": 1}' * 50)[:60], content_type="application/octet-stream")),
    ("zip bomb", dict(data=zip_of(b" " * 50_000_000), content_type="application/octet-stream")),
    ("huge json", dict(data=b'{"a": "' + b"x" * 3_000_000 + b'"}', content_type="application/json")),
    ("deep json", dict(data=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")),
    ("malformed json", dict(data=b'{"@context": [', content_type="application/json")),
    ("wrong context", dict(json={**vector("ed25519-signed-valid.json"),
                                 "@context": ["https://www.w3.org/2018/credentials/v1", "https://evil.example/ctx"]})),
    ("not base64", dict(json={"qr": "%%%not-base64%%%"})),
    ("array", dict(json=[1, 2, 3])),
    ("empty", dict(data=b"", content_type="application/octet-stream")),
    ("image without qr", dict(data={"image": (io.BytesIO(qr_png(b"x")[:40]), "x.png")}, content_type="multipart/form-data")),
    ("no proof", dict(json={k: v for k, v in vector("ed25519-signed-valid.json").items() if k != "proof"})),
]


@pytest.mark.parametrize("label,kwargs", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_invalid_with_a_reason_never_5xx(client, label, kwargs):
    result = verify(client, **kwargs)
    assert result["status"] == "invalid" and result["reasons"] and result["reasons"][0], result


def mutate(data: bytes, rng) -> bytes:
    """Random byte flips, deletions and insertions (the fuzz tests' mutator)."""
    base = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(base)) if base else 0
        if op < 0.4 and base:
            base[pos] = rng.randrange(256)
        elif op < 0.7:
            del base[pos:pos + rng.randint(1, 50)]
        else:
            base[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    return bytes(base)


def test_corrupt_png_chunks_are_invalid_not_5xx(client):
    """Found by fuzzing: Pillow raises SyntaxError for these corrupt PNGs (seeds 367, 843)."""
    import random

    png = qr_png(b"x" * 900)
    for seed in (367, 843):
        data = mutate(png, random.Random(seed))
        result = verify(client, data={"image": (io.BytesIO(data), "qr.png")},
                        content_type="multipart/form-data")
        assert result["status"] == "invalid" and result["reasons"][0].startswith("unreadable")


def test_fuzzed_inputs_never_cause_5xx(client, issued):
    import random

    credential, png = issued
    rng = random.Random(1234)
    payload = pack_qr_payload(credential)
    seeds = [payload, json.dumps(credential).encode(), png]
    statuses = set()
    for n in range(100):
        base = mutate(rng.choice(seeds), rng)
        ctype = rng.choice(["application/json", "application/octet-stream", "text/plain"])
        resp = client.post("/api/v1/verify", data=base, content_type=ctype)
        assert resp.status_code == 200, (n, resp.status_code, resp.data[:200])
        statuses.add(resp.json["status"])
    assert "invalid" in statuses


def test_verify_is_rate_limited_per_client_address(app, client):
    limit = app.config["VERIFY_RATE_LIMIT"]
    app.config["VERIFY_RATE_LIMIT"] = 3
    try:
        codes = [client.post("/api/v1/verify", json={}, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code
                 for _ in range(5)]
        other = client.post("/api/v1/verify", json={}, environ_base={"REMOTE_ADDR": "10.9.9.8"}).status_code
    finally:
        app.config["VERIFY_RATE_LIMIT"] = limit
    assert codes == [200, 200, 200, 429, 429] and other == 200


def test_events_are_recorded_without_personal_data(app, client, issued):
    credential, _ = issued
    verify(client, json=credential)
    verify(client, data=b"junk", content_type="application/octet-stream")
    with app.app_context():
        events = db.session.scalars(select(VerificationEvent).order_by(VerificationEvent.id)).all()
        assert [(e.channel, e.status) for e in events] == [("api", "valid"), ("api", "invalid")]
        assert events[0].certificate_id == credential["evidence"][0]["certificateId"]
        columns = {c.name for c in VerificationEvent.__table__.columns}
        assert not columns & {"name", "dob", "mobile", "payload", "credential"}


def run_cli(app, path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": REDIS_URL,
           "SECRET_KEY": "x", "CERTIFICATE_BASE_URL": app.config["CERTIFICATE_BASE_URL"],
           "CERTIFICATE_DID": app.config["CERTIFICATE_DID"],
           "CERTIFICATE_PRIVATE_KEY_FILE": app.config["CERTIFICATE_PRIVATE_KEY_FILE"]}
    return subprocess.run([sys.executable, "-m", "certify.verify", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_verifies_json_payload_and_png(app, issued, tmp_path):
    credential, png = issued
    files = {"cred.json": json.dumps(credential).encode(), "payload.zip": pack_qr_payload(credential),
             "qr.png": png}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        proc = run_cli(app, tmp_path / name)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr[-500:])
        assert json.loads(proc.stdout)["status"] == "valid"
    bad = copy.deepcopy(credential)
    bad["credentialSubject"]["name"] = "Someone Else"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    proc = run_cli(app, tmp_path / "bad.json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["status"] == "invalid"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(VerificationEvent)
                                 .where(VerificationEvent.channel == "cli")) == 4


def test_trust_document_lists_our_key_trusted_keys_and_contexts(app, client):
    trust_divoc_keys(app)
    doc = client.get("/api/v1/verify/trust").json
    ids = [(k["id"], k["type"]) for k in doc["keys"]]
    assert ids[0] == (app.config["CERTIFICATE_DID"], "Ed25519VerificationKey2018")
    assert ("did:india", "Ed25519VerificationKey2018") in ids and ("did:india", "RsaVerificationKey2018") in ids
    assert app.config["CERTIFICATE_CONTEXT_URL"] in doc["contexts"]
    assert "https://w3id.org/security/v2" in doc["contexts"]


def test_cli_offline_uses_the_signed_revocation_list_and_shows_its_age(app, client, issued, tmp_path):
    credential, png = issued
    cid = credential["evidence"][0]["certificateId"]
    (tmp_path / "qr.png").write_bytes(png)
    (tmp_path / "trust.json").write_text(json.dumps(client.get("/api/v1/verify/trust").json))
    (tmp_path / "before.json").write_text(json.dumps(client.get("/certificate/api/revocationList").json))
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        cert.status, cert.status_reason, cert.status_changed_at = "revoked", "issued in error", cert.issued_at
        from certify.models import StatusEvent

        db.session.add(StatusEvent(certificate_id=cid, status="revoked", reason="issued in error"))
        db.session.commit()
    after = client.get("/certificate/api/revocationList").json
    (tmp_path / "after.json").write_text(json.dumps(after))
    forged = dict(after, entries=[])
    (tmp_path / "forged.json").write_text(json.dumps(forged))

    def offline(listing):
        proc = subprocess.run([sys.executable, "-m", "certify.verify", str(tmp_path / "qr.png"), "--trust",
                               str(tmp_path / "trust.json"), "--revocation-list", str(tmp_path / listing)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        return proc.returncode, json.loads(proc.stdout)

    code, before = offline("before.json")
    assert code == 0 and before["status"] == "valid"
    assert before["revocationList"]["signatureValid"] is True and before["revocationList"]["ageSeconds"] >= 0
    code, revoked = offline("after.json")
    assert code == 1 and revoked["status"] == "revoked" and "issued in error" in revoked["reasons"][0]
    code, ignored = offline("forged.json")
    assert ignored["revocationList"]["signatureValid"] is False
    assert any("signature is not valid" in r for r in ignored["reasons"])
