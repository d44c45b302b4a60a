"""GSM-7 and UCS-2 segment counts: 160/153 septets, 70/67 code units, no split escapes or pairs."""
from __future__ import annotations

from core.notify import segments


def test_plain_ascii_is_gsm7_and_fills_160_then_153_per_part():
    assert segments.count("hello").encoding == "GSM-7"
    assert (segments.count("a" * 160).segments, segments.count("a" * 161).segments) == (1, 2)
    assert segments.count("a" * 306).segments == 2 and segments.count("a" * 307).segments == 3
    assert segments.count("").segments == 0


def test_extension_characters_cost_two_septets_and_never_straddle_parts():
    assert segments.count("€" * 80).units == 160 and segments.count("€" * 80).segments == 1
    assert segments.count("[]{}").units == 8 and segments.count("[]{}").encoding == "GSM-7"
    # 306 septets would be 2 parts of 153, but the € (ESC + e) cannot start at septet 153 of part 1
    text = "a" * 152 + "€" + "a" * 152
    assert segments.count(text).units == 306 and segments.count(text).segments == 3


def test_gsm_basic_table_accents_stay_gsm7_but_other_characters_force_ucs2():
    assert segments.count("Ça coûte 5£ à Åsa, ß Ñ ¿¡ Δ").encoding == "UCS-2"  # û is not in the table
    assert segments.count("Ça coute 5£ à Åsa, ß Ñ ¿¡ Δ").encoding == "GSM-7"
    curly = segments.count("It’s ready")
    assert curly.encoding == "UCS-2" and curly.non_gsm == ("’",)


def test_devanagari_is_ucs2_70_then_67_per_part():
    assert segments.count("क" * 70).segments == 1 and segments.count("क" * 71).segments == 2
    assert segments.count("क" * 134).segments == 2 and segments.count("क" * 135).segments == 3
    hindi = segments.count("नमस्ते")
    assert (hindi.encoding, hindi.units, hindi.per_segment) == ("UCS-2", 6, 70)


def test_emoji_take_two_code_units_and_a_pair_is_never_split():
    assert segments.count("😀" * 35).units == 70 and segments.count("😀" * 35).segments == 1
    text = "a" * 66 + "😀" + "a" * 66  # 134 units, but the pair cannot start at unit 67
    assert segments.count(text).units == 134 and segments.count(text).segments == 3
