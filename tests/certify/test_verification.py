"""The universal verifier: DIVOC, EU DCC (HC1:) and SMART Health Cards through POST /api/v1/verify
and `python -m certify.verify`, trust added with `flask trust add-eu-dsc` / `add-shc-issuer`,
our own exports mapped back to our certificates (revoked and suspended say so), and the events."""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import subprocess
import sys
import zlib

import pytest
from sqlalchemy import select

from certify.credentials.eudcc import DscSigner, encode_hc1, generate_dev_dsc, uvci
from certify.models import Certificate, VerificationEvent
from core.extensions import db
from tests.certify.credentials.eudcc_support import read_qr, tampered_hc1
from tests.conftest import INTEROP, REDIS_URL, ROOT, TEST_DATABASE_URL
from tests.factories import api_client, certify_item, seed_vaccines

SHC_EXAMPLES = INTEROP / "shc" / "examples"
SPEC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
SPEC_JWKS = SHC_EXAMPLES / "issuer" / ".well-known" / "jwks.json"
EU_VECTORS = INTEROP / "eu-dcc" / "testdata"


def verify(client, **kw) -> dict:
    resp = client.post("/api/v1/verify", **kw)
    assert resp.status_code == 200, resp.data[:300]
    return resp.json


def upload(png: bytes) -> dict:
    return dict(data={"image": (io.BytesIO(png), "qr.png")}, content_type="multipart/form-data")


def events(app) -> list[tuple]:
    with app.app_context():
        rows = [(e.channel, e.format, e.status, e.certificate_id) for e in
                db.session.scalars(select(VerificationEvent).order_by(VerificationEvent.id))]
        db.session.remove()
    return rows


def cli(app, *args: str) -> tuple[int, dict]:
    """`flask trust ...` through the app's CLI runner."""
    out = app.test_cli_runner().invoke(args=list(args))
    return out.exit_code, (json.loads(out.output) if out.exit_code == 0 else {"output": out.output})


@pytest.fixture
def api(app, client, run_jobs):
    """A source system: issue(*items) certifies and signs; get(path) fetches with its token."""
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client(("certify",))
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                              "client_secret": secret}).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    class Api:
        def issue(self, *items) -> str:
            assert client.post("/v3/certify", json=list(items), headers=headers).status_code == 202
            run_jobs()
            return items[0]["preEnrollmentCode"]

        def get(self, path, **kw):
            resp = client.get(path, headers=headers, **kw)
            assert resp.status_code == 200, resp.data[:300]
            return resp

        def eu(self, code, fn, gn, fmt="qr"):
            resp = client.post("/certificate/api/eu-certificate", query_string={"refId": code, "type": fmt},
                               json={"fn": fn, "gn": gn}, headers=headers)
            assert resp.status_code == 200, resp.data[:300]
            return resp.data

        def shc(self, code, kind="qr"):
            return self.get("/certificate/api/shc-certificate", query_string={"refId": code, "type": kind}).data

        def revoke(self, code, dose=1):
            assert client.delete(f"/v1/certificates/{code}?doses={dose}&reason=wrong+batch",
                                 headers=headers).status_code == 200

        def suspend(self, certificate_id):
            assert client.post(f"/v1/certificates/{certificate_id}/suspend", json={"reason": "under review"},
                               headers=headers).status_code == 200

    return Api()


def certificate_ids(app, code) -> dict[int, str]:
    with app.app_context():
        rows = db.session.scalars(select(Certificate).where(Certificate.pre_enrollment_code == code,
                                                            Certificate.status != "revoked")).all()
        db.session.remove()
    return {c.dose: c.certificate_id for c in rows}


def foreign_hc1(signer: DscSigner, issued_at: dt.datetime | None = None, days: int = 30) -> str:
    """An EU DCC from another country's DSC (not ours)."""
    dcc = {"ver": "1.3.0", "dob": "1964-08-12",
           "nam": {"fn": "Mustermann", "fnt": "MUSTERMANN", "gn": "Erika", "gnt": "ERIKA"},
           "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2,
                  "sd": 2, "dt": "2021-05-29", "co": "DE", "is": "Robert Koch-Institut", "ci": uvci("998877", "DE")}]}
    now = issued_at or dt.datetime.now(dt.timezone.utc)
    return encode_hc1(dcc, signer, issuer_country="DE", issued_at=now, validity=dt.timedelta(days=days)).text


# --- EU DCC --------------------------------------------------------------------------------------

