"""Base45 (RFC 9285), the text encoding of EU Digital COVID Certificates.

Base45 uses exactly the 45 characters of the QR code alphanumeric mode, so an
``HC1:`` string is stored in that mode (~5.5 bits per character instead of 8).
Two bytes become three characters, a trailing byte two characters.
"""

from __future__ import annotations

__all__ = ["ALPHABET", "Base45Error", "b45decode", "b45encode"]

#: The 45 characters, in value order (RFC 9285 section 4).
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """The text is not valid Base45."""


def b45encode(data: bytes) -> str:
    """Base45 text of ``data``."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str | bytes) -> bytes:
    """The bytes encoded by ``text``.

    :raises Base45Error: a character outside the alphabet, a length of 3n+1,
        or a group whose value does not fit (RFC 9285 section 4.2: such input
        MUST be rejected).
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise Base45Error("not ASCII text") from None
    if len(text) % 3 == 1:
        raise Base45Error(f"a Base45 text cannot be {len(text)} characters long")
    try:
        values = [_VALUE[ch] for ch in text]
    except KeyError as exc:
        raise Base45Error(f"{exc.args[0]!r} is not a Base45 character") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i:i + 3]
        n = sum(v * 45**k for k, v in enumerate(group))
        if len(group) == 3:
            if n > 0xFFFF:
                raise Base45Error(f"group {text[i:i + 3]!r} is larger than two bytes")
            out.extend(divmod(n, 256))
        else:
            if n > 0xFF:
                raise Base45Error(f"group {text[i:i + 2]!r} is larger than one byte")
            out.append(n)
    return bytes(out)
