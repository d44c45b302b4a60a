"""Portal forms (Flask-WTF: CSRF on every POST, htmx ones included)."""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from core.forms import MultiCheckboxField, choices
from core.models import local_today

from .services import MemberDetails

GENDERS = [("Male", _l("Male")), ("Female", _l("Female")), ("Other", _l("Other"))]
ID_TYPES = [
    ("aadhaar", _l("Aadhaar")),
    ("passport", _l("Passport")),
    ("driving_licence", _l("Driving licence")),
    ("voter_id", _l("Voter ID")),
    ("pan", _l("PAN card")),
    ("other", _l("Other government photo ID")),
]


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = r"^\+?[0-9]{10,15}$"


def _year_bounds() -> tuple[int, int]:
    this_year = local_today().year
    return this_year - 120, this_year


class MemberForm(FlaskForm):
    name = StringField(_l("Full name (as on the ID)"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    gender = RadioField(_l("Gender"), choices=choices(GENDERS),
                        validators=[InputRequired(message=_l("Choose a gender."))])
    birth_year = IntegerField(_l("Year of birth"), validators=[Optional()],
                              render_kw={"inputmode": "numeric", "autocomplete": "bday-year", "maxlength": 4})
    birth_date = DateField(_l("Date of birth (optional)"), validators=[Optional()],
                           render_kw={"autocomplete": "bday"})
    id_type = SelectField(_l("ID type"), choices=choices(ID_TYPES))
    id_number = StringField(_l("ID number"), validators=[DataRequired(), Length(max=40)],
                            render_kw={"autocomplete": "off", "autocapitalize": "characters"})
    address_line = StringField(_l("House, street, village or town"), validators=[DataRequired(), Length(max=200)],
                               render_kw={"autocomplete": "street-address"})
    district = StringField(_l("District"), validators=[DataRequired(), Length(max=100)])
    state = StringField(_l("State"), validators=[DataRequired(), Length(max=100)],
                        render_kw={"autocomplete": "address-level1"})
    pincode = StringField(_l("PIN code"), validators=[
        DataRequired(), Regexp(r"^\s*[0-9]{6}\s*$", message=_l("Enter the 6-digit PIN code."))],
        render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "maxlength": 6})
    contact = StringField(_l("Mobile number of the member"), validators=[
        DataRequired(), Regexp(MOBILE, message=_l("Enter a mobile number of 10 to 15 digits."))],
        render_kw={"inputmode": "tel", "autocomplete": "tel"})
    email = StringField(_l("Email (optional)"), validators=[Optional(), Length(max=200)],
                        render_kw={"inputmode": "email", "autocomplete": "email"})

    def validate_birth_year(self, field) -> None:
        low, high = _year_bounds()
        if field.data is None and self.birth_date.data is None:
            raise ValidationError(_("Enter the year of birth."))
        if field.data is not None and not low <= field.data <= high:
            raise ValidationError(_("Enter a year between %(low)d and %(high)d.", low=low, high=high))
        if field.data is not None and self.birth_date.data and self.birth_date.data.year != field.data:
            raise ValidationError(_("The year does not match the date of birth."))

    def validate_birth_date(self, field) -> None:
        if field.data is not None and not (_year_bounds()[0] <= field.data.year and field.data <= local_today()):
            raise ValidationError(_("Enter a date of birth in the past."))

    def validate_id_number(self, field) -> None:
        value = re.sub(r"\s", "", field.data or "")
        if self.id_type.data == "aadhaar" and not re.fullmatch(r"[0-9]{12}", value):
            raise ValidationError(_("An Aadhaar number has 12 digits."))
        if not re.fullmatch(r"[A-Za-z0-9/-]{4,40}", value):
            raise ValidationError(_("Use 4 to 40 letters or digits."))
        field.data = value

    def validate_email(self, field) -> None:
        if field.data and not EMAIL.match(field.data.strip()):
            raise ValidationError(_("Enter an email address like name@example.com."))

    def details(self) -> MemberDetails:
        birth_date = self.birth_date.data
        return MemberDetails(
            name=self.name.data, gender=self.gender.data,
            birth_year=self.birth_year.data if self.birth_year.data is not None else birth_date.year,
            birth_date=birth_date, id_type=self.id_type.data, id_number=self.id_number.data,
            address_line=self.address_line.data, district=self.district.data, state=self.state.data,
            pincode=self.pincode.data.strip(), contact=self.contact.data.strip(), email=self.email.data or "")

    def fill(self, details: MemberDetails) -> None:
        for name in ("name", "gender", "birth_date", "id_type", "id_number", "address_line", "district",
                     "state", "pincode", "contact", "email"):
            getattr(self, name).data = getattr(details, name)
        self.birth_year.data = details.birth_year or None


class EligibilityForm(FlaskForm):
    """Step 3 of registration: the program, then the eligibility questions."""

    program = RadioField(_l("Program"), coerce=int,
                         validators=[InputRequired(message=_l("Choose a program."))])
    birth_year = IntegerField(_l("Year of birth"), validators=[InputRequired(message=_l("Enter the year of birth."))],
                              render_kw={"inputmode": "numeric", "maxlength": 4})
    comorbidities = MultiCheckboxField(_l("Does the person have any of these conditions?"), choices=[])

    def validate_birth_year(self, field) -> None:
        low, high = _year_bounds()
        if field.data is not None and not low <= field.data <= high:
            raise ValidationError(_("Enter a year between %(low)d and %(high)d.", low=low, high=high))


class SideEffectForm(FlaskForm):
    """Pick the member, pick the symptoms, confirm."""

    member = RadioField(_l("Who has the symptoms?"), coerce=int,
                        validators=[InputRequired(message=_l("Choose the person."))])
    symptoms = MultiCheckboxField(_l("Symptoms"), choices=[])


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class EuCertificateForm(FlaskForm):
    """How the holder's name splits for an EU certificate (prefixed per certificate: a page shows
    one form for each)."""

    family_name = StringField(_l("Family name (surname)"), validators=[Length(max=80)], filters=[_strip])
    given_name = StringField(_l("Given names"), validators=[Length(max=80)], filters=[_strip])

    @classmethod
    def for_certificate(cls, certificate_id: str, name: str = "", **kwargs) -> "EuCertificateForm":
        """The form of one certificate, first filled with ``name`` split as a suggestion."""
        from .services import name_split

        family, given = name_split(name)
        return cls(prefix=f"eu-{certificate_id}", data={"family_name": family, "given_name": given}, **kwargs)

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.family_name.data and not self.given_name.data:
            self.family_name.errors.append(_("Give the family name, the given names or both."))
            return False
        return True
