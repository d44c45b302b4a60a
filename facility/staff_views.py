"""The facility desk: staff home with verify, walk-in enrolment, the recipient queue, recording a
vaccination, the certificate-issued view, printing, and DIVOC's beneficiaries API for printers.

Views are thin: validate the form, call one function of ``staff_services``, commit once, then
render or redirect. htmx requests get the fragment (``_name.html``) the full page includes.
"""
from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from certify import downloads as certify_downloads
from certify import render as certify_render
from certify import services as certify_services
from core import auth, jobs
from core.errors import FieldError, Forbidden, Unauthorized, ValidationError
from core.extensions import db, htmx
from core.forms import choices
from core.models import Facility, iso_utc
from core.roles import ROLES, roles_required
from core.vocabulary import translated

from . import bp
from . import staff_services as desk
from .forms import (
    ID_TYPE_LABELS,
    ActionForm,
    PrintSearchForm,
    QueueAddForm,
    VaccinationForm,
    VerifyForm,
    WalkInForm,
)

#: Verify, enrol walk-ins, run the queue and record vaccinations.
DESK = ("facility_staff", "vaccinator")
#: Search and print certificates.
PRINTERS = ("certificate_printer", "facility_staff", "vaccinator", "facility_admin", "system_admin")
#: API clients (bearer tokens) that may use GET /certificate/api/beneficiaries.
API_PRINT_ROLES = ("certify", "fetch")

POLL_QUEUE_SECONDS = 5
POLL_ISSUANCE_SECONDS = 2


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #

def _page(template: str, fragment: str, status: int = 200, **context) -> Response:
    """The full page, or for an htmx request only the fragment it includes."""
    resp = make_response(render_template(fragment if htmx else template, **context), status)
    resp.vary.add("HX-Request")
    return resp


def _show_errors(form, exc: ValidationError) -> None:
    """Put each service error next to its field (unknown paths go above the form)."""
    for err in exc.fields:
        target = getattr(form, err.path, None) if err.path else None
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, err.reason]
        else:
            form.form_errors.append(err.reason)
    if not exc.fields:
        form.form_errors.append(exc.message)


def _own_facility() -> Facility | None:
    facility = db.session.get(Facility, current_user.facility_id) if current_user.facility_id else None
    return facility if facility is not None and facility.active else None


def _print_scope() -> int | None:
    """Users linked to a facility see only its beneficiaries; others (system admin) see all."""
    return current_user.facility_id


def print_languages() -> list[tuple[str, str]]:
    """(code, own name) of the certificate languages this deployment offers."""
    configured = [c.strip() for c in current_app.config["CERTIFICATE_LANGUAGES"].split(",") if c.strip()]
    return [(c, certify_render.LANGUAGES[c][1]) for c in configured if c in certify_render.LANGUAGES]


def id_type_label(key: str) -> str:
    return str(dict(ID_TYPE_LABELS).get(key, key))


@bp.app_template_filter("desk_time")
def desk_time(value: dt.datetime | None) -> str:
    """A time of day at the facility (CERTIFICATE_TIMEZONE), e.g. 14:05."""
    return desk.as_aware(value).astimezone(desk.local_zone()).strftime("%H:%M") if value else ""


