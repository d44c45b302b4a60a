"""Certificate PDF rendering: A4, one page, text, fonts/shaping, QR size, no network.

Text is extracted with poppler's ``pdftotext`` (scripts/system-deps.sh installs
poppler-utils). WeasyPrint writes one ToUnicode entry per glyph, so extracted
Devanagari/Tamil is not byte-identical to the input (a multi-glyph cluster such as
the repha in "शर्मा" maps back imperfectly; known WeasyPrint limitation). For those
names the tests check the extracted letters in order, and check shaping directly:
the embedded Indic font must map one glyph to a whole conjunct-plus-vowel cluster
("प्रि", "செ"), which only happens when HarfBuzz shaped the text.
"""
from __future__ import annotations

import copy
import io
import json
import logging
import re
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pypdf
import pytest
import qrcode
from pypdf.generic import ContentStream

from certify.render import (
    CertificateRenderer,
    CertificateRenderError,
    CertificateView,
    VaxEvent,
    mask_identity,
)

ROOT = Path(__file__).resolve().parents[2]
DIVOC_CREDENTIAL = ROOT.parent / "shared" / "interop" / "divoc" / "ed25519-signed-valid.json"

A4_PT = (595.28, 841.89)
QR_PT = 2.5 * 72  # 180 pt

HINDI_NAME = "प्रिया शर्मा"
TAMIL_NAME = "செல்வி கார்த்திகேயன்"
ENGLISH_NAME = "Sean \"Ronnie\" O'Brien"


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Override tests/conftest.py's DB-truncating autouse fixture: rendering is a
    pure function of its inputs and touches neither PostgreSQL nor Redis."""


# --------------------------------------------------------------------------- #
# Fixtures and helpers
# --------------------------------------------------------------------------- #

@pytest.fixture(scope="module")
def renderer() -> CertificateRenderer:
    return CertificateRenderer()


@pytest.fixture(scope="module")
def qr_png() -> bytes:
    # Same size class as DIVOC's QR payloads (820-1136 bytes of zipped JSON).
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
    code.add_data(bytes(range(256)) * 4)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def divoc_credential() -> dict[str, Any]:
    return json.loads(DIVOC_CREDENTIAL.read_text(encoding="utf-8"))


def make_credential(name: str, *, dose: int, total: int, date: str = "2021-10-17T05:30:00.000Z",
                    certificate_id: str = "740236512345") -> dict[str, Any]:
    credential = copy.deepcopy(divoc_credential())
    credential["credentialSubject"].update(
        name=name, dob="1990-04-01", id="did:in.gov.uidai.aadhaar:123456789012",
        address={"streetAddress": "12, MG Road", "streetAddress2": "", "district": "Bengaluru Urban",
                 "city": "Bengaluru", "addressRegion": "Karnataka", "addressCountry": "IN",
                 "postalCode": "560001"},
    )
    credential["evidence"][0].update(
        certificateId=certificate_id, vaccine="COVISHIELD", manufacturer="Serum Institute of India",
        batch=f"4121Z0{dose}5", date=date, dose=dose, totalDoses=total, icd11Code="XM9QW8",
        prophylaxis="COVID-19 vaccine, non-replicating viral vector",
    )
    return credential


def pdftotext(pdf: bytes) -> str:
    result = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=pdf,
                            capture_output=True, check=True, timeout=30)
    return result.stdout.decode("utf-8")


def letters(text: str) -> str:
    """Only the letters (consonants, independent vowels, Latin letters), in order."""
    return "".join(c for c in text if unicodedata.category(c).startswith("L"))


def single_page(pdf: bytes) -> pypdf.PageObject:
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert float(page.mediabox.width) == pytest.approx(A4_PT[0], abs=1)
    assert float(page.mediabox.height) == pytest.approx(A4_PT[1], abs=1)
    return page


def _mul(m: list[float], n: list[float]) -> list[float]:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return [a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2]


def image_sizes_pt(page: pypdf.PageObject) -> list[tuple[float, float]]:
    """(width, height) in points of every image XObject painted on the page,
    following q/Q/cm and Form XObjects."""
    sizes: list[tuple[float, float]] = []

    def walk(content: ContentStream, resources: Any, ctm: list[float]) -> None:
        xobjects = resources.get("/XObject", {}) if resources else {}
        stack: list[list[float]] = []
        for operands, operator in content.operations:
            if operator == b"q":
                stack.append(ctm)
            elif operator == b"Q":
                ctm = stack.pop()
            elif operator == b"cm":
                ctm = _mul([float(x) for x in operands], ctm)
            elif operator == b"Do":
                xobject = xobjects[operands[0]].get_object()
                if xobject["/Subtype"] == "/Image":
                    sizes.append((abs(ctm[0]) + abs(ctm[1]), abs(ctm[2]) + abs(ctm[3])))
                elif xobject["/Subtype"] == "/Form":
                    matrix = [float(x) for x in xobject.get("/Matrix", [1, 0, 0, 1, 0, 0])]
                    walk(ContentStream(xobject, page.pdf), xobject.get("/Resources", resources),
                         _mul(matrix, ctm))

    walk(page.get_contents(), page["/Resources"], [1, 0, 0, 1, 0, 0])
    return sizes


def embedded_fonts(page: pypdf.PageObject) -> dict[str, Any]:
    """BaseFont name (without subset prefix) -> font dict, in page and form resources."""
    fonts: dict[str, Any] = {}

    def walk(resources: Any) -> None:
        if not resources:
            return
        for font in resources.get("/Font", {}).values():
            font = font.get_object()
            fonts[str(font["/BaseFont"]).split("+", 1)[-1]] = font
        for xobject in resources.get("/XObject", {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    walk(page["/Resources"])
    return fonts


def to_unicode_targets(font: Any) -> set[str]:
    """Every Unicode string a glyph of this font maps to in its ToUnicode CMap."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    targets = set()
    for _, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", cmap):
        targets.add(bytes.fromhex(dst).decode("utf-16-be", errors="replace"))
    return targets


