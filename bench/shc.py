"""Benchmark: SMART Health Card and WHO DDCC exports, on one core.

    .venv/bin/python bench/shc.py [--n 200]

Part 1 times the library: build + sign a card, its numeric QR PNG, the PDF, and verification.
Part 2 issues N two-dose beneficiaries in-process (embedded SQLite in a temporary directory,
jobs inline) and drives the real endpoints through the Flask test client: first exports
(rendered and cached) and repeat exports (served from the cache), per type.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certify.credentials import build_vaccination_credential, shc  # noqa: E402
from tests.factories import SAMPLE_ITEM  # noqa: E402


def rate(label: str, fn, n: int) -> None:
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    total = sum(times)
    print(f"{label:44} {n / total:9.1f}/s   p50 {statistics.median(times) * 1000:7.2f} ms")


def library(n: int) -> None:
    item = copy.deepcopy(SAMPLE_ITEM)
    creds = []
    for dose, (vaccine, day) in enumerate((("Covishield", "2021-10-17"), ("Covaxin", "2021-12-01")), start=1):
        item["vaccination"].update(dose=dose, name=vaccine, date=f"{day}T10:00")
        creds.append(build_vaccination_credential(
            item, certificate_id=str(10**19 + dose), issuer="https://divoc.test/",
            context_url="https://divoc.test/credentials/vaccination/v2",
            issuance_date="2021-12-01T10:00:00.000Z", evidence_base_url="https://divoc.test/vaccine/"))
    key = shc.generate_shc_key()
    trusted = {"https://divoc.test": {"keys": [key.public_jwk()]}}

    def sign(_: int) -> str:
        bundle = shc.build_fhir_bundle(creds)
        return shc.sign_health_card(shc.build_shc_payload(bundle, issuer="https://divoc.test", nbf=1638352800), key)

    jws = sign(0)
    numeric = shc.qr_chunks(jws)[0]
    print(f"two-dose card: JWS {len(jws)} characters, QR content {len(numeric)} characters")
    rate("library: bundle + sign (JWS)", sign, n)
    rate("library: numeric QR PNG", lambda _: shc.shc_qr_png(numeric), n)
    rate("library: verify numeric QR", lambda _: shc.verify_shc(numeric, trusted, now=1638352900), n)

    from certify.render_shc import HealthCardRenderer, HealthCardView

    renderer = HealthCardRenderer()
    bundle = shc.build_fhir_bundle(creds)
    view = HealthCardView.from_card(bundle, creds, issuer="https://divoc.test", issuer_name="Ministry of Health",
                                    kid=key.kid)
    png = shc.shc_qr_png(numeric)
    renderer.render_shc_pdf(view, [png])  # warm fonts
    rate("library: PDF render (warm)", lambda _: renderer.render_shc_pdf(view, [png]), max(5, n // 10))


def endpoints(n: int) -> None:
    from core import auth, create_app, jobs
    from tests.factories import certify_item, seed_vaccines

    with tempfile.TemporaryDirectory() as tmp:
        from certify.shc_exports import write_shc_key
        from certify.signing import write_private_key

        write_private_key(f"{tmp}/ed25519.pem", "ed25519")
        write_shc_key(f"{tmp}/shc.pem")
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3", "REDIS_URL": None,
                          "SECRET_KEY": "bench", "CERTIFICATE_BASE_URL": "https://divoc.test",
                          "CERTIFICATE_PRIVATE_KEY_FILE": f"{tmp}/ed25519.pem",
                          "SHC_PRIVATE_KEY_FILE": f"{tmp}/shc.pem", "CERTIFY_MAX_BATCH": 10_000})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            seed_vaccines()
            client_row, secret = auth.create_client("bench", ["certify"])
            jobs.commit()
            client_id = client_row.client_id
        client = app.test_client()
        token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                  "client_secret": secret}).json["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        codes = [f"BENCH{i:06d}" for i in range(n)]
        items = [certify_item(code, dose=dose) for code in codes for dose in (1, 2)]
        start = time.perf_counter()
        for chunk in range(0, len(items), 500):
            assert client.post("/v3/certify", json=items[chunk:chunk + 500], headers=headers).status_code == 202
        print(f"issued {len(items)} certificates in-process in {time.perf_counter() - start:.1f} s")

        def get(path: str) -> None:
            resp = client.get(path, headers=headers)
            assert resp.status_code == 200, resp.data[:200]

        api = "/certificate/api"
        rate("HTTP: type=file", lambda i: get(f"{api}/shc-certificate?refId={codes[i]}&type=file"), n)
        rate("HTTP: type=qr, first export (render + cache)", lambda i: get(f"{api}/shc-certificate?refId={codes[i]}&type=qr"), n)
        rate("HTTP: type=qr, again (cached)", lambda i: get(f"{api}/shc-certificate?refId={codes[i]}&type=qr"), n)
        m = max(5, n // 10)
        rate("HTTP: type=pdf, first export (render + cache)", lambda i: get(f"{api}/shc-certificate?refId={codes[i]}&type=pdf"), m)
        rate("HTTP: type=pdf, again (cached)", lambda i: get(f"{api}/shc-certificate?refId={codes[i]}&type=pdf"), m)
        rate("HTTP: fhir-certificate (DDCC:VS)", lambda i: get(f"{api}/fhir-certificate?refId={codes[i]}"), n)
        rate("HTTP: /.well-known/jwks.json", lambda i: client.get("/.well-known/jwks.json"), n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    library(args.n)
    endpoints(args.n)


if __name__ == "__main__":
    main()
