"""COSE_Sign1 (RFC 9052) with ES256 and PS256, as EU Digital COVID Certificates use it.

Only what the EU-DCC needs, on top of ``cbor2`` and ``cryptography``:

* :func:`sign1` makes a tagged COSE_Sign1 with ES256 (ECDSA P-256, SHA-256; the
  signature is the 64-byte ``r || s``) and the key id in the protected header.
* :func:`parse_sign1` reads a COSE_Sign1, tagged (18), inside a CWT tag (61) or bare.
* :func:`verify_sign1` checks its signature with an EC P-256 (ES256) or RSA (PS256,
  RSASSA-PSS with SHA-256 and MGF1-SHA-256) public key.

The algorithm and key id are read from the protected header, else the unprotected
one (the EU test vectors carry both forms); a protected value always wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

__all__ = [
    "ALGORITHM_NAMES",
    "COSE_SIGN1_TAG",
    "CWT_TAG",
    "ES256",
    "PS256",
    "CoseError",
    "Sign1",
    "parse_sign1",
    "sign1",
    "verify_sign1",
]

COSE_SIGN1_TAG = 18
CWT_TAG = 61
HEADER_ALG, HEADER_KID = 1, 4
ES256, PS256 = -7, -37
ALGORITHM_NAMES = {ES256: "ES256", PS256: "PS256", -35: "ES384", -36: "ES512", -38: "PS384",
                   -39: "PS512", -8: "EdDSA"}
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


class CoseError(ValueError):
    """The bytes are not a COSE_Sign1 we can read, or its signature does not verify."""


@dataclass(frozen=True)
class Sign1:
    """A parsed COSE_Sign1 message."""

    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    def _header(self, label: int) -> Any:
        return self.protected[label] if label in self.protected else self.unprotected.get(label)

    @property
    def alg(self) -> Any:
        """The ``alg`` header (COSE algorithm id), protected first."""
        return self._header(HEADER_ALG)

    @property
    def kid(self) -> bytes | None:
        """The ``kid`` header, protected first; ``None`` when absent or not bytes."""
        kid = self._header(HEADER_KID)
        return bytes(kid) if isinstance(kid, (bytes, bytearray)) else None

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        """The ``Sig_structure`` the signature covers."""
        return cbor2.dumps(["Signature1", self.protected_bytes, external_aad, self.payload])


def sign1(payload: bytes, private_key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    """A tagged COSE_Sign1 of ``payload`` signed with ES256 (``kid`` in the protected header)."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or private_key.curve.name != "secp256r1":
        raise CoseError("ES256 signing needs an EC P-256 private key")
    protected = cbor2.dumps({HEADER_ALG: ES256, HEADER_KID: kid})
    message = Sign1(protected, {HEADER_ALG: ES256, HEADER_KID: kid}, {}, payload, b"")
    r, s = decode_dss_signature(private_key.sign(message.to_be_signed(), ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def _decode_header(raw: Any) -> Mapping[Any, Any]:
    if not isinstance(raw, (bytes, bytearray)):
        raise CoseError("the protected header is not a byte string")
    if not raw:
        return {}
    try:
        header = cbor2.loads(bytes(raw))
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise CoseError(f"the protected header is not CBOR: {exc}") from None
    if not isinstance(header, Mapping):
        raise CoseError("the protected header is not a map")
    return header


def parse_sign1(data: bytes) -> Sign1:
    """The COSE_Sign1 in ``data`` (tag 18, tag 61 around tag 18, or an untagged array).

    :raises CoseError: not CBOR, another COSE structure or malformed fields.
    """
    try:
        obj = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise CoseError(f"not CBOR: {exc}") from None
    if isinstance(obj, cbor2.CBORTag) and obj.tag == CWT_TAG:
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise CoseError(f"CBOR tag {obj.tag} is not a COSE_Sign1 (18)")
        obj = obj.value
    if not isinstance(obj, (list, tuple)) or len(obj) != 4:
        raise CoseError("a COSE_Sign1 is an array of 4 items")
    protected_raw, unprotected, payload, signature = obj
    protected = _decode_header(protected_raw)
    if not isinstance(unprotected, Mapping):
        raise CoseError("the unprotected header is not a map")
    if not isinstance(payload, (bytes, bytearray)):
        raise CoseError("the payload is not a byte string")
    if not isinstance(signature, (bytes, bytearray)):
        raise CoseError("the signature is not a byte string")
    return Sign1(bytes(protected_raw), protected, unprotected, bytes(payload), bytes(signature))


def verify_sign1(message: Sign1, public_key: Any) -> None:
    """Check the signature of ``message`` with ``public_key``.

    :raises CoseError: unsupported algorithm, a key that does not fit it (e.g. an
        ES256 message and a P-384 key) or a signature that does not verify.
    """
    alg = message.alg
    data = message.to_be_signed()
    if alg == ES256:
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise CoseError("ES256 needs an EC key; the certificate has another kind")
        if public_key.curve.name != "secp256r1":
            raise CoseError(f"ES256 needs a P-256 key; the certificate's key is on {public_key.curve.name}")
        if len(message.signature) != 64:
            raise CoseError(f"an ES256 signature is 64 bytes, not {len(message.signature)}")
        r = int.from_bytes(message.signature[:32], "big")
        s = int.from_bytes(message.signature[32:], "big")
        try:
            public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise CoseError("the signature does not verify") from None
    elif alg == PS256:
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise CoseError("PS256 needs an RSA key; the certificate has another kind")
        try:
            public_key.verify(message.signature, data, _PSS, hashes.SHA256())
        except InvalidSignature:
            raise CoseError("the signature does not verify") from None
    elif alg is None:
        raise CoseError("no alg header")
    else:
        raise CoseError(f"unsupported algorithm {ALGORITHM_NAMES.get(alg, alg)!r} (ES256 or PS256)")
