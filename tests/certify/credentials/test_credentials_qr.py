"""QR payload packing/unpacking, zip-bomb guards and PNG rendering."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from PIL import Image

from certify.credentials.proofs import Reason, sign_credential, verify_credential
from certify.credentials.qr import (
    MAX_UNCOMPRESSED,
    QRPayloadError,
    pack_qr_payload,
    qr_png,
    unpack_qr_payload,
)

from .credentials_support import TRICKY_ITEMS, build


@pytest.fixture
def signed(loader: Any, divoc_ed_key: Any) -> dict[str, Any]:
    return sign_credential(build(TRICKY_ITEMS["hindi"]), divoc_ed_key, loader=loader)


def test_pack_is_a_deterministic_single_deflate_entry(signed: dict[str, Any]) -> None:
    payload = pack_qr_payload(signed)
    assert payload == pack_qr_payload(signed)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        [info] = archive.infolist()
        assert info.filename == "certificate.json"
        assert info.compress_type == zipfile.ZIP_DEFLATED
        body = archive.read(info)
    assert json.loads(body) == signed
    assert body == json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert "राम".encode() in body  # UTF-8, not \u escapes
    assert len(payload) < 1400


def test_unpack_raw_mangled_and_plain_json(signed: dict[str, Any]) -> None:
    payload = pack_qr_payload(signed)
    assert any(b >= 0x80 for b in payload)
    assert unpack_qr_payload(payload) == signed
    mangled = payload.decode("latin-1").encode("utf-8")  # DIVOC's Node path
    assert mangled != payload
    assert unpack_qr_payload(mangled) == signed
    assert unpack_qr_payload(payload.decode("latin-1")) == signed  # scanner returned text
    assert unpack_qr_payload(mangled.decode("utf-8")) == signed
    text = json.dumps(signed, ensure_ascii=False)
    assert unpack_qr_payload(text) == signed
    assert unpack_qr_payload(b"  " + text.encode("utf-8")) == signed


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (b"garbage\x00\xff", "neither"),
        ("hello", "neither"),
        (b"PK\x03\x04 truncated", "not a readable ZIP"),
        (b"{not json", "not valid UTF-8 JSON"),
        (b"[1, 2]", "neither"),
        (json.dumps([1]).encode(), "neither"),
        (_zip([("certificate.json", b"[1]")]), "not an object"),
        (_zip([("certificate.json", b"\xff\xfe")]), "UTF-8"),
        (_zip([("a.json", b"{}"), ("b.json", b"{}")]), "no certificate.json"),
        (_zip([(f"{i}.json", b"{}") for i in range(10)]), "entries"),
        (_zip([("certificate.json", b"{" + b" " * (MAX_UNCOMPRESSED + 10) + b"}")]), "max"),
        (b"x" * 20000, "max"),
    ],
)
def test_bad_payloads_raise_qr_payload_error(payload: Any, reason: str) -> None:
    with pytest.raises(QRPayloadError) as info:
        unpack_qr_payload(payload)
    assert reason in info.value.reason


def test_zip_bomb_with_lying_header_is_stopped() -> None:
    bomb = bytearray(_zip([("certificate.json", b"{" + b" " * 5_000_000 + b"}")]))
    assert len(bomb) < 16 * 1024
    # forge the declared sizes (local header and central directory) to look small
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = bomb.find(signature)
        bomb[at + offset : at + offset + 4] = (100).to_bytes(4, "little")
    with pytest.raises(QRPayloadError):
        unpack_qr_payload(bytes(bomb))


def test_truncated_payload_fails(signed: dict[str, Any]) -> None:
    payload = pack_qr_payload(signed)
    for cut in (10, len(payload) // 2, len(payload) - 1):
        with pytest.raises(QRPayloadError):
            unpack_qr_payload(payload[:cut])


def test_one_byte_flip_in_certificate_is_invalid(signed: dict[str, Any], divoc_ed_key: Any, loader: Any) -> None:
    body = json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()
    at = body.index(b"MG Road")
    flipped = body[:at] + b"N" + body[at + 1 :]  # one byte: "NG Road"
    credential = unpack_qr_payload(_zip([("certificate.json", flipped)]))
    result = verify_credential(credential, divoc_ed_key.public, loader)
    assert not result.valid and result.reason == Reason.BAD_SIGNATURE
    assert verify_credential(unpack_qr_payload(pack_qr_payload(signed)), divoc_ed_key.public, loader).valid


def test_qr_png_renders_a_square_code(signed: dict[str, Any]) -> None:
    payload = pack_qr_payload(signed)
    png = qr_png(payload, box_size=3, border=4)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    width, height = image.size
    assert width == height and width % 3 == 0
    modules = width // 3 - 8
    assert (modules - 17) % 4 == 0 and 21 <= modules <= 177  # a valid QR version
    assert image.convert("L").getpixel((0, 0)) == 255  # quiet zone is white
    assert image.convert("L").getpixel((4 * 3, 4 * 3)) == 0  # finder pattern corner is dark
    with pytest.raises(TypeError):
        qr_png("text")  # type: ignore[arg-type]


def test_corrupt_local_header_offset_is_a_payload_error() -> None:
    """Found by the verify API fuzz test: a header offset that makes zipfile seek backwards."""
    import io
    import struct
    import zipfile

    from certify.credentials.qr import QRPayloadError, unpack_qr_payload

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("certificate.json", '{"a": 1}')
    data = bytearray(buf.getvalue())
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 42, 0xFFFFFF00)  # local header offset far out of range
    try:
        unpack_qr_payload(bytes(data[60:]))
    except QRPayloadError:
        pass
    try:
        unpack_qr_payload(bytes(data))
    except QRPayloadError:
        pass


def _decode(png: bytes) -> Any:
    import zxingcpp

    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return found[0]


def test_qr_png_decodes_to_the_exact_payload_at_level_m(signed: dict[str, Any]) -> None:
    payload = pack_qr_payload(signed)
    assert any(b >= 0x80 for b in payload)  # binary, not text

    scanned = _decode(qr_png(payload))

    assert scanned.bytes == payload  # byte for byte, no UTF-8 mangling
    assert scanned.symbology_identifier == "]Q1"  # one plain byte-mode symbol: no ECI, no FNC1
    assert scanned.ec_level == "M"  # DIVOC's level
    assert unpack_qr_payload(scanned.bytes) == signed
    version = int(scanned.extra["Version"])
    modules = 17 + 4 * version
    assert Image.open(io.BytesIO(qr_png(payload))).size == ((modules + 8) * 4,) * 2  # 4 px, 4-module zone


def test_qr_png_honours_error_correction_and_mask() -> None:
    import qrcode.constants

    payload = bytes(range(256)) * 3
    high = _decode(qr_png(payload, error_correction=qrcode.constants.ERROR_CORRECT_H))
    assert (high.ec_level, high.bytes) == ("H", payload)
    for mask in (0, 5):
        fixed = _decode(qr_png(payload, mask_pattern=mask))
        assert (int(fixed.extra["DataMask"]), fixed.bytes) == (mask, payload)
    with pytest.raises(ValueError):
        qr_png(payload, mask_pattern=8)
    with pytest.raises(ValueError):
        qr_png(b"x" * 4000)  # more than a version-40 symbol holds
