"""Sign-in forms (CSRF-protected by Flask-WTF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Regexp


class MobileForm(FlaskForm):
    mobile = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)],
                         render_kw={"inputmode": "tel", "autocomplete": "tel"})
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(_l("6-digit code"), validators=[DataRequired(), Regexp(r"^\s*[0-9]{6}\s*$",
                       message=_l("Enter the 6 digits from the SMS."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})
    next = HiddenField()
