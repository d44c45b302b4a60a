"""Appointment pages: search facilities, pick a day and a slot, book members, reschedule, cancel.

Search results and day switching are htmx fragments of the same URLs as the full pages
(``_render`` picks one from HX-Request and sets ``Vary: HX-Request``); every page also works
without JavaScript. Booking, rescheduling and cancelling are plain POST forms with CSRF
tokens that redirect to the appointment list.
"""
from __future__ import annotations

import datetime as dt

from babel.dates import get_day_names
from flask import flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from core import jobs
from core.extensions import htmx
from core.roles import roles_required

from . import booking, bp
from .booking_forms import BookForm, CancelForm, RescheduleForm, SearchForm

SEARCH_KEYS = ("program", "pincode", "district")


def _render(page: str, fragment: str, status: int = 200, **context):
    """The fragment for an htmx request, the full page otherwise (and on htmx history restore)."""
    template = fragment if htmx and not htmx.history_restore_request else page
    resp = make_response(render_template(template, **context), status)
    resp.vary.add("HX-Request")
    return resp


def _day_arg() -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return None


def _moving():
    """The appointment being rescheduled (``?reschedule=ID``), which must be the citizen's own."""
    appointment_id = request.args.get("reschedule", type=int)
    return booking.owned_appointment(current_user.mobile, appointment_id) if appointment_id else None


@bp.get("/book")
@roles_required()
def book_search():
    args = request.args
    if not any(args.get(k) for k in SEARCH_KEYS):
        args = MultiDict({**args.to_dict(), **booking.search_defaults(
            current_user.mobile, args.get("enrolment", type=int), args.get("reschedule", type=int))})
    form = SearchForm(formdata=args)
    form.program.choices = [(p.id, p.name) for p in booking.active_programs()]
    results = None
    if (args.get("pincode") or args.get("district") or "program" in request.args) and form.validate():
        results = booking.find_slots(form.program.data, form.district.data, form.pincode.data, _day_arg())
        jobs.commit()  # the slots shown were materialised
    return _render("portal/booking/search.html", "portal/booking/_search.html", form=form, results=results,
                   moving=_moving(), limit=booking.SEARCH_LIMIT)


@bp.get("/book/facilities/<int:facility_id>")
@roles_required()
def book_facility(facility_id: int):
    config = booking.facility_config(facility_id, request.args.get("program", 0, type=int))
    card = booking.facility_days([config], _day_arg())[0]
    jobs.commit()
    return _render("portal/booking/facility.html", "portal/booking/_facility_slots.html", card=card,
                   moving=_moving())


def _member_choices(offer: booking.SlotOffer) -> list[tuple[int, str]]:
    return [(s.enrolment.id, _("%(name)s, dose %(dose)d", name=s.member.name, dose=s.next_dose))
            for s in offer.eligible]


@bp.route("/book/slots/<int:slot_id>", methods=["GET", "POST"])
@roles_required()
def book_slot(slot_id: int):
    offer = booking.slot_offer(current_user.mobile, slot_id)
    form = BookForm()
    form.members.choices = _member_choices(offer)
    status = 200
    if form.validate_on_submit():
        try:
            appointments = booking.book(current_user.mobile, slot_id, form.members.data)
            jobs.commit()
        except booking.BookingError as exc:
            jobs.rollback()
            offer = booking.slot_offer(current_user.mobile, slot_id)
            form.members.choices = _member_choices(offer)
            form.members.errors.append(exc.message)
            status = exc.status
        else:
            flash(ngettext("Appointment booked. We sent a confirmation by SMS.",
                           "%(num)d appointments booked. We sent a confirmation by SMS.", len(appointments)))
            return redirect(url_for("portal.appointments"))
    elif form.is_submitted():
        status = 400
    return render_template("portal/booking/slot.html", offer=offer, form=form, moving=_moving(),
                           reschedule_form=RescheduleForm(slot=slot_id)), status


@bp.post("/appointments/<int:appointment_id>/reschedule")
@roles_required()
def appointment_reschedule(appointment_id: int):
    moving = booking.owned_appointment(current_user.mobile, appointment_id)
    form = RescheduleForm()
    if not form.validate_on_submit():
        return redirect(url_for("portal.book_search", reschedule=moving.id))
    try:
        booking.reschedule(current_user.mobile, appointment_id, form.slot.data)
        jobs.commit()
    except booking.BookingError as exc:
        jobs.rollback()
        offer = booking.slot_offer(current_user.mobile, form.slot.data)
        return render_template("portal/booking/slot.html", offer=offer, form=BookForm(), error=exc.message,
                               moving=booking.owned_appointment(current_user.mobile, appointment_id),
                               reschedule_form=form), exc.status
    flash(_("Appointment moved. We sent a confirmation by SMS."))
    return redirect(url_for("portal.appointments"))


@bp.route("/appointments/<int:appointment_id>/cancel", methods=["GET", "POST"])
@roles_required()
def appointment_cancel(appointment_id: int):
    appointment = booking.owned_appointment(current_user.mobile, appointment_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            booking.cancel(current_user.mobile, appointment_id)
            jobs.commit()
        except booking.BookingError as exc:
            jobs.rollback()
            flash(exc.message)
        else:
            flash(_("Appointment cancelled. We sent a confirmation by SMS."))
        return redirect(url_for("portal.appointments"))
    return render_template("portal/booking/cancel.html", appointment=appointment, form=form)


@bp.get("/appointments")
@roles_required()
def appointments():
    return render_template("portal/booking/appointments.html",
                           bookings=booking.account_bookings(current_user.mobile))


# --- formatting for the booking templates --------------------------------------------------------

@bp.app_template_filter("booking_day")
def booking_day(value: dt.date, fmt: str = "EEE d MMM y") -> str:
    """A localised date; memoised per request (a search shows the same 14 days for every facility)."""
    cache = g.setdefault("_booking_day_labels", {})
    if (value, fmt) not in cache:
        cache[(value, fmt)] = format_date(value, fmt)
    return cache[(value, fmt)]


@bp.app_template_filter("booking_address")
def booking_address(facility) -> str:
    return booking.address_line(facility)


@bp.app_template_filter("booking_hours")
def booking_hours(start: dt.time | None, end: dt.time | None) -> str:
    return f"{start:%H:%M}–{end:%H:%M}" if start and end else ""


@bp.app_template_filter("booking_weekdays")
def booking_weekdays(days: list[int]) -> str:
    """[0, 1, 2, 3, 4, 5] → "Mon–Sat"; [0, 2, 4] → "Mon, Wed, Fri" (in the page's language)."""
    names = get_day_names("abbreviated", locale=get_locale())
    picked = sorted({d for d in days or [] if 0 <= d <= 6})
    runs: list[list[int]] = []
    for d in picked:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(f"{names[r[0]]}–{names[r[-1]]}" if len(r) > 2 else ", ".join(names[d] for d in r)
                     for r in runs)
