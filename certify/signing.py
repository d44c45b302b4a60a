"""The app's issuer: binds configuration and key files to the credential library.

One :class:`Issuer` is built per process, on first use, from the app config.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from flask import current_app

from .credentials import (
    DocumentLoader,
    Ed25519SigningKey,
    RsaSigningKey,
    SigningKey,
    build_vaccination_credential,
    context_alias,
    generate_ed25519,
    generate_rsa,
    load_context,
    load_signing_key_pem,
    make_document_loader,
    sign_credential,
)

SERVED_CONTEXTS = {"v1": "vaccination-v1", "v2": "vaccination-v2", "test-v1": "test-certificate-v1"}


def default_key_path() -> str:
    return os.path.join(current_app.instance_path, "certificate-key.pem")


def write_private_key(path: str, key_type: str) -> None:
    """Write a new private key as PEM, readable by its owner only."""
    key = generate_rsa() if key_type == "rsa" else generate_ed25519()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.private_key_pem())


def load_signing_key(cfg: Mapping[str, Any]) -> SigningKey:
    """The signing key from CERTIFICATE_PRIVATE_KEY (PEM or base58), its _FILE, or instance/."""
    method = cfg["CERTIFICATE_DID"]
    value = cfg.get("CERTIFICATE_PRIVATE_KEY")
    if value:
        if "-----BEGIN" in value:
            key = load_signing_key_pem(value.encode(), method)
        else:
            key = Ed25519SigningKey.from_base58(value.strip(), method)
    else:
        path = cfg.get("CERTIFICATE_PRIVATE_KEY_FILE") or default_key_path()
        if not os.path.exists(path):
            raise RuntimeError(
                f"no signing key: set CERTIFICATE_PRIVATE_KEY_FILE or run "
                f"`flask --app wsgi certify keys generate` (looked for {path})")
        key = load_signing_key_pem(Path(path), method)
    wanted = cfg.get("CERTIFICATE_KEY_TYPE", "ed25519").lower()
    actual = "rsa" if isinstance(key, RsaSigningKey) else "ed25519"
    if wanted != actual:
        raise RuntimeError(f"CERTIFICATE_KEY_TYPE is {wanted} but the configured key is {actual}")
    return key


def _iso_ms(now: dt.datetime) -> str:
    return now.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_s(now: dt.datetime) -> str:
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Issuer:
    key: SigningKey
    loader: DocumentLoader
    issuer: str
    context_url: str
    test_context_url: str
    base_url: str

    def issue_vaccination(self, item: Mapping[str, Any], certificate_id: str,
                          icd11: Mapping[str, tuple[str, str]], now: dt.datetime) -> dict[str, Any]:
        """Build and sign the credential for one validated certify item.

        ``icd11`` maps vaccine names to (ICD-11 code, prophylaxis term); see services.icd11_map.
        """
        credential = build_vaccination_credential(
            item, certificate_id=certificate_id, issuer=self.issuer, context_url=self.context_url,
            issuance_date=_iso_ms(now), evidence_base_url=f"{self.base_url}/vaccine/", icd11=icd11)
        return sign_credential(credential, self.key, loader=self.loader, created=_iso_s(now))

    def issue_test(self, item: Mapping[str, Any], certificate_id: str, now: dt.datetime) -> dict[str, Any]:
        """Build and sign the test-result credential for one validated test item."""
        from .credentials import build_test_credential

        credential = build_test_credential(
            item, certificate_id=certificate_id, issuer=self.issuer, context_url=self.test_context_url,
            issuance_date=_iso_ms(now), evidence_base_url=f"{self.base_url}/test/")
        return sign_credential(credential, self.key, loader=self.loader, created=_iso_s(now))

    def public_key_document(self) -> dict[str, Any]:
        public = self.key.public
        doc = {"did": self.key.verification_method}
        if isinstance(self.key, RsaSigningKey):
            doc.update(type="RsaVerificationKey2018", publicKeyPem=public.public_key_pem())
        else:
            doc.update(type="Ed25519VerificationKey2018", publicKeyBase58=public.public_key_base58)
        return doc


def build_issuer(cfg: Mapping[str, Any]) -> Issuer:
    context_url = cfg["CERTIFICATE_CONTEXT_URL"]
    test_context_url = cfg["CERTIFICATE_TEST_CONTEXT_URL"]
    loader = make_document_loader({**context_alias(context_url, "vaccination-v2"),
                                   **context_alias(test_context_url, "test-certificate-v1")})
    return Issuer(key=load_signing_key(cfg), loader=loader, issuer=cfg["CERTIFICATE_ISSUER"],
                  context_url=context_url, test_context_url=test_context_url,
                  base_url=cfg["CERTIFICATE_BASE_URL"])


SETTING_NAMES = {"issuer": "CERTIFICATE_ISSUER", "issuerName": "CERTIFICATE_ISSUER_NAME",
                 "contextUrl": "CERTIFICATE_CONTEXT_URL", "updateLimit": "CERTIFICATE_UPDATE_LIMIT",
                 "revokedMessage": "CERTIFICATE_REVOKED_MESSAGE"}


def effective_config() -> dict[str, Any]:
    """The app config with the published ``settings`` document laid over it.

    Settings edited at run time (issuer, issuer name, context URL, update limit, revoked
    message) take effect on the next certify or render, without a restart. The active
    version comes from config_store's short-lived version map, and the document is read
    only when that version changes, so the hot paths pay no query for it.
    """
    import json

    from .config_store import active, active_versions

    version = active_versions("settings").get("settings", 0)
    cached = current_app.extensions.get("effective_settings")
    if cached is None or cached[0] != version:
        row = active("settings") if version else None
        overlay = json.loads(row.content) if row is not None else {}
        version = row.version if row is not None else 0
        cached = current_app.extensions["effective_settings"] = (version, overlay)
    cfg = dict(current_app.config)
    cfg.update({SETTING_NAMES[k]: v for k, v in cached[1].items() if k in SETTING_NAMES})
    cfg["_settings_version"] = cached[0]
    return cfg


def current_issuer() -> Issuer:
    """This process's issuer, rebuilt when the published settings change."""
    cfg = effective_config()
    cached = current_app.extensions.get("divoc_issuer")
    if cached is None or cached[0] != cfg["_settings_version"]:
        cached = current_app.extensions["divoc_issuer"] = (cfg["_settings_version"], build_issuer(cfg))
    return cached[1]


def served_context(version: str) -> dict[str, Any] | None:
    name = SERVED_CONTEXTS.get(version)
    return load_context(name) if name else None
