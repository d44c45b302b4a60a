"""Certificates and test reports in every language of certify.render.LANGUAGES.

For each language a vaccination certificate and a test report are rendered
with a holder name in that language's script, and the PDF is checked:

* the extracted text (poppler's ``pdftotext``) round-trips the name and a few
  translated labels. WeasyPrint writes one ToUnicode entry per glyph cluster,
  so pdftotext may put stray spaces inside Indic words and drop the joiners:
  text is compared after removing whitespace, ZWJ and ZWNJ. A glyph missing
  from the fonts, or text shaped with the wrong font, does not round-trip;
* WeasyPrint logs no warning (".notdef glyph rendered", missing fonts...);
* the language's Noto font is embedded (``pdffonts``);
* the page is A4, one page; Urdu is laid out right to left.

Each page is also rasterised (``pdftoppm -png -r 60``) into
``test-artifacts/pdf-<lang>.png`` (``pdf-test-<lang>.png``, ``pdf-<lang>-bilingual.png``)
for a person to look at; test-artifacts/ is git-ignored.
"""
from __future__ import annotations

import copy
import io
import logging
import re
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pypdf
import pytest
from PIL import Image

from certify.credentials.qr import qr_png as make_qr_png
from certify.credentials.testcert import build_test_credential
from certify.render import (
    LANGUAGES,
    RTL_LANGUAGES,
    CertificateRenderer,
    CertificateView,
    TestCertificateView,
)

from .test_render import make_credential
from .test_render_test import ITEM

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