def render(renderer: CertificateRenderer, credential: dict[str, Any], qr_png: bytes,
           caplog: pytest.LogCaptureFixture, **kwargs: Any) -> bytes:
    view = CertificateView.from_credential(credential, **kwargs)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = renderer.render_pdf(view, qr_png)
    problems = [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]
    assert problems == []  # e.g. ".notdef glyph rendered" when a script has no font
    return pdf


# --------------------------------------------------------------------------- #
# PDF output
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize(
    ("name", "dose", "total", "font", "cluster"),
    [
        (HINDI_NAME, 1, 2, "Noto-Sans-Devanagari", "प्रि"),  # pre-base ि reordered
        (TAMIL_NAME, 2, 2, "Noto-Sans-Tamil", "செ"),  # pre-base ெ reordered
        (ENGLISH_NAME, 2, 2, "Noto-Sans", None),
    ],
    ids=["hindi-1of2", "tamil-2of2", "english-quotes-2of2"],
)
def test_render_pdf_a4_single_page_with_text_fonts_and_qr(
        renderer, qr_png, caplog, name, dose, total, font, cluster):
    credential = make_credential(name, dose=dose, total=total)

    pdf = render(renderer, credential, qr_png, caplog)

    page = single_page(pdf)
    text = pdftotext(pdf)
    flat = " ".join(text.split())
    if cluster is None:
        assert name in flat
    else:
        assert letters(name) in letters(text)
    assert "740236512345" in flat
    assert "COVISHIELD" in flat
    assert f"{dose} of {total}" in flat
    assert "17 Oct 2021" in flat
    assert "XXXXXXXX9012" in flat
    assert "123456789012" not in flat  # the identity is never printed unmasked
    assert "Issued by Ministry of Health & Family Welfare" in flat  # running footer on page 1

    fonts = embedded_fonts(page)
    matching = [v for k, v in fonts.items() if k == font or k.startswith(font + "-")]
    assert matching, sorted(fonts)
    if cluster is not None:
        indic = matching[0]
        assert cluster in to_unicode_targets(indic)

    sizes = image_sizes_pt(page)
    assert len(sizes) == 1
    assert sizes[0] == (pytest.approx(QR_PT, abs=0.5), pytest.approx(QR_PT, abs=0.5))


def test_qr_is_2_5_inches_according_to_pdfimages(renderer, qr_png, caplog):
    pdf = render(renderer, make_credential("Asha Rao", dose=1, total=2), qr_png, caplog)

    listing = subprocess.run(["pdfimages", "-list", "-"], input=pdf, capture_output=True,
                             check=True, timeout=30).stdout.decode()

    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    assert len(rows) == 1
    width_px, height_px, x_ppi, y_ppi = (int(rows[0][i]) for i in (3, 4, 12, 13))
    assert width_px / x_ppi == pytest.approx(2.5, abs=0.02)
    assert height_px / y_ppi == pytest.approx(2.5, abs=0.02)


