"""Benchmark: the universal verifier per format on one core (no database, no HTTP).

Verifies the same vaccination as a DIVOC QR payload (ZIP, Ed25519 proof with URDNA2015),
an EU DCC (``HC1:`` text, COSE ES256) and a SMART Health Card (``shc:/`` numeric QR, JWS
ES256) with ``certify.credentials.universal.verify_bytes``, and each one's QR image with
``verify_image`` (PNG decode + QR read included).

Usage: .venv/bin/python bench/verify_formats.py [N]
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eudcc import per_second  # noqa: E402  (bench/eudcc.py: the rate at the median and over the run)

from certify.credentials import (  # noqa: E402
    build_vaccination_credential,
    context_alias,
    generate_ed25519,
    make_document_loader,
    pack_qr_payload,
    qr_png,
    shc,
    sign_credential,
)
from certify.credentials.eudcc import (  # noqa: E402
    DscSigner,
    build_dcc,
    dsc_kid,
    encode_hc1,
    generate_dev_dsc,
)
from certify.credentials.eumaps import DEFAULT_EU_MAP  # noqa: E402
from certify.credentials.universal import (  # noqa: E402
    Trust,
    detect_format,
    verify_bytes,
    verify_image,
)
from certify.credentials.verify import trust_store_from_documents  # noqa: E402
from certify.eu_export import hc1_qr_png  # noqa: E402

CONTEXT = "https://example.org/credentials/vaccination/v2"
ISSUER = "https://example.org"


def samples() -> tuple[Trust, dict[str, bytes], dict[str, bytes]]:
    """(trust, QR contents by format, QR PNGs by format) for one two-dose-series vaccination."""
    from certify.credentials.contexts import WELL_KNOWN_CONTEXTS, load_context

    key = generate_ed25519("did:example:issuer#key-1")
    credential = build_vaccination_credential(
        {"preEnrollmentCode": "100001",
         "recipient": {"name": "Priya Sharma", "dob": "1990-04-01", "gender": "Female"},
         "vaccination": {"name": "Covishield", "batch": "4120Z025", "manufacturer": "Serum Institute of India",
                         "date": "2021-10-17T10:30:00.000Z", "dose": 2, "totalDoses": 2},
         "facility": {"name": "District Hospital", "address": {"country": "IND"}}},
        certificate_id="12345678901234567890", issuer=ISSUER + "/", context_url=CONTEXT,
        issuance_date="2021-10-17T10:57:57.237Z", evidence_base_url=ISSUER + "/vaccine/")
    signed = sign_credential(credential, key, loader=make_document_loader(context_alias(CONTEXT, "vaccination-v2")))
    signer = DscSigner.from_pem(*generate_dev_dsc())
    dcc = build_dcc(credential, family_name="Sharma", given_name="Priya", eu_map=DEFAULT_EU_MAP,
                    issuer="Ministry of Health", country="IN")
    hc1 = encode_hc1(dcc, signer, issuer_country="IN", issued_at=dt.datetime.now(dt.timezone.utc),
                     validity=dt.timedelta(days=365)).text
    shc_key = shc.generate_shc_key()
    jws = shc.sign_health_card(shc.build_shc_payload(shc.build_fhir_bundle([credential]), issuer=ISSUER,
                                                     nbf=1634468277), shc_key)
    [numeric] = shc.qr_chunks(jws)
    contexts = {url: load_context(name) for url, name in WELL_KNOWN_CONTEXTS.items()}
    contexts[CONTEXT] = load_context("vaccination-v2")
    trust = Trust(divoc=trust_store_from_documents(
        [{"id": key.verification_method, "type": "Ed25519VerificationKey2018",
          "publicKeyBase58": key.public_key_base58}], contexts),
        eu_dscs=(signer.certificate,), shc_issuers={ISSUER: {"keys": [shc_key.public_jwk()]}},
        own_eu_kids=frozenset({dsc_kid(signer.certificate)}), own_shc_issuer=ISSUER)
    payloads = {"divoc": pack_qr_payload(signed), "eu-dcc": hc1.encode(), "shc": numeric.encode()}
    pngs = {"divoc": qr_png(payloads["divoc"]), "eu-dcc": hc1_qr_png(hc1), "shc": shc.shc_qr_png(numeric)}
    return trust, payloads, pngs


def timed(fn, n: int) -> list[float]:
    seconds = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    trust, payloads, pngs = samples()
    for fmt, data in payloads.items():
        verdict = verify_bytes(data, trust)
        assert verdict.format == fmt and verdict.valid, (fmt, verdict.reasons)
        assert verify_image(pngs[fmt], trust).valid, fmt
        print(f"{fmt}: QR content {len(data)} bytes, PNG {len(pngs[fmt])} bytes")
    per_second("detect_format (all three)", timed(lambda: [detect_format(d) for d in payloads.values()], n))
    for fmt, data in payloads.items():
        per_second(f"verify {fmt} QR content", timed(lambda data=data: verify_bytes(data, trust), n))
    for fmt, png in pngs.items():
        per_second(f"verify {fmt} QR image", timed(lambda png=png: verify_image(png, trust), max(20, n // 5)))


if __name__ == "__main__":
    main()
