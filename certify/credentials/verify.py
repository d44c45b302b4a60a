"""Verify a DIVOC credential from any of its carriers: JSON, QR payload bytes or a QR image.

Flask-free. The app supplies a :class:`TrustStore`; revocation is the app's concern.
Nothing here raises on bad input: every problem becomes a specific reason.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .contexts import DocumentLoader
from .keys import Ed25519VerificationKey, RsaVerificationKey, VerificationKey
from .proofs import Reason, verify_credential
from .qr import QRPayloadError, unpack_qr_payload

CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
MAX_INPUT_BYTES = 2 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
CREDENTIAL_TYPES = {"ProofOfVaccinationCredential": "vaccination",
                    "ProofOfTestCertificateCredential": "test"}


class InputError(ValueError):
    """The input could not be read as a credential; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class TrustStore:
    """Trusted issuer keys (by verificationMethod; one id may carry an Ed25519 and an RSA
    key, as DIVOC's own test vectors do) and accepted context URLs."""

    keys: Mapping[str, tuple[VerificationKey, ...]]
    loader: DocumentLoader
    contexts: frozenset[str]


@dataclass(frozen=True)
class Outcome:
    valid: bool
    reasons: tuple[str, ...]
    credential: Mapping[str, Any] | None = None
    format: str = "divoc"
    kind: str = ""
    verification_method: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def certificate_id(self) -> str | None:
        evidence = (self.credential or {}).get("evidence")
        if isinstance(evidence, list) and evidence and isinstance(evidence[0], Mapping):
            cid = evidence[0].get("certificateId")
            return str(cid) if cid not in (None, "") else None
        return None


BASE_CONTEXTS = frozenset({"https://www.w3.org/2018/credentials/v1", "https://w3id.org/security/v1",
                           "https://w3id.org/security/v2"})


def trust_store_from_documents(keys: list[Mapping[str, Any]],
                               contexts: Mapping[str, Mapping[str, Any]]) -> TrustStore:
    """A TrustStore from trust-document parts: key entries ``{"id", "type", "publicKeyBase58"
    | "publicKeyPem"}`` and context documents by URL (as GET /api/v1/verify/trust serves them)."""
    from .contexts import make_document_loader

    loaded: dict[str, tuple[VerificationKey, ...]] = {}
    for entry in keys:
        kid = entry["id"]
        key: VerificationKey = (RsaVerificationKey.from_pem(entry["publicKeyPem"], kid) if "publicKeyPem" in entry
                                else Ed25519VerificationKey.from_base58(entry["publicKeyBase58"], kid))
        loaded[kid] = loaded.get(kid, ()) + (key,)
    return TrustStore(keys=loaded, loader=make_document_loader(contexts),
                      contexts=frozenset(contexts) - BASE_CONTEXTS)


