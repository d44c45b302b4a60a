"""Credentials issued through the whole app path (API → worker → stored row) pass
DIVOC's own verifier library, with the Ed25519 default and with RsaSignature2018."""
from __future__ import annotations

import copy

import pytest

from certify import signing
from tests.certify.conftest import ed_config, rsa_config
from tests.factories import api_client, certify_item, seed_vaccines

NAMES = ['Priya "Pinky" D\'Souza', "प्रिया शर्मा", "செல்வி கார்த்திகேயன்", "Ōtsuka Ängström"]


@pytest.fixture(params=["ed25519", "rsa"])
def key_type(request, app, key_dir):
    """Run the test once per key type, with the app configured for it."""
    saved = dict(app.config), app.extensions.pop("divoc_issuer", None)
    if request.param == "rsa":
        path = key_dir / "rsa.pem"
        if not path.exists():
            signing.write_private_key(str(path), "rsa")
        app.config.update(CERTIFICATE_KEY_TYPE="rsa", CERTIFICATE_PRIVATE_KEY_FILE=str(path))
    yield request.param
    app.config.clear()
    app.config.update(saved[0])
    app.extensions.pop("divoc_issuer", None)
    if saved[1] is not None:
        app.extensions["divoc_issuer"] = saved[1]


def test_divoc_verifier_accepts_what_the_app_issues(app, client, run_jobs, divoc_verify, key_type):
    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
        key = signing.current_issuer().key
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                              "client_secret": secret}).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    items = [certify_item(name=n, dose=1 + i % 2) for i, n in enumerate(NAMES)]
    items.append(certify_item(recipient={"identity": "", "gender": "", "address": None}))
    assert client.post("/v3/certify", json=items, headers=headers).status_code == 202
    run_jobs()
    creds = []
    for item in items:
        listing = client.get(f"/v1/certificates?preEnrollmentCode={item['preEnrollmentCode']}",
                             headers=headers).json["certificates"]
        creds.append(client.get(f"/v1/certificates/{listing[0]['certificateId']}", headers=headers).json)
    tampered = copy.deepcopy(creds[0])
    tampered["credentialSubject"]["name"] = "Someone Else"

    config = rsa_config(key) if key_type == "rsa" else ed_config(key)
    expected_type = "RsaSignature2018" if key_type == "rsa" else "Ed25519Signature2018"
    assert {c["proof"]["type"] for c in creds} == {expected_type}
    [results] = divoc_verify([{"config": config,
                               "contexts": {app.config["CERTIFICATE_CONTEXT_URL"]: "v2"},
                               "credentials": creds + [tampered]}])
    assert [r["verified"] for r in results[:-1]] == [True] * len(creds), results
    assert results[-1]["verified"] is False
