"""Admin pages under /facility/admin/ and /facility/analytics.

Facility administrators manage their own facility (vaccinators, staff, slots, bulk
certification, pre-enrolment, beneficiaries); program administrators their programs'
facilities (activation, daily rates, notices, facilities CSV); system administrators programs,
vaccines, users and roles. Views are thin: form → one service call → commit → render/redirect.
"""
from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from certify import downloads as certify_downloads
from core import jobs
from core.errors import NotFound, ValidationError
from core.forms import choices
from core.models import local_today, local_zone
from core.roles import roles_required

from . import admin_services as svc
from . import analytics as charts
from . import audit, bp, tasks, uploads
from .admin_forms import (
    CsvUploadForm,
    EnrolmentUploadForm,
    FacilityBulkForm,
    FacilityFilterForm,
    PeriodForm,
    ProgramForm,
    SlotConfigForm,
    StaffForm,
    UserForm,
    VaccinatorForm,
    VaccineForm,
    lines,
)
from .models import (
    UPLOAD_CERTIFICATES,
    UPLOAD_ENROLMENTS,
    UPLOAD_FACILITIES,
    UPLOAD_VACCINATORS,
)

ADMINS = ("system_admin", "program_admin", "facility_admin")


# --- Helpers ------------------------------------------------------------------------------------

def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _render(page: str, fragment: str | None = None, status: int = 200, **context) -> Response:
    """The full page, or only its fragment for an htmx request (the page includes the fragment)."""
    template = fragment if fragment and _is_htmx() else page
    resp = current_app.make_response((render_template(template, **context), status))
    resp.vary.add("HX-Request")
    return resp


def _show_errors(form, exc: ValidationError) -> None:
    """A service's field errors next to the form's fields (others above the form)."""
    for error in exc.fields or []:
        field = getattr(form, error.path, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, error.reason]
        else:
            form.form_errors.append(error.reason)
    if not exc.fields:
        form.form_errors.append(exc.message)


def _save(form, action: Callable[[], object]) -> object | None:
    """Run the service, commit; on a domain error roll back and put the errors on the form."""
    try:
        result = action()
        jobs.commit()
        return result
    except ValidationError as exc:
        jobs.rollback()
        _show_errors(form, exc)
        return None


def _form_page(template: str, form, **context):
    """A form page: 400 when it shows errors, so a failed submit is not a success to a client."""
    return render_template(template, form=form, **context), 400 if form.errors or form.form_errors else 200


def _author() -> str:
    return f"user:{current_user.id}"


_SNIFF = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"%PDF-", "application/pdf"))


def _data_url(storage, allowed: tuple[str, ...]) -> str | None:
    """An uploaded file as a data: URL, if its bytes are of an allowed type (not just its name)."""
    if storage is None or not getattr(storage, "filename", ""):
        return None
    raw = storage.read()
    mime = next((m for magic, m in _SNIFF if raw.startswith(magic)), None)
    if mime is None and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        mime = "image/webp"
    if mime not in allowed:
        raise ValidationError(_("The file's content is not an allowed type."),
                              [])
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


def _file_error(form, field: str, message: str) -> None:
    getattr(form, field).errors = [*getattr(form, field).errors, message]


# --- Home ---------------------------------------------------------------------------------------

@bp.get("/admin/")
@roles_required(*ADMINS)
def admin_home():
    return render_template("facility/admin/home.html")


# --- Facility administrator: vaccinators --------------------------------------------------------

@bp.get("/admin/vaccinators")
@roles_required("facility_admin")
def admin_vaccinators():
    facility = svc.own_facility(current_user)
    programs = {p.id: p.name for p in svc.all_programs()}
    return render_template("facility/admin/vaccinators.html", facility=facility, programs=programs,
                           vaccinators=svc.list_vaccinators(facility.id))


def _vaccinator_form(facility_id: int, vaccinator=None) -> VaccinatorForm:
    form = VaccinatorForm(obj=vaccinator if request.method == "GET" else None)
    form.program_ids.choices = choices([(p.id, p.name) for p in svc.all_programs()])
    if vaccinator is not None and request.method == "GET":
        form.program_ids.data = list(vaccinator.program_ids or [])
        if vaccinator.training_certificate and not vaccinator.training_certificate.startswith("data:"):
            form.training_reference.data = vaccinator.training_certificate
    return form


