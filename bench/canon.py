"""Benchmark: canonicalisation (pyld vs fast path) and signing throughput on one core.

Usage: .venv/bin/python bench/canon.py [N]
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from certify.credentials.canonical import canonicalize, canonicalize_pyld  # noqa: E402
from certify.credentials.contexts import context_alias, make_document_loader  # noqa: E402
from certify.credentials.keys import generate_ed25519, generate_rsa  # noqa: E402
from certify.credentials.proofs import sign_credential, verify_credential  # noqa: E402
from certify.credentials.qr import pack_qr_payload, qr_png  # noqa: E402
from certify.credentials.vaccination import build_vaccination_credential  # noqa: E402

CONTEXT_URL = "https://example.org/credentials/vaccination/v2"
ITEM = {
    "preEnrollmentCode": "12346",
    "recipient": {
        "name": "Bhaya Mitra",
        "dob": "1994-11-30",
        "gender": "Male",
        "nationality": "Indian",
        "identity": "did:in.gov.uidai.aadhaar:2342343334",
        "address": {"addressLine1": "12, MG Road", "district": "Bengaluru Urban", "state": "Karnataka", "pincode": "560001"},
    },
    "vaccination": {
        "name": "Covishield",
        "batch": "4121Z025",
        "manufacturer": "Serum Institute of India",
        "date": "2021-05-12T10:15:00.000Z",
        "effectiveStart": "2021-05-12",
        "effectiveUntil": "2022-05-12",
        "dose": 1,
        "totalDoses": 2,
    },
    "vaccinator": {"name": "Sooraj Singh"},
    "facility": {"name": "ABC Medical Center", "address": {"addressLine1": "123, Koramangala", "state": "Karnataka"}},
}


def credentials(n: int) -> list[dict]:
    out = []
    for i in range(n):
        item = copy.deepcopy(ITEM)
        item["preEnrollmentCode"] = str(100000 + i)
        item["recipient"]["name"] = f"Person {i} राम"
        out.append(
            build_vaccination_credential(
                item,
                certificate_id=str(9000000000 + i),
                issuer="https://example.org/",
                context_url=CONTEXT_URL,
                issuance_date="2021-08-27T10:57:57.237Z",
                evidence_base_url="https://example.org/vaccine/",
            )
        )
    return out


def per_call_ms(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    loader = make_document_loader(context_alias(CONTEXT_URL, "vaccination-v2"))
    creds = credentials(n)
    canonicalize(creds[0], loader)
    canonicalize_pyld(creds[0], loader)
    assert all(canonicalize(c, loader) == canonicalize_pyld(c, loader) for c in creds[:50])

    pyld_ms = per_call_ms(lambda c: canonicalize_pyld(c, loader), creds[: max(200, n // 10)])
    fast_ms = [per_call_ms(lambda c: canonicalize(c, loader), creds) for _ in range(3)]
    print(f"canonicalise  pyld normalize : {pyld_ms:7.3f} ms/credential")
    print(f"canonicalise  fast path      : {statistics.median(fast_ms):7.3f} ms/credential")

    for key in (generate_ed25519("did:example:1"), generate_rsa("did:example:2")):
        created = "2021-08-27T10:57:57Z"
        ms = per_call_ms(lambda c: sign_credential(c, key, created=created, loader=loader), creds)
        signed = [sign_credential(c, key, created=created, loader=loader) for c in creds[:500]]
        vms = per_call_ms(lambda s: verify_credential(s, key, loader), signed)
        print(f"sign_credential {key.proof_type:22s}: {ms:6.3f} ms  = {1000 / ms:7.0f} signatures/s (1 core)")
        print(f"verify_credential {key.proof_type:20s}: {vms:6.3f} ms  = {1000 / vms:7.0f} verifications/s")

    payloads = [pack_qr_payload(s) for s in signed[:50]]
    print(f"pack_qr_payload              : {per_call_ms(pack_qr_payload, signed):7.3f} ms  ({len(payloads[0])} bytes)")
    print(f"qr_png (auto mask)           : {per_call_ms(qr_png, payloads[:10]):7.3f} ms")
    print(f"qr_png (mask_pattern=0)      : {per_call_ms(lambda p: qr_png(p, mask_pattern=0), payloads[:10]):7.3f} ms")


if __name__ == "__main__":
    main()
