"""Names as ICAO Doc 9303 machine-readable text (``A``-``Z`` and the filler ``<``).

The EU-DCC ``fnt``/``gnt`` fields hold a holder's names "transliterated using the
same convention as the holder's machine readable travel documents (such as the rules
defined in ICAO Doc 9303 Part 3)". :func:`icao_transliterate` implements Part 3:

* **Punctuation (section 4.6)**: spaces, hyphens and commas become a single filler
  ``<``; apostrophes and other punctuation are dropped (``d'Červenková Panklová``
  -> ``DCERVENKOVA<PANKLOVA``); digits are dropped.
* **Latin (section 6, Table A)**: the multi-letter transliterations (``Ä`` AE,
  ``Å`` AA, ``Æ`` AE, ``Ö``/``Ø``/``Œ`` OE, ``Ü`` UE, ``ß`` SS, ``Þ`` TH, ``Ĳ`` IJ)
  and the single letters for other diacritics (``Č`` C, ``Ł`` L, ``Đ`` D, ...).
* **Cyrillic (Table B)**: ``Ж`` ZH, ``Х`` KH, ``Ц`` TS, ``Щ`` SHCH, ``Ю`` IU,
  ``Я`` IA, ``Ь`` dropped, ... with the Ukrainian, Belarusian, Serbian and
  Macedonian letters.
* **Arabic script (Table C)**: the reversible "X" scheme with the Persian, Urdu
  and Pashto letters (``ح`` XH, ``ص`` XSS, ``ة`` XTA or XAH at the end of a name,
  shadda doubles the letter, harakat are not encoded):
  ``ابو بكر محمد`` -> ``ABW<BKR<MXHMD``.

Doc 9303 has no table for Indian scripts. Names in Devanagari, Bengali, Gurmukhi,
Gujarati, Oriya, Tamil, Telugu, Kannada and Malayalam are romanised the way Indian
passports spell them (Hunterian-style letters, long vowels folded, ``श``/``ष`` SH,
``च`` CH), with the inherent vowel dropped where Hindi, Punjabi, Gujarati and
Bengali do not pronounce it (``राम`` RAM, ``कमला`` KAMLA, ``सिंह`` SINGH). Tamil
follows its common spellings (``த`` TH, geminates written once: ``முத்து`` MUTHU).
Any other script (Greek, Sinhala, Chinese, ...) goes through ``anyascii``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from anyascii import anyascii

__all__ = ["FILLER", "icao_transliterate", "icao_words"]

FILLER = "<"

# --- Latin (Doc 9303 Part 3, Table A) -------------------------------------------------------
# Letters whose transliteration is not "drop the diacritic". Everything else decomposes
# (NFD) to a base letter and combining marks, and the marks are dropped.
_LATIN = {
    "Ä": "AE", "Å": "AA", "Æ": "AE", "Ǽ": "AE", "Ð": "D", "Đ": "D", "Ħ": "H", "Ĳ": "IJ",
    "Ŀ": "L", "Ł": "L", "Ŋ": "N", "Ö": "OE", "Ø": "OE", "Ǿ": "OE", "Œ": "OE", "Þ": "TH",
    "Ü": "UE", "ẞ": "SS", "ß": "SS", "ı": "I", "Ƒ": "F", "Ə": "E",
}

# --- Cyrillic (Table B) ---------------------------------------------------------------------
_CYRILLIC = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Ґ": "G", "Д": "D", "Ђ": "D", "Ѓ": "G", "Е": "E",
    "Ё": "E", "Є": "IE", "Ж": "ZH", "З": "Z", "Ѕ": "DZ", "И": "I", "І": "I", "Ї": "I", "Й": "I",
    "Ј": "J", "К": "K", "Ќ": "K", "Л": "L", "Љ": "LJ", "М": "M", "Н": "N", "Њ": "NJ", "О": "O",
    "П": "P", "Р": "R", "С": "S", "Т": "T", "Ћ": "C", "У": "U", "Ў": "U", "Ф": "F", "Х": "KH",
    "Ц": "TS", "Ч": "CH", "Џ": "DZ", "Ш": "SH", "Щ": "SHCH", "Ъ": "IE", "Ы": "Y", "Ь": "",
    "Э": "E", "Ю": "IU", "Я": "IA",
}

# --- Arabic script (Table C) ----------------------------------------------------------------
_ARABIC = {
    "ء": "XE", "آ": "XAA", "أ": "XAE", "ؤ": "U", "إ": "I", "ئ": "XI", "ا": "A", "ب": "B",
    "ة": "XTA", "ت": "T", "ث": "XTH", "ج": "J", "ح": "XH", "خ": "XKH", "د": "D", "ذ": "XDH",
    "ر": "R", "ز": "Z", "س": "S", "ش": "XSH", "ص": "XSS", "ض": "XDZ", "ط": "XTT", "ظ": "XZZ",
    "ع": "E", "غ": "G", "ف": "F", "ق": "Q", "ك": "K", "ل": "L", "م": "M", "ن": "N", "ه": "H",
    "و": "W", "ى": "XAY", "ي": "Y", "ٱ": "XXA",
    # Persian, Urdu, Pashto
    "ٹ": "XXT", "ټ": "XRT", "پ": "P", "ځ": "XKE", "څ": "XXH", "چ": "XC", "ڈ": "XXD", "ډ": "XDR",
    "ڑ": "XXR", "ړ": "XRR", "ږ": "XRX", "ژ": "XJ", "ښ": "XXS", "ک": "XKK", "ګ": "XXK", "ڭ": "XNG",
    "گ": "XGG", "ں": "XNN", "ڼ": "XXN", "ھ": "XDO", "ۀ": "XYH", "ہ": "XXG", "ۂ": "XGE", "ۃ": "XTG",
    "ی": "XYA", "ۍ": "XXY", "ې": "Y", "ے": "XYB", "ۓ": "XBE",
}
_TEH_MARBUTA_FINAL = "XAH"  # ة at the end of a name component (Appendix B.5.5)
_SHADDA = "\u0651"
# Harakat, tanwin, sukun, dagger alif, tatweel and Quranic marks: not encoded.
_ARABIC_SILENT = re.compile("[\u0610-\u061a\u064b-\u0650\u0652-\u065f\u0670\u0640\u06d6-\u06ed]")

# --- Indian scripts ---------------------------------------------------------------------------
# Unicode lays the nine major Brahmic scripts out in parallel 128-code-point blocks, so one
# table indexed by the offset within the block serves them all (a letter a script lacks is
# simply never seen).
_BRAHMIC_BLOCKS = {
    0x0900: "deva", 0x0980: "beng", 0x0A00: "guru", 0x0A80: "gujr", 0x0B00: "orya",
    0x0B80: "taml", 0x0C00: "telu", 0x0C80: "knda", 0x0D00: "mlym",
}
# Scripts whose languages drop the inherent vowel at the end of words and in VC_CV.
_SCHWA_DELETING = frozenset({"deva", "beng", "guru", "gujr"})

_INDEPENDENT_VOWELS = {
    0x05: "A", 0x06: "A", 0x07: "I", 0x08: "I", 0x09: "U", 0x0A: "U", 0x0B: "RI", 0x0C: "LI",
    0x0D: "E", 0x0E: "E", 0x0F: "E", 0x10: "AI", 0x11: "O", 0x12: "O", 0x13: "O", 0x14: "AU",
    0x60: "RI", 0x61: "LI",
}
_VOWEL_SIGNS = {
    0x3E: "A", 0x3F: "I", 0x40: "I", 0x41: "U", 0x42: "U", 0x43: "RI", 0x44: "RI", 0x45: "E",
    0x46: "E", 0x47: "E", 0x48: "AI", 0x49: "O", 0x4A: "O", 0x4B: "O", 0x4C: "AU", 0x57: "AU",
    0x62: "LI", 0x63: "LI",
}
_CONSONANTS = {
    0x15: "K", 0x16: "KH", 0x17: "G", 0x18: "GH", 0x19: "N", 0x1A: "CH", 0x1B: "CHH", 0x1C: "J",
    0x1D: "JH", 0x1E: "N", 0x1F: "T", 0x20: "TH", 0x21: "D", 0x22: "DH", 0x23: "N", 0x24: "T",
    0x25: "TH", 0x26: "D", 0x27: "DH", 0x28: "N", 0x29: "N", 0x2A: "P", 0x2B: "PH", 0x2C: "B",
    0x2D: "BH", 0x2E: "M", 0x2F: "Y", 0x30: "R", 0x31: "R", 0x32: "L", 0x33: "L", 0x34: "ZH",
    0x35: "V", 0x36: "SH", 0x37: "SH", 0x38: "S", 0x39: "H",
    # precomposed nukta letters (Devanagari क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़; Bengali ড় ঢ় য়; Gurmukhi ਖ਼ ਗ਼ ਜ਼ ੜ ਫ਼)
    0x58: "Q", 0x59: "KH", 0x5A: "GH", 0x5B: "Z", 0x5C: "R", 0x5D: "RH", 0x5E: "F", 0x5F: "Y",
}
_NUKTA_FORMS = {"K": "Q", "KH": "KH", "G": "GH", "J": "Z", "D": "R", "DH": "RH", "PH": "F", "Y": "Y"}
_SCRIPT_CONSONANTS = {  # where a script's letter at an offset is said differently, or exists only there
    "taml": {0x24: "TH"},
    "beng": {0x70: "R", 0x71: "W"},  # Assamese ৰ ৱ
    "orya": {0x71: "W"},  # ୱ
}
_VIRAMA, _NUKTA, _CANDRABINDU, _ANUSVARA, _VISARGA = 0x4D, 0x3C, 0x01, 0x02, 0x03
_GURMUKHI_TIPPI, _GURMUKHI_ADDAK, _BENGALI_KHANDA_TA = 0x0A70, 0x0A71, 0x09CE
_MALAYALAM_CHILLU = {0x0D54: "M", 0x0D55: "Y", 0x0D56: "L", 0x0D7A: "N", 0x0D7B: "N", 0x0D7C: "R",
                     0x0D7D: "L", 0x0D7E: "L", 0x0D7F: "K"}
_LABIALS = frozenset({"P", "PH", "B", "BH", "M"})
_ZERO_WIDTH = "\u200c\u200d"


def _brahmic_script(ch: str) -> str | None:
    cp = ord(ch)
    return _BRAHMIC_BLOCKS.get(cp & ~0x7F) if 0x0900 <= cp < 0x0D80 else None


class _Akshara:
    """A syllable: its consonant cluster, vowel (None: the inherent vowel; "": none) and coda."""

    __slots__ = ("consonants", "vowel", "coda")

    def __init__(self, consonants: list[str], vowel: str | None) -> None:
        self.consonants = consonants
        self.vowel = vowel
        self.coda = ""


def _aksharas(run: str, script: str) -> list[_Akshara]:
    """Split one word of a Brahmic script into syllables.

    A consonant followed by a virama waits (in ``pending``) and joins the next
    consonant's cluster; one still waiting at the end closes the word vowelless.
    """
    overrides = _SCRIPT_CONSONANTS.get(script, {})
    out: list[_Akshara] = []
    pending: list[str] = []
    open_: _Akshara | None = None  # the last syllable, while a vowel sign may still follow
    geminate = False

    def close_pending() -> None:
        nonlocal pending
        if pending:
            out.append(_Akshara(pending, ""))
            pending = []

    for ch in run:
        cp = ord(ch)
        off = cp & 0x7F
        if ch in _ZERO_WIDTH:
            continue
        if cp == _GURMUKHI_ADDAK:  # doubles the next consonant
            geminate = True
        elif cp in _MALAYALAM_CHILLU or cp == _BENGALI_KHANDA_TA:
            close_pending()
            letter = _MALAYALAM_CHILLU.get(cp, "T")
            if out:
                out[-1].coda += letter
            else:
                out.append(_Akshara([letter], ""))
            open_ = None
        elif (letter := overrides.get(off) or _CONSONANTS.get(off)) is not None:
            if off == 0x1E and pending and pending[-1] == "J":  # ज्ञ
                pending[-1], letter = "G", "Y"
            cluster = pending + ([letter] if geminate else []) + [letter]
            pending, geminate = [], False
            open_ = _Akshara(cluster, None)
            out.append(open_)
        elif off == _NUKTA and open_ is not None and open_.vowel is None:
            open_.consonants[-1] = _NUKTA_FORMS.get(open_.consonants[-1], open_.consonants[-1])
        elif off == _VIRAMA and open_ is not None and open_.vowel is None and out and out[-1] is open_:
            out.pop()
            pending, open_ = open_.consonants, None
        elif off in _VOWEL_SIGNS and open_ is not None and open_.vowel is None:
            open_.vowel = _VOWEL_SIGNS[off]
        elif off in _INDEPENDENT_VOWELS:
            close_pending()
            open_ = None
            out.append(_Akshara([], _INDEPENDENT_VOWELS[off]))
        elif off in (_CANDRABINDU, _ANUSVARA) or cp == _GURMUKHI_TIPPI:
            close_pending()
            if out:
                out[-1].coda += "\x01"  # N, or M before a labial (resolved in _brahmic)
            open_ = None
        elif off == _VISARGA:
            close_pending()
            if out:
                out[-1].coda += "H"
            open_ = None
    close_pending()
    return out


def _delete_schwas(items: list[_Akshara]) -> None:
    """Hindi-style schwa deletion: the final inherent vowel after a single consonant
    (राम RAM, not after a cluster: मित्र MITRA), and a medial one in VC_C(C)V, scanning
    right to left so that a deletion never follows another (कमला KAMLA, हरप्रीत
    HARPRIT, सूरज SURAJ) and never before a doubled consonant (मोहम्मद MOHAMMAD)."""
    if len(items) < 2:
        return
    last = items[-1]
    if last.vowel is None and len(last.consonants) == 1 and not last.coda:
        last.vowel = ""
    for i in range(len(items) - 2, 0, -1):
        item, before, after = items[i], items[i - 1], items[i + 1]
        if (item.vowel is None and len(item.consonants) == 1 and not item.coda
                and before.vowel != "" and after.vowel != "" and (
                    len(after.consonants) == 1
                    or (len(after.consonants) == 2 and after.consonants[0] != after.consonants[1]))):
            item.vowel = ""


def _brahmic(run: str, script: str) -> str:
    items = _aksharas(run, script)
    if script in _SCHWA_DELETING:
        _delete_schwas(items)
    parts: list[str] = []
    for i, item in enumerate(items):
        consonants = "".join(item.consonants)
        vowel = "A" if item.vowel is None else item.vowel
        coda = item.coda
        if "\x01" in coda:
            following = items[i + 1].consonants[0] if i + 1 < len(items) and items[i + 1].consonants else ""
            nasal = "M" if following in _LABIALS else ("NG" if following == "H" else "N")
            coda = coda.replace("\x01", nasal)
        parts.append(consonants + vowel + coda)
    text = "".join(parts)
    if script == "taml":  # geminate digraphs are written once (முத்து MUTHU, not MUTHTHU)
        text = re.sub(r"(TH|CH|ZH)\1", r"\1", text)
        text = re.sub(r"^CH", "S", text)  # word-initial ச is S (செல்வி SELVI)
    return text


def _arabic_word(word: str) -> str:
    out: list[str] = []
    letters = _ARABIC_SILENT.sub("", word)
    for i, ch in enumerate(letters):
        if ch == _SHADDA:
            if out:
                out.append(out[-1])
            continue
        if ch == "ة" and all(c == _SHADDA for c in letters[i + 1:]):
            out.append(_TEH_MARBUTA_FINAL)
            continue
        out.append(_ARABIC.get(ch, ""))
    return "".join(out)


def _latin_or_other(ch: str) -> str:
    if "A" <= ch <= "Z":
        return ch
    if ch in _LATIN:
        return _LATIN[ch]
    if ch in _CYRILLIC:
        return _CYRILLIC[ch]
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    if base and all("A" <= c <= "Z" for c in base):
        return base
    if base in _LATIN:
        return _LATIN[base]
    if not unicodedata.category(ch).startswith("L"):  # digits, symbols, emoji, stray marks
        return ""
    return "".join(c for c in anyascii(ch).upper() if "A" <= c <= "Z")


def _runs(text: str) -> Iterator[tuple[str, str]]:
    """(kind, text) runs: "sep", "brahmic:<script>", "arabic" or "other" (one character)."""
    i = 0
    while i < len(text):
        ch = text[i]
        script = _brahmic_script(ch)
        if script is not None:
            j = i + 1
            while j < len(text) and (_brahmic_script(text[j]) == script or text[j] in _ZERO_WIDTH):
                j += 1
            yield "brahmic:" + script, text[i:j]
            i = j
        elif "\u0600" <= ch <= "\u06ff":
            j = i + 1
            while j < len(text) and "\u0600" <= text[j] <= "\u06ff" and text[j] not in "،؛":
                j += 1
            yield "arabic", text[i:j]
            i = j
        elif ch.isspace() or unicodedata.category(ch) in ("Pd", "Zs") or ch in ",،_/":
            yield "sep", FILLER
            i += 1
        else:
            yield "other", ch
            i += 1


def icao_transliterate(name: str, max_length: int = 80) -> str:
    """``name`` as ICAO 9303 MRZ text: ``[A-Z<]*``, at most ``max_length`` characters.

    Returns ``""`` when nothing of the name can be written in Latin letters.
    """
    text = unicodedata.normalize("NFC", name or "").upper()
    out: list[str] = []
    for kind, run in _runs(text):
        if kind == "sep":
            out.append(FILLER)
        elif kind == "arabic":
            out.append(_arabic_word(run))
        elif kind.startswith("brahmic:"):
            out.append(_brahmic(run, kind.split(":", 1)[1]))
        else:
            out.append(_latin_or_other(run))
    result = re.sub(r"<+", FILLER, "".join(out)).strip(FILLER)
    return result[:max_length].rstrip(FILLER)


def icao_words(name: str) -> list[str]:
    """The words of ``name`` in ICAO form (``"Gößinger-Kim"`` -> ``["GOESSINGER", "KIM"]``).

    Text in brackets counts too: ``"प्रिया शर्मा (Priya Sharma)"`` gives
    ``["PRIYA", "SHARMA", "PRIYA", "SHARMA"]``.
    """
    return [w for w in icao_transliterate(re.sub(r"[()\[\]{}]", " ", name or ""), 10_000).split(FILLER) if w]
