"""The printable SMART Health Card (A4 PDF): the QR code(s) and what they hold, in plain words.

A plain library like :mod:`certify.render` (no Flask): :class:`HealthCardRenderer`
reuses its WeasyPrint set-up (fonts, data-URL-only fetcher, grayscale QR embedding)
with ``templates/certificates/shc.html`` and ``shc.css``.  Labels are English: the
card is meant for verifiers abroad.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .credentials.shc import CVX_SYSTEM, ICD11_SYSTEM
from .render import CertificateRenderer, _qr_png_for_pdf


@dataclass(frozen=True, slots=True)
class HealthCardDose:
    """One row of the card's vaccination table."""

    date: str
    vaccine: str
    code: str
    lot: str
    facility: str


@dataclass(frozen=True, slots=True)
class HealthCardView:
    """Display-ready content of a SMART Health Card PDF."""

    name: str
    birth_date: str
    issuer: str
    issuer_name: str
    doses: tuple[HealthCardDose, ...]
    kid: str

    @classmethod
    def from_card(cls, bundle: Mapping[str, Any], credentials: Sequence[Mapping[str, Any]], *,
                  issuer: str, issuer_name: str, kid: str) -> "HealthCardView":
        """The view of a card built by :func:`certify.credentials.shc.build_fhir_bundle`
        from ``credentials`` (the vaccine names come from them: the card holds codes)."""
        entries = bundle["entry"]
        patient = entries[0]["resource"]
        name = patient["name"][0]
        shown = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
        doses = []
        for entry, credential in zip(entries[1:], credentials):
            res = entry["resource"]
            coding = res["vaccineCode"]["coding"][0]
            system = {CVX_SYSTEM: "CVX", ICD11_SYSTEM: "ICD-11"}.get(coding["system"], coding["system"])
            evidence = credential["evidence"][0]
            performers = res.get("performer") or [{"actor": {"display": ""}}]
            doses.append(HealthCardDose(res["occurrenceDateTime"], str(evidence.get("vaccine", "")),
                                        f"{system} {coding['code']}", res.get("lotNumber", ""),
                                        performers[0]["actor"]["display"]))
        return cls(shown, patient.get("birthDate", ""), issuer, issuer_name, tuple(doses), kid)


class HealthCardRenderer(CertificateRenderer):
    """Renders SMART Health Card PDFs; build once per process and reuse."""

    shc_template_name: Final = "shc"

    def render_shc_html(self, view: HealthCardView, qr_pngs: Sequence[bytes]) -> str:
        """The card's HTML: one QR per chunk (normally one)."""
        uris = ["data:image/png;base64," + base64.b64encode(_qr_png_for_pdf(png)).decode("ascii")
                for png in qr_pngs]
        return self._template("en", self.shc_template_name).render(card=view, qr_data_uris=uris)

    def render_shc_pdf(self, view: HealthCardView, qr_pngs: Sequence[bytes]) -> bytes:
        """The card as an A4 PDF (one page per QR beyond the first)."""
        html = self.render_shc_html(view, qr_pngs)
        return self._write_pdf(html, self._shc_stylesheets, self._shipped("en", self.shc_template_name))

    def _shc_stylesheets(self) -> tuple[Any, ...]:
        """``shc.css``, parsed on first use (under the render lock)."""
        cached: tuple[Any, ...] | None = getattr(self, "_shc_css", None)
        if cached is None:
            css = self._parse_css(f"{self.shc_template_name}.css")
            cached = (css,) if css is not None else ()
            self._shc_css = cached
        return cached