#: lang -> (holder name in the script, font that must be embedded, translated labels
#: that must come back out of the vaccination PDF, and out of the test report).
#: Names exercise conjuncts, reph, pre-base and two-part vowels, ZWJ (Sinhala) and joining (Urdu).
CASES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "en": ("Sean \"Ronnie\" O'Brien", "NotoSans",
           ("Certificate for COVID-19 Vaccination", "Beneficiary Name", "Fully Vaccinated"),
           ("COVID-19 Test Report", "Sample Origin", "Negative")),
    "hi": ("प्रिया शर्मा", "NotoSansDevanagari",
           ("कोविड-19 टीकाकरण प्रमाणपत्र", "लाभार्थी का नाम", "पूर्ण टीकाकरण", "प्राप्त खुराकें"),
           ("कोविड-19 जाँच रिपोर्ट", "रोगी का विवरण", "नेगेटिव")),
    "bn": ("জ্যোতির্ময় চক্রবর্তী", "NotoSansBengali",
           ("কোভিড-১৯ টিকাকরণের শংসাপত্র", "সুবিধাভোগীর নাম", "সম্পূর্ণ টিকাপ্রাপ্ত"),
           ("কোভিড-১৯ পরীক্ষার রিপোর্ট", "রোগীর বিবরণ", "নেগেটিভ")),
    "ta": ("செல்வி கார்த்திகேயன் பொன்னுசாமி", "NotoSansTamil",
           ("கோவிட்-19 தடுப்பூசிச் சான்றிதழ்", "பயனாளியின் பெயர்", "முழுமையாகத் தடுப்பூசி செலுத்தப்பட்டவர்"),
           ("கோவிட்-19 பரிசோதனை அறிக்கை", "நோயாளி விவரங்கள்", "நெகட்டிவ்")),
    "te": ("జ్యోతి రెడ్డి", "NotoSansTelugu",
           ("కోవిడ్-19 టీకా ధృవపత్రం", "లబ్ధిదారు పేరు", "పూర్తిగా టీకా వేయించుకున్నారు"),
           ("కోవిడ్-19 పరీక్ష నివేదిక", "రోగి వివరాలు", "నెగటివ్")),
    "mr": ("अर्चना श्रीकृष्ण दिवेकर", "NotoSansDevanagari",
           ("कोविड-19 लसीकरण प्रमाणपत्र", "लाभार्थ्याचे नाव", "पूर्ण लसीकरण"),
           ("कोविड-19 चाचणी अहवाल", "रुग्णाचा तपशील", "निगेटिव्ह")),
    "gu": ("ધર્મિષ્ઠા પટેલ", "NotoSansGujarati",
           ("કોવિડ-19 રસીકરણ પ્રમાણપત્ર", "લાભાર્થીનું નામ", "સંપૂર્ણ રસીકરણ"),
           ("કોવિડ-19 પરીક્ષણ અહેવાલ", "દર્દીની વિગતો", "નેગેટિવ")),
    "kn": ("ಶ್ರೀನಿವಾಸ ಕೃಷ್ಣಮೂರ್ತಿ", "NotoSansKannada",
           ("ಕೋವಿಡ್-19 ಲಸಿಕಾ ಪ್ರಮಾಣಪತ್ರ", "ಫಲಾನುಭವಿಯ ಹೆಸರು", "ಸಂಪೂರ್ಣ ಲಸಿಕೆ ಪಡೆದಿದ್ದಾರೆ"),
           ("ಕೋವಿಡ್-19 ಪರೀಕ್ಷಾ ವರದಿ", "ರೋಗಿಯ ವಿವರಗಳು", "ನೆಗೆಟಿವ್")),
    "ml": ("ശോഭ ലക്ഷ്മി കൃഷ്ണൻ", "NotoSansMalayalam",
           ("കോവിഡ്-19 വാക്സിനേഷൻ സർട്ടിഫിക്കറ്റ്", "ഗുണഭോക്താവിന്റെ പേര്", "പൂർണമായി വാക്സിനേഷൻ എടുത്തു"),
           ("കോവിഡ്-19 പരിശോധനാ റിപ്പോർട്ട്", "രോഗിയുടെ വിവരങ്ങൾ", "നെഗറ്റീവ്")),
    "pa": ("ਗੁਰਪ੍ਰੀਤ ਕੌਰ ਸਿੱਧੂ", "NotoSansGurmukhi",
           ("ਕੋਵਿਡ-19 ਟੀਕਾਕਰਨ ਸਰਟੀਫਿਕੇਟ", "ਲਾਭਪਾਤਰੀ ਦਾ ਨਾਮ", "ਪੂਰਾ ਟੀਕਾਕਰਨ"),
           ("ਕੋਵਿਡ-19 ਟੈਸਟ ਰਿਪੋਰਟ", "ਮਰੀਜ਼ ਦੇ ਵੇਰਵੇ", "ਨੈਗੇਟਿਵ")),
    "si": ("ශ්‍රියානි පෙරේරා", "NotoSansSinhala",
           ("කොවිඩ්-19 එන්නත්කරණ සහතිකය", "ප්‍රතිලාභියාගේ නම", "සම්පූර්ණයෙන් එන්නත් කර ඇත"),
           ("කොවිඩ්-19 පරීක්ෂණ වාර්තාව", "රෝගියාගේ විස්තර", "සෘණාත්මක")),
    "ur": ("عائشہ صدیقی", "NotoNastaliqUrdu",
           ("کووڈ-19 ویکسینیشن سرٹیفکیٹ", "مستفید کا نام", "مکمل ویکسینیشن"),
           ("کووڈ-19 ٹیسٹ رپورٹ", "مریض کی تفصیلات", "منفی")),
}

