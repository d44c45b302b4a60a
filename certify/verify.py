"""Verify a certificate from the command line.

    python -m certify.verify FILE
    python -m certify.verify FILE --trust trust.json [--revocation-list revocations.json]

FILE is a credential JSON, a raw QR payload (ZIP bytes or text) or a QR image (PNG/JPEG);
``-`` reads standard input. Prints the result JSON and exits 0 only when the certificate
is valid (1 when it is not, 2 on a usage error).

Online (default): trusted keys, contexts and certificate status come from the app's
configuration and database (DATABASE_URL). Offline: ``--trust`` is a saved copy of
GET /api/v1/verify/trust and ``--revocation-list`` of GET /certificate/api/revocationList;
the list's signature is checked and its age is printed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()


def _credential(data: bytes) -> Any:
    from .credentials import verify as vlib

    if vlib.is_image(data):
        data = vlib.decode_qr_image(data)
        return vlib.credential_from_bytes(data)
    if data.lstrip()[:1] == b"{":
        return vlib.credential_from_request_json(vlib._json(data))
    return vlib.credential_from_bytes(data)


def trust_from_document(doc: dict) -> Any:
    """A TrustStore from a saved trust document (GET /api/v1/verify/trust)."""
    from .credentials.verify import trust_store_from_documents

    return trust_store_from_documents(doc.get("keys", []), doc.get("contexts", {}))


def verify_offline(data: bytes, trust_doc: dict, revocations: dict | None,
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """Verify with no database or network: the trust document and a signed revocation list."""
    from .credentials import verify as vlib
    from .credentials.jws import verify_document

    now = now or dt.datetime.now(dt.timezone.utc)
    trust = trust_from_document(trust_doc)
    try:
        outcome = vlib.verify(_credential(data), trust)
    except vlib.InputError as exc:
        outcome = vlib.Outcome(False, (str(exc),))
    status = "valid" if outcome.valid else "invalid"
    reasons = list(outcome.reasons)
    listing: dict[str, Any] = {"used": False}
    if revocations is not None:
        signed = verify_document(revocations, trust.keys)
        listing = {"used": signed, "signatureValid": signed, "serial": revocations.get("serial"),
                   "thisUpdate": revocations.get("thisUpdate")}
        try:
            updated = dt.datetime.fromisoformat(str(revocations.get("thisUpdate")).replace("Z", "+00:00"))
            listing["ageSeconds"] = int((now - updated).total_seconds())
        except ValueError:
            pass
        if not signed:
            reasons.append("warning: the revocation list's signature is not valid; it was ignored")
        elif outcome.valid and outcome.certificate_id:
            for entry in revocations.get("entries", []):
                if entry.get("certificateId") != outcome.certificate_id or entry.get("status") == "valid":
                    continue
                until = entry.get("until")
                if entry["status"] == "suspended" and until and until <= now.strftime("%Y-%m-%dT%H:%M:%SZ"):
                    continue
                status = entry["status"]
                reasons.append(f"{status} at {entry.get('time')}" + (f": {entry['reason']}" if entry.get("reason") else ""))
    else:
        reasons.append("warning: no revocation list given; revocation was not checked")
    return {"status": status, "reasons": reasons,
            "certificate": vlib.summary(outcome.credential) if outcome.credential else None,
            "revocationList": listing}


def verify_online(data: bytes) -> dict[str, Any]:
    from core import create_app, jobs

    from . import verification
    from .credentials import verify as vlib

    app = create_app()
    with app.app_context():
        try:
            if vlib.is_image(data):
                result = verification.verify_input("image", data, channel="cli")
            elif data.lstrip()[:1] == b"{":
                result = verification.verify_input("json", vlib._json(data), channel="cli")
            else:
                result = verification.verify_input("bytes", data, channel="cli")
        except vlib.InputError as exc:
            result = verification.verify_failure(str(exc), channel="cli")
        jobs.commit()
    out = result.as_json()
    out["revocationList"] = {"used": True, "source": "database", "ageSeconds": 0}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m certify.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="credential JSON, QR payload or QR image; - for stdin")
    parser.add_argument("--trust", help="saved trust document (offline mode)")
    parser.add_argument("--revocation-list", help="saved signed revocation list (offline mode)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.revocation_list and not args.trust:
        parser.error("--revocation-list needs --trust")
    try:
        data = _read(args.file)
        trust_doc = json.loads(_read(args.trust)) if args.trust else None
        revocations = json.loads(_read(args.revocation_list)) if args.revocation_list else None
    except (OSError, ValueError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return 2
    result = verify_offline(data, trust_doc, revocations) if trust_doc is not None else verify_online(data)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["status"] == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