@bp.app_template_filter("minutes_since")
def minutes_since(value: dt.datetime | None) -> int:
    return max(0, int((desk.utcnow() - desk.as_aware(value)).total_seconds() // 60)) if value else 0


@bp.app_context_processor
def _desk_globals() -> dict:
    return {"desk_roles": DESK, "printer_roles": PRINTERS, "id_type_label": id_type_label}


# --------------------------------------------------------------------------- #
# Home and verify
# --------------------------------------------------------------------------- #

def _home(form: VerifyForm, status: int = 200, **extra) -> Response:
    facility = _own_facility()
    waiting = len(desk.waiting_entries(facility.id)) if facility and current_user.has_role(*DESK) else 0
    side_effects = desk.recent_side_effects(facility.id) if facility else []
    return _page("facility/index.html", "facility/staff/_verify.html", status, facility=facility, form=form,
                 waiting=waiting, today=desk.local_now().date(), side_effects=side_effects, **extra)


@bp.get("/")
@roles_required(*ROLES)
def index():
    return _home(VerifyForm())


@bp.post("/verify")
@roles_required(*DESK)
def verify():
    facility = desk.desk_facility(current_user)
    form = VerifyForm()
    if not form.validate_on_submit():
        return _home(form, 422)
    try:
        beneficiary = desk.verify_beneficiary(facility, form.code.data)
    except ValidationError as exc:
        _show_errors(form, exc)
        return _home(form, 422)
    form.code.data = beneficiary.enrolment.code
    return _home(form, beneficiary=beneficiary, queue_form=QueueAddForm(code=beneficiary.enrolment.code))


@bp.post("/queue")
@roles_required(*DESK)
def queue_add():
    facility = desk.desk_facility(current_user)
    add = QueueAddForm()
    if not add.validate_on_submit():
        abort(400)
    try:
        entry, created = desk.add_to_queue(facility, current_user, add.code.data)
        jobs.commit()
    except ValidationError as exc:
        jobs.rollback()
        form = VerifyForm(formdata=None, code=add.code.data)
        _show_errors(form, exc)
        return _home(form, 422)
    name = entry.enrolment.member.name
    message = (_("%(name)s is in the queue for dose %(dose)d.", name=name, dose=entry.dose) if created else
               _("%(name)s was already in the queue for dose %(dose)d.", name=name, dose=entry.dose))
    if htmx:
        return _home(VerifyForm(formdata=None), queued=message)
    flash(message)
    return redirect(url_for("facility.queue"))


# --------------------------------------------------------------------------- #
# Walk-in enrolment
# --------------------------------------------------------------------------- #

def _walk_in_choices(form: WalkInForm, facility: Facility) -> list:
    programs = desk.offered_programs(facility.id)
    form.program.choices = choices((p.id, p.name) for p in programs)
    conditions = sorted({c for p in programs for c in (p.comorbidities or [])})
    form.comorbidities.choices = choices((c, translated(c)) for c in conditions)
    return programs


@bp.route("/walk-in", methods=["GET", "POST"])
@roles_required(*DESK)
def walk_in():
    facility = desk.desk_facility(current_user)
    form = WalkInForm()
    programs = _walk_in_choices(form, facility)
    status = 200
    if form.validate_on_submit():
        data = desk.WalkIn(
            program_id=form.program.data, name=form.name.data, gender=form.gender.data,
            birth_date=form.birth_date.data, birth_year=form.birth_year.data, id_type=form.id_type.data,
            id_number=form.id_number.data, mobile=form.mobile.data, email=form.email.data or "",
            address={"addressLine1": form.address_line1.data, "addressLine2": form.address_line2.data or "",
                     "district": form.district.data, "state": form.state.data, "pincode": form.pincode.data},
            comorbidities=tuple(form.comorbidities.data or ()))
        try:
            entry = desk.walk_in(facility, current_user, data)
            jobs.commit()
        except ValidationError as exc:
            jobs.rollback()
            _show_errors(form, exc)
            status = 422
        else:
            flash(_("%(name)s is enrolled with the code %(code)s and waits in the queue for dose 1.",
                    name=entry.enrolment.member.name, code=entry.enrolment.code))
            return redirect(url_for("facility.queue"))
    elif request.method == "POST":
        status = 422
    return render_template("facility/staff/walk_in.html", form=form, facility=facility, programs=programs), status


# --------------------------------------------------------------------------- #
# The queue
# --------------------------------------------------------------------------- #

def _queue(facility: Facility, status: int = 200) -> Response:
    return _page("facility/staff/queue.html", "facility/staff/_queue.html", status, facility=facility,
                 waiting=desk.waiting_entries(facility.id), done=desk.vaccinated_today(facility.id),
                 poll=POLL_QUEUE_SECONDS)


@bp.get("/queue")
@roles_required(*DESK)
def queue():
    return _queue(desk.desk_facility(current_user))


@bp.post("/queue/<int:entry_id>/leave")
@roles_required(*DESK)
def queue_leave(entry_id: int):
    facility = desk.desk_facility(current_user)
    if not ActionForm().validate_on_submit():
        abort(400)
    entry = desk.leave_queue(facility, entry_id)
    jobs.commit()
    message = _("%(name)s left the queue.", name=entry.enrolment.member.name)
    if htmx:
        return _queue(facility)
    flash(message)
    return redirect(url_for("facility.queue"))


# --------------------------------------------------------------------------- #
# Record a vaccination and the certificate-issued view
# --------------------------------------------------------------------------- #

def _vaccination_choices(form: VaccinationForm, options: desk.VaccinationChoices) -> None:
    """The facility's vaccinators and the program's vaccines; with one of each it is preselected."""
    form.vaccinator.choices = choices(((v.id, f"{v.name} · {v.licence_number}") for v in options.vaccinators),
                                      placeholder=0 if len(options.vaccinators) != 1 else None)
    form.vaccine.choices = choices(((v.id, f"{v.name} ({v.manufacturer})" if v.manufacturer else v.name)
                                    for v in options.vaccines), placeholder=0 if len(options.vaccines) != 1 else None)


@bp.route("/queue/<int:entry_id>/vaccinate", methods=["GET", "POST"])
@roles_required(*DESK)
def vaccinate(entry_id: int):
    facility = desk.desk_facility(current_user)
    entry = desk.queue_entry(facility, entry_id, desk.WAITING)
    choices = desk.vaccination_choices(facility, entry)
    form = VaccinationForm(dose=entry.dose)
    _vaccination_choices(form, choices)
    status = 200
    if form.validate_on_submit():
        try:
            desk.record_vaccination(facility, current_user, entry_id, vaccinator_id=form.vaccinator.data,
                                    vaccine_id=form.vaccine.data, batch=form.batch.data, dose=form.dose.data)
            jobs.commit()
        except ValidationError as exc:
            jobs.rollback()
            entry = desk.queue_entry(facility, entry_id, desk.WAITING)
            _show_errors(form, exc)
            status = 422
        else:
            return redirect(url_for("facility.certificate_issued", entry_id=entry_id))
    elif request.method == "POST":
        status = 422
    beneficiary = desk.describe(facility, entry.enrolment)
    return render_template("facility/staff/vaccinate.html", form=form, entry=entry, choices=choices,
                           beneficiary=beneficiary, facility=facility), status


@bp.get("/queue/<int:entry_id>/certificate")
@roles_required(*DESK)
def certificate_issued(entry_id: int):
    facility = desk.desk_facility(current_user)
    entry = desk.queue_entry(facility, entry_id, desk.VACCINATED)
    return _page("facility/staff/issued.html", "facility/staff/_issuance.html", entry=entry,
                 issuance=desk.issuance(entry), languages=print_languages(), poll=POLL_ISSUANCE_SECONDS)


# --------------------------------------------------------------------------- #
# Print at the desk
# --------------------------------------------------------------------------- #

@bp.route("/print", methods=["GET", "POST"])
@roles_required(*PRINTERS)
def print_search():
    form = PrintSearchForm()
    found, status = None, 200
    if form.validate_on_submit():
        try:
            found = desk.find_beneficiaries(form.mobile.data, form.dob.data, _print_scope())
        except ValidationError as exc:
            _show_errors(form, exc)
            status = 422
    elif request.method == "POST":
        status = 422
    return _page("facility/staff/print.html", "facility/staff/_print.html", status, form=form,
                 found=found, languages=print_languages())


def _pdf_args() -> tuple[int | None, str]:
    raw_dose = request.args.get("dose", "")
    if raw_dose and not raw_dose.isdigit():
        raise ValidationError(_("The dose must be a number."), [FieldError("dose", _("The dose must be a number."))])
    # not ?lang=, which core.select_locale reads as the language of the pages
    lang = request.args.get("language", "en")
    if lang not in dict(print_languages()):
        raise ValidationError(_("This language is not available."), [FieldError("language", lang)])
    if lang != "en" and request.args.get("bilingual"):
        lang += "+en"
    return (int(raw_dose) if raw_dose else None), lang


@bp.get("/print/<code>.pdf")
@roles_required(*PRINTERS)
@jobs.transactional  # the rendered PDF is cached in the database
def print_pdf(code: str):
    dose, lang = _pdf_args()
    cert = desk.certificate_for_print(code, dose, _print_scope())
    pdf = certify_services.artifact(cert, "pdf", lang=lang)
    certify_downloads.count("facility", "pdf")
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{cert.certificate_id}-{lang}.pdf"',
        "Cache-Control": "private, no-store"})


