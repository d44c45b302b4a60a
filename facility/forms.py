"""Forms of the facility desk (CSRF-protected by Flask-WTF, htmx requests included).

Choices that come from the database (programs, vaccinators, vaccines) are filled in by the view;
the services check them again, so a forged choice gets a field error, not a 500.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from core.forms import MultiCheckboxField, choices

ID_TYPE_LABELS = (
    ("aadhaar", _l("Aadhaar")),
    ("passport", _l("Passport")),
    ("driving_licence", _l("Driving licence")),
    ("voter_id", _l("Voter ID")),
    ("pan", _l("PAN card")),
    ("npr", _l("NPR smart card")),
    ("pension", _l("Pension passbook")),
    ("mnrega", _l("MNREGA job card")),
    ("disability", _l("Unique disability ID")),
    ("ration", _l("Ration card")),
    ("other", _l("Other photo ID")),
)
GENDER_LABELS = (("Female", _l("Female")), ("Male", _l("Male")), ("Other", _l("Other")))

_REQUIRED = _l("This field is required.")
_FROM_LIST = _l("Choose one from the list.")


class VerifyForm(FlaskForm):
    """The enrolment code, typed or filled in by the QR scanner."""

    code = StringField(_l("Enrolment code"), validators=[DataRequired(_REQUIRED), Length(max=2000)],
                       render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false",
                                  "inputmode": "numeric", "enterkeyhint": "search"})


class QueueAddForm(FlaskForm):
    code = HiddenField(validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that changes something (leave the queue): only the CSRF token."""


class WalkInForm(FlaskForm):
    program = SelectField(_l("Program"), coerce=int, validators=[InputRequired(_REQUIRED)],
                          invalid_choice_message=_FROM_LIST, invalid_value_message=_FROM_LIST)
    name = StringField(_l("Full name (as on the ID)"), validators=[DataRequired(_REQUIRED), Length(max=200)],
                       render_kw={"autocomplete": "off"})
    gender = SelectField(_l("Gender"), choices=choices(GENDER_LABELS, placeholder=""),
                         validators=[DataRequired(_REQUIRED)], invalid_choice_message=_FROM_LIST)
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])
    birth_year = IntegerField(_l("Or year of birth, if the date is not known"),
                              validators=[Optional(), NumberRange(1900, 2100, _l("Enter a year such as 1985."))],
                              render_kw={"inputmode": "numeric", "placeholder": "1985"})
    id_type = SelectField(_l("ID type"), choices=choices(ID_TYPE_LABELS, placeholder=""),
                          validators=[DataRequired(_REQUIRED)], invalid_choice_message=_FROM_LIST)
    id_number = StringField(_l("ID number"), validators=[DataRequired(_REQUIRED), Length(max=100)],
                            render_kw={"autocomplete": "off", "spellcheck": "false"})
    address_line1 = StringField(_l("Address"), validators=[DataRequired(_REQUIRED), Length(max=200)])
    address_line2 = StringField(_l("Address line 2 (optional)"), validators=[Length(max=200)])
    district = StringField(_l("District"), validators=[DataRequired(_REQUIRED), Length(max=100)])
    state = StringField(_l("State"), validators=[DataRequired(_REQUIRED), Length(max=100)])
    pincode = StringField(_l("PIN code"), validators=[DataRequired(_REQUIRED), Regexp(
        r"^\s*[0-9]{6}\s*$", message=_l("Enter the 6-digit PIN code."))], render_kw={"inputmode": "numeric"})
    mobile = StringField(_l("Contact mobile number"), validators=[DataRequired(_REQUIRED), Length(max=20)],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    email = StringField(_l("Email (optional)"), validators=[Optional(), Length(max=200), Regexp(
        r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an email address such as name@example.com."))],
        render_kw={"inputmode": "email", "autocomplete": "off"})
    comorbidities = MultiCheckboxField(_l("Conditions"), choices=[], invalid_choice_message=_FROM_LIST)


class VaccinationForm(FlaskForm):
    vaccinator = SelectField(_l("Vaccinator"), coerce=int, validators=[InputRequired(_REQUIRED)],
                             invalid_choice_message=_FROM_LIST, invalid_value_message=_FROM_LIST)
    vaccine = SelectField(_l("Vaccine"), coerce=int, validators=[InputRequired(_REQUIRED)],
                          invalid_choice_message=_FROM_LIST, invalid_value_message=_FROM_LIST)
    batch = StringField(_l("Batch number"), validators=[DataRequired(_REQUIRED), Length(max=100)],
                        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})
    dose = IntegerField(_l("Dose"), validators=[InputRequired(_REQUIRED), NumberRange(1, 20)],
                        render_kw={"inputmode": "numeric", "min": 1})


class PrintSearchForm(FlaskForm):
    mobile = StringField(_l("Mobile number"), validators=[DataRequired(_REQUIRED), Length(max=20)],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    dob = DateField(_l("Date of birth"), validators=[InputRequired(_REQUIRED)])