_IGNORED = {"\u200c", "\u200d"}  # ZWNJ, ZWJ


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Rendering touches neither PostgreSQL nor Redis."""


@pytest.fixture(scope="module")
def renderer() -> CertificateRenderer:
    return CertificateRenderer()


@pytest.fixture(scope="module")
def qr_png() -> bytes:
    return make_qr_png(bytes(range(256)) * 4)


def squash(text: str) -> str:
    """NFC text without whitespace, ZWJ or ZWNJ, case-folded (headings are
    ``text-transform: uppercase``); see the module docstring."""
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if not c.isspace() and c not in _IGNORED).casefold()


def pdftotext(pdf: bytes) -> str:
    """The page's text in reading order.

    Complex-script lines carry their logical text as ``/ActualText`` (see
    certify.render._install_actual_text). Poppler spreads that text over the
    line's box left to right and then, seeing right-to-left letters, writes
    each RTL run reversed between U+202B and U+202C; the run is turned back here.
    """
    text = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=pdf,
                          capture_output=True, check=True, timeout=30).stdout.decode("utf-8")
    return re.sub("\u202b([^\u202a-\u202e]*)\u202c", lambda m: m.group(1)[::-1], text)


def pdffonts(pdf: bytes) -> set[str]:
    """Embedded font names without the subset prefix, spaces and dashes: {"NotoSansTamil", ...}."""
    out = subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True, check=True,
                         timeout=30).stdout.decode("utf-8")
    names = set()
    for line in out.splitlines()[2:]:
        if line.strip():
            name = line.split()[0].split("+", 1)[-1]
            names.add(re.sub(r"[-_ ]|(Regular|Bold)$", "", name.replace("-Regular", "").replace("-Bold", "")))
    return names


def rasterise(pdf: bytes, root: Path, dpi: int = 60) -> Path:
    """Page 1 as ``<root>.png`` (pdftoppm)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", "-", str(root)], input=pdf,
                   capture_output=True, check=True, timeout=60)
    return root.with_name(root.name + ".png")


def test_credential(name: str) -> dict[str, Any]:
    item = copy.deepcopy(ITEM)
    item["recipient"]["name"] = name
    return build_test_credential(
        item, certificate_id="740236512345", issuer="https://example.org/",
        context_url="https://example.org/credentials/testCertificate/v1",
        issuance_date="2021-10-18T10:00:00.000Z", evidence_base_url="https://example.org/test/")


test_credential.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def check_pdf(pdf: bytes, caplog: pytest.LogCaptureFixture, lang: str, font: str,
              expected: tuple[str, ...], artifact: str) -> str:
    rasterise(pdf, ARTIFACTS / artifact)  # first, to look at failures too
    problems = [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]
    assert problems == []  # e.g. ".notdef glyph rendered" when no font has the glyph
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = squash(pdftotext(pdf))
    missing = [s for s in expected if squash(s) not in text]
    assert missing == [], f"{lang}: not in the extracted text: {missing}"
    assert "740236512345" in text  # the certificate id stays in reading order (LTR) in every script
    fonts = pdffonts(pdf)
    assert font in fonts and fonts <= {font, "NotoSans"}, sorted(fonts)  # no fallback font
    return text


@pytest.mark.parametrize("lang", sorted(CASES))
def test_vaccination_certificate_in_every_language(renderer, qr_png, caplog, lang):
    name, font, labels, _ = CASES[lang]
    view = CertificateView.from_credential(make_credential(name, dose=2, total=2))

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = renderer.render_pdf(view, qr_png, lang=lang)

    text = check_pdf(pdf, caplog, lang, font, (name, *labels), f"pdf-{lang}")
    assert "17oct2021" in text and "covishield" in text


@pytest.mark.parametrize("lang", sorted(CASES))
def test_test_report_in_every_language(renderer, qr_png, caplog, lang):
    name, font, _, labels = CASES[lang]
    view = TestCertificateView.from_credential(test_credential(name))

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = renderer.render_test_pdf(view, qr_png, lang=lang)

    check_pdf(pdf, caplog, lang, font, (name, *labels), f"pdf-test-{lang}")


@pytest.mark.parametrize("lang", sorted(set(CASES) - {"en"}))
def test_bilingual_certificate_prints_local_and_english_labels(renderer, qr_png, caplog, lang):
    name, font, labels, _ = CASES[lang]
    view = CertificateView.from_credential(make_credential(name, dose=2, total=2))

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = renderer.render_pdf(view, qr_png, lang=lang, bilingual=True)

    english = ("Certificate for COVID-19 Vaccination", "Beneficiary Name", "Fully Vaccinated",
               "Doses Received", "Scan to verify")
    check_pdf(pdf, caplog, lang, font, (name, *labels, *english), f"pdf-{lang}-bilingual")


