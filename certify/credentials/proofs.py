"""DIVOC-compatible Linked Data proofs: sign and verify.

The proof is exactly what DIVOC's signer (jsonld-signatures 6) writes::

    "proof": {
      "type": "Ed25519Signature2018" | "RsaSignature2018",
      "created": "2021-08-27T10:57:57Z",
      "verificationMethod": "did:india",
      "proofPurpose": "assertionMethod",
      "jws": "<b64url(header)>..<b64url(signature)>"
    }

The signed bytes are ``b64url(header) + "." + SHA256(c14n(proof options)) +
SHA256(c14n(credential without proof))`` where the proof options are the
proof without ``jws`` and with ``"@context": "https://w3id.org/security/v2"``,
c14n is URDNA2015 (:mod:`certify.credentials.canonical`) and the header is
``{"alg":"EdDSA"|"PS256","b64":false,"crit":["b64"]}``.

The proof-options digest only depends on (type, created, verificationMethod,
proofPurpose), so it is cached per document loader: credentials signed in the
same second cost one credential canonicalisation and one signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Union

from .canonical import CanonicalizationError, canonicalize
from .contexts import SECURITY_V2_URL, DocumentLoader, make_document_loader
from .keys import (
    ED25519_PROOF_TYPE,
    RSA_PROOF_TYPE,
    Ed25519SigningKey,
    Ed25519VerificationKey,
    RsaSigningKey,
    RsaVerificationKey,
    SigningKey,
    VerificationKey,
)

__all__ = [
    "PROOF_PURPOSE",
    "KeyResolver",
    "Keys",
    "Reason",
    "VerificationResult",
    "default_loader",
    "now_created",
    "sign_credential",
    "sign_many",
    "verify_credential",
]

PROOF_PURPOSE = "assertionMethod"

_ALG_BY_TYPE: Mapping[str, str] = {ED25519_PROOF_TYPE: "EdDSA", RSA_PROOF_TYPE: "PS256"}
_ENCODED_HEADER: Mapping[str, str] = {
    proof_type: base64.urlsafe_b64encode(
        json.dumps({"alg": alg, "b64": False, "crit": ["b64"]}, separators=(",", ":")).encode()
    )
    .rstrip(b"=")
    .decode("ascii")
    for proof_type, alg in _ALG_BY_TYPE.items()
}
_CREATED_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_PROOF_CACHE_KEY = "proofs.options_digest"
_MAX_PROOF_CACHE = 4096

KeyResolver = Callable[[str], Union[VerificationKey, None]]
#: Keys for :func:`verify_credential`: a mapping verificationMethod -> key,
#: a resolver callable, or a single key.
Keys = Union[Mapping[str, VerificationKey], KeyResolver, VerificationKey, SigningKey]

_default_loader: DocumentLoader | None = None


def default_loader() -> DocumentLoader:
    """A shared loader serving only the bundled well-known contexts."""
    global _default_loader
    if _default_loader is None:
        _default_loader = make_document_loader()
    return _default_loader


def now_created() -> str:
    """The current UTC time as a proof ``created`` value (seconds, ``Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _options_digest(proof_options: Mapping[str, Any], loader: DocumentLoader) -> bytes:
    """SHA-256 of the canonical proof options (cached per loader)."""
    key = json.dumps(proof_options, sort_keys=True, ensure_ascii=False)
    cache: dict[str, bytes] = loader.cache.setdefault(_PROOF_CACHE_KEY, {})
    digest = cache.get(key)
    if digest is None:
        options = {"@context": SECURITY_V2_URL, **proof_options}
        digest = hashlib.sha256(canonicalize(options, loader).encode("utf-8")).digest()
        if len(cache) >= _MAX_PROOF_CACHE:
            cache.clear()
        cache[key] = digest
    return digest


def _signing_input(
    encoded_header: str, proof_options: Mapping[str, Any], document: Mapping[str, Any], loader: DocumentLoader
) -> bytes:
    doc_digest = hashlib.sha256(canonicalize(document, loader).encode("utf-8")).digest()
    return encoded_header.encode("ascii") + b"." + _options_digest(proof_options, loader) + doc_digest


def sign_credential(
    credential: Mapping[str, Any],
    key: SigningKey,
    *,
    created: str | None = None,
    loader: DocumentLoader | None = None,
) -> dict[str, Any]:
    """Return a copy of ``credential`` with a DIVOC-compatible ``proof``.

    ``created`` defaults to now (UTC, seconds precision).  ``loader`` must
    serve every context the credential uses (default: bundled well-known
    URLs only).  Raises ``ValueError`` if the credential already has a proof,
    :class:`~certify.credentials.canonical.CanonicalizationError` if it is not
    valid JSON-LD.
    """
    if not isinstance(credential, Mapping):
        raise TypeError("credential must be a JSON object (dict)")
    if "proof" in credential:
        raise ValueError("credential already has a proof; remove it before signing")
    if not isinstance(key, (Ed25519SigningKey, RsaSigningKey)):
        raise TypeError(f"unsupported signing key {type(key).__name__}")
    loader = loader or default_loader()
    created = created or now_created()
    proof_type = key.proof_type
    proof_options = {
        "type": proof_type,
        "created": created,
        "verificationMethod": key.verification_method,
        "proofPurpose": PROOF_PURPOSE,
    }
    encoded_header = _ENCODED_HEADER[proof_type]
    data = _signing_input(encoded_header, proof_options, credential, loader)
    signature = key.sign(data)
    signed = dict(credential)
    signed["proof"] = {**proof_options, "jws": encoded_header + ".." + _b64url(signature)}
    return signed


def sign_many(
    credentials: Iterable[Mapping[str, Any]],
    key: SigningKey,
    *,
    created: str | None = None,
    loader: DocumentLoader | None = None,
) -> list[dict[str, Any]]:
    """Sign several credentials with one ``created`` timestamp (shared proof digest)."""
    created = created or now_created()
    loader = loader or default_loader()
    return [sign_credential(c, key, created=created, loader=loader) for c in credentials]


class Reason(StrEnum):
    """Why :func:`verify_credential` accepted or rejected a credential."""

    OK = "ok"
    MALFORMED_CREDENTIAL = "malformed credential"
    NO_PROOF = "no proof"
    MULTIPLE_PROOFS = "multiple proofs"
    MALFORMED_PROOF = "malformed proof"
    UNSUPPORTED_PROOF_TYPE = "unsupported proof type"
    UNSUPPORTED_PROOF_PURPOSE = "unsupported proof purpose"
    UNKNOWN_KEY = "unknown key"
    KEY_TYPE_MISMATCH = "key type mismatch"
    MALFORMED_JWS = "malformed jws"
    CANONICALISATION_FAILED = "canonicalisation failed"
    BAD_SIGNATURE = "bad signature"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Outcome of :func:`verify_credential`.

    ``reason`` is a :class:`Reason` (a ``str``); ``detail`` adds free text for
    logs.  ``verification_method`` is the proof's method when it could be read.
    """

    valid: bool
    reason: str
    verification_method: str | None = None
    detail: str = ""

    def __bool__(self) -> bool:
        return self.valid


def _resolve_key(keys: Keys, method: str) -> VerificationKey | None:
    if isinstance(keys, (Ed25519SigningKey, RsaSigningKey)):
        keys = keys.public
    if isinstance(keys, (Ed25519VerificationKey, RsaVerificationKey)):
        return keys if keys.verification_method == method else None
    if isinstance(keys, Mapping):
        found = keys.get(method)
    else:
        found = keys(method)
    if isinstance(found, (Ed25519SigningKey, RsaSigningKey)):
        found = found.public
    return found


def verify_credential(
    credential: Any,
    keys: Keys,
    loader: DocumentLoader | None = None,
) -> VerificationResult:
    """Verify a DIVOC credential's proof.  Never raises on bad input.

    ``keys`` maps ``proof.verificationMethod`` to a verification key, or is a
    resolver callable, or a single key.  ``loader`` must serve the
    credential's contexts (default: bundled well-known URLs only).
    """

    def fail(reason: Reason, detail: str = "", method: str | None = None) -> VerificationResult:
        return VerificationResult(False, reason, method, detail)

    try:
        if not isinstance(credential, Mapping):
            return fail(Reason.MALFORMED_CREDENTIAL, "credential is not a JSON object")
        proof = credential.get("proof")
        if proof is None:
            return fail(Reason.NO_PROOF)
        if isinstance(proof, list):
            if len(proof) != 1:
                return fail(Reason.MULTIPLE_PROOFS if proof else Reason.NO_PROOF)
            proof = proof[0]
        if not isinstance(proof, Mapping):
            return fail(Reason.MALFORMED_PROOF, "proof is not an object")
        method = proof.get("verificationMethod")
        if not isinstance(method, str) or not method:
            return fail(Reason.MALFORMED_PROOF, "verificationMethod missing")
        proof_type = proof.get("type")
        if proof_type not in _ALG_BY_TYPE:
            return fail(Reason.UNSUPPORTED_PROOF_TYPE, f"proof type {proof_type!r}", method)
        if proof.get("proofPurpose") != PROOF_PURPOSE:
            return fail(Reason.UNSUPPORTED_PROOF_PURPOSE, f"{proof.get('proofPurpose')!r}", method)
        created = proof.get("created")
        if not isinstance(created, str) or not _CREATED_RE.fullmatch(created):
            return fail(Reason.MALFORMED_PROOF, "created is not an ISO 8601 timestamp", method)

        try:
            key = _resolve_key(keys, method)
        except Exception as exc:  # a caller's resolver failed
            return fail(Reason.UNKNOWN_KEY, f"key resolver failed: {exc}", method)
        if key is None:
            return fail(Reason.UNKNOWN_KEY, f"no key for {method!r}", method)
        if not isinstance(key, (Ed25519VerificationKey, RsaVerificationKey)) or key.proof_type != proof_type:
            return fail(Reason.KEY_TYPE_MISMATCH, f"{type(key).__name__} cannot verify {proof_type}", method)

        jws = proof.get("jws")
        if not isinstance(jws, str):
            return fail(Reason.MALFORMED_JWS, "jws missing", method)
        parts = jws.split(".")
        if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
            return fail(Reason.MALFORMED_JWS, "expected detached JWS header..signature", method)
        encoded_header, _, encoded_sig = parts
        try:
            header = json.loads(_b64url_decode(encoded_header))
            signature = _b64url_decode(encoded_sig)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            return fail(Reason.MALFORMED_JWS, f"undecodable jws: {exc}", method)
        if (
            not isinstance(header, dict)
            or header.get("alg") != _ALG_BY_TYPE[proof_type]
            or header.get("b64") is not False
            or not isinstance(header.get("crit"), list)
            or "b64" not in header["crit"]
        ):
            return fail(Reason.MALFORMED_JWS, f"unexpected JWS header {header!r}", method)

        loader = loader or default_loader()
        document = {k: v for k, v in credential.items() if k != "proof"}
        proof_options = {
            k: v for k, v in proof.items() if k not in ("jws", "signatureValue", "proofValue", "@context")
        }
        try:
            data = _signing_input(encoded_header, proof_options, document, loader)
        except CanonicalizationError as exc:
            return fail(Reason.CANONICALISATION_FAILED, str(exc), method)
        if not key.verify(signature, data):
            return fail(Reason.BAD_SIGNATURE, "", method)
        return VerificationResult(True, Reason.OK, method)
    except Exception as exc:  # never raise on hostile input
        return fail(Reason.MALFORMED_CREDENTIAL, f"{type(exc).__name__}: {exc}")
