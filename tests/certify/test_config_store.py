"""Runtime configuration: versioned, validated, effective without a restart, with rollback."""
from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from certify.models import ConfigVersion
from core.extensions import db
from tests.factories import api_client, certify_item, seed_vaccines


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=["config", *args])
    return result.exit_code, result.output


def test_settings_change_the_next_certificate_and_roll_back(app, client, run_jobs, tmp_path):
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    headers = {"Authorization": f"Bearer {tok}"}
    doc = tmp_path / "settings.json"
    doc.write_text(json.dumps({"issuer": "https://moh.example.lk/", "updateLimit": 1}))
    code, out = cli(app, "set", "settings", str(doc), "--comment", "Sri Lanka issuer")
    assert code == 0, out
    assert json.loads(out) == {"key": "settings", "version": 1, "active": True}

    client.post("/v3/certify", json=[certify_item("CFG-1")], headers=headers)
    run_jobs()
    listing = client.get("/v1/certificates?preEnrollmentCode=CFG-1", headers=headers).json["certificates"]
    cred = client.get(f"/v1/certificates/{listing[0]['certificateId']}", headers=headers).json
    assert cred["issuer"] == "https://moh.example.lk/"
    assert client.post("/api/v1/verify", json=cred).json["status"] == "valid"
    # updateLimit 1: one update allowed, the second refused
    assert client.put("/v3/certificate", json=[certify_item("CFG-1", name="A")], headers=headers).status_code == 200
    assert client.put("/v3/certificate", json=[certify_item("CFG-1", name="B")], headers=headers).status_code == 409

    code, out = cli(app, "rollback", "settings", "0")
    assert code == 0, out
    client.post("/v3/certify", json=[certify_item("CFG-2")], headers=headers)
    run_jobs()
    listing = client.get("/v1/certificates?preEnrollmentCode=CFG-2", headers=headers).json["certificates"]
    cred = client.get(f"/v1/certificates/{listing[0]['certificateId']}", headers=headers).json
    assert cred["issuer"] == app.config["CERTIFICATE_ISSUER"]
    code, out = cli(app, "history", "settings")
    assert [h["version"] for h in json.loads(out)] == [1] and json.loads(out)[0]["active"] is False


def test_icd11_map_overrides_the_next_certificate(app, client, run_jobs, tmp_path):
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    headers = {"Authorization": f"Bearer {tok}"}
    doc = tmp_path / "icd.json"
    doc.write_text(json.dumps({"covishield": {"code": "XM1234", "term": "Test term"}}))
    assert cli(app, "set", "map:icd11", str(doc))[0] == 0
    client.post("/v3/certify", json=[certify_item("ICD-1")], headers=headers)
    run_jobs()
    listing = client.get("/v1/certificates?preEnrollmentCode=ICD-1", headers=headers).json["certificates"]
    ev = client.get(f"/v1/certificates/{listing[0]['certificateId']}", headers=headers).json["evidence"][0]
    assert (ev["icd11Code"], ev["prophylaxis"]) == ("XM1234", "Test term")


def test_invalid_documents_are_rejected_with_the_line_and_nothing_saved(app, tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n  "issuer": "https://x/",\n  "updateLimit": ,\n}')
    code, out = cli(app, "set", "settings", str(bad_json))
    assert code != 0 and "line 3" in out
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"colour": "red"}))
    assert "unknown setting" in cli(app, "set", "settings", str(unknown))[1]
    bad_map = tmp_path / "map.json"
    bad_map.write_text(json.dumps({"Covaxin": {"code": "", "term": ""}}))
    assert cli(app, "set", "map:icd11", str(bad_map))[0] != 0
    bad_template = tmp_path / "t.html"
    bad_template.write_text("<html>\n<body>\n{% if cert.name %}\n<p>{{ cert.name }}</p>\n</body>")
    code, out = cli(app, "set", "template:vaccination", str(bad_template))
    assert code != 0 and re.search(r"line \d+: Unexpected end of template", out)
    typo = tmp_path / "typo.html"
    typo.write_text("<html>\n<body>\n<p>{{ cert.name | nosuchfilter }}</p>\n</body></html>")
    code, out = cli(app, "set", "template:vaccination", str(typo))
    assert code != 0 and "line 3" in out and "nosuchfilter" in out
    undefined = tmp_path / "u.html"
    undefined.write_text("<html><body>{{ cert.no_such_field.x }}</body></html>")
    assert cli(app, "set", "template:vaccination", str(undefined))[0] != 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConfigVersion)) == 0


def test_default_documents_are_shown_and_keys_listed(app):
    code, out = cli(app, "list")
    listed = json.loads(out)
    assert listed["settings"] == 0 and "template:vaccination" in listed and "map:eu" in listed
    code, out = cli(app, "show", "map:eu")
    assert json.loads(out)["Covishield"] == {"mp": "Covishield", "vp": "29061000087103", "ma": "ORG-100001981"}
    assert "<html" in cli(app, "show", "template:vaccination")[1]