def test_bilingual_test_report(renderer, qr_png, caplog):
    view = TestCertificateView.from_credential(test_credential(CASES["ur"][0]))

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = renderer.render_test_pdf(view, qr_png, lang="ur", bilingual=True)

    check_pdf(pdf, caplog, "ur", "NotoNastaliqUrdu",
              (*CASES["ur"][3], "COVID-19 Test Report", "Sample Origin", "Negative"),
              "pdf-test-ur-bilingual")


def test_bilingual_markup_and_english_noop(renderer, qr_png):
    view = CertificateView.from_credential(make_credential("Asha Rao", dose=1, total=2))

    html = renderer.render_html(view, qr_png, "hi", bilingual=True)
    english = renderer.render_html(view, qr_png, "en", bilingual=True)

    assert '<html lang="hi" class="bilingual">' in html
    # one run of text per label: two lines in label cells, " / " elsewhere
    assert '<th scope="row">आयु\nAge</th>' in html
    assert '<h2>लाभार्थी का विवरण / Beneficiary Details</h2>' in html
    # the title and the notes set the English apart
    assert '<h1>कोविड-19 टीकाकरण प्रमाणपत्र<span class="en" lang="en">Certificate for COVID-19 Vaccination</span></h1>' in html
    # dose text is formatted in both languages; attributes and title stay plain text
    assert '2 में से 1 / 1 of 2' in html
    assert "<title>कोविड-19 टीकाकरण प्रमाणपत्र 740236512345</title>" in html
    assert 'alt="हस्ताक्षरित प्रमाणपत्र का QR कोड"' in html
    assert english == renderer.render_html(view, qr_png, "en")
    monolingual = renderer.render_html(view, qr_png, "hi")
    assert 'class="en"' not in monolingual and "Beneficiary" not in monolingual


def test_bilingual_right_to_left_labels_keep_english_order(renderer, qr_png):
    """In Urdu pages the English half starts with a left-to-right mark, so that
    "1 of 2" next to Urdu text is not reordered to "2 of 1"."""
    view = CertificateView.from_credential(make_credential(CASES["ur"][0], dose=1, total=2))

    html = renderer.render_html(view, qr_png, "ur", bilingual=True)

    assert "\u200e1 of 2" in html
    assert "\u200eBeneficiary Name</th>" in html


def test_work_kept_between_renders_changes_nothing_on_the_page(qr_png, tmp_path):
    """A renderer keeps computed styles, element trees and laid-out lines
    between renders and lays right-to-left lines out once. Its certificates,
    rendered after others, rasterise and read exactly like those of a renderer
    that lays every document out from scratch as WeasyPrint does (reuse=False):
    left-to-right and right-to-left, bilingual, test reports."""
    warm = CertificateRenderer()
    scratch = CertificateRenderer(reuse=False)
    for lang in ("en", "hi", "ur"):
        warm.render_pdf(CertificateView.from_credential(make_credential("Asha Rao", dose=1, total=2)),
                        qr_png, lang=lang)
    first = make_credential(CASES["hi"][0], dose=1, total=2, date="2021-07-01T04:00:00Z")
    for lang, bilingual, report in [("hi", True, False), ("ur", False, False), ("ur", True, False),
                                    ("ta", False, True), ("ur", True, True)]:
        pages = []
        for name, renderer in [(CASES["en"][0], warm), (CASES[lang][0], warm),
                               (CASES[lang][0], scratch)]:
            if report:
                pdf = renderer.render_test_pdf(TestCertificateView.from_credential(
                    test_credential(name)), qr_png, lang=lang, bilingual=bilingual)
            else:
                pdf = renderer.render_pdf(CertificateView.from_credential(
                    make_credential(name, dose=2, total=2), previous_doses=[first]),
                    qr_png, lang=lang, bilingual=bilingual)
            pages.append((rasterise(pdf, tmp_path / f"{len(pages)}", dpi=50).read_bytes(),
                          pdftotext(pdf)))
        assert pages[1] == pages[2], (lang, bilingual, report)


