"""Shared fixtures for certify tests: DIVOC's own verifier library, run with node."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from certify.credentials import Ed25519SigningKey, RsaSigningKey

NODE_DIR = Path(__file__).resolve().parent / "credentials" / "node"
CONTROLLER = "https://example.org/i/issuer"


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is required for the DIVOC interop test (apt-get install nodejs npm)"
    return path


@pytest.fixture(scope="session")
def divoc_verify() -> Any:
    node = _tool("node")
    if not (NODE_DIR / "node_modules" / "certificate-signer-library" / "signer.js").is_file():
        npm = _tool("npm")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )

    def run(groups: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        proc = subprocess.run(
            [node, str(NODE_DIR / "verify.js")],
            input=json.dumps({"groups": groups}),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=NODE_DIR,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = [line for line in proc.stdout.splitlines() if line.startswith('{"results"')]
        assert lines, proc.stdout[-2000:]
        results: list[list[dict[str, Any]]] = json.loads(lines[-1])["results"]
        return results

    return run


def ed_config(key: Ed25519SigningKey) -> dict[str, Any]:
    return {
        "keyType": "ED25519",
        "CERTIFICATE_DID": key.verification_method,
        "CERTIFICATE_PUBKEY_ID": CONTROLLER,
        "CERTIFICATE_CONTROLLER_ID": CONTROLLER,
        "publicKeyBase58": key.public_key_base58,
    }


def rsa_config(key: RsaSigningKey) -> dict[str, Any]:
    return {
        "keyType": "RSA",
        "CERTIFICATE_DID": key.verification_method,
        "CERTIFICATE_PUBKEY_ID": CONTROLLER,
        "CERTIFICATE_CONTROLLER_ID": CONTROLLER,
        "publicKeyPem": key.public_key_pem(),
    }


