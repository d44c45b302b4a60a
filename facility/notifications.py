"""Admin pages for notifications: the delivery log (search, status, resend), template
previews with SMS segment counts, facility notices and per-program settings.

system_admin: everything. program_admin: reads the log and previews, sends facility notices;
no resend and no settings.
"""
from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from core import jobs, notify
from core.errors import NotFound, ValidationError
from core.extensions import db
from core.models import Program
from core.roles import roles_required

from . import bp

ADMINS = ("system_admin", "program_admin")


class NoticeForm(FlaskForm):
    facilities = StringField(_l("Facility codes"), validators=[Optional(), Length(max=2000)],
                             description=_l("Separate several codes with commas."))
    district = StringField(_l("Or every facility in the district"), validators=[Optional(), Length(max=100)])
    program = SelectField(_l("Program"), coerce=int, validate_choice=False)
    message = TextAreaField(_l("Notice"), validators=[Length(max=600)], render_kw={"rows": 3, "maxlength": 600})


class SettingsForm(FlaskForm):
    events = SelectMultipleField(_l("Events that notify"), option_widget=CheckboxInput(),
                                 widget=ListWidget(prefix_label=False), validate_choice=False)
    sender_id = StringField(_l("SMS sender id"), validators=[Optional(), Length(max=20)],
                            description=_l("Up to 11 letters and digits (an alphanumeric sender), or a +E.164 "
                                           "number. Empty: the gateway's default sender."))
    quiet_start = TimeField(_l("Quiet hours start"), validators=[Optional()])
    quiet_end = TimeField(_l("Quiet hours end"), validators=[Optional()])
    default_language = SelectField(_l("Default language"), validate_choice=False)


def _page_or_fragment(page: str, fragment: str, target: str, **context):
    """The whole page, or only the fragment when htmx asks for it (the page includes the fragment)."""
    partial = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target
    resp = render_template(fragment if partial else page, **context)
    return resp, 200, {"Vary": "HX-Request, HX-Target"}


def _event_choices() -> list[tuple[str, str]]:
    return [(name, str(event.label)) for name, event in notify.EVENTS.items()]


def _preview_args() -> tuple[str, str]:
    event = request.args.get("event", "certificate_issued")
    lang = request.args.get("language", "hi")  # not "lang": that one picks the page's own language
    if event not in notify.EVENTS:
        event = "certificate_issued"
    if lang not in notify.languages():
        lang = "en"
    return event, lang


def _page_context(query: str, notice_form: NoticeForm) -> dict:
    event, lang = _preview_args()
    return dict(query=query, messages=notify.search(query, limit=200), mask=notify.mask,
                event_labels=dict(_event_choices()),
                can_resend=current_user.has_role("system_admin"), events=_event_choices(),
                languages=notify.languages(), preview=notify.preview(event, lang), notice_form=notice_form,
                programs=db.session.scalars(select(Program).order_by(Program.name)).all())


@bp.get("/admin/notifications")
@roles_required(*ADMINS)
def notifications():
    form = NoticeForm()
    form.program.choices = _program_choices()
    return _page_or_fragment("facility/admin/notifications.html", "facility/admin/_notifications_table.html",
                             "messages", **_page_context(request.args.get("q", "").strip()[:100], form))


@bp.get("/admin/notifications/preview")
@roles_required(*ADMINS)
def notifications_preview():
    event, lang = _preview_args()
    return render_template("facility/admin/_notifications_preview.html", preview=notify.preview(event, lang))


@bp.post("/admin/notifications/<int:message_id>/resend")
@roles_required("system_admin")
def notifications_resend(message_id: int):
    message = notify.resend(message_id)  # not sign-in codes: see notify.resend
    jobs.commit()
    flash(_("Sent again to %(to)s (message %(id)d).", to=notify.mask(message.to), id=message.id))
    return redirect(url_for("facility.notifications", q=request.form.get("q", "")))


def _program_choices() -> list[tuple[int, str]]:
    return [(0, _("No program"))] + [(p.id, p.name) for p in db.session.scalars(select(Program).order_by(Program.name))]


@bp.post("/admin/notifications/notice")
@roles_required(*ADMINS)
def notifications_notice():
    form = NoticeForm()
    form.program.choices = _program_choices()
    if form.validate_on_submit():
        try:
            sent = notify.facility_notice(
                facility_codes=(form.facilities.data or "").split(","), district=form.district.data or "",
                message=form.message.data or "", program_id=form.program.data or None,
                author=f"user:{current_user.id}")
            jobs.commit()
        except ValidationError as exc:
            jobs.rollback()
            for field in exc.fields:
                getattr(form, field.path, form.message).errors.append(field.reason)
        else:
            flash(_("The notice was sent to %(n)d people.", n=len(sent)))
            return redirect(url_for("facility.notifications"))
    return render_template("facility/admin/notifications.html", **_page_context("", form)), 400


@bp.route("/admin/notifications/programs/<int:program_id>", methods=["GET", "POST"])
@roles_required("system_admin")
def notification_settings(program_id: int):
    program = db.session.get(Program, program_id)
    if program is None:
        raise NotFound(_("No such program."))
    current = notify.settings_for(program_id)
    form = SettingsForm(data=None if request.method == "POST" else {
        "events": list(notify.EVENTS) if current is None or current.events is None else current.events,
        "sender_id": current.sender_id if current else "",
        "quiet_start": current.quiet_start if current else None,
        "quiet_end": current.quiet_end if current else None,
        "default_language": current.default_language if current else "en"})
    form.events.choices = _event_choices()
    form.default_language.choices = [(code, code) for code in notify.languages()]
    if form.validate_on_submit():
        chosen = form.events.data or []
        try:
            notify.save_settings(program_id, events=None if set(chosen) == set(notify.EVENTS) else chosen,
                                 sender_id=form.sender_id.data or "", quiet_start=_time(form.quiet_start.data),
                                 quiet_end=_time(form.quiet_end.data), default_language=form.default_language.data)
            jobs.commit()
        except ValidationError as exc:
            jobs.rollback()
            for field in exc.fields:
                getattr(form, field.path).errors.append(field.reason)
        else:
            flash(_("Notification settings of %(program)s saved.", program=program.name))
            return redirect(url_for("facility.notification_settings", program_id=program_id))
    status = 400 if request.method == "POST" else 200
    return render_template("facility/admin/notification_settings.html", program=program, form=form), status


def _time(value: dt.time | None) -> dt.time | None:
    return value.replace(second=0, microsecond=0) if value else None
