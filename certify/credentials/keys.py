"""Signing and verification keys for DIVOC-style credentials.

Two key types are supported, as in DIVOC:

* **Ed25519** (proof type ``Ed25519Signature2018``).  DIVOC stores keys as
  base58: ``publicKeyBase58`` is the 32-byte public key and
  ``privateKeyBase58`` is 64 bytes, the 32-byte seed followed by the public
  key.  A bare 32-byte seed is accepted too.
* **RSA** (proof type ``RsaSignature2018``, PS256), keys as PEM.

Every key carries the ``verification_method`` written into and matched
against ``proof.verificationMethod`` (DIVOC uses ``did:india``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

__all__ = [
    "DEFAULT_VERIFICATION_METHOD",
    "ED25519_PROOF_TYPE",
    "RSA_PROOF_TYPE",
    "Ed25519SigningKey",
    "Ed25519VerificationKey",
    "KeyFormatError",
    "RsaSigningKey",
    "RsaVerificationKey",
    "SigningKey",
    "VerificationKey",
    "generate_ed25519",
    "generate_rsa",
    "load_signing_key_pem",
    "load_verification_key_pem",
]

DEFAULT_VERIFICATION_METHOD = "did:india"
ED25519_PROOF_TYPE = "Ed25519Signature2018"
RSA_PROOF_TYPE = "RsaSignature2018"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


class KeyFormatError(ValueError):
    """Key material could not be parsed, has the wrong type, or does not match."""


def _b58decode(text: str, what: str) -> bytes:
    try:
        return base58.b58decode(text.strip())
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"{what} is not valid base58") from exc


def _read_pem(pem: Union[str, bytes, os.PathLike[str]]) -> bytes:
    """PEM bytes from text/bytes, or from a file when given a path object."""
    if isinstance(pem, os.PathLike):
        return Path(pem).read_bytes()
    if isinstance(pem, str):
        return pem.encode("ascii", "strict")
    return pem


@dataclass(frozen=True, slots=True)
class Ed25519VerificationKey:
    """An Ed25519 public key (``Ed25519VerificationKey2018``)."""

    public_key: ed25519.Ed25519PublicKey
    verification_method: str = DEFAULT_VERIFICATION_METHOD

    proof_type = ED25519_PROOF_TYPE
    jws_alg = "EdDSA"

    @classmethod
    def from_base58(
        cls, public_key_base58: str, verification_method: str = DEFAULT_VERIFICATION_METHOD
    ) -> "Ed25519VerificationKey":
        """Load DIVOC's ``publicKeyBase58`` (32 bytes)."""
        raw = _b58decode(public_key_base58, "publicKeyBase58")
        if len(raw) != 32:
            raise KeyFormatError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
        return cls(ed25519.Ed25519PublicKey.from_public_bytes(raw), verification_method)

    @property
    def public_key_base58(self) -> str:
        """The public key as base58 (DIVOC's ``publicKeyBase58``)."""
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base58.b58encode(raw).decode("ascii")

    def public_key_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is a valid EdDSA signature of ``data``."""
        try:
            self.public_key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Ed25519SigningKey:
    """An Ed25519 private key with its verification method."""

    private_key: ed25519.Ed25519PrivateKey
    verification_method: str = DEFAULT_VERIFICATION_METHOD

    proof_type = ED25519_PROOF_TYPE
    jws_alg = "EdDSA"

    @classmethod
    def from_base58(
        cls,
        private_key_base58: str,
        verification_method: str = DEFAULT_VERIFICATION_METHOD,
        *,
        public_key_base58: str | None = None,
    ) -> "Ed25519SigningKey":
        """Load DIVOC's ``privateKeyBase58`` (64 bytes seed||public, or a 32-byte seed).

        When the 64-byte form or ``public_key_base58`` is given, the public
        half must match the seed.
        """
        raw = _b58decode(private_key_base58, "privateKeyBase58")
        if len(raw) not in (32, 64):
            raise KeyFormatError(f"Ed25519 private key must be 32 or 64 bytes, got {len(raw)}")
        key = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
        derived = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if len(raw) == 64 and raw[32:] != derived:
            raise KeyFormatError("privateKeyBase58: embedded public key does not match the seed")
        if public_key_base58 is not None and _b58decode(public_key_base58, "publicKeyBase58") != derived:
            raise KeyFormatError("publicKeyBase58 does not match the private key")
        return cls(key, verification_method)

    @property
    def public(self) -> Ed25519VerificationKey:
        """The matching verification key."""
        return Ed25519VerificationKey(self.private_key.public_key(), self.verification_method)

    @property
    def private_key_base58(self) -> str:
        """DIVOC's 64-byte ``privateKeyBase58`` (seed followed by public key)."""
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        pub = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base58.b58encode(seed + pub).decode("ascii")

    @property
    def public_key_base58(self) -> str:
        """The public key as base58."""
        return self.public.public_key_base58

    def private_key_pem(self) -> str:
        """Unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def public_key_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        return self.public.public_key_pem()

    def sign(self, data: bytes) -> bytes:
        """EdDSA signature of ``data`` (deterministic)."""
        return self.private_key.sign(data)


@dataclass(frozen=True, slots=True)
class RsaVerificationKey:
    """An RSA public key (``RsaVerificationKey2018``), PS256 signatures."""

    public_key: rsa.RSAPublicKey
    verification_method: str = DEFAULT_VERIFICATION_METHOD

    proof_type = RSA_PROOF_TYPE
    jws_alg = "PS256"

    @classmethod
    def from_pem(
        cls, pem: Union[str, bytes, os.PathLike[str]], verification_method: str = DEFAULT_VERIFICATION_METHOD
    ) -> "RsaVerificationKey":
        """Load an RSA public key from PEM text/bytes or a PEM file path."""
        key = load_verification_key_pem(pem, verification_method)
        if not isinstance(key, cls):
            raise KeyFormatError("PEM does not hold an RSA public key")
        return key

    def public_key_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM (DIVOC's ``publicKeyPem``)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is a valid PS256 (salt 32) signature of ``data``."""
        try:
            self.public_key.verify(signature, data, _PSS, hashes.SHA256())
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class RsaSigningKey:
    """An RSA private key with its verification method."""

    private_key: rsa.RSAPrivateKey
    verification_method: str = DEFAULT_VERIFICATION_METHOD

    proof_type = RSA_PROOF_TYPE
    jws_alg = "PS256"

    @classmethod
    def from_pem(
        cls,
        pem: Union[str, bytes, os.PathLike[str]],
        verification_method: str = DEFAULT_VERIFICATION_METHOD,
        *,
        password: bytes | None = None,
    ) -> "RsaSigningKey":
        """Load an RSA private key (PKCS#1 or PKCS#8 PEM text/bytes or file path)."""
        key = load_signing_key_pem(pem, verification_method, password=password)
        if not isinstance(key, cls):
            raise KeyFormatError("PEM does not hold an RSA private key")
        return key

    @property
    def public(self) -> RsaVerificationKey:
        """The matching verification key."""
        return RsaVerificationKey(self.private_key.public_key(), self.verification_method)

    def private_key_pem(self) -> str:
        """Unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def public_key_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        return self.public.public_key_pem()

    def sign(self, data: bytes) -> bytes:
        """PS256 signature (RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt)."""
        return self.private_key.sign(data, _PSS, hashes.SHA256())


SigningKey = Union[Ed25519SigningKey, RsaSigningKey]
VerificationKey = Union[Ed25519VerificationKey, RsaVerificationKey]


def load_signing_key_pem(
    pem: Union[str, bytes, os.PathLike[str]],
    verification_method: str = DEFAULT_VERIFICATION_METHOD,
    *,
    password: bytes | None = None,
) -> SigningKey:
    """Load an Ed25519 or RSA private key from PEM text/bytes or a file path."""
    try:
        key = serialization.load_pem_private_key(_read_pem(pem), password=password)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise KeyFormatError(f"cannot load private key PEM: {exc}") from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519SigningKey(key, verification_method)
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigningKey(key, verification_method)
    raise KeyFormatError(f"unsupported private key type {type(key).__name__}")


def load_verification_key_pem(
    pem: Union[str, bytes, os.PathLike[str]], verification_method: str = DEFAULT_VERIFICATION_METHOD
) -> VerificationKey:
    """Load an Ed25519 or RSA public key (SubjectPublicKeyInfo or PKCS#1 PEM)."""
    data = _read_pem(pem)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise KeyFormatError(f"cannot load public key PEM: {exc}") from exc
    if isinstance(key, ed25519.Ed25519PublicKey):
        return Ed25519VerificationKey(key, verification_method)
    if isinstance(key, rsa.RSAPublicKey):
        return RsaVerificationKey(key, verification_method)
    raise KeyFormatError(f"unsupported public key type {type(key).__name__}")


def generate_ed25519(verification_method: str = DEFAULT_VERIFICATION_METHOD) -> Ed25519SigningKey:
    """A new random Ed25519 signing key."""
    return Ed25519SigningKey(ed25519.Ed25519PrivateKey.generate(), verification_method)


def generate_rsa(
    verification_method: str = DEFAULT_VERIFICATION_METHOD, *, key_size: int = 2048
) -> RsaSigningKey:
    """A new random RSA signing key (2048 bits by default, like DIVOC's)."""
    return RsaSigningKey(rsa.generate_private_key(public_exponent=65537, key_size=key_size), verification_method)