def _vaccinator_data(form: VaccinatorForm) -> svc.VaccinatorData:
    training = _data_url(form.training_file.data, ("application/pdf", "image/png", "image/jpeg"))
    if training is None and form.training_reference.data:
        training = form.training_reference.data.strip()
    return svc.VaccinatorData(name=form.name.data, licence_number=form.licence_number.data,
                              mobile=form.mobile.data or "", email=form.email.data or "",
                              program_ids=form.program_ids.data or [], training_certificate=training,
                              active=form.active.data)


@bp.route("/admin/vaccinators/new", methods=["GET", "POST"], defaults={"vaccinator_id": None})
@bp.route("/admin/vaccinators/<int:vaccinator_id>", methods=["GET", "POST"])
@roles_required("facility_admin")
def admin_vaccinator_edit(vaccinator_id: int | None):
    facility = svc.own_facility(current_user)
    vaccinator = svc.get_vaccinator(facility.id, vaccinator_id) if vaccinator_id else None
    form = _vaccinator_form(facility.id, vaccinator)
    if form.validate_on_submit():
        try:
            data = _vaccinator_data(form)
        except ValidationError as exc:
            _file_error(form, "training_file", exc.message)
        else:
            if _save(form, lambda: svc.save_vaccinator(facility.id, data, vaccinator_id)) is not None:
                flash(_("Vaccinator %(name)s saved.", name=data.name) if vaccinator
                      else _("Vaccinator %(name)s added.", name=data.name))
                return redirect(url_for("facility.admin_vaccinators"))
    return _form_page("facility/admin/vaccinator_form.html", form, vaccinator=vaccinator)


@bp.post("/admin/vaccinators/<int:vaccinator_id>/active")
@roles_required("facility_admin")
def admin_vaccinator_active(vaccinator_id: int):
    facility = svc.own_facility(current_user)
    row = svc.set_vaccinator_active(facility.id, vaccinator_id, request.form.get("active") == "1")
    jobs.commit()
    if _is_htmx():
        programs = {p.id: p.name for p in svc.all_programs()}
        return render_template("facility/admin/_vaccinator_row.html", v=row, programs=programs)
    return redirect(url_for("facility.admin_vaccinators"))


@bp.get("/admin/vaccinators/<int:vaccinator_id>/training-certificate")
@roles_required("facility_admin")
def admin_vaccinator_training(vaccinator_id: int):
    facility = svc.own_facility(current_user)
    row = svc.get_vaccinator(facility.id, vaccinator_id)
    if not row.training_certificate.startswith("data:"):
        raise NotFound(_("No training certificate file was uploaded."))
    header, payload = row.training_certificate.split(",", 1)
    mime = header[5:].split(";")[0]
    ext = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}.get(mime, "bin")
    return Response(base64.b64decode(payload), mimetype=mime, headers={
        "Content-Disposition": f'attachment; filename="training-certificate-{row.id}.{ext}"',
        "X-Content-Type-Options": "nosniff"})


# --- Facility administrator: staff --------------------------------------------------------------

@bp.get("/admin/staff")
@roles_required("facility_admin")
def admin_staff():
    facility = svc.own_facility(current_user)
    return render_template("facility/admin/staff.html", facility=facility, staff=svc.list_staff(facility.id))


@bp.route("/admin/staff/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/admin/staff/<int:user_id>", methods=["GET", "POST"])
@roles_required("facility_admin")
def admin_staff_edit(user_id: int | None):
    facility = svc.own_facility(current_user)
    user = svc.get_staff(facility.id, user_id) if user_id else None
    form = StaffForm(obj=user if request.method == "GET" else None)
    if user is not None and request.method == "GET":
        form.roles.data = [r for r in user.roles.split() if r in svc.FACILITY_ROLES]
    if form.validate_on_submit():
        saved = _save(form, lambda: svc.save_staff(
            facility.id, current_user, mobile=form.mobile.data, name=form.name.data,
            employee_id=form.employee_id.data or "", roles=form.roles.data, active=form.active.data,
            user_id=user_id))
        if saved is not None:
            flash(_("%(name)s saved.", name=form.name.data) if user
                  else _("%(name)s can now sign in with their mobile number.", name=form.name.data))
            return redirect(url_for("facility.admin_staff"))
    return _form_page("facility/admin/staff_form.html", form, user=user)