def test_our_eu_export_verifies_from_its_qr_image_text_and_json(app, client, dsc, api):
    code = api.issue(certify_item(name="Priya Sharma"))
    [cid] = certificate_ids(app, code).values()
    png = api.eu(code, "Sharma", "Priya")

    by_image = verify(client, **upload(png))
    assert by_image["status"] == "valid" and by_image["format"] == "eu-dcc", by_image
    summary = by_image["certificate"]
    assert (summary["name"], summary["dob"], summary["vaccine"], summary["dose"], summary["totalDoses"],
            summary["date"]) == ("Priya Sharma", "1987-04-21", "Covishield", 1, 2, "2021-10-17")
    assert summary["certificateId"].startswith(f"URN:UVCI:01:IN:{cid}#")
    assert summary["issuer"] == app.config["CERTIFICATE_ISSUER_NAME"] and summary["type"] == "vaccination"
    assert summary["standardisedName"] == "SHARMA<<PRIYA"

    text = read_qr(png)
    assert verify(client, data=text, content_type="text/plain")["status"] == "valid"
    assert verify(client, json={"payload": text})["status"] == "valid"
    assert verify(client, json={"qr": base64.b64encode(text.encode()).decode()})["status"] == "valid"
    assert events(app) == [("api", "eu-dcc", "valid", cid)] * 4


def test_our_eu_export_of_a_revoked_or_suspended_certificate_says_so(app, client, dsc, api):
    code = api.issue(certify_item(name="Priya Sharma"))
    [cid] = certificate_ids(app, code).values()
    text = read_qr(api.eu(code, "Sharma", "Priya"))
    api.suspend(cid)
    suspended = verify(client, data=text, content_type="text/plain")
    assert suspended["status"] == "suspended" and suspended["reasons"] == ["suspended: under review"]
    api.revoke(code)
    revoked = verify(client, data=text, content_type="text/plain")
    assert revoked["status"] == "revoked" and revoked["reasons"][0].endswith(": wrong batch")
    assert [e[2:] for e in events(app)] == [("suspended", cid), ("revoked", cid)]


def test_a_tampered_eu_certificate_is_invalid(app, client, dsc, api):
    code = api.issue(certify_item(name="Priya Sharma"))
    result = verify(client, data=tampered_hc1(read_qr(api.eu(code, "Sharma", "Priya"))), content_type="text/plain")
    assert result["status"] == "invalid" and result["format"] == "eu-dcc"
    assert result["reasons"][0].startswith("bad signature")
    assert events(app) == [("api", "eu-dcc", "invalid", None)]


def test_another_countrys_dsc_is_trusted_only_once_added(app, client, tmp_path):
    key_pem, cert_pem = generate_dev_dsc("DE", organisation="Robert Koch-Institut")
    text = foreign_hc1(DscSigner.from_pem(key_pem, cert_pem))
    untrusted = verify(client, data=text, content_type="text/plain")
    assert untrusted["status"] == "invalid" and "is not a trusted document signer" in untrusted["reasons"][0]
    assert untrusted["certificate"]["name"] == "Erika Mustermann"  # shown, but not valid

    (tmp_path / "de-dsc.pem").write_text(cert_pem)
    code, added = cli(app, "trust", "add-eu-dsc", str(tmp_path / "de-dsc.pem"))
    assert code == 0 and added["type"] == "eu-dsc" and "O=Robert Koch-Institut" in added["subject"]
    trusted = verify(client, data=text, content_type="text/plain")
    assert trusted["status"] == "valid" and trusted["certificate"]["vaccine"] == "Comirnaty"
    assert trusted["certificate"]["country"] == "DE"
    listed = cli(app, "trust", "list")[1]["euDscs"]
    assert [(d["own"], d["subject"][:5]) for d in listed] == [(False, "CN=Ro")]

    assert cli(app, "trust", "remove", added["trusted"])[0] == 0
    assert verify(client, data=text, content_type="text/plain")["status"] == "invalid"
    assert [e[1:3] for e in events(app)] == [("eu-dcc", "invalid"), ("eu-dcc", "valid"), ("eu-dcc", "invalid")]


def test_an_expired_eu_certificate_is_invalid(app, client, tmp_path):
    """A member-state test vector: valid signature, trusted DSC, but long expired."""
    vector = json.loads((EU_VECTORS / "DE" / "2DCode" / "raw" / "1.json").read_text())
    (tmp_path / "dsc.b64").write_text(vector["TESTCTX"]["CERTIFICATE"])
    assert cli(app, "trust", "add-eu-dsc", str(tmp_path / "dsc.b64"))[0] == 0
    result = verify(client, data=vector["PREFIX"], content_type="text/plain")
    assert result["status"] == "invalid"
    assert [r[:11] for r in result["reasons"]] == ["expired at "]
    assert result["certificate"]["name"] == "Erika Mustermann"


