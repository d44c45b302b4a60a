"""Every string the code and templates show has a translation in every UI language's catalog,
with the same placeholders, so a page never mixes in English or fails to format."""
from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from core import LANGUAGE_NAMES, LANGUAGES
from tests.conftest import ROOT

KEYWORDS = {"_": None, "_l": None, "N_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)[sdif]|%[sd%]|</?[a-zA-Z][^>]*>")


@pytest.fixture(scope="module")
def source_messages() -> dict[str, tuple[str, ...]]:
    """msgid -> (singular, plural?) of everything the code and templates mark for translation."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, tuple[str, ...]] = {}
    for _, _, msgid, _, _ in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS):
        ids = (msgid,) if isinstance(msgid, str) else tuple(msgid)
        found[ids[0]] = ids
    return found


def _translations(lang: str, source_messages):
    """(ids, entry or None, its strings) for every source message, from ``lang``'s catalog."""
    with (ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    for msgid, ids in source_messages.items():
        entry = catalog.get(msgid)
        strings = () if entry is None else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        yield ids, entry, strings


def test_the_switcher_offers_every_ui_language_in_its_own_script():
    assert set(LANGUAGE_NAMES) == set(LANGUAGES) and {"en", "hi", "ta"} <= set(LANGUAGES)
    assert LANGUAGE_NAMES["ta"] == "தமிழ்" and LANGUAGE_NAMES["hi"] == "हिन्दी"


def test_extraction_finds_the_whole_interface(source_messages):
    # portal, desk, administration, verify page, SMS and e-mail texts
    assert len(source_messages) > 800
    assert {"Sign out", "Mobile number"} <= set(source_messages)


UI_LANGUAGES = [lang for lang in LANGUAGES if lang != "en"]


@pytest.mark.parametrize("lang", UI_LANGUAGES)
def test_every_interface_string_is_translated(lang, source_messages):
    missing = [ids[0] for ids, entry, strings in _translations(lang, source_messages)
               if entry is None or entry.fuzzy or not strings or not all(strings)]
    assert missing == [], f"{lang}: {len(missing)} untranslated, e.g. {missing[:5]}"


@pytest.mark.parametrize("lang", UI_LANGUAGES)
def test_translations_keep_the_placeholders_and_markup(lang, source_messages):
    def marks(text: str, singular: bool) -> list[str]:
        # a singular form may spell out "one" instead of printing the number
        return sorted(p for p in PLACEHOLDER.findall(text) if not (singular and p == "%(num)d"))

    wrong = [(ids[0], text) for ids, _, strings in _translations(lang, source_messages)
             for form, text in enumerate(strings)
             if text and marks(text, len(strings) > 1 and form == 0)
             != marks(ids[min(form, len(ids) - 1)], len(strings) > 1 and form == 0)]
    assert wrong == [], f"{lang}: {wrong[:5]}"