# --------------------------------------------------------------------------- #
# DIVOC's GET /certificate/api/beneficiaries?phoneno=&dob= (outside /facility/)
# --------------------------------------------------------------------------- #

api_bp = Blueprint("facility_api", __name__)


@bp.record_once
def _register_api(state) -> None:
    """DIVOC's path is not under /facility/: serve it from a prefix-less blueprint of our own."""
    state.app.register_blueprint(api_bp)


def _api_caller_scope() -> tuple[int | None, bool]:
    """(facility scope, is_api_client): a bearer client with a print role, or a signed-in printer."""
    if request.headers.get("Authorization"):
        client = auth.authenticate()
        if not client.role_set & set(API_PRINT_ROLES):
            raise Forbidden(f"this client needs one of the roles: {', '.join(API_PRINT_ROLES)}")
        return None, True
    if not current_user.is_authenticated:
        raise Unauthorized("send a bearer token (POST /oauth/token) or sign in as a certificate printer")
    if not current_user.has_role(*PRINTERS):
        raise Forbidden(f"this user needs one of the roles: {', '.join(PRINTERS)}")
    return _print_scope(), False


def _api_query() -> tuple[str, dt.date]:
    phone, raw_dob = request.args.get("phoneno", "").strip(), request.args.get("dob", "").strip()
    errors = []
    if not phone:
        errors.append(FieldError("phoneno", "is required"))
    try:
        dob = dt.date.fromisoformat(raw_dob) if raw_dob else None
    except ValueError:
        dob = None
    if dob is None:
        errors.append(FieldError("dob", "must be a date as YYYY-MM-DD"))
    if errors:
        raise ValidationError("phoneno and dob are required", errors)
    assert dob is not None
    return phone, dob