@bp.post("/admin/staff/<int:user_id>/active")
@roles_required("facility_admin")
def admin_staff_active(user_id: int):
    facility = svc.own_facility(current_user)
    error = None
    try:
        user = svc.set_staff_active(facility.id, current_user, user_id, request.form.get("active") == "1")
        jobs.commit()
    except ValidationError as exc:
        jobs.rollback()
        user, error = svc.get_staff(facility.id, user_id), exc.message
    if _is_htmx():
        return render_template("facility/admin/_staff_row.html", u=user, error=error)
    if error:
        flash(error)
    return redirect(url_for("facility.admin_staff"))


# --- Facility administrator: slots --------------------------------------------------------------

@bp.get("/admin/slots")
@roles_required("facility_admin")
def admin_slots():
    facility = svc.own_facility(current_user)
    return render_template("facility/admin/slots.html", facility=facility, rows=svc.facility_programs(facility.id))


@bp.route("/admin/slots/<int:program_id>", methods=["GET", "POST"])
@roles_required("facility_admin")
def admin_slot_edit(program_id: int):
    facility = svc.own_facility(current_user)
    link = svc.get_facility_program(facility.id, program_id)
    program = svc.get_program(program_id)
    form = SlotConfigForm(obj=link if request.method == "GET" else None)
    if form.validate_on_submit():
        saved = _save(form, lambda: svc.save_slot_config(
            facility.id, program_id, appointment_start=form.appointment_start.data,
            appointment_end=form.appointment_end.data, slot_minutes=form.slot_minutes.data,
            slot_capacity=form.slot_capacity.data, walkin_days=form.walkin_days.data or [],
            walkin_start=form.walkin_start.data, walkin_end=form.walkin_end.data))
        if saved is not None:
            flash(_("Slots for %(program)s saved.", program=program.name))
            _flash_slot_update(saved.slots)
            return redirect(url_for("facility.admin_slots"))
    return _form_page("facility/admin/slot_form.html", form, program=program, link=link)


def _flash_slot_update(update) -> None:
    """Tell the administrator what the change did to the days already open for booking."""
    if update.added or update.changed or update.removed:
        flash(_("Days already open for booking, from tomorrow: %(added)d slots added, %(changed)d changed, "
                "%(removed)d removed.", added=update.added, changed=update.changed, removed=update.removed))
    if update.kept:
        when = ", ".join(_("%(day)s %(time)s (%(booked)d booked)", day=format_date(day, "medium"),
                           time=start.strftime("%H:%M"), booked=booked) for day, start, booked in update.kept)
        flash(ngettext("%(num)d booked slot is outside the new hours and stays, so its appointments stand: "
                       "%(slots)s.",
                       "%(num)d booked slots are outside the new hours and stay, so their appointments stand: "
                       "%(slots)s.", len(update.kept), slots=when))


# --- Facility administrator: beneficiaries ------------------------------------------------------

@bp.get("/admin/beneficiaries")
@roles_required("facility_admin")
def admin_beneficiaries():
    facility = svc.own_facility(current_user)
    form = PeriodForm(request.args)
    form.program_id.choices = choices([(0, _("All programs"))] + [(p.id, p.name) for p in svc.all_programs()])
    today = local_today()
    if not request.args:
        form.start.data, form.end.data = today - dt.timedelta(days=30), today + dt.timedelta(days=30)
    result = None
    if form.validate():
        start = form.start.data or today - dt.timedelta(days=30)
        end = form.end.data or today + dt.timedelta(days=30)
        result = svc.beneficiaries(facility, form.program_id.data or None, start, end, today, local_zone())
    return _render("facility/admin/beneficiaries.html", "facility/admin/_beneficiaries.html",
                   status=200 if result is not None else 400, form=form, result=result, facility=facility,
                   limit=svc.BENEFICIARY_LIMIT)


# --- CSV uploads (bulk certification, pre-enrolment, facilities, vaccinators) ------------------