def test_doses_table_lists_previous_and_current_dose(renderer, qr_png, caplog):
    first = make_credential(HINDI_NAME, dose=1, total=2, date="2021-07-01T04:00:00Z")
    second = make_credential(HINDI_NAME, dose=2, total=2, date="2021-10-17T05:30:00Z")

    pdf = render(renderer, second, qr_png, caplog, previous_doses=[first])

    single_page(pdf)
    flat = " ".join(pdftotext(pdf).split())
    assert "1 of 2 01 Jul 2021 COVISHIELD 4121Z015" in flat
    assert "2 of 2 17 Oct 2021 COVISHIELD 4121Z025" in flat
    assert "Fully Vaccinated (2 Doses)" in flat


def test_precaution_dose_fits_on_one_page(renderer, qr_png, caplog):
    doses = [make_credential("Asha Rao", dose=d, total=2, date=f"2021-0{d + 3}-01T04:00:00Z")
             for d in (1, 2, 3)]

    pdf = render(renderer, doses[2], qr_png, caplog, previous_doses=doses[:2])

    single_page(pdf)
    flat = " ".join(pdftotext(pdf).split())
    assert "Dose Number 3 (precaution dose)" in flat
    assert "3 (precaution) 01 Jun 2021 COVISHIELD 4121Z035 ABC Medical Center" in flat
    assert "Fully Vaccinated + Precaution Dose" in flat


def test_partial_status_for_first_dose(renderer, qr_png, caplog):
    pdf = render(renderer, make_credential(TAMIL_NAME, dose=1, total=2), qr_png, caplog)

    assert "Partially Vaccinated (2 Doses)" in " ".join(pdftotext(pdf).split())


def test_empty_credential_renders_gracefully(renderer, qr_png, caplog):
    pdf = render(renderer, {}, qr_png, caplog)

    single_page(pdf)
    flat = " ".join(pdftotext(pdf).split())
    assert "Certificate for COVID-19 Vaccination" in flat
    assert "Beneficiary Name —" in flat


def test_divoc_fixture_renders(renderer, qr_png, caplog):
    pdf = render(renderer, divoc_credential(), qr_png, caplog)

    single_page(pdf)
    flat = " ".join(pdftotext(pdf).split())
    assert "Bhaya Mitra" in flat
    assert "ABC Medical Center, 123, Koramangala, Bengaluru, Bengaluru South, Karnataka" in flat


def test_html_escapes_quotes_and_markup(renderer, qr_png):
    view = CertificateView.from_credential(make_credential('<b>"X"</b> O\'Neil', dose=1, total=1))

    html = renderer.render_html(view, qr_png)

    assert "&lt;b&gt;&#34;X&#34;&lt;/b&gt; O&#39;Neil" in html
    assert '<b>"X"</b>' not in html