def _json(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        raise InputError("the JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise InputError("not valid JSON") from None


def credential_from_bytes(data: bytes) -> dict[str, Any]:
    """A credential from scanned QR bytes (ZIP, UTF-8-mangled ZIP) or JSON text."""
    if len(data) > MAX_INPUT_BYTES:
        raise InputError("the input is too large")
    if not data.strip():
        raise InputError("the input is empty")
    try:
        credential = unpack_qr_payload(data)
    except QRPayloadError as exc:
        raise InputError(f"unreadable QR payload: {exc}") from None
    except RecursionError:
        raise InputError("the JSON is nested too deeply") from None
    if not isinstance(credential, dict):
        raise InputError("not a DIVOC credential: the payload is not a JSON object")
    return credential


def credential_from_request_json(body: Any) -> dict[str, Any]:
    """``{"qr": base64}``, ``{"payload": text}`` or the credential itself."""
    if not isinstance(body, dict):
        raise InputError("send the credential JSON, {\"qr\": \"<base64>\"} or a QR image")
    if "qr" in body and "@context" not in body:
        value = body["qr"]
        if not isinstance(value, str):
            raise InputError("qr must be a base64 string")
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InputError("qr is not valid base64") from None
        return credential_from_bytes(raw)
    if "payload" in body and "@context" not in body:
        value = body["payload"]
        if not isinstance(value, str):
            raise InputError("payload must be a string")
        return credential_from_bytes(value.encode("utf-8"))
    return body


def decode_qr_image(image: bytes) -> bytes:
    """The raw bytes of the QR code in a PNG/JPEG image."""
    return bytes(read_qr_symbols(image)[0].bytes)


def read_qr_symbols(image: bytes) -> list[Any]:
    """Every QR code zxing-cpp finds in a PNG/JPEG image (``zxingcpp.Barcode`` objects)."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    if len(image) > MAX_INPUT_BYTES * 4:
        raise InputError("the image is too large")
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(image)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise InputError("the image is too large")
            img.load()
            results = zxingcpp.read_barcodes(img.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError,
            Image.DecompressionBombError):  # Pillow reports some corrupt PNG chunks as SyntaxError
        raise InputError("unreadable image: not a readable PNG or JPEG") from None
    if not results:
        raise InputError("unreadable QR: no QR code found in the image")
    return list(results)


def is_image(data: bytes) -> bool:
    return data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM"))


def _reason_text(result: Any) -> str:
    reason = result.reason
    if reason == Reason.UNKNOWN_KEY:
        return f"unknown key: {result.verification_method or '?'} is not a trusted issuer key"
    if reason == Reason.BAD_SIGNATURE:
        return "bad signature: the certificate was changed after it was signed"
    detail = f" ({result.detail})" if getattr(result, "detail", "") else ""
    return f"{reason}{detail}"


def verify(credential: Any, trust: TrustStore) -> Outcome:
    """Check shape, contexts and proof. Revocation is checked by the caller."""
    if not isinstance(credential, dict):
        return Outcome(False, ("not a DIVOC credential: not a JSON object",))
    contexts = credential.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != CREDENTIALS_V1:
        return Outcome(False, ("not a DIVOC credential: @context must start with the W3C credentials context",),
                       credential)
    unknown = [c for c in contexts[1:] if not isinstance(c, str) or c not in trust.contexts]
    if unknown:
        shown = unknown[0] if isinstance(unknown[0], str) else "an inline context"
        return Outcome(False, (f"not a DIVOC credential: unknown context {shown}",), credential)
    types = credential.get("type")
    kind = ""
    if isinstance(types, list) and "VerifiableCredential" in types:
        kind = next((CREDENTIAL_TYPES[t] for t in types if isinstance(t, str) and t in CREDENTIAL_TYPES), "")
    if not kind:
        return Outcome(False, ("not a DIVOC credential: type must be ProofOfVaccinationCredential",),
                       credential)
    proof = credential.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    proof_type = proof.get("type") if isinstance(proof, Mapping) else None
    candidates = trust.keys.get(method, ()) if isinstance(method, str) else ()
    wanted = RsaVerificationKey if proof_type == "RsaSignature2018" else Ed25519VerificationKey
    key = next((k for k in candidates if isinstance(k, wanted)), candidates[0] if candidates else None)
    try:
        result = verify_credential(credential, key if key is not None else {}, trust.loader)
    except RecursionError:
        return Outcome(False, ("not a DIVOC credential: nested too deeply",), credential, kind=kind)
    if not result.valid:
        return Outcome(False, (_reason_text(result),), credential, kind=kind,
                       verification_method=result.verification_method)
    return Outcome(True, (), credential, kind=kind, verification_method=result.verification_method)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def summary(credential: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a verifier compares with the holder's ID: display fields only."""
    if not isinstance(credential, Mapping):
        return None
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    evidence = credential.get("evidence")
    ev = evidence[0] if isinstance(evidence, list) and evidence and isinstance(evidence[0], Mapping) else {}
    facility = ev.get("facility") if isinstance(ev.get("facility"), Mapping) else {}
    issuer = credential.get("issuer")
    return {
        "name": _text(subject.get("name")),
        "age": _text(subject.get("age")),
        "dob": _text(subject.get("dob")),
        "gender": _text(subject.get("gender")),
        "certificateId": _text(ev.get("certificateId")),
        "vaccine": _text(ev.get("vaccine")),
        "dose": ev.get("dose") if isinstance(ev.get("dose"), int) else _text(ev.get("dose")),
        "totalDoses": ev.get("totalDoses") if isinstance(ev.get("totalDoses"), int) else _text(ev.get("totalDoses")),
        "date": _text(ev.get("date")),
        "facility": _text(facility.get("name")),
        "issuer": _text(issuer.get("id") if isinstance(issuer, Mapping) else issuer),
    }
