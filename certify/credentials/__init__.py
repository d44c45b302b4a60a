"""DIVOC-compatible verifiable credentials: contexts, canonicalisation, keys, proofs, QR.

Flask-free and offline.  Typical use::

    from certify.credentials import (
        build_vaccination_credential, context_alias, make_document_loader,
        sign_credential, verify_credential, pack_qr_payload,
    )

    loader = make_document_loader(context_alias(CONTEXT_URL, "vaccination-v2"))  # once
    credential = build_vaccination_credential(item, certificate_id=..., issuer=...,
                                              context_url=CONTEXT_URL, issuance_date=...,
                                              evidence_base_url=...)
    signed = sign_credential(credential, key, loader=loader)
"""

from .canonical import CanonicalizationError, canonicalize, canonicalize_pyld
from .contexts import (
    ContextNotAvailableError,
    DocumentLoader,
    context_alias,
    load_context,
    make_document_loader,
)
from .keys import (
    Ed25519SigningKey,
    Ed25519VerificationKey,
    KeyFormatError,
    RsaSigningKey,
    RsaVerificationKey,
    SigningKey,
    VerificationKey,
    generate_ed25519,
    generate_rsa,
    load_signing_key_pem,
    load_verification_key_pem,
)
from .proofs import (
    Reason,
    VerificationResult,
    sign_credential,
    sign_many,
    verify_credential,
)
from .qr import QRPayloadError, pack_qr_payload, qr_png, unpack_qr_payload
from .vaccination import (
    DEFAULT_ICD11,
    Icd11Vaccine,
    build_vaccination_credential,
    icd11_lookup,
    lookup_icd11,
    subject_id,
)

__all__ = [
    "DEFAULT_ICD11",
    "CanonicalizationError",
    "ContextNotAvailableError",
    "DocumentLoader",
    "Ed25519SigningKey",
    "Ed25519VerificationKey",
    "Icd11Vaccine",
    "KeyFormatError",
    "QRPayloadError",
    "Reason",
    "RsaSigningKey",
    "RsaVerificationKey",
    "SigningKey",
    "VerificationKey",
    "VerificationResult",
    "build_vaccination_credential",
    "canonicalize",
    "canonicalize_pyld",
    "context_alias",
    "generate_ed25519",
    "generate_rsa",
    "icd11_lookup",
    "load_context",
    "load_signing_key_pem",
    "load_verification_key_pem",
    "lookup_icd11",
    "make_document_loader",
    "pack_qr_payload",
    "qr_png",
    "sign_credential",
    "sign_many",
    "subject_id",
    "unpack_qr_payload",
    "verify_credential",
]

# COVID-19 test-result certificates (test-certificate context v1).
from .testcert import (
    DEFAULT_DISEASE,
    TEST_CREDENTIAL_TYPE,
    TEST_RESULTS,
    build_test_credential,
    canonical_test_result,
    normalise_timestamp,
    parse_timestamp,
    sample_event_key,
)

__all__ += [
    "DEFAULT_DISEASE",
    "TEST_CREDENTIAL_TYPE",
    "TEST_RESULTS",
    "build_test_credential",
    "canonical_test_result",
    "normalise_timestamp",
    "parse_timestamp",
    "sample_event_key",
]