@pytest.mark.parametrize("bilingual", [False, True])
@pytest.mark.parametrize("lang", sorted(CASES))
def test_precaution_dose_fits_on_one_page_in_every_language(renderer, qr_png, lang, bilingual):
    """Three doses (a precaution dose) with date of birth and address: one A4
    page in every script, Nastaliq's tall lines included."""
    doses = [make_credential(CASES[lang][0], dose=d, total=2, date=f"2021-0{d + 3}-01T04:00:00Z")
             for d in (1, 2, 3)]
    view = CertificateView.from_credential(doses[2], previous_doses=doses[:2])

    pdf = renderer.render_pdf(view, qr_png, lang=lang, bilingual=bilingual)

    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1


def test_urdu_is_right_to_left(renderer, qr_png, tmp_path):
    """dir="rtl" on the page; the QR box (left) and the label column (right) are mirrored."""
    assert RTL_LANGUAGES & set(LANGUAGES) == {"ur"}
    view = CertificateView.from_credential(make_credential(CASES["ur"][0], dose=1, total=2))
    html = renderer.render_html(view, qr_png, "ur")
    assert '<html lang="ur" dir="rtl">' in html
    # left-to-right values start with a left-to-right mark
    assert '<span class="band-id-value" dir="ltr">\u200e740236512345</span>' in html

    def qr_x(lang: str) -> float:
        pdf = renderer.render_pdf(view, qr_png, lang=lang)
        image = Image.open(rasterise(pdf, tmp_path / lang, dpi=30)).convert("L")
        # the QR code is the largest dark block below the header band: find its centre column
        width, height = image.size
        band = image.crop((0, height // 4, width, height // 2))
        # at 30 dpi the QR modules blur to grey: columns mostly non-white are the QR's
        dark = [sum(1 for y in range(band.height) if band.getpixel((x, y)) < 200) for x in range(width)]
        heavy = [x for x, count in enumerate(dark) if count > band.height * 0.4]
        return sum(heavy) / len(heavy) / width

    assert qr_x("ur") < 0.4
    assert qr_x("en") > 0.6


def test_every_catalog_translates_every_certificate_label():
    """A label without translation would print in English on a local-language certificate."""
    from babel.messages.pofile import read_po

    for lang in sorted(set(LANGUAGES) - {"en"}):
        po = ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as fh:
            catalog = read_po(fh)
        untranslated = [
            m.id for m in catalog
            if m.id and any(path.startswith("templates/certificates/") for path, _ in m.locations)
            and (not all(m.string) if isinstance(m.string, tuple) else not m.string or m.fuzzy)
        ]
        assert untranslated == [], f"{lang}: {untranslated}"


def test_every_font_family_the_stylesheets_name_is_installed():
    """A misspelt family in a font stack is silently skipped (fontconfig falls
    back to whatever covers the script): check each name against fc-list."""
    names: set[str] = set()
    for css in (ROOT / "templates" / "certificates").glob("*.css"):
        for stack in re.findall(r"font-family:\s*([^;]+);", css.read_text(encoding="utf-8")):
            names.update(n.strip().strip('"') for n in stack.split(","))
    names -= {"sans-serif", "serif", "monospace"}
    assert {"Noto Sans Sinhala", "Noto Nastaliq Urdu", "Noto Sans Gurmukhi"} <= names
    missing = [n for n in sorted(names)
               if not subprocess.run(["fc-list", f":family={n}", "family"], capture_output=True,
                                     text=True, check=True).stdout.strip()]
    assert missing == []
