"""Detached JWS over canonical JSON, for signed documents that are not credentials
(the revocation list).

The signed bytes are ``b64url(header) + "." + canonical_json(document without "signature")``
with the header ``{"alg", "kid", "b64": false, "crit": ["b64"]}`` (RFC 7797). Canonical JSON
is keys sorted, no whitespace, UTF-8 (RFC 8785 for documents without floats).
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from .keys import (
    Ed25519VerificationKey,
    RsaVerificationKey,
    SigningKey,
    VerificationKey,
)

SIGNATURE_FIELD = "signature"


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Sorted keys, compact separators, UTF-8; floats are refused (not canonical across languages)."""

    def check(value: Any) -> None:
        if isinstance(value, float):
            raise TypeError("canonical JSON here carries no floats")
        if isinstance(value, Mapping):
            for v in value.values():
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)

    check(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_document(document: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """Return ``document`` with a ``signature`` member: {alg, kid, jws (header..signature)}."""
    body = {k: v for k, v in document.items() if k != SIGNATURE_FIELD}
    header = {"alg": key.jws_alg, "kid": key.verification_method, "b64": False, "crit": ["b64"]}
    encoded = _b64url(json.dumps(header, separators=(",", ":")).encode())
    signature = key.sign(encoded.encode("ascii") + b"." + canonical_json(body))
    return {**body, SIGNATURE_FIELD: {"alg": key.jws_alg, "kid": key.verification_method,
                                      "jws": f"{encoded}..{_b64url(signature)}"}}


def verify_document(document: Any, keys: Mapping[str, tuple[VerificationKey, ...]]) -> bool:
    """True when the document's detached JWS verifies with a trusted key of its ``kid``."""
    try:
        sig = document[SIGNATURE_FIELD]
        encoded, empty, signature = sig["jws"].split(".")
        header = json.loads(_b64url_decode(encoded))
        if empty or header.get("b64") is not False or header.get("crit") != ["b64"]:
            return False
        wanted = {"EdDSA": Ed25519VerificationKey, "PS256": RsaVerificationKey}[header["alg"]]
        body = {k: v for k, v in document.items() if k != SIGNATURE_FIELD}
        data = encoded.encode("ascii") + b"." + canonical_json(body)
        raw = _b64url_decode(signature)
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
        return False
    return any(isinstance(k, wanted) and k.verify(raw, data) for k in keys.get(header.get("kid"), ()))
