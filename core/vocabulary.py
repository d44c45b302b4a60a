"""Conditions and symptoms that programs commonly list, in every interface language.

Administrators type a program's conditions and symptoms as text, and that text is what is stored
(in registrations, side-effect reports and facility SMS). The entries below are in the Babel
catalogs, so a citizen or a clerk reads them in their own language; anything else is shown as the
administrator typed it.
"""
from __future__ import annotations

from flask_babel import gettext


def N_(text: str) -> str:
    """Mark ``text`` for the catalogs (``pybabel extract -k N_``) without translating it here."""
    return text


CONDITIONS: tuple[str, ...] = (
    N_("Diabetes"), N_("Hypertension"), N_("Chronic kidney disease"), N_("Chronic liver disease"),
    N_("Chronic lung disease"), N_("Heart disease"), N_("Cancer"), N_("HIV"),
)

SYMPTOMS: tuple[str, ...] = (
    N_("Fever"), N_("Headache"), N_("Pain or swelling at the injection site"), N_("Tiredness"),
    N_("Muscle or joint pain"), N_("Nausea or vomiting"), N_("Dizziness or fainting"), N_("Rash or itching"),
    N_("Difficulty breathing"), N_("Chest pain"),
)

#: Other wordings programs use for the same symptoms (CoWIN's list said "Pain at the injection site").
OTHER_WORDINGS: tuple[str, ...] = (N_("Pain at the injection site"),)


def translated(text: str) -> str:
    """``text`` in the current language when the catalogs have it, else as typed."""
    return gettext(text) if text else text


def translated_list(items: list[str] | tuple[str, ...] | str) -> str:
    """Entries joined with commas, each translated (a string is taken as already joined)."""
    return items if isinstance(items, str) else ", ".join(translated(item) for item in items)