def test_trust_add_eu_dsc_refuses_what_is_not_a_certificate(app, tmp_path):
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    code, out = cli(app, "trust", "add-eu-dsc", str(tmp_path / "junk.pem"))
    assert code != 0 and "not an X.509 certificate" in out["output"]


# --- SMART Health Cards ---------------------------------------------------------------------------

def test_our_health_card_verifies_from_qr_file_and_jws(app, client, api):
    first = certify_item(name="Priya D'Souza")
    code = api.issue(first, certify_item(first["preEnrollmentCode"], dose=2, name="Priya D'Souza",
                                         vaccination={"name": "Covaxin", "batch": "BB2021", "date": "2021-12-01T10:00"}))
    ids = certificate_ids(app, code)
    png, file = api.shc(code, "qr"), api.shc(code, "file")

    by_image = verify(client, **upload(png))
    assert by_image["status"] == "valid" and by_image["format"] == "shc", by_image
    summary = by_image["certificate"]
    assert (summary["name"], summary["dob"], summary["dose"], summary["date"], summary["vaccine"]) == (
        "Priya D'Souza", "1987-04-21", 2, "2021-12-01", "Covaxin")
    assert summary["issuer"] == "https://divoc.test" and summary["certificateId"] == ids[2]
    assert [(i["date"], i["vaccine"], i["lot"]) for i in summary["immunizations"]] == [
        ("2021-10-17", "AstraZeneca / Covishield", "41202025"), ("2021-12-01", "Covaxin", "BB2021")]

    by_file = verify(client, data={"file": (io.BytesIO(file), "card.smart-health-card")},
                     content_type="multipart/form-data")
    by_json = verify(client, data=file, content_type="application/json")
    jws = json.loads(file)["verifiableCredential"][0]
    by_jws = verify(client, data=jws, content_type="text/plain")
    by_numeric = verify(client, data=read_qr(png), content_type="text/plain")
    assert {r["status"] for r in (by_file, by_json, by_jws, by_numeric)} == {"valid"}
    assert events(app) == [("api", "shc", "valid", ids[2])] * 5


def test_our_health_card_with_a_dose_revoked_or_suspended_since_says_so(app, client, api):
    first = certify_item(name="Asha Verma")
    code = api.issue(first, certify_item(first["preEnrollmentCode"], dose=2, name="Asha Verma"))
    ids = certificate_ids(app, code)
    text = read_qr(api.shc(code))
    assert verify(client, data=text, content_type="text/plain")["status"] == "valid"

    api.suspend(ids[1])
    suspended = verify(client, data=text, content_type="text/plain")
    assert suspended["status"] == "suspended" and suspended["reasons"] == ["suspended: under review"]
    api.revoke(code, dose=2)  # a revocation includes the latest dose
    revoked = verify(client, data=text, content_type="text/plain")
    assert revoked["status"] == "revoked" and revoked["reasons"][0].endswith(": wrong batch")
    assert [e[2:] for e in events(app)] == [("valid", ids[2]), ("suspended", ids[2]), ("revoked", ids[2])]


def test_a_card_reissued_after_a_revocation_maps_to_the_live_doses(app, client, api):
    """Doses revoked before the export are not on the card; the card is valid."""
    first = certify_item(name="Asha Verma")
    code = api.issue(first, certify_item(first["preEnrollmentCode"], dose=2, name="Asha Verma"))
    api.revoke(code, dose=2)
    ids = certificate_ids(app, code)
    result = verify(client, data=read_qr(api.shc(code)), content_type="text/plain")
    assert result["status"] == "valid" and result["certificate"]["certificateId"] == ids[1]
    assert result["certificate"]["dose"] == 1


