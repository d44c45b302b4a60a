"""Appointment forms: the facility search (GET, no CSRF token needed), booking, reschedule, cancel."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
)
from wtforms.widgets import HiddenInput

from core.forms import MultiCheckboxField


class SearchForm(FlaskForm):
    """Find facilities for a program by district or pincode; submitted as a GET query."""

    class Meta:
        csrf = False  # a search changes nothing

    program = SelectField(_l("Program"), coerce=int, validators=[InputRequired()])
    pincode = StringField(_l("Pincode"), validators=[Optional(), Regexp(r"^\s*[0-9A-Za-z]{3,10}\s*$",
                          message=_l("Enter a pincode of 3 to 10 letters or digits."))],
                          render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "maxlength": 10})
    district = StringField(_l("or District"), validators=[Optional(), Length(max=100)],
                           render_kw={"autocomplete": "address-level2"})
    reschedule = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.pincode.data or "").strip() and not (self.district.data or "").strip():
            self.pincode.errors.append(_l("Enter a pincode or a district."))
            return False
        return valid


class BookForm(FlaskForm):
    """Members to book into one slot; the choices are the account's members who may book it."""

    members = MultiCheckboxField(_l("Who is coming"), coerce=int,
                                 validators=[DataRequired(message=_l("Choose at least one member."))])


class RescheduleForm(FlaskForm):
    slot = IntegerField(validators=[InputRequired()], widget=HiddenInput())


class CancelForm(FlaskForm):
    """Only the CSRF token: the appointment is in the URL."""
