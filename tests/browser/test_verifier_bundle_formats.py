"""The bundle's EU DCC and SMART Health Card verifiers agree with the server's (certify.credentials)
on every EU member-state test vector and on the SMART Health Card spec examples and validator cards."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from certify.credentials import shc
from certify.credentials.eudcc import load_certificate, verify_hc1
from certify.credentials.universal import display_labels, eu_summary, shc_summary
from certify.verification import TrustedDsc, TrustedShcIssuer, _dsc_entry, _shc_entry
from tests.conftest import INTEROP

from .pages import VerifyPage

VECTORS = INTEROP / "eu-dcc" / "testdata"
SHC_EXAMPLES = INTEROP / "shc" / "examples"
FIXTURES = INTEROP / "shc" / "validator-testdata"
SPEC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

RUN_HC1 = """async (cases) => {
  const out = [];
  for (const c of cases) {
    const r = await DivocVerifier.verifyHC1(c.text, c.trust, {entries: []}, {now: c.now});
    out.push({status: r.status, codes: r.reasons.map((x) => x.code), certificate: r.certificate});
  }
  return out;
}"""
RUN_SHC = """async ([cases, trust, now]) => {
  const out = [];
  for (const c of cases) {
    const r = await DivocVerifier.verifySHC(c, trust, {now});
    out.push({status: r.status, codes: r.reasons.map((x) => x.code), certificate: r.certificate});
  }
  return out;
}"""


@pytest.fixture
def page_ready(page, live_server):
    VerifyPage(page, live_server.url).open()
    return page


def category(reason: str) -> str:
    """What kind of failure a server reason is, in the page's reason codes."""
    if reason.startswith("not a readable EU DCC"):
        return "unreadable_payload"
    for prefix in ("unknown key", "bad signature"):
        if reason.startswith(prefix):
            return prefix.replace(" ", "_")
    return "content"


def page_category(code: str) -> str:
    return code if code in ("unreadable_payload", "unknown_key", "bad_signature") else "content"


def _clock(doc) -> dt.datetime:
    clock = dt.datetime.fromisoformat(doc["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    return clock if clock.tzinfo else clock.replace(tzinfo=dt.timezone.utc)


def test_every_eu_member_state_vector_gets_the_servers_verdict(page_ready):
    cases, expected = [], []
    for path in sorted(VECTORS.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        ctx = doc.get("TESTCTX", {})
        if "PREFIX" not in doc or "CERTIFICATE" not in ctx or "VALIDATIONCLOCK" not in ctx:
            continue
        certificate = load_certificate(ctx["CERTIFICATE"])
        now = _clock(doc)
        result = verify_hc1(doc["PREFIX"], [certificate], now=now)
        trust = {"euDscs": [_dsc_entry(TrustedDsc(certificate, False))], "labels": display_labels()}
        cases.append({"text": doc["PREFIX"], "trust": trust, "now": now.timestamp() * 1000})
        expected.append((path.relative_to(VECTORS).as_posix(), result))
    assert len(cases) > 500
    got = page_ready.evaluate(RUN_HC1, cases)
    valid = 0
    for (name, server), browser in zip(expected, got):
        assert (browser["status"] == "valid") is server.valid, (name, server.reasons, browser["codes"])
        if not server.valid:
            assert page_category(browser["codes"][0]) == category(server.reasons[0]), (name, server.reasons, browser)
        summary = eu_summary(server) if server.dcc is not None else None
        assert browser["certificate"] == summary, name
        valid += server.valid
    assert valid > 300


def spec_trust() -> dict:
    jwks = json.loads((SHC_EXAMPLES / "issuer" / ".well-known" / "jwks.json").read_text())
    return {"shcIssuers": [_shc_entry(TrustedShcIssuer(SPEC_ISSUER, jwks, False))], "labels": display_labels()}


def card_inputs() -> list[tuple[str, list[str] | str]]:
    """The spec examples (every form) and the validator's text and file cards."""
    inputs: list[tuple[str, list[str] | str]] = []
    for n in range(4):
        for suffix in ("d-jws.txt", "e-file.smart-health-card"):
            inputs.append((f"example-0{n}-{suffix}", (SHC_EXAMPLES / f"example-0{n}-{suffix}").read_text()))
        chunks = sorted(SHC_EXAMPLES.glob(f"example-0{n}-f-qr-code-numeric-value-*.txt"))
        inputs.append((f"example-0{n}-qr", [p.read_text() for p in chunks]))
    for path in sorted(FIXTURES.glob("test-*")):
        if path.suffix in (".txt", ".smart-health-card") and "-a-" not in path.name and "-b-" not in path.name:
            inputs.append((path.name, path.read_text()))
    return inputs


def test_health_cards_get_the_servers_verdict(page_ready):
    trust = spec_trust()
    jwks = {SPEC_ISSUER: json.loads((SHC_EXAMPLES / "issuer" / ".well-known" / "jwks.json").read_text())}
    inputs = card_inputs()
    got = page_ready.evaluate(RUN_SHC, [[data for _, data in inputs], trust, NOW.timestamp() * 1000])
    statuses = []
    for (name, data), browser in zip(inputs, got):
        server = shc.verify_shc(data, jwks, now=NOW.timestamp())
        # the spec's revocation list is the server's business (example 03): the page checks no CRL
        assert browser["status"] == ("invalid" if server.status == "invalid" else "valid"), (name, server.reasons, browser)
        if server.status != "invalid":
            assert browser["certificate"] == shc_summary(server), name
        statuses.append(browser["status"])
    assert statuses.count("valid") >= 8 and statuses.count("invalid") >= 15