UPLOAD_KINDS = {
    UPLOAD_CERTIFICATES: {"path": "certificates", "roles": ("facility_admin",), "form": CsvUploadForm},
    UPLOAD_ENROLMENTS: {"path": "enrolments", "roles": ("facility_admin", "system_admin"), "form": EnrolmentUploadForm},
    UPLOAD_FACILITIES: {"path": "facilities", "roles": ("program_admin", "system_admin"), "form": CsvUploadForm},
    UPLOAD_VACCINATORS: {"path": "vaccinators", "roles": ("facility_admin", "system_admin"), "form": CsvUploadForm},
}


def _upload_scope(kind: str) -> dict:
    """Whose uploads the user sees: a facility administrator their facility's (bulk certification
    needs one), others their own."""
    if kind == UPLOAD_CERTIFICATES or (kind in (UPLOAD_ENROLMENTS, UPLOAD_VACCINATORS)
                                       and not current_user.has_role("system_admin")):
        return {"facility_id": svc.own_facility(current_user).id}
    return {"user_id": current_user.id}


def _upload_form(kind: str):
    form = UPLOAD_KINDS[kind]["form"]()
    if kind == UPLOAD_ENROLMENTS:
        scope = _upload_scope(kind)
        programs = uploads.active_programs_for(scope["facility_id"]) if "facility_id" in scope else svc.all_programs()
        form.program_id.choices = choices([(p.id, p.name) for p in programs])
    return form


def _uploads_page(kind: str, form, status: int = 200):
    scope = _upload_scope(kind)
    jobs_ = uploads.list_jobs(kind, **scope)
    return render_template("facility/admin/uploads.html", kind=kind, form=form, jobs=jobs_,
                           progress={j.id: uploads.progress(j) for j in jobs_}, columns=uploads.HEADERS[kind],
                           required=uploads.REQUIRED[kind]), status


