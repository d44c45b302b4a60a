"""Benchmark QR code PNG generation for DIVOC's ~1 KB binary payload (EC level M).

    .venv/bin/python bench/qr.py [--repeat 30]

Every candidate encodes the same payloads - real ``pack_qr_payload`` ZIPs of
signed credentials, 820-1140 bytes like DIVOC's - in byte mode at error
correction M with the standard's mask selection (unless the name says
otherwise), and writes the same PNG: 4 px per module, 4-module quiet zone,
1-bit greyscale, written by Pillow. The encoder's module matrix is the only
thing that differs. Each output is decoded with ``zxingcpp.read_barcodes``; a
candidate is marked BROKEN unless the decoded bytes equal the payload and the
code is at level M.

Candidates not installed are skipped (``pip install segno qrcodegen
pyqrcodeng`` to compare them all); ``zxing-cpp`` and ``qrcode`` are in
requirements.txt.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402

from certify.credentials.qr import pack_qr_payload, qr_png  # noqa: E402

CREDENTIAL = ROOT.parent / "shared" / "interop" / "divoc" / "ed25519-signed-valid.json"
BOX, BORDER = 4, 4


def payloads(count: int) -> list[bytes]:
    """Distinct real-looking payloads: the DIVOC fixture with varied names and ids."""
    base = json.loads(CREDENTIAL.read_text(encoding="utf-8"))
    names = ["प्रिया शर्मा", "செல்வி கார்த்திகேயன்", "Sean O'Brien", "সুমিতা দাস", "محمد عرفان"]
    result = []
    for i in range(count):
        credential = copy.deepcopy(base)
        credential["credentialSubject"]["name"] = names[i % len(names)]
        credential["evidence"][0]["certificateId"] = f"{100000000000 + i}"
        credential["proof"]["jws"] += os.urandom(40 + i % 40).hex()  # vary size: 0.9-1.1 KB
        result.append(pack_qr_payload(credential))
    return result


def png_from_rows(rows: list[bytes] | list[list[bool]], size: int) -> bytes:
    """Same PNG for every candidate: rows of dark(truthy)/light modules, no quiet zone."""
    full = size + 2 * BORDER
    light = b"\xff" * full
    pad = b"\xff" * BORDER
    lines = [light] * BORDER
    for row in rows:
        lines.append(pad + bytes(0 if dark else 255 for dark in row) + pad)
    lines.extend([light] * BORDER)
    image = Image.frombytes("L", (full, full), b"".join(lines))
    image = image.resize((full * BOX, full * BOX), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1").save(out, format="PNG", optimize=True)
    return out.getvalue()


# --------------------------------------------------------------- candidates

def with_qrcode(mask: int | None) -> Callable[[bytes], bytes]:
    import qrcode
    from qrcode.util import MODE_8BIT_BYTE, QRData

    def make(payload: bytes) -> bytes:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0,
                             mask_pattern=mask)
        code.add_data(QRData(payload, mode=MODE_8BIT_BYTE))
        code.make(fit=True)
        matrix = code.get_matrix()
        return png_from_rows(matrix, len(matrix))
    return make


def with_segno(payload: bytes) -> bytes:
    import segno
    code = segno.make_qr(payload, error="m", mode="byte", boost_error=False)
    rows = list(code.matrix)
    return png_from_rows(rows, len(rows))


def with_qrcodegen(payload: bytes) -> bytes:
    from qrcodegen import QrCode, QrSegment
    # encode_binary() would raise the level above M when it fits: boostecl=False
    code = QrCode.encode_segments([QrSegment.make_bytes(payload)], QrCode.Ecc.MEDIUM,
                                  boostecl=False)
    size = code.get_size()
    rows = [[code.get_module(x, y) for x in range(size)] for y in range(size)]
    return png_from_rows(rows, size)


def with_pyqrcodeng(payload: bytes) -> bytes:
    import pyqrcodeng
    code = pyqrcodeng.create(payload, error="M", mode="binary")
    rows = code.code
    return png_from_rows(rows, len(rows))


def with_zxingcpp(payload: bytes) -> bytes:
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    size = image.shape[0]
    data = image.tobytes()  # 0 = dark, 255 = light
    rows = [[data[y * size + x] == 0 for x in range(size)] for y in range(size)]
    return png_from_rows(rows, size)


def with_zxingcpp_pillow(payload: bytes) -> bytes:
    """zxing-cpp's module image handed to Pillow as is (no per-module Python loop)."""
    from PIL import ImageOps
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    view = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    size = view.shape[0]
    image = ImageOps.expand(Image.frombytes("L", (size, size), view.tobytes()), BORDER, fill=255)
    full = size + 2 * BORDER
    image = image.resize((full * BOX, full * BOX), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1").save(out, format="PNG", optimize=True)
    return out.getvalue()


def project_qr_png(payload: bytes) -> bytes:
    return qr_png(payload, box_size=BOX, border=BORDER)


CANDIDATES: dict[str, Callable[[], Callable[[bytes], bytes]]] = {
    "qrcode 8 (all 8 masks)": lambda: with_qrcode(None),
    "qrcode 8 (fixed mask 0)": lambda: with_qrcode(0),
    "segno": lambda: (__import__("segno"), with_segno)[1],
    "qrcodegen (Nayuki)": lambda: (__import__("qrcodegen"), with_qrcodegen)[1],
    "pyqrcodeng": lambda: (__import__("pyqrcodeng"), with_pyqrcodeng)[1],
    "zxing-cpp create_barcode": lambda: with_zxingcpp,
    "zxing-cpp, Pillow direct": lambda: with_zxingcpp_pillow,
    "certify.credentials.qr.qr_png": lambda: project_qr_png,
}


def check(png: bytes, payload: bytes) -> str:
    """'' when the PNG decodes to exactly ``payload`` at level M, else the problem."""
    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    if len(found) != 1:
        return f"decoded {len(found)} codes"
    if found[0].bytes != payload:
        return "decoded bytes differ from the payload"
    if found[0].symbology_identifier != "]Q1":  # ]Q2 etc.: ECI or FNC1 segments added
        return f"symbology {found[0].symbology_identifier!r}, not plain byte mode ]Q1"
    if found[0].ec_level != "M":
        return f"error correction {found[0].ec_level!r}, not M"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed PNGs per candidate")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    data = payloads(args.repeat)
    print(f"QR PNG, byte mode, EC level M, {BOX} px/module, {BORDER}-module quiet zone; "
          f"payloads {min(map(len, data))}-{max(map(len, data))} bytes; one core")
    for name, factory in CANDIDATES.items():
        try:
            make = factory()
        except ImportError:
            print(f"  {name:32s} not installed")
            continue
        make(data[0])  # warm up (imports, tables)
        times, problems = [], set()
        for payload in data:
            t0 = time.perf_counter()
            png = make(payload)
            times.append(time.perf_counter() - t0)
            if problem := check(png, payload):
                problems.add(problem)
        verdict = "BROKEN: " + "; ".join(sorted(problems)) if problems else "decodes to payload"
        print(f"  {name:32s} {statistics.fmean(times) * 1000:7.1f} ms mean "
              f"{statistics.median(times) * 1000:7.1f} ms median   {verdict}")


if __name__ == "__main__":
    main()