def test_a_tampered_health_card_is_invalid(app, client, api):
    code = api.issue(certify_item(name="Asha Verma"))
    jws = json.loads(api.shc(code, "file"))["verifiableCredential"][0]
    header, payload, signature = jws.split(".")
    payload_json = json.loads(zlib.decompress(base64.urlsafe_b64decode(payload + "=="), -15))
    payload_json["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["birthDate"] = "1999-01-01"
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    changed = deflater.compress(json.dumps(payload_json, separators=(",", ":")).encode()) + deflater.flush()
    forged = ".".join([header, base64.urlsafe_b64encode(changed).decode().rstrip("="), signature])
    result = verify(client, data=forged, content_type="text/plain")
    assert result["status"] == "invalid" and result["format"] == "shc"
    assert result["reasons"][0].startswith("bad signature")
    assert events(app) == [("api", "shc", "invalid", None)]


def test_the_spec_issuer_is_trusted_only_once_added(app, client):
    example = (SHC_EXAMPLES / "example-00-f-qr-code-numeric-value-0.txt").read_text()
    untrusted = verify(client, data=example, content_type="text/plain")
    assert untrusted["status"] == "invalid" and untrusted["reasons"][0].startswith("unknown issuer")

    code, added = cli(app, "trust", "add-shc-issuer", SPEC_ISSUER, str(SPEC_JWKS))
    assert code == 0 and added["type"] == "shc-issuer" and len(added["kids"]) >= 1
    trusted = verify(client, data=example, content_type="text/plain")
    assert trusted["status"] == "valid" and trusted["certificate"]["name"] == "John B. Anyperson"
    assert trusted["certificate"]["certificateId"] == ""  # not ours: nothing to map
    assert [i["vaccine"] for i in trusted["certificate"]["immunizations"]] == ["Moderna (Spikevax)"] * 2 + ["Moderna (bivalent)"]
    chunks = [(SHC_EXAMPLES / f"example-02-f-qr-code-numeric-value-{i}.txt").read_text() for i in range(3)]
    assert verify(client, data="\n".join(chunks), content_type="text/plain")["status"] == "valid"
    listed = cli(app, "trust", "list")[1]["shcIssuers"]
    assert [(i["iss"], i["own"]) for i in listed] == [("https://divoc.test", True), (SPEC_ISSUER, False)]


def test_an_expired_health_card_is_invalid(app, client):
    assert cli(app, "trust", "add-shc-issuer", SPEC_ISSUER, str(SPEC_JWKS))[0] == 0
    result = verify(client, data=(SHC_EXAMPLES / "example-03-d-jws.txt").read_text(), content_type="text/plain")
    assert result["status"] == "invalid" and "the card has expired" in result["reasons"]


@pytest.mark.parametrize("iss,jwks,message", [
    ("http://issuer.example", None, "iss must be an https URL"),
    ("https://issuer.example/", None, "must not end with '/'"),
    (SPEC_ISSUER, {"keys": [{"kty": "EC", "d": "secret"}]}, "holds a private key"),
    (SPEC_ISSUER, {"keys": []}, "no usable ES256 key"),
])
def test_trust_add_shc_issuer_refuses_bad_issuers_and_keys(app, tmp_path, iss, jwks, message):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks) if jwks is not None else SPEC_JWKS.read_text())
    code, out = cli(app, "trust", "add-shc-issuer", iss, str(path))
    assert code != 0 and message in out["output"]


# --- The trust document --------------------------------------------------------------------------

def test_the_trust_document_lists_dscs_and_issuers_for_offline_verifiers(app, client, dsc):
    assert cli(app, "trust", "add-shc-issuer", SPEC_ISSUER, str(SPEC_JWKS))[0] == 0
    doc = client.get("/api/v1/verify/trust").json
    [ours] = doc["euDscs"]
    assert ours["own"] is True and base64.b64decode(ours["kid"]) == dsc.kid
    assert (ours["keyType"], ours["curve"], ours["usages"]) == ("EC", "P-256", ["v"])
    assert [(i["iss"], i["own"]) for i in doc["shcIssuers"]] == [("https://divoc.test", True), (SPEC_ISSUER, False)]
    assert all(set(k) == {"kty", "kid", "use", "alg", "crv", "x", "y"} for i in doc["shcIssuers"] for k in i["keys"])
    assert doc["labels"]["cvx"]["208"].startswith("Pfizer") and doc["labels"]["euProducts"]["EU/1/20/1528"] == "Comirnaty"


# --- The command line ----------------------------------------------------------------------------