def test_qr_is_embedded_as_data_uri(renderer, qr_png):
    view = CertificateView.from_credential(make_credential("Asha Rao", dose=1, total=2))

    html = renderer.render_html(view, qr_png)

    assert re.search(r'<img class="qr-img" src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)


def test_rejects_non_png_qr(renderer):
    view = CertificateView.from_credential({})

    with pytest.raises(ValueError):
        renderer.render_pdf(view, b"GIF89a not a png")


@pytest.mark.parametrize("url", ["https://example.invalid/logo.png", "file:///etc/hostname"])
def test_non_data_urls_are_refused(tmp_path, qr_png, url):
    certificates = tmp_path / "certificates"
    certificates.mkdir()
    (certificates / "vaccination.html").write_text(
        f'<html><body><p>{{{{ cert.name }}}}</p><img src="{url}"></body></html>')
    renderer = CertificateRenderer(templates_dir=tmp_path)

    with pytest.raises(CertificateRenderError):
        renderer.render_pdf(CertificateView.from_credential({}), qr_png)


def _without_dates(pdf: bytes) -> bytes:
    return re.sub(rb"/(CreationDate|ModDate) \([^)]*\)", b"", pdf)


def test_styles_and_lines_kept_between_renders_do_not_change_the_pdf(qr_png):
    """A renderer keeps computed styles, element trees and laid-out lines
    between renders; a certificate rendered after others (other names,
    languages, layouts and dose counts, and one with the same element tree) is
    byte for byte the one a new renderer makes."""
    warm = CertificateRenderer()
    for name, lang, bilingual in [(HINDI_NAME, "hi", True), (TAMIL_NAME, "ur", False),
                                  (ENGLISH_NAME, "en", False), ("عائشہ صدیقی", "ur", True)]:
        view = CertificateView.from_credential(make_credential(name, dose=1, total=2))
        warm.render_pdf(view, qr_png, lang=lang, bilingual=bilingual)
    first = make_credential(HINDI_NAME, dose=1, total=2, date="2021-07-01T04:00:00Z")
    for lang, bilingual in [("hi", True), ("ur", False), ("ur", True), ("en", False), ("hi", False)]:
        views = [CertificateView.from_credential(make_credential(name, dose=2, total=2),
                                                 previous_doses=[first])
                 for name in (ENGLISH_NAME, TAMIL_NAME)]
        warm.render_pdf(views[0], qr_png, lang=lang, bilingual=bilingual)  # same tree

        kept = warm.render_pdf(views[1], qr_png, lang=lang, bilingual=bilingual)
        fresh = CertificateRenderer().render_pdf(views[1], qr_png, lang=lang, bilingual=bilingual)

        assert _without_dates(kept) == _without_dates(fresh), (lang, bilingual)


def test_unknown_language_falls_back_to_english_template(renderer, qr_png):
    view = CertificateView.from_credential(make_credential("Asha Rao", dose=1, total=2))

    html = renderer.render_html(view, qr_png, lang="fr")

    assert '<html lang="fr">' in html
    assert "Certificate for COVID-19 Vaccination" in html
    with pytest.raises(ValueError):
        renderer.render_html(view, qr_png, lang="../../etc")


# --------------------------------------------------------------------------- #
# CertificateView
# --------------------------------------------------------------------------- #

def test_view_from_divoc_fixture():
    view = CertificateView.from_credential(divoc_credential())

    assert view.name == "Bhaya Mitra"
    assert view.age == "26"
    assert view.gender == "Male"
    assert view.nationality == "Indian"
    assert view.identity_type == "Aadhaar"
    assert view.identity == "XXXXXX3334"
    assert view.beneficiary_id == "12346"
    assert view.address == ""  # only the home country is set
    assert view.vaccine == "CoVax"
    assert view.manufacturer == "COVPharma"
    assert view.batch == "MB3428BX"
    assert view.date == "2020-12-03"  # 19:21Z is already the 3rd in India
    assert view.date_display == "03 Dec 2020"
    assert (view.dose, view.total_doses, view.dose_label) == (None, None, "")
    assert view.vaccination_status == "unknown"
    assert view.vaccinated_by == "Sooraj Singh"
    assert view.vaccinated_at == "ABC Medical Center, 123, Koramangala, Bengaluru, Bengaluru South, Karnataka"
    assert view.issuer == "https://divoc.dev/"
    assert view.effective_until == "2025-12-02"
    assert view.effective_until_display == "02 Dec 2025"
    assert view.issuance_date_display == "27 Aug 2021"
    assert len(view.vax_events) == 1


def test_view_uses_given_masked_identity_and_orders_doses():
    third = make_credential("Asha Rao", dose=3, total=2, date="2022-01-20T04:00:00Z")
    first = make_credential("Asha Rao", dose=1, total=2, date="2021-05-01T04:00:00Z")
    second_evidence = make_credential("Asha Rao", dose=2, total=2, date="2021-08-01T04:00:00Z")["evidence"][0]
    stale_third = VaxEvent.from_evidence({"dose": 3, "totalDoses": 2, "vaccine": "OLD"})

    view = CertificateView.from_credential(
        third, identity_masked="XXXX XXXX 0000", previous_doses=[second_evidence, stale_third, first])

    assert view.identity == "XXXX XXXX 0000"
    assert [e.dose_label for e in view.vax_events] == ["1 of 2", "2 of 2", "3 of 2"]
    assert view.vax_events[-1].vaccine == "COVISHIELD"
    assert view.vaccination_status == "precaution_dose"
    assert view.dob_display == "01 Apr 1990"
    assert view.address == "12, MG Road, Bengaluru, Bengaluru Urban, Karnataka 560001"


def test_view_is_frozen():
    view = CertificateView.from_credential({})

    with pytest.raises(AttributeError):
        view.name = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("raw", "masked"), [
    ("1234 5678 9012", "XXXXXXXX9012"),
    ("A1234567", "XXXX4567"),
    ("123", "XXX"),
    ("", ""),
])
def test_mask_identity(raw, masked):
    assert mask_identity(raw) == masked


def test_identity_derived_from_enrolment_code_is_not_shown_as_an_id() -> None:
    cred = {"credentialSubject": {"id": "did:divoc:987456126", "refId": "987456126", "name": "A"},
            "evidence": [{}]}
    view = CertificateView.from_credential(cred)
    assert (view.identity_type, view.identity) == ("", "")


def test_identity_of_unknown_type_is_masked_without_a_bogus_label() -> None:
    cred = {"credentialSubject": {"id": "did:divoc:872550100V", "refId": "987456126", "name": "A"},
            "evidence": [{}]}
    view = CertificateView.from_credential(cred)
    assert (view.identity_type, view.identity) == ("", "XXXXXX100V")
