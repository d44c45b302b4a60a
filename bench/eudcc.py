"""Benchmark: EU-DCC exports per second on one core (no database, no HTTP).

Times each step of an export of a stored credential: the hcert payload (ICAO names,
codes, UVCI), CWT + COSE_Sign1 ES256 + zlib + Base45 (the ``HC1:`` text), the QR PNG,
and the PDF; then decode + verify of the text, as a verifier does.

Usage: .venv/bin/python bench/eudcc.py [N]
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from certify.credentials.eudcc import (  # noqa: E402
    DscSigner,
    build_dcc,
    encode_hc1,
    generate_dev_dsc,
    verify_hc1,
)
from certify.credentials.eumaps import DEFAULT_EU_MAP  # noqa: E402
from certify.credentials.vaccination import build_vaccination_credential  # noqa: E402

ISSUER = "Ministry of Health & Family Welfare, Government of India"


def credentials(n: int) -> list[dict]:
    names = ["प्रिया शर्मा", "Anna-Lena Gößinger", "செல்வி கார்த்திகேயன்", "John Doe"]
    vaccines = ["Covishield", "Covaxin", "Pfizer-BioNTech", "Sputnik V"]
    return [build_vaccination_credential(
        {"preEnrollmentCode": str(100000 + i),
         "recipient": {"name": names[i % 4], "dob": "1990-04-01", "gender": "Female"},
         "vaccination": {"name": vaccines[i % 4], "manufacturer": "x", "date": "2021-10-17T10:30:00.000Z",
                         "dose": 2, "totalDoses": 2},
         "facility": {"name": "District Hospital", "address": {"country": "IND"}}},
        certificate_id=str(10**19 + i), issuer="https://example.org/",
        context_url="https://example.org/credentials/vaccination/v2",
        issuance_date="2021-10-17T10:57:57.237Z", evidence_base_url="https://example.org/vaccine/")
        for i in range(n)]


def per_second(label: str, seconds: list[float]) -> None:
    """Rate at the median time (robust on a shared machine) and over the whole run."""
    median = statistics.median(seconds)
    print(f"{label:<46} {1 / median:>7.0f}/s at the median ({median * 1000:.3f} ms), "
          f"{len(seconds) / sum(seconds):.0f}/s over the run")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    signer = DscSigner.from_pem(*generate_dev_dsc())
    now = dt.datetime.now(dt.timezone.utc)
    creds = credentials(n)
    splits = {"प्रिया शर्मा": ("शर्मा", "प्रिया"), "Anna-Lena Gößinger": ("Gößinger", "Anna-Lena"),
              "செல்வி கார்த்திகேயன்": ("கார்த்திகேயன்", "செல்வி"), "John Doe": ("Doe", "John")}

    payload, sign, whole, texts = [], [], [], []
    for cred in creds:
        fn, gn = splits[cred["credentialSubject"]["name"]]
        t0 = time.perf_counter()
        dcc = build_dcc(cred, family_name=fn, given_name=gn, eu_map=DEFAULT_EU_MAP, issuer=ISSUER, country="IN")
        t1 = time.perf_counter()
        text = encode_hc1(dcc, signer, issuer_country="IN", issued_at=now, validity=dt.timedelta(days=365)).text
        t2 = time.perf_counter()
        payload.append(t1 - t0)
        sign.append(t2 - t1)
        whole.append(t2 - t0)
        texts.append(text)
    print(f"{n} exports on one core, HC1 text {min(map(len, texts))}-{max(map(len, texts))} characters")
    per_second("payload (build_dcc)", payload)
    per_second("CWT + COSE ES256 + zlib + Base45", sign)
    per_second("export: build + sign + encode (HC1 text)", whole)

    from certify.eu_export import EuCertificateView, hc1_qr_png
    from certify.render import CertificateRenderer

    qr = []
    for text in texts[:200]:
        t0 = time.perf_counter()
        hc1_qr_png(text, box_size=6)
        qr.append(time.perf_counter() - t0)
    per_second("QR PNG (alphanumeric, level Q, 6 px/module)", qr)

    renderer = CertificateRenderer()
    dcc = build_dcc(creds[3], family_name="Doe", given_name="John", eu_map=DEFAULT_EU_MAP, issuer=ISSUER,
                    country="IN")
    issued = encode_hc1(dcc, signer, issuer_country="IN", issued_at=now, validity=dt.timedelta(days=365))
    view = EuCertificateView.build(dcc, issued, dt.timezone.utc)
    png = hc1_qr_png(issued.text)
    renderer.render_document_pdf("eu", png, cert=view)  # warm fonts
    pdf = []
    for _ in range(20):
        t0 = time.perf_counter()
        renderer.render_document_pdf("eu", png, cert=view)
        pdf.append(time.perf_counter() - t0)
    per_second("PDF render (WeasyPrint)", pdf)

    verify = []
    for text in texts:
        t0 = time.perf_counter()
        result = verify_hc1(text, [signer.certificate], now=now)
        verify.append(time.perf_counter() - t0)
        assert result.valid, result.reasons
    per_second("decode + verify (verify_hc1)", verify)


if __name__ == "__main__":
    main()
