"""COVID-19 test certificate PDF ("COVID-19 Test Report"): A4, one page, text, fonts, QR size.

Reuses the helpers of tests/certify/test_render.py (pdftotext, page/image/font
inspection); see its docstring for why Indic names are compared letter by letter.
"""
from __future__ import annotations

import copy
import io
import logging
import re
import subprocess
from datetime import UTC
from typing import Any

import pytest
import qrcode

from certify.credentials.testcert import build_test_credential
from certify.render import CertificateRenderer, CertificateView, TestCertificateView

from .test_render import (
    ENGLISH_NAME,
    HINDI_NAME,
    QR_PT,
    TAMIL_NAME,
    embedded_fonts,
    image_sizes_pt,
    letters,
    pdftotext,
    single_page,
    to_unicode_targets,
)


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Rendering touches neither PostgreSQL nor Redis."""


@pytest.fixture(scope="module")
def renderer() -> CertificateRenderer:
    return CertificateRenderer()


@pytest.fixture(scope="module")
def qr_png() -> bytes:
    # Same size class as DIVOC's QR payloads (as in test_render.py).
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
    code.add_data(bytes(range(256)) * 4)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


ITEM: dict[str, Any] = {
    "preEnrollmentCode": "987456126",
    "recipient": {
        "name": "Asha Rao", "dob": "1990-04-01", "gender": "Female", "nationality": "Indian",
        "identity": "did:in.gov.uidai.aadhaar:123456789012",
        "address": {"addressLine1": "12, MG Road", "district": "Bengaluru Urban", "state": "Karnataka",
                    "pincode": "560001"},
    },
    "testDetails": {
        "batch": "RTPCR-118", "testName": "SARS-CoV-2 RT-PCR", "testType": "RT-PCR", "manufacturer": "ICMR",
        "sampleOrigin": "Nasopharyngeal swab", "sampleCollectionTimestamp": "2021-10-17T04:00:00Z",
        "resultTimestamp": "2021-10-18T08:35:00Z", "result": "negative",
    },
    "verifier": {"name": "Sooraj Singh"},
    "facility": {"name": "ABC Diagnostics",
                 "address": {"addressLine1": "123, Koramangala", "district": "Bengaluru South",
                             "state": "Karnataka", "pincode": "560034"}},
}


def make_test_credential(name: str = "Asha Rao", *, result: str = "negative", test_type: str = "RT-PCR",
                         certificate_id: str = "740236512345") -> dict[str, Any]:
    item = copy.deepcopy(ITEM)
    item["recipient"]["name"] = name
    item["testDetails"].update(result=result, testType=test_type)
    return build_test_credential(
        item, certificate_id=certificate_id, issuer="https://example.org/",
        context_url="https://example.org/credentials/testCertificate/v1",
        issuance_date="2021-10-18T10:00:00.000Z", evidence_base_url="https://example.org/test/")


def render_test(renderer: CertificateRenderer, credential: dict[str, Any], qr_png: bytes,
                caplog: pytest.LogCaptureFixture, **kwargs: Any) -> bytes:
    view = TestCertificateView.from_credential(credential, **kwargs)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = renderer.render_test_pdf(view, qr_png)
    problems = [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]
    assert problems == []  # e.g. ".notdef glyph rendered" when a script has no font
    return pdf


# --------------------------------------------------------------------------- #
# PDF output
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize(
    ("name", "result", "test_type", "font", "cluster"),
    [
        (HINDI_NAME, "negative", "RT-PCR", "Noto-Sans-Devanagari", "प्रि"),
        (TAMIL_NAME, "POSITIVE", "RAT", "Noto-Sans-Tamil", "செ"),
        (ENGLISH_NAME, "Inconclusive", "RT-PCR", "Noto-Sans", None),
    ],
    ids=["hindi-negative", "tamil-positive", "english-quotes-inconclusive"],
)
def test_test_report_a4_single_page_with_text_fonts_and_qr(
        renderer, qr_png, caplog, name, result, test_type, font, cluster):
    pdf = render_test(renderer, make_test_credential(name, result=result, test_type=test_type), qr_png, caplog)

    page = single_page(pdf)
    text = pdftotext(pdf)
    flat = " ".join(text.split())
    if cluster is None:
        assert name in flat
    else:
        assert letters(name) in letters(text)
    canonical = result.capitalize()
    assert "COVID-19 Test Report" in flat
    assert "740236512345" in flat
    assert f"Test Type {test_type}" in flat
    assert "TEST RESULT" in flat and canonical.upper() in flat.split()  # the banner (uppercased by CSS)
    assert f"Result {canonical}" in flat  # the details table, canonical case
    assert "Sample collected: 17 Oct 2021, 09:30 IST" in flat
    assert "Result declared: 18 Oct 2021, 14:05 IST" in flat
    assert "XXXXXXXX9012" in flat and "123456789012" not in flat
    assert "Tested At ABC Diagnostics, 123, Koramangala, Bengaluru South, Karnataka 560034" in flat
    assert "Issued by Ministry of Health & Family Welfare" in flat  # running footer on page 1

    fonts = embedded_fonts(page)
    matching = [v for k, v in fonts.items() if k == font or k.startswith(font + "-")]
    assert matching, sorted(fonts)
    if cluster is not None:
        assert cluster in to_unicode_targets(matching[0])

    sizes = image_sizes_pt(page)
    assert len(sizes) == 1
    assert sizes[0] == (pytest.approx(QR_PT, abs=0.5), pytest.approx(QR_PT, abs=0.5))


def test_qr_is_2_5_inches_according_to_pdfimages(renderer, qr_png, caplog):
    pdf = render_test(renderer, make_test_credential(), qr_png, caplog)

    listing = subprocess.run(["pdfimages", "-list", "-"], input=pdf, capture_output=True,
                             check=True, timeout=30).stdout.decode()

    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    assert len(rows) == 1
    width_px, height_px, x_ppi, y_ppi = (int(rows[0][i]) for i in (3, 4, 12, 13))
    assert width_px / x_ppi == pytest.approx(2.5, abs=0.02)
    assert height_px / y_ppi == pytest.approx(2.5, abs=0.02)


def test_result_banner_is_coloured_by_result(renderer, qr_png):
    for result, css in (("Positive", "positive"), ("negative", "negative"), ("INCONCLUSIVE", "inconclusive")):
        html = renderer.render_test_html(
            TestCertificateView.from_credential(make_test_credential(result=result)), qr_png)
        assert f'<section class="result result-{css}">' in html


def test_long_values_still_fit_on_one_page(renderer, qr_png, caplog):
    # a 151-character name: as long as the vaccination certificate keeps on one page
    credential = make_test_credential("Venkata " * 16 + "Lakshmi Narasimha Swamy")
    evidence = credential["evidence"][0]
    evidence["facility"]["address"]["streetAddress2"] = "Behind the Government Hospital, " * 4
    evidence["testName"] = "SARS-CoV-2 Real-Time Reverse Transcription Polymerase Chain Reaction " * 2

    single_page(render_test(renderer, credential, qr_png, caplog))


def test_empty_credential_renders_gracefully(renderer, qr_png, caplog):
    pdf = render_test(renderer, {}, qr_png, caplog)

    single_page(pdf)
    flat = " ".join(pdftotext(pdf).split())
    assert "COVID-19 Test Report" in flat
    assert "Name —" in flat
    assert "TEST RESULT" in flat and "Result —" in flat


def test_html_escapes_quotes_and_markup(renderer, qr_png):
    view = TestCertificateView.from_credential(make_test_credential('<b>"X"</b> O\'Neil'))

    html = renderer.render_test_html(view, qr_png)

    assert "&lt;b&gt;&#34;X&#34;&lt;/b&gt; O&#39;Neil" in html
    assert '<b>"X"</b>' not in html
    assert re.search(r'<img class="qr-img" src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)


def test_language_validation_and_fallback(renderer, qr_png):
    view = TestCertificateView.from_credential(make_test_credential())

    assert '<html lang="ta">' in renderer.render_test_html(view, qr_png, lang="ta")
    with pytest.raises(ValueError):
        renderer.render_test_pdf(view, qr_png, lang="../../etc")
    with pytest.raises(ValueError):
        renderer.render_test_pdf(view, b"GIF89a not a png")


def test_vaccination_rendering_is_unaffected(renderer, qr_png, caplog):
    """Test and vaccination renders share one renderer and do not leak styles or templates."""
    render_test(renderer, make_test_credential(), qr_png, caplog)

    html = renderer.render_html(CertificateView.from_credential({}), qr_png)
    assert "Certificate for COVID-19 Vaccination" in html
    assert "Test Report" not in html
    pdf = renderer.render_pdf(CertificateView.from_credential({}), qr_png)
    assert "Certificate for COVID-19 Vaccination" in " ".join(pdftotext(pdf).split())


def test_renderer_without_test_template_still_renders_vaccinations(tmp_path, qr_png):
    certificates = tmp_path / "certificates"
    certificates.mkdir()
    (certificates / "vaccination.html").write_text("<html><body><p>{{ cert.name }}</p></body></html>")
    renderer = CertificateRenderer(templates_dir=tmp_path)

    assert renderer.render_pdf(CertificateView.from_credential({}), qr_png).startswith(b"%PDF-")


# --------------------------------------------------------------------------- #
# TestCertificateView
# --------------------------------------------------------------------------- #

def test_view_from_our_credential():
    view = TestCertificateView.from_credential(make_test_credential(result="positive", test_type="RAT"))

    assert view.name == "Asha Rao"
    assert view.age == "31"  # on the sample collection date
    assert (view.dob, view.dob_display) == ("1990-04-01", "01 Apr 1990")
    assert (view.gender, view.nationality) == ("Female", "Indian")
    assert (view.identity_type, view.identity) == ("Aadhaar", "XXXXXXXX9012")
    assert view.beneficiary_id == "987456126"
    assert view.address == "12, MG Road, Bengaluru Urban, Karnataka 560001"
    assert (view.result, view.result_class) == ("Positive", "positive")
    assert (view.test_type, view.test_name, view.disease) == ("RAT", "SARS-CoV-2 RT-PCR", "COVID-19")
    assert (view.manufacturer, view.batch, view.sample_origin) == ("ICMR", "RTPCR-118", "Nasopharyngeal swab")
    assert view.sample_collected == "2021-10-17T09:30:00+05:30"
    assert view.sample_collected_display == "17 Oct 2021, 09:30 IST"
    assert view.result_declared == "2021-10-18T14:05:00+05:30"
    assert view.result_declared_display == "18 Oct 2021, 14:05 IST"
    assert view.tested_by == "Sooraj Singh"
    assert view.facility == "ABC Diagnostics"
    assert view.tested_at == "ABC Diagnostics, 123, Koramangala, Bengaluru South, Karnataka 560034"
    assert view.certificate_id == "740236512345"
    assert (view.issuer, view.issuer_name) == ("https://example.org/", "")
    assert (view.issuance_date, view.issuance_date_display) == ("2021-10-18", "18 Oct 2021")


def test_view_display_zone_and_odd_values():
    cred = make_test_credential()
    cred["evidence"][0].update(result="maybe", resultTimestamp="", sampleCollectionTimestamp="2021-10-17T23:30:00Z")
    cred["issuer"] = {"id": "https://example.org/", "name": "State Health Department"}

    view = TestCertificateView.from_credential(cred)
    utc_view = TestCertificateView.from_credential(cred, display_tz=UTC)

    assert (view.result, view.result_class) == ("maybe", "unknown")
    assert (view.result_declared, view.result_declared_display) == ("", "")
    assert view.sample_collected_display == "18 Oct 2021, 05:00 IST"  # next day in India
    assert utc_view.sample_collected_display == "17 Oct 2021, 23:30 UTC"
    assert view.issuer_name == "State Health Department"


def test_view_hides_identity_derived_from_enrolment_code_and_is_frozen():
    cred = {"credentialSubject": {"id": "did:divoc:987456126", "refId": "987456126", "name": "A"},
            "evidence": [{"result": "Negative"}]}
    view = TestCertificateView.from_credential(cred)

    assert (view.identity_type, view.identity, view.age) == ("", "", "")
    with pytest.raises(AttributeError):
        view.name = "changed"  # type: ignore[misc]
