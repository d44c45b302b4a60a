"""Verify a certificate from the command line: DIVOC, EU DCC (HC1:) or SMART Health Card.

    python -m certify.verify FILE
    python -m certify.verify FILE --trust trust.json [--revocation-list revocations.json]
    python -m certify.verify FILE --eu-dsc dsc.pem [--eu-dsc other.pem] [--shc-jwks ISS=jwks.json]

FILE is a DIVOC credential JSON, a raw QR payload (DIVOC ZIP bytes, ``HC1:`` text,
``shc:/`` numeric text, one chunk a line), a compact JWS or ``.smart-health-card`` file,
or a QR image (PNG/JPEG); ``-`` reads standard input. Prints the result JSON and exits 0
only when the certificate is valid (1 when it is not, 2 on a usage error).

Online (default): what is trusted (issuer keys, contexts, EU DSCs, SHC issuers) and the
certificates' status come from the app's configuration and database (DATABASE_URL).
Offline (any of ``--trust``, ``--eu-dsc``, ``--shc-jwks``): ``--trust`` is a saved copy of
GET /api/v1/verify/trust, ``--eu-dsc`` a document signer certificate (PEM or DER) to trust
for HC1: codes, ``--shc-jwks ISS=FILE`` a health-card issuer and its JWKS, and
``--revocation-list`` a saved GET /certificate/api/revocationList, whose signature is
checked and whose age is printed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()


def trust_from_document(doc: dict) -> Any:
    """A DIVOC TrustStore from a saved trust document (GET /api/v1/verify/trust)."""
    from .credentials.verify import trust_store_from_documents

    return trust_store_from_documents(doc.get("keys", []), doc.get("contexts", {}))


def offline_trust(doc: dict, eu_dscs: list[bytes], shc_issuers: dict[str, dict]) -> Any:
    """Universal trust from a saved trust document plus DSC files and issuer JWKS."""
    from .credentials.eudcc import dsc_kid, load_certificate
    from .credentials.universal import Trust

    dscs, own_kids = [], set()
    for entry in doc.get("euDscs", []):
        cert = load_certificate(entry["certificate"])
        dscs.append(cert)
        if entry.get("own"):
            own_kids.add(dsc_kid(cert))
    dscs += [load_certificate(raw) for raw in eu_dscs]
    issuers = {i["iss"]: {"keys": i["keys"]} for i in doc.get("shcIssuers", [])}
    issuers.update(shc_issuers)
    own_shc = next((i["iss"] for i in doc.get("shcIssuers", []) if i.get("own")), None)
    return Trust(divoc=trust_from_document(doc), eu_dscs=tuple(dscs), shc_issuers=issuers,
                 own_eu_kids=frozenset(own_kids), own_shc_issuer=own_shc)


def _verdict(data: bytes, trust: Any) -> Any:
    from .credentials import universal
    from .credentials import verify as vlib

    if vlib.is_image(data):
        return universal.verify_image(data, trust)
    if data.lstrip()[:1] == b"{":
        try:
            return universal.verify_request_json(vlib._json(data), trust)
        except vlib.InputError as exc:
            return universal.Verdict(universal.DIVOC, "invalid", (str(exc),))
    return universal.verify_bytes(data, trust)


def verify_offline(data: bytes, trust_doc: dict, revocations: dict | None,
                   now: dt.datetime | None = None, eu_dscs: list[bytes] | None = None,
                   shc_issuers: dict[str, dict] | None = None) -> dict[str, Any]:
    """Verify with no database or network: the trust document (and extra DSCs and issuers)
    and a signed revocation list."""
    from .credentials.jws import verify_document
    from .credentials.universal import DIVOC, SHC

    now = now or dt.datetime.now(dt.timezone.utc)
    trust = offline_trust(trust_doc, eu_dscs or [], shc_issuers or {})
    verdict = _verdict(data, trust)
    status = verdict.status
    reasons = list(verdict.reasons)
    listing: dict[str, Any] = {"used": False}
    if revocations is not None:
        signed = verify_document(revocations, trust.divoc.keys)
        listing = {"used": signed, "signatureValid": signed, "serial": revocations.get("serial"),
                   "thisUpdate": revocations.get("thisUpdate")}
        try:
            updated = dt.datetime.fromisoformat(str(revocations.get("thisUpdate")).replace("Z", "+00:00"))
            listing["ageSeconds"] = int((now - updated).total_seconds())
        except ValueError:
            pass
        if not signed:
            reasons.append("warning: the revocation list's signature is not valid; it was ignored")
        elif verdict.valid and verdict.certificate_id:
            for entry in revocations.get("entries", []):
                if entry.get("certificateId") != verdict.certificate_id or entry.get("status") == "valid":
                    continue
                until = entry.get("until")
                if entry["status"] == "suspended" and until and until <= now.strftime("%Y-%m-%dT%H:%M:%SZ"):
                    continue
                status = entry["status"]
                reasons.append(f"{status} at {entry.get('time')}" + (f": {entry['reason']}" if entry.get("reason") else ""))
    elif verdict.format == DIVOC or verdict.certificate_id:
        reasons.append("warning: no revocation list given; revocation was not checked")
    if verdict.format == SHC and verdict.own and verdict.valid:
        reasons.append("warning: this card is ours; whether its doses were revoked is known online only")
    return {"status": status, "format": verdict.format, "reasons": reasons, "certificate": verdict.certificate,
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


def _shc_option(spec: str) -> tuple[str, dict]:
    iss, sep, path = spec.partition("=")
    if not sep or not iss or not path:
        raise ValueError(f"--shc-jwks wants ISS=FILE, got {spec!r}")
    jwks = json.loads(_read(path))
    if not isinstance(jwks, dict):
        raise ValueError(f"{path}: a JWKS is a JSON object")
    return iss, jwks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m certify.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="credential JSON, QR payload or text, health-card file, or QR image; - for stdin")
    parser.add_argument("--trust", help="saved trust document (offline mode)")
    parser.add_argument("--revocation-list", help="saved signed revocation list (offline mode)")
    parser.add_argument("--eu-dsc", action="append", default=[], metavar="PEM",
                        help="trust this EU document signer certificate (offline mode; repeatable)")
    parser.add_argument("--shc-jwks", action="append", default=[], metavar="ISS=FILE",
                        help="trust this SMART Health Card issuer and JWKS (offline mode; repeatable)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    offline = bool(args.trust or args.eu_dsc or args.shc_jwks)
    if args.revocation_list and not args.trust:
        parser.error("--revocation-list needs --trust")
    try:
        data = _read(args.file)
        trust_doc = json.loads(_read(args.trust)) if args.trust else {}
        revocations = json.loads(_read(args.revocation_list)) if args.revocation_list else None
        eu_dscs = [_read(path) for path in args.eu_dsc]
        shc_issuers = dict(_shc_option(spec) for spec in args.shc_jwks)
    except (OSError, ValueError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return 2
    try:
        result = (verify_offline(data, trust_doc, revocations, eu_dscs=eu_dscs, shc_issuers=shc_issuers)
                  if offline else verify_online(data))
    except (ValueError, KeyError, TypeError) as exc:  # an unreadable --eu-dsc or trust document entry
        print(f"cannot use the trust given: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["status"] == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
