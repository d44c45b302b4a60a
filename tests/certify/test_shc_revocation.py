"""SMART Health Card revocation: our cards carry a rid, the issuer publishes /.well-known/crl/<kid>.json,
and a verifier holding the CRL rejects exactly the cards that hold a revoked or suspended dose.

The CRL checks are exercised on the SMART validator's bad-CRL fixtures and the spec's example issuer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from certify.credentials import shc
from tests.certify.test_shc_api import headers, issued  # noqa: F401  (fixtures)

SHC = "/certificate/api/shc-certificate"
INTEROP = next(p / "shared" / "interop" / "shc" for p in Path(__file__).resolve().parents
               if (p / "shared" / "interop" / "shc").is_dir())
BAD = INTEROP / "validator-testdata" / "badcrl"


def _crl_and_key(folder: Path) -> tuple[dict, dict]:
    [path] = (folder / ".well-known" / "crl").glob("*.json")
    crl = json.loads(path.read_text())
    key = next(k for k in json.loads((folder / ".well-known" / "jwks.json").read_text())["keys"]
               if k["kid"] == crl["kid"])
    return crl, key


@pytest.mark.parametrize(("case", "expected"), [
    ("duplicate-rid", "rid 'XkNHp2Iyk0Y' is listed more than once"),
    ("invalid-method", "unknown CRL method 'invalid-method'"),
    ("non-base64url-rid", "rid 'base64==' is not base64url"),
    ("too-long-rid", "is longer than 24 characters"),
    ("version-mismatch", "the CRL's ctr 2 does not match the key's crlVersion 1"),
])
def test_the_validators_bad_crls_are_refused(case, expected):
    crl, key = _crl_and_key(BAD / case)
    errors = shc.validate_crl(crl, key)
    assert any(expected in e for e in errors), errors


def test_the_spec_examples_crl_is_good_and_revokes_example_3():
    crl, key = _crl_and_key(INTEROP / "examples" / "issuer")
    assert shc.validate_crl(crl, key) == []
    jwks = json.loads((INTEROP / "examples" / "issuer" / ".well-known" / "jwks.json").read_text())
    issuer = "https://spec.smarthealth.cards/examples/issuer"
    jws = (INTEROP / "examples" / "example-03-d-jws.txt").read_text().strip()
    now = 1_700_000_000  # within the example's validity
    assert shc.verify_shc(jws, {issuer: jwks}, now=now).status == "valid"
    assert shc.verify_shc(jws, {issuer: jwks}, now=now, crls={issuer: [crl]}).status == "revoked"


def card(client, headers, code) -> str:  # noqa: F811
    resp = client.get(f"{SHC}?refId={code}&type=file", headers=headers)
    assert resp.status_code == 200, resp.data[:300]
    [jws] = json.loads(resp.data)["verifiableCredential"]  # application/smart-health-card
    return jws


def published(client) -> tuple[dict, dict]:
    jwks = client.get("/.well-known/jwks.json").json
    [key] = jwks["keys"]
    resp = client.get(f"/.well-known/crl/{key['kid']}.json")
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    assert shc.validate_crl(resp.json, key) == []
    return jwks, resp.json


def check(jws: str, jwks: dict, crl: dict) -> str:
    return shc.verify_shc(jws, {"https://divoc.test": jwks}, crls={"https://divoc.test": [crl]}).status


def test_a_revoked_dose_revokes_the_cards_that_hold_it_and_no_others(client, headers, issued):  # noqa: F811
    both = card(client, headers, issued)
    rid = shc.read_jws(both)[1]["vc"]["rid"]
    assert 1 <= len(rid) <= 24
    jwks, crl = published(client)
    assert crl["rids"] == [] and check(both, jwks, crl) == "valid"
    first_ctr = crl["ctr"]

    doses = client.get(f"/v1/certificates?preEnrollmentCode={issued}", headers=headers).json["certificates"]
    dose2 = next(c["certificateId"] for c in doses if c["dose"] == 2)
    dose1 = next(c["certificateId"] for c in doses if c["dose"] == 1)
    assert client.post(f"/v1/certificates/{dose2}/revoke", json={"reason": "entered twice"},
                       headers=headers).status_code == 200
    jwks, crl = published(client)
    assert crl["ctr"] > first_ctr and jwks["keys"][0]["crlVersion"] == crl["ctr"]
    assert check(both, jwks, crl) == "revoked"
    assert crl["rids"] == [rid]  # the card with both doses; dose 1's earlier card held no revoked dose
    only_first = card(client, headers, issued)  # made after the revocation: dose 1 alone
    assert only_first != both and check(only_first, jwks, crl) == "valid"

    # a suspension of dose 1 catches its cards; reinstating it lets them go again
    assert client.post(f"/v1/certificates/{dose1}/suspend", json={"reason": "under review"},
                       headers=headers).status_code == 200
    jwks, crl = published(client)
    assert check(only_first, jwks, crl) == "revoked" and check(both, jwks, crl) == "revoked"
    assert client.post(f"/v1/certificates/{dose1}/reinstate", json={"reason": "checked"},
                       headers=headers).status_code == 200
    jwks, crl = published(client)
    assert check(only_first, jwks, crl) == "valid" and check(both, jwks, crl) == "revoked"


def test_an_updated_dose_revokes_the_old_cards(client, headers, issued, run_jobs):  # noqa: F811
    from tests.factories import certify_item

    old = card(client, headers, issued)
    fixed = certify_item(issued, dose=2, name="Priya D'Souza",
                         vaccination={"name": "Covaxin", "batch": "BB2022", "date": "2021-12-01T10:00"})
    assert client.put("/v3/certificate", json=[fixed], headers=headers).status_code == 200
    new = card(client, headers, issued)
    jwks, crl = published(client)
    assert check(old, jwks, crl) == "revoked" and check(new, jwks, crl) == "valid"


def test_the_crl_of_another_key_is_not_found(client):
    resp = client.get("/.well-known/crl/not-our-kid.json")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_a_suspension_that_runs_out_takes_its_cards_off_the_list(app, client, headers, issued):  # noqa: F811
    import datetime as dt

    from sqlalchemy import update

    from certify.models import Certificate, StatusEvent
    from core.extensions import db

    both = card(client, headers, issued)
    dose1 = next(c["certificateId"] for c in client.get(f"/v1/certificates?preEnrollmentCode={issued}",
                                                        headers=headers).json["certificates"] if c["dose"] == 1)
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.post(f"/v1/certificates/{dose1}/suspend", json={"reason": "check", "until": until},
                       headers=headers).status_code == 200
    jwks, crl = published(client)
    assert check(both, jwks, crl) == "revoked"
    with app.app_context():  # a day later
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        db.session.execute(update(Certificate).where(Certificate.certificate_id == dose1).values(suspended_until=past))
        db.session.execute(update(StatusEvent).where(StatusEvent.certificate_id == dose1).values(until=past))
        db.session.commit()
        db.session.remove()
    later_jwks, later = published(client)
    assert later["ctr"] == crl["ctr"] + 1 and later_jwks["keys"][0]["crlVersion"] == later["ctr"]
    assert later["rids"] == [] and check(both, later_jwks, later) == "valid"
