"""Verify a certificate from the command line.

    python -m certify.verify FILE

FILE is a credential JSON, a raw QR payload (ZIP bytes or text) or a QR image (PNG/JPEG);
``-`` reads standard input. Prints the result JSON and exits 0 only when the certificate
is valid (1 when it is not, 2 on a usage error). Trusted keys, contexts and revocations
come from the app's configuration and database (DATABASE_URL).
"""
from __future__ import annotations

import json
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = args[0]
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2

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
    print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    return 0 if result.status == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
