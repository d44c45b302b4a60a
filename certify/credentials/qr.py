"""QR payloads for signed credentials, as DIVOC printed them.

DIVOC's QR code holds the raw bytes of a ZIP archive with one DEFLATE entry,
``certificate.json``, containing the compact JSON credential (820-1136 bytes
for real certificates).  Its Node path handed the ZIP to the QR encoder as a
JS binary string, so bytes >= 0x80 were UTF-8 encoded in those codes; its Go
path wrote raw bytes.  :func:`unpack_qr_payload` accepts raw ZIP bytes, the
UTF-8-mangled form, and plain JSON, and refuses oversized or odd archives.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from typing import Any, Union

import qrcode.constants
import zxingcpp
from PIL import Image, ImageOps

__all__ = [
    "MAX_ENTRIES",
    "MAX_UNCOMPRESSED",
    "QRPayloadError",
    "ZIP_ENTRY_NAME",
    "pack_qr_payload",
    "qr_png",
    "qr_text_png",
    "unpack_qr_payload",
]

ZIP_ENTRY_NAME = "certificate.json"
#: Largest accepted decompressed certificate (bytes).
MAX_UNCOMPRESSED = 64 * 1024
#: Largest accepted number of ZIP entries (DIVOC writes exactly one).
MAX_ENTRIES = 4
#: Largest accepted scanned payload (bytes); a version-40 QR holds < 3 KiB.
MAX_PAYLOAD = 16 * 1024
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class QRPayloadError(ValueError):
    """A scanned QR payload is not a certificate we can read; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def pack_qr_payload(credential: dict[str, Any]) -> bytes:
    """ZIP bytes with one DEFLATE entry ``certificate.json`` (compact JSON).

    Deterministic: the entry timestamp is fixed to 1980-01-01, so the same
    credential always gives the same bytes.
    """
    body = json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    info = zipfile.ZipInfo(ZIP_ENTRY_NAME, date_time=_FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 0
    info.external_attr = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(info, body)
    return buffer.getvalue()


def _read_zip(data: bytes) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as exc:
        raise QRPayloadError(f"not a readable ZIP archive: {exc}") from exc
    with archive:
        entries = archive.infolist()
        if not entries:
            raise QRPayloadError("ZIP archive is empty")
        if len(entries) > MAX_ENTRIES:
            raise QRPayloadError(f"ZIP archive has {len(entries)} entries (max {MAX_ENTRIES})")
        names = [e.filename for e in entries]
        entry = next((e for e in entries if e.filename == ZIP_ENTRY_NAME), None)
        if entry is None:
            if len(entries) != 1:
                raise QRPayloadError(f"ZIP archive has no {ZIP_ENTRY_NAME} (entries: {names})")
            entry = entries[0]
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise QRPayloadError(f"unsupported ZIP compression method {entry.compress_type}")
        if entry.file_size > MAX_UNCOMPRESSED:
            raise QRPayloadError(
                f"{entry.filename} declares {entry.file_size} bytes uncompressed (max {MAX_UNCOMPRESSED})"
            )
        try:
            with archive.open(entry) as fh:
                # never trust the declared size: read at most one byte past the limit
                body = fh.read(MAX_UNCOMPRESSED + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError,
                ValueError) as exc:  # a corrupt header can ask for a negative seek
            raise QRPayloadError(f"cannot decompress {entry.filename}: {exc}") from exc
        if len(body) > MAX_UNCOMPRESSED:
            raise QRPayloadError(f"{entry.filename} is larger than {MAX_UNCOMPRESSED} bytes uncompressed")
        return body


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise QRPayloadError(f"certificate is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise QRPayloadError("certificate JSON is not an object")
    return value


def _unmangle(raw: bytes) -> bytes | None:
    """Undo a binary string that was UTF-8 encoded: decode UTF-8, encode latin-1."""
    try:
        return raw.decode("utf-8").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


def unpack_qr_payload(data: Union[bytes, bytearray, memoryview, str]) -> dict[str, Any]:
    """The credential in a scanned QR payload.

    Accepts raw ZIP bytes, ZIP bytes that were UTF-8 encoded as a binary
    string (decoded as UTF-8, re-encoded as latin-1, then unzipped), and plain
    JSON text or bytes.  Raises :class:`QRPayloadError` for anything else,
    for archives with more than :data:`MAX_ENTRIES` entries and for
    certificates larger than :data:`MAX_UNCOMPRESSED` bytes.
    """
    if isinstance(data, str):
        try:
            raw = data.encode("latin-1")  # a scanner that decoded bytes as latin-1
        except UnicodeEncodeError:
            raw = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise QRPayloadError(f"payload must be bytes or str, not {type(data).__name__}")
    if not raw:
        raise QRPayloadError("payload is empty")
    if len(raw) > MAX_PAYLOAD:
        raise QRPayloadError(f"payload is {len(raw)} bytes (max {MAX_PAYLOAD})")

    if raw.startswith(b"PK"):
        try:
            return _parse_json(_read_zip(raw))
        except QRPayloadError as raw_error:
            # DIVOC's Node path: ZIP bytes >= 0x80 were UTF-8 encoded.
            unmangled = _unmangle(raw)
            if unmangled is None or unmangled == raw:
                raise raw_error
            try:
                return _parse_json(_read_zip(unmangled))
            except QRPayloadError as exc:
                raise QRPayloadError(f"{raw_error.reason}; as UTF-8 mangled ZIP: {exc.reason}") from exc

    stripped = raw.lstrip()
    if stripped.startswith(b"{"):
        return _parse_json(stripped)
    raise QRPayloadError("payload is neither a ZIP archive nor JSON")


#: ``qrcode.constants.ERROR_CORRECT_*`` (the values ``qr_png`` has always taken) -> level.
_EC_LEVELS = {
    qrcode.constants.ERROR_CORRECT_L: "L",
    qrcode.constants.ERROR_CORRECT_M: "M",
    qrcode.constants.ERROR_CORRECT_Q: "Q",
    qrcode.constants.ERROR_CORRECT_H: "H",
}


def qr_png(
    payload: bytes,
    *,
    box_size: int = 4,
    border: int = 4,
    error_correction: int = qrcode.constants.ERROR_CORRECT_M,
    mask_pattern: int | None = None,
) -> bytes:
    """PNG (1-bit greyscale) of a QR code holding ``payload`` in byte mode.

    DIVOC rendered ``QRCode.toDataURL(zip, {scale: 2})`` with the npm
    ``qrcode`` package, whose default error correction is M; ~1 KB payloads
    give a version 23-27 symbol.  The symbol is encoded by zxing-cpp's C++
    encoder (smallest version, one byte-mode segment without ECI, the mask
    chosen by the standard's penalty rules unless ``mask_pattern`` fixes one):
    ~3 ms for 1 KB plus ~3 ms of PNG writing, against ~65 ms with the
    pure-Python ``qrcode`` package (``bench/qr.py`` compares the options).

    :param box_size: pixels per module.
    :param border: quiet zone in modules (the standard asks for 4).
    :param error_correction: a ``qrcode.constants.ERROR_CORRECT_*`` value.
    :param mask_pattern: ``None`` (best mask) or a fixed mask 0-7.
    :raises TypeError: ``payload`` is not bytes.
    :raises ValueError: bad parameters, or the payload does not fit a QR code.
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be bytes")
    if box_size < 1 or border < 0:
        raise ValueError("box_size must be >= 1 and border >= 0")
    level = _EC_LEVELS.get(error_correction)
    if level is None:
        raise ValueError(f"unknown error_correction {error_correction!r}")
    options: dict[str, Any] = {"ec_level": level}
    if mask_pattern is not None:
        if not 0 <= mask_pattern <= 7:
            raise ValueError("mask_pattern must be 0-7 or None")
        options["data_mask"] = mask_pattern
    # bytes (not str) -> byte mode, no ECI; zxing-cpp ignores unknown options,
    # tests/certify/credentials/test_credentials_qr.py checks these are honoured.
    return _barcode_png(bytes(payload), options, box_size, border)[0]


def qr_text_png(text: str, *, ec_level: str = "L", box_size: int = 4, border: int = 4) -> tuple[bytes, int]:
    """(PNG, symbol version) of a QR code holding ASCII ``text`` in the fewest bits.

    zxing-cpp segments the text by itself: ``shc:/`` + digits becomes a byte segment
    and a numeric segment (what SMART Health Cards require), with no ECI.

    :raises ValueError: non-ASCII text, a bad level, or text that does not fit a QR code.
    """
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("text must be ASCII")
    if ec_level not in ("L", "M", "Q", "H"):
        raise ValueError(f"unknown ec_level {ec_level!r}")
    if box_size < 1 or border < 0:
        raise ValueError("box_size must be >= 1 and border >= 0")
    return _barcode_png(text, {"ec_level": ec_level}, box_size, border)


def _barcode_png(content: Union[bytes, str], options: dict[str, Any], box_size: int,
                 border: int) -> tuple[bytes, int]:
    try:
        code = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.QRCode, **options)
        modules = memoryview(code.to_image(scale=1, add_quiet_zones=False))  # 0 = dark, 255 = light
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"cannot encode {len(content)} characters as a QR code: {exc}") from exc
    height, width = modules.shape[:2]
    image = Image.frombytes("L", (width, height), modules.tobytes())
    if border:
        image = ImageOps.expand(image, border=border, fill=255)
    if box_size != 1:
        image = image.resize((image.width * box_size, image.height * box_size),
                             Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1").save(out, format="PNG")
    return out.getvalue(), (width - 17) // 4
