"""Sign-in forms (CSRF-protected by Flask-WTF), and form helpers the portal and the facility app share."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget


def choices(pairs, placeholder: object = None) -> list[SelectChoice]:
    """``(value, label)`` pairs as SelectChoice (tuples are deprecated in WTForms 3.3), after a
    "Choose…" option whose value is ``placeholder`` ("" for text fields, 0 for ids) when given."""
    head = [SelectChoice(placeholder, _l("Choose…"))] if placeholder is not None else []
    return head + [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (one per choice) instead of a multi-select box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class MobileForm(FlaskForm):
    mobile = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)],
                         render_kw={"inputmode": "tel", "autocomplete": "tel"})
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(_l("6-digit code"), validators=[DataRequired(), Regexp(r"^\s*[0-9]{6}\s*$",
                       message=_l("Enter the 6 digits from the SMS."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})
    next = HiddenField()