def _make_upload_views(kind: str) -> None:
    spec = UPLOAD_KINDS[kind]
    base, roles = f"/admin/{spec['path']}/upload", spec["roles"]
    name = f"admin_upload_{spec['path']}"

    @roles_required(*roles)
    def page():
        return _uploads_page(kind, _upload_form(kind))

    @roles_required(*roles)
    def upload():
        form = _upload_form(kind)
        scope = _upload_scope(kind)
        if form.validate_on_submit():
            raw = form.file.data.read()
            program_id = form.program_id.data if kind == UPLOAD_ENROLMENTS else None
            job = _save(form, lambda: uploads.create_upload(
                kind, form.file.data.filename, raw, user_id=current_user.id, program_id=program_id,
                facility_id=scope.get("facility_id")))
            if job is not None:
                return redirect(url_for(f"facility.{name}_job", job_id=job.id))
        return _uploads_page(kind, form, 400)

    @roles_required(*roles)
    def template():
        return Response(uploads.template_csv(kind), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{kind}.csv"'})

    def _job(job_id: int):
        return uploads.get_job(job_id, kind, **_upload_scope(kind))

    @roles_required(*roles)
    def job_page(job_id: int):
        job = _job(job_id)
        return _render("facility/admin/upload.html", "facility/admin/_upload_status.html", job=job,
                       p=uploads.progress(job), errors=uploads.error_rows(job, limit=50),
                       stalled=uploads.stalled(job, dt.datetime.now(dt.timezone.utc)))

    @roles_required(*roles)
    def job_errors(job_id: int):
        job = _job(job_id)
        return Response(uploads.error_csv(job), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="errors-{kind}-{job.id}.csv"'})

    @roles_required(*roles)
    def job_resume(job_id: int):
        job = _job(job_id)
        count = uploads.resume(job)
        jobs.commit()
        flash(_("%(count)d waiting rows were queued again.", count=count))
        return redirect(url_for(f"facility.{name}_job", job_id=job.id))

    bp.add_url_rule(base, name, page, methods=["GET"])
    bp.add_url_rule(base, f"{name}_post", upload, methods=["POST"])
    bp.add_url_rule(f"/admin/{spec['path']}/template.csv", f"{name}_template", template)
    bp.add_url_rule(f"{base}/<int:job_id>", f"{name}_job", job_page)
    bp.add_url_rule(f"{base}/<int:job_id>/errors.csv", f"{name}_errors", job_errors)
    bp.add_url_rule(f"{base}/<int:job_id>/resume", f"{name}_resume", job_resume, methods=["POST"])


for _kind in UPLOAD_KINDS:
    _make_upload_views(_kind)


# --- Program administrator: facilities of a program -----------------------------------------------

@bp.get("/admin/program-facilities")
@roles_required("program_admin", "system_admin")
def admin_facility_activation_home():
    programs = svc.managed_programs(current_user)
    if not programs:
        return render_template("facility/admin/no_programs.html")
    return redirect(url_for("facility.admin_facility_activation", program_id=programs[0].id))


def _filter_form() -> FacilityFilterForm:
    form = FacilityFilterForm(request.args)
    states, districts = svc.region_options()
    form.state.choices = choices([("", _("Any state"))] + [(s, s) for s in states])
    chosen = form.state.data or ""
    form.district.choices = choices([("", _("Any district"))]
                                    + [(d, d) for s, d in districts if not chosen or s == chosen])
    return form


def _activation_page(program, filters, bulk, message: str = "", status: int = 200):
    rows = svc.program_facilities(program, state=filters.state.data or "", district=filters.district.data or "",
                                  category=filters.category.data or "", status=filters.status.data or "")
    return _render("facility/admin/facility_activation.html", "facility/admin/_facility_activation.html",
                   status=status, program=program, programs=svc.managed_programs(current_user), rows=rows,
                   filters=filters, bulk=bulk, message=message)


@bp.get("/admin/programs/<int:program_id>/facilities")
@roles_required("program_admin", "system_admin")
def admin_facility_activation(program_id: int):
    program = svc.managed_program(current_user, program_id)
    return _activation_page(program, _filter_form(), FacilityBulkForm(formdata=None))


@bp.post("/admin/programs/<int:program_id>/facilities")
@roles_required("program_admin", "system_admin")
def admin_facility_activation_update(program_id: int):
    program = svc.managed_program(current_user, program_id)
    filters, bulk = _filter_form(), FacilityBulkForm()
    bulk.facility_ids.choices = choices([(f.facility.id, f.facility.name) for f in svc.program_facilities(program)])
    message = ""
    if bulk.validate_on_submit():
        ids, action = bulk.facility_ids.data or [], bulk.action.data
        actions: dict[str, Callable[[], str]] = {
            "activate": lambda: _("%(count)d facilities activated.",
                                  count=svc.set_facilities_active(program, ids, True)),
            "deactivate": lambda: _("%(count)d facilities deactivated.",
                                    count=svc.set_facilities_active(program, ids, False)),
            "rate": lambda: _("Daily rate set for %(updated)d facilities; %(skipped)d are not in the program.",
                              **dict(zip(("updated", "skipped"), svc.set_daily_rate(program, ids, bulk.daily_rate.data)))),
            "notify": lambda: _("Message queued to %(queued)d facilities; %(missing)d have no contact number.",
                                **dict(zip(("queued", "missing"), svc.notify_facilities(
                                    program, ids, bulk.subject.data or "", bulk.message.data or "")))),
        }
        if action not in actions:
            bulk.form_errors.append(_("Choose an action."))
        else:
            message = _save(bulk, actions[action]) or ""
    if not message:
        return _activation_page(program, filters, bulk, status=400)
    if not _is_htmx():
        flash(message)
        return redirect(url_for("facility.admin_facility_activation", program_id=program.id, **{
            k: v for k, v in request.args.items() if k in ("state", "district", "category", "status")}))
    return _activation_page(program, filters, FacilityBulkForm(formdata=None), message=message)


# --- System administrator: programs --------------------------------------------------------------

@bp.get("/admin/programs")
@roles_required("system_admin")
def admin_programs():
    return render_template("facility/admin/programs.html", programs=svc.all_programs(),
                           vaccines=svc.program_vaccines())


def _program_form(program=None) -> ProgramForm:
    form = ProgramForm(obj=program if request.method == "GET" else None)
    form.vaccine_ids.choices = choices([(v.id, v.name) for v in svc.all_vaccines()])
    if program is not None and request.method == "GET":
        form.comorbidities.data = "\n".join(program.comorbidities or [])
        form.side_effects.data = "\n".join(program.side_effects or [])
        form.vaccine_ids.data = [v.id for v in svc.program_vaccines().get(program.id, [])]
    return form


def _program_data(form: ProgramForm) -> svc.ProgramData:
    logo = "" if form.remove_logo.data else _data_url(form.logo.data, ("image/png", "image/jpeg", "image/webp"))
    return svc.ProgramData(
        name=form.name.data, description=form.description.data or "", logo=logo,
        start_date=form.start_date.data, end_date=form.end_date.data, active=form.active.data,
        min_age=form.min_age.data, max_age=form.max_age.data, comorbidities=lines(form.comorbidities.data),
        comorbidity_required=form.comorbidity_required.data, side_effects=lines(form.side_effects.data),
        vaccine_ids=form.vaccine_ids.data or [])


@bp.route("/admin/programs/new", methods=["GET", "POST"], defaults={"program_id": None})
@bp.route("/admin/programs/<int:program_id>/edit", methods=["GET", "POST"])
@roles_required("system_admin")
def admin_program_edit(program_id: int | None):
    program = svc.get_program(program_id) if program_id else None
    form = _program_form(program)
    if form.validate_on_submit():
        try:
            data = _program_data(form)
        except ValidationError as exc:
            _file_error(form, "logo", exc.message)
        else:
            saved = _save(form, lambda: svc.save_program(data, program.id if program else None))
            if saved is not None:
                flash(_("Program %(name)s saved.", name=data.name))
                return redirect(url_for("facility.admin_programs"))
    return _form_page("facility/admin/program_form.html", form, program=program)


# --- System administrator: vaccines --------------------------------------------------------------

@bp.get("/admin/vaccines")
@roles_required("system_admin")
def admin_vaccines():
    vaccines = svc.all_vaccines()
    return render_template("facility/admin/vaccines.html", vaccines=vaccines,
                           programs={p.id: p.name for p in svc.all_programs()},
                           icd11={v.id: svc.effective_icd11(v) for v in vaccines})


@bp.route("/admin/vaccines/new", methods=["GET", "POST"], defaults={"vaccine_id": None})
@bp.route("/admin/vaccines/<int:vaccine_id>/edit", methods=["GET", "POST"])
@roles_required("system_admin")
def admin_vaccine_edit(vaccine_id: int | None):
    vaccine = svc.get_vaccine(vaccine_id) if vaccine_id else None
    form = VaccineForm(obj=vaccine if request.method == "GET" else None)
    form.program_id.choices = choices([(0, _("No program"))] + [(p.id, p.name) for p in svc.all_programs()])
    if vaccine is not None and request.method == "GET":
        form.denied_batches.data = "\n".join(vaccine.denied_batches or [])
        form.icd11_code.data, form.icd11_term.data = svc.effective_icd11(vaccine)
        form.program_id.data = vaccine.program_id or 0
    if form.validate_on_submit():
        data = svc.VaccineData(
            name=form.name.data, icd11_code=form.icd11_code.data, icd11_term=form.icd11_term.data,
            manufacturer=form.manufacturer.data or "", administration=form.administration.data,
            program_id=form.program_id.data or None, doses=form.doses.data, interval_days=form.interval_days.data,
            validity_days=form.validity_days.data, denied_batches=lines(form.denied_batches.data),
            price=form.price.data, active=form.active.data)
        saved = _save(form, lambda: svc.save_vaccine(data, _author(), vaccine.id if vaccine else None))
        if saved is not None:
            flash(_("Vaccine %(name)s saved.", name=data.name))
            return redirect(url_for("facility.admin_vaccines"))
    return _form_page("facility/admin/vaccine_form.html", form, vaccine=vaccine)


# --- System administrator: users and roles -------------------------------------------------------

@bp.get("/admin/users")
@roles_required("system_admin")
def admin_users():
    role = request.args.get("role", "")
    facilities = {f.id: f.name for f in svc.facilities_for_choice()}
    return render_template("facility/admin/users.html", users=svc.list_users(role), role=role,
                           facilities=facilities)


@bp.route("/admin/users/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required("system_admin")
def admin_user_edit(user_id: int | None):
    user = svc.get_user(user_id) if user_id else None
    form = UserForm(obj=user if request.method == "GET" else None)
    form.facility_id.choices = choices([(0, _("No facility"))] + [(f.id, f"{f.name} ({f.code})")
                                                                  for f in svc.facilities_for_choice()])
    form.program_ids.choices = choices([(p.id, p.name) for p in svc.all_programs()])
    if user is not None and request.method == "GET":
        form.roles.data = user.roles.split()
        form.program_ids.data = svc.user_program_ids(user.id)
        form.facility_id.data = user.facility_id or 0
    if form.validate_on_submit():
        saved = _save(form, lambda: svc.save_user(
            current_user, mobile=form.mobile.data, name=form.name.data, roles=form.roles.data,
            facility_id=form.facility_id.data or None, program_ids=form.program_ids.data or [],
            employee_id=form.employee_id.data or "", active=form.active.data,
            user_id=user.id if user else None))
        if saved is not None:
            flash(_("%(name)s saved.", name=form.name.data))
            return redirect(url_for("facility.admin_users"))
    return _form_page("facility/admin/user_form.html", form, user=user)


# --- Analytics ------------------------------------------------------------------------------------

def _analytics_scope(program_id: int | None) -> charts.Scope:
    if current_user.has_role("system_admin"):
        return charts.Scope(program_ids=[program_id] if program_id else None)
    if current_user.has_role("program_admin"):
        mine = [p.id for p in svc.managed_programs(current_user)]
        return charts.Scope(program_ids=[program_id] if program_id in mine else mine)
    return charts.Scope(program_ids=[program_id] if program_id else None, facility=svc.own_facility(current_user))


@bp.get("/analytics")
@roles_required(*ADMINS)
def analytics():
    form = PeriodForm(request.args)
    admin = current_user.has_role("system_admin", "program_admin")
    programs = svc.managed_programs(current_user) if admin else svc.all_programs()
    form.program_id.choices = choices([(0, _("All programs"))] + [(p.id, p.name) for p in programs])
    today = local_today()
    data = None
    tz = current_app.config["CERTIFICATE_TIMEZONE"]
    behind = charts.refresh(tz) >= charts.FOLD_BATCH  # count what was issued since the last visit
    if admin:
        certify_downloads.fold()  # the downloads counted in Redis since the last visit
    if behind:  # a large backlog (a first visit, a bulk upload): the rest is folded by a worker
        tasks.refresh_analytics.after_commit(tz)
    jobs.commit()
    if form.validate():
        end = form.end.data or today
        start = form.start.data or end - dt.timedelta(days=29)
        if (end - start).days > 366:
            form.start.errors = [*form.start.errors, _("Choose at most one year.")]
        else:
            form.start.data, form.end.data = start, end
            scope = _analytics_scope(form.program_id.data or None)
            data = charts.dashboard(scope, start, end, tz, with_verifications=admin)
    return render_template("facility/admin/analytics.html", form=form, data=data, behind=behind,
                           facility=None if admin else svc.own_facility(current_user)), 200 if data else 400


# --- System administrator: the audit trail of administration changes -------------------------------

AUDIT_ACTIONS = {
    "user": _l("Users and roles"), "staff": _l("Staff"), "vaccinator": _l("Vaccinators"), "slots": _l("Slots"),
    "program": _l("Programs and facilities"), "vaccine": _l("Vaccines"),
}


@bp.get("/admin/audit")
@roles_required("system_admin")
def admin_audit():
    """Who changed what, newest first; filter by kind of change or by target (e.g. user:12)."""
    action = request.args.get("action", "")
    action = action if action in AUDIT_ACTIONS else ""
    target = request.args.get("target", "").strip()[:100]
    before = request.args.get("before", type=int)
    rows = audit.events(action=action, target=target, before_id=before, limit=audit.PAGE + 1)
    more = len(rows) > audit.PAGE
    return render_template("facility/admin/audit.html", rows=rows[:audit.PAGE], more=more, action=action,
                           target=target, actions=AUDIT_ACTIONS,
                           facilities={f.id: f.name for f in svc.facilities_for_choice()},
                           zone=local_zone())