def run_cli(app, *args, online: bool = True) -> tuple[int, dict]:
    """`python -m certify.verify` in a subprocess: online with the app's database and keys, or
    offline with nothing but PATH."""
    env = {"PATH": "/usr/bin:/bin"}
    if online:
        env |= {"DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": REDIS_URL, "SECRET_KEY": "x",
                "CERTIFICATE_BASE_URL": app.config["CERTIFICATE_BASE_URL"],
                "CERTIFICATE_DID": app.config["CERTIFICATE_DID"],
                "CERTIFICATE_PRIVATE_KEY_FILE": app.config["CERTIFICATE_PRIVATE_KEY_FILE"],
                "SHC_PRIVATE_KEY_FILE": app.config["SHC_PRIVATE_KEY_FILE"]}
        env |= {name: app.config[name] for name in ("EU_CERTIFICATE_PRIVATE_KEY_FILE", "EU_CERTIFICATE_PUBLIC_KEY_FILE")
                if app.config.get(name)}
    proc = subprocess.run([sys.executable, "-m", "certify.verify", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr[-800:]
    return proc.returncode, json.loads(proc.stdout)


def test_cli_online_verifies_eu_and_shc_images_and_text(app, dsc, api, tmp_path):
    code = api.issue(certify_item(name="Priya Sharma"))
    (tmp_path / "eu.png").write_bytes(api.eu(code, "Sharma", "Priya"))
    (tmp_path / "shc.png").write_bytes(api.shc(code))
    (tmp_path / "eu.txt").write_text(read_qr((tmp_path / "eu.png").read_bytes()))
    (tmp_path / "card.smart-health-card").write_bytes(api.shc(code, "file"))
    for name, fmt in (("eu.png", "eu-dcc"), ("eu.txt", "eu-dcc"), ("shc.png", "shc"), ("card.smart-health-card", "shc")):
        status, out = run_cli(app, tmp_path / name)
        assert (status, out["status"], out["format"], out["certificate"]["name"]) == (0, "valid", fmt, "Priya Sharma"), name
    assert [e[:2] for e in events(app)] == [("cli", "eu-dcc")] * 2 + [("cli", "shc")] * 2

    (tmp_path / "tampered.txt").write_text(tampered_hc1((tmp_path / "eu.txt").read_text()))
    status, out = run_cli(app, tmp_path / "tampered.txt")
    assert status == 1 and out["status"] == "invalid" and out["reasons"][0].startswith("bad signature")


def test_cli_offline_takes_eu_dscs_and_shc_issuers(app, tmp_path):
    key_pem, cert_pem = generate_dev_dsc("DE")
    (tmp_path / "eu.txt").write_text(foreign_hc1(DscSigner.from_pem(key_pem, cert_pem)))
    (tmp_path / "de.pem").write_text(cert_pem)
    example = SHC_EXAMPLES / "example-00-e-file.smart-health-card"

    assert run_cli(app, tmp_path / "eu.txt", "--eu-dsc", tmp_path / "de.pem", online=False)[1]["status"] == "valid"
    status, out = run_cli(app, tmp_path / "eu.txt", "--shc-jwks", f"{SPEC_ISSUER}={SPEC_JWKS}", online=False)
    assert status == 1 and "not a trusted document signer" in out["reasons"][0]
    status, out = run_cli(app, example, "--shc-jwks", f"{SPEC_ISSUER}={SPEC_JWKS}", online=False)
    assert (status, out["format"], out["certificate"]["name"]) == (0, "shc", "John B. Anyperson")
    status, out = run_cli(app, SHC_EXAMPLES / "example-03-d-jws.txt", "--shc-jwks", f"{SPEC_ISSUER}={SPEC_JWKS}",
                          online=False)
    assert status == 1 and "the card has expired" in out["reasons"]
    assert events(app) == []  # offline: nothing recorded


def test_cli_offline_checks_our_eu_export_against_the_revocation_list(app, client, dsc, api, tmp_path):
    code = api.issue(certify_item(name="Priya Sharma"))
    (tmp_path / "eu.png").write_bytes(api.eu(code, "Sharma", "Priya"))
    (tmp_path / "trust.json").write_text(json.dumps(client.get("/api/v1/verify/trust").json))
    (tmp_path / "before.json").write_text(json.dumps(client.get("/certificate/api/revocationList").json))
    api.revoke(code)
    (tmp_path / "after.json").write_text(json.dumps(client.get("/certificate/api/revocationList").json))

    def offline(listing):
        return run_cli(app, tmp_path / "eu.png", "--trust", tmp_path / "trust.json", "--revocation-list",
                       tmp_path / listing, online=False)

    status, out = offline("before.json")
    assert (status, out["status"], out["format"]) == (0, "valid", "eu-dcc")
    status, out = offline("after.json")
    assert status == 1 and out["status"] == "revoked" and out["format"] == "eu-dcc"
    assert "wrong batch" in out["reasons"][0]