@api_bp.get("/certificate/api/beneficiaries")
def beneficiaries_api():
    """The beneficiaries with this mobile number and date of birth, each with their certificates.

    ``[{"preEnrollmentCode", "name", "dob", "gender", "mobile", "program", "certificates":
    [{"certificateId", "dose", "totalDoses", "vaccine", "date", "status", "issuedAt", "pdf"}]}]``
    """
    scope, is_client = _api_caller_scope()
    phone, dob = _api_query()
    try:
        found = desk.find_beneficiaries(phone, dob, scope)
    except ValidationError as exc:
        raise ValidationError("phoneno must be a mobile number of 10 to 15 digits",
                              [FieldError("phoneno", f.reason) for f in exc.fields]) from None
    now = desk.utcnow()

    def pdf_url(code: str, dose: int) -> str:
        if is_client:
            return url_for("certify.certificate_pdf", code=code, dose=dose)
        return url_for("facility.print_pdf", code=code, dose=dose)

    resp = jsonify([{
        "preEnrollmentCode": b.code, "name": b.name, "dob": b.dob, "gender": b.gender, "mobile": b.mobile,
        "program": b.program,
        "certificates": [{
            "certificateId": c.certificate_id, "dose": c.dose, "totalDoses": c.total_doses,
            "vaccine": c.vaccine, "date": desk.dose_date(c).isoformat() if desk.dose_date(c) else None,
            "status": c.effective_status(now), "issuedAt": iso_utc(c.issued_at), "pdf": pdf_url(b.code, c.dose),
        } for c in b.certificates],
    } for b in found])
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


beneficiaries_api.required_roles = PRINTERS  # type: ignore[attr-defined]  (session users; the role matrix reads it)
beneficiaries_api.api_roles = API_PRINT_ROLES  # type: ignore[attr-defined]
