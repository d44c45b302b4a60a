"""The EU DCC schema and value sets (../shared/interop/eu-dcc) for tests of what we issue."""
from __future__ import annotations

import json
from typing import Any

import jsonschema

from certify.credentials.eudcc import uvci_is_valid

from .credentials_support import REPO_ROOT

EU = REPO_ROOT.parent / "shared" / "interop" / "eu-dcc"
SCHEMA = json.loads((EU / "schema" / "DCC.combined-schema.json").read_text(encoding="utf-8"))
VALUESETS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (EU / "valuesets").glob("*.json")}


def values(name: str) -> set[str]:
    return set(VALUESETS[name]["valueSetValues"])


def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def assert_valid_dcc(dcc: dict[str, Any]) -> None:
    """The DCC schema (with format checks) and the value set of every coded field."""
    schema_validator().validate(dcc)
    [v] = dcc["v"]
    assert v["tg"] in values("disease-agent-targeted")
    assert v["vp"] in values("vaccine-prophylaxis")
    assert v["mp"] in values("vaccine-medicinal-product")
    assert v["ma"] in values("vaccine-mah-manf")
    assert v["co"] in values("country-2-codes")
    assert uvci_is_valid(v["ci"])


def read_qr(png: bytes) -> str:
    """The text of the one QR code in a PNG."""
    import io

    import zxingcpp
    from PIL import Image

    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    return found.text


def tampered_hc1(text: str) -> str:
    """The same COSE signature over a changed payload (another date of birth)."""
    import zlib

    import cbor2

    from certify.credentials.base45 import b45encode
    from certify.credentials.eudcc import decode_hc1

    message = decode_hc1(text).message
    claims = cbor2.loads(message.payload)
    claims[-260][1]["dob"] = "1999-01-01"
    cose = cbor2.dumps(cbor2.CBORTag(18, [message.protected_bytes, message.unprotected, cbor2.dumps(claims),
                                          message.signature]))
    return "HC1:" + b45encode(zlib.compress(cose, 9))
