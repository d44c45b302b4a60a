"""Forms of the admin pages (facility, program and system administrators). CSRF via Flask-WTF."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
    ValidationError,
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

ICD11_CODE = re.compile(r"^[0-9A-Z]{4,8}(\.[0-9A-Z]+)?$")  # the map:icd11 document's rule
MOBILE = Regexp(r"^\s*\+?[0-9][0-9\s\-()]{8,18}\s*$", message=_l("Enter a mobile number of 10 to 15 digits."))
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an email address such as name@example.org."))
MAX_LOGO_BYTES = 256 * 1024
MAX_TRAINING_BYTES = 2 * 1024 * 1024
CSV_MAX_BYTES = 8 * 1024 * 1024

FACILITY_ROLE_CHOICES = choices([
    ("facility_staff", _l("Facility staff")),
    ("vaccinator", _l("Vaccinator")),
    ("certificate_printer", _l("Certificate printer")),
    ("facility_admin", _l("Facility administrator")),
])
ALL_ROLE_CHOICES = choices([("system_admin", _l("System administrator")),
                            ("program_admin", _l("Program administrator"))]) + FACILITY_ROLE_CHOICES
WEEKDAYS = choices([(0, _l("Monday")), (1, _l("Tuesday")), (2, _l("Wednesday")), (3, _l("Thursday")),
            (4, _l("Friday")), (5, _l("Saturday")), (6, _l("Sunday"))])
ADMINISTRATION_CHOICES = choices([("intramuscular", _l("Intramuscular")), ("subcutaneous", _l("Subcutaneous")),
                          ("intradermal", _l("Intradermal")), ("oral", _l("Oral")),
                          ("intranasal", _l("Intranasal"))])
CATEGORY_CHOICES = choices([("", _l("Any type")), ("government", _l("Government")), ("private", _l("Private"))])


def lines(text: str | None) -> list[str]:
    """A textarea with one entry per line → the distinct non-blank entries, in order."""
    seen: dict[str, None] = {}
    for line in (text or "").splitlines():
        value = line.strip()
        if value and value.casefold() not in {s.casefold() for s in seen}:
            seen[value] = None
    return list(seen)


# --- Facility administrator ------------------------------------------------------------------

class VaccinatorForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    mobile = StringField(_l("Mobile number"), validators=[Optional(), MOBILE],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    email = StringField(_l("Email"), validators=[Optional(), EMAIL, Length(max=200)])
    licence_number = StringField(_l("Licence number"), validators=[DataRequired(), Length(max=100)])
    program_ids = MultiCheckboxField(_l("Certified for programs"), coerce=int)
    training_reference = StringField(_l("Training certificate number"), validators=[Optional(), Length(max=200)])
    training_file = FileField(_l("Training certificate (PDF or image)"), validators=[
        FileAllowed(["pdf", "png", "jpg", "jpeg"], _l("Upload a PDF, PNG or JPEG file.")),
        FileSize(MAX_TRAINING_BYTES, message=_l("The file is larger than 2 MB."))])
    active = BooleanField(_l("Active"), default=True)


class StaffForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    mobile = StringField(_l("Mobile number"), validators=[DataRequired(), MOBILE],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    employee_id = StringField(_l("Employee id"), validators=[Optional(), Length(max=64)])
    roles = MultiCheckboxField(_l("Role"), choices=FACILITY_ROLE_CHOICES,
                               validators=[DataRequired(message=_l("Choose at least one role."))])
    active = BooleanField(_l("Enabled"), default=True)


class SlotConfigForm(FlaskForm):
    appointment_start = TimeField(_l("Appointments from"), validators=[InputRequired()])
    appointment_end = TimeField(_l("Appointments until"), validators=[InputRequired()])
    slot_minutes = IntegerField(_l("Slot length (minutes)"), validators=[InputRequired(), NumberRange(5, 480)])
    slot_capacity = IntegerField(_l("Maximum appointments per slot"),
                                 validators=[InputRequired(), NumberRange(1, 10000)])
    walkin_days = MultiCheckboxField(_l("Walk-in days"), choices=WEEKDAYS, coerce=int)
    walkin_start = TimeField(_l("Walk-ins from"), validators=[Optional()])
    walkin_end = TimeField(_l("Walk-ins until"), validators=[Optional()])

    def validate_appointment_end(self, field) -> None:
        if self.appointment_start.data and field.data and field.data <= self.appointment_start.data:
            raise ValidationError(_l("Must be after the start time."))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        start, end = self.walkin_start.data, self.walkin_end.data
        problem = None
        if bool(start) != bool(end):
            problem = _l("Give both walk-in times, or neither.")
        elif start and end and end <= start:
            problem = _l("Must be after the start time.")
        if problem:  # checked here: Optional() would stop a field validator on an empty value
            self.walkin_end.errors = [*self.walkin_end.errors, problem]
            return False
        return ok


class CsvUploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[
        FileRequired(_l("Choose a CSV file.")),
        FileAllowed(["csv", "txt"], _l("Upload a .csv file.")),
        FileSize(CSV_MAX_BYTES, message=_l("The file is larger than 8 MB."))])


class EnrolmentUploadForm(CsvUploadForm):
    program_id = SelectField(_l("Program"), coerce=int, validators=[InputRequired()])


class PeriodForm(FlaskForm):
    """A program and a date range (the beneficiary list and analytics filters)."""

    class Meta:
        csrf = False  # a GET search

    program_id = SelectField(_l("Program"), coerce=int, validators=[Optional()])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Until"), validators=[Optional()])

    def validate_end(self, field) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_l("Must not be before the start date."))


# --- Program administrator -------------------------------------------------------------------

class FacilityFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    state = SelectField(_l("State"), validators=[Optional()])
    district = SelectField(_l("District"), validators=[Optional()])
    category = SelectField(_l("Type of facility"), choices=CATEGORY_CHOICES, validators=[Optional()])
    status = SelectField(_l("Status in the program"), validators=[Optional()],
                         choices=choices([("", _l("Any status")), ("active", _l("Active")),
                                          ("inactive", _l("Inactive"))]))


class FacilityBulkForm(FlaskForm):
    """The selected facilities and what to do with them (one form, one submit button per action)."""

    facility_ids = MultiCheckboxField(_l("Facilities"), coerce=int)
    action = HiddenField()
    daily_rate = IntegerField(_l("Vaccinations per day"), validators=[Optional(), NumberRange(0, 100000)])
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=120)])
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=600)])


# --- System administrator --------------------------------------------------------------------

class ProgramForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    logo = FileField(_l("Logo (PNG, JPEG or WebP, up to 256 KB)"), validators=[
        FileAllowed(["png", "jpg", "jpeg", "webp"], _l("Upload a PNG, JPEG or WebP image.")),
        FileSize(MAX_LOGO_BYTES, message=_l("The logo is larger than 256 KB."))])
    remove_logo = BooleanField(_l("Remove the logo"))
    start_date = DateField(_l("Start date"), validators=[Optional()])
    end_date = DateField(_l("End date"), validators=[Optional()])
    vaccine_ids = MultiCheckboxField(_l("Vaccines"), coerce=int)
    min_age = IntegerField(_l("Minimum age (years)"), validators=[Optional(), NumberRange(0, 150)])
    max_age = IntegerField(_l("Maximum age (years)"), validators=[Optional(), NumberRange(0, 150)])
    comorbidities = TextAreaField(_l("Comorbidities (one per line)"), validators=[Optional(), Length(max=4000)])
    comorbidity_required = BooleanField(_l("Registrants must declare at least one comorbidity"))
    side_effects = TextAreaField(_l("Side effects citizens may report (one per line)"),
                                 validators=[Optional(), Length(max=4000)])
    active = BooleanField(_l("Active"), default=True)

    def validate_end_date(self, field) -> None:
        if self.start_date.data and field.data and field.data < self.start_date.data:
            raise ValidationError(_l("Must not be before the start date."))

    def validate_max_age(self, field) -> None:
        if self.min_age.data is not None and field.data is not None and field.data < self.min_age.data:
            raise ValidationError(_l("Must not be below the minimum age."))


class VaccineForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    manufacturer = StringField(_l("Manufacturer"), validators=[Optional(), Length(max=200)])
    administration = SelectField(_l("Route of administration"), choices=ADMINISTRATION_CHOICES)
    program_id = SelectField(_l("Program"), coerce=int, validators=[Optional()])
    doses = IntegerField(_l("Doses"), validators=[InputRequired(), NumberRange(1, 10)])
    interval_days = IntegerField(_l("Minimum days between doses"), validators=[InputRequired(), NumberRange(0, 3650)])
    validity_days = IntegerField(_l("Certificate validity after the last dose (days)"),
                                 validators=[Optional(), NumberRange(1, 36500)])
    icd11_code = StringField(_l("ICD-11 code"), validators=[
        DataRequired(), Regexp(ICD11_CODE.pattern, message=_l("An ICD-11 code such as XM9QW8."))],
        filters=[lambda v: v.strip().upper() if isinstance(v, str) else v])
    icd11_term = StringField(_l("ICD-11 term"), validators=[DataRequired(), Length(max=200)])
    denied_batches = TextAreaField(_l("Denied batch numbers (one per line)"), validators=[Optional(), Length(max=20000)])
    price = DecimalField(_l("Price"), places=2, validators=[Optional(), NumberRange(0, 10**7)])
    active = BooleanField(_l("Active"), default=True)


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    mobile = StringField(_l("Mobile number"), validators=[DataRequired(), MOBILE],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    employee_id = StringField(_l("Employee id"), validators=[Optional(), Length(max=64)])
    roles = MultiCheckboxField(_l("Roles"), choices=ALL_ROLE_CHOICES,
                               validators=[DataRequired(message=_l("Choose at least one role."))])
    facility_id = SelectField(_l("Facility"), coerce=int, validators=[Optional()])
    program_ids = MultiCheckboxField(_l("Programs managed (program administrators)"), coerce=int)
    active = BooleanField(_l("Enabled"), default=True)
