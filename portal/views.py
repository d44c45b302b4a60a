"""Citizen portal pages: the family dashboard, members, program registration, certificate
downloads and side-effect reports. Every page needs a signed-in citizen, and every lookup is
scoped to their mobile number (another number's ids answer 404)."""
from __future__ import annotations

from flask import (
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from certify import downloads as certify_downloads
from certify import services as certify_services
from core import jobs
from core.errors import NotFound, ValidationError
from core.extensions import htmx
from core.models import local_today
from core.roles import roles_required
from core.vocabulary import translated

from . import booking, bp, services
from .forms import (
    GENDERS,
    ID_TYPES,
    EligibilityForm,
    EuCertificateForm,
    MemberForm,
    SideEffectForm,
    choices,
)

citizen = roles_required()  # signed in; a citizen has no role


def render(template: str, fragment: str | None = None, status: int = 200, **context) -> Response:
    """The full page, or just its fragment when htmx asks; the answer varies on HX-Request."""
    resp = make_response(render_template(fragment if fragment and htmx else template, **context), status)
    resp.vary.add("HX-Request")
    return resp


def redirect_to(url: str) -> Response:
    """After a successful POST: a 303 to ``url``, or for htmx a full-page HX-Redirect."""
    if htmx:
        resp = make_response("", 200)
        resp.headers["HX-Redirect"] = url
        return resp
    return redirect(url, 303)


@bp.after_request
def _private(resp: Response) -> Response:
    """Pages about a family's members and certificates are never stored by shared caches."""
    resp.headers.setdefault("Cache-Control", "private, no-store")
    return resp


@bp.context_processor
def _labels() -> dict:
    return {"gender_labels": dict(GENDERS), "id_type_labels": dict(ID_TYPES)}


@bp.app_template_filter("masked")
def _masked(value: str) -> str:
    """An ID number shown by its last four characters only."""
    value = value or ""
    return "•" * 4 + value[-4:] if len(value) > 4 else value


@bp.app_template_filter("grouped")
def _grouped(code: str) -> str:
    """An enrolment code in groups of four digits, easier to read out and type."""
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4)) if code.isdigit() else code


# --- Dashboard ---------------------------------------------------------------------------

def _download_choices(cards) -> dict:
    """The PDF languages, the one preselected (the page's language when certificates have it), and
    an EU certificate form for each member's latest certificates."""
    languages = services.certificate_languages()
    locale = str(get_locale())
    eu_forms = {row.latest.certificate_id: EuCertificateForm.for_certificate(row.latest.certificate_id,
                                                                              row.latest.name, formdata=None)
                for card in cards for row in card.enrolments if row.latest}
    return {"languages": languages, "pdf_lang": locale if locale in dict(languages) else "en", "eu_forms": eu_forms}


@bp.get("/")
@citizen
def index():
    mobile = current_user.mobile
    cards = services.member_cards(mobile, local_today())
    return render("portal/index.html", cards=cards, limit=services.members_limit(), bookings=_bookings(cards),
                  **_download_choices(cards))


@bp.get("/members/<int:member_id>/card")
@citizen
def member_card(member_id: int):
    """One member card (htmx polls it while a certificate is being issued)."""
    card = services.member_card(current_user.mobile, member_id, local_today())
    if not htmx:
        return redirect(url_for(".index", _anchor=f"member-{member_id}"))
    return render("portal/_member_card.html", card=card, bookings=_bookings([card]), **_download_choices([card]))


def _bookings(cards) -> dict:
    """Each enrolment's appointments and booking state, for the booking fragment on the cards."""
    return booking.enrolment_bookings([row.enrolment for card in cards for row in card.enrolments])


@bp.get("/c/<code>")
@citizen
@jobs.transactional  # the first download stores the rendering
def certificate_link(code: str):
    """Where the "certificate issued" SMS points: after sign-in, the PDF itself."""
    cert = services.linked_certificate(current_user.mobile, code, request.args.get("dose", type=int))
    lang = request.args.get("lang", "en")
    if lang not in dict(services.certificate_languages()):
        lang = "en"
    pdf = certify_services.artifact(cert, "pdf", lang=lang)
    certify_downloads.count("sms_link", "pdf")
    return _download(pdf, "application/pdf", f"certificate-{cert.certificate_id}-dose{cert.dose}-{lang}.pdf")


@bp.post("/members/<int:member_id>/certificates/<certificate_id>/resend")
@citizen
def certificate_resend(member_id: int, certificate_id: str):
    """Send the "certificate ready" SMS again (rate-limited; only to the number on the certificate)."""
    from certify.notifications import resend_certificate_ready
    from core.ratelimit import RateLimited

    cert = services.owned_certificate(current_user.mobile, member_id, certificate_id)
    try:
        resend_certificate_ready(cert.pre_enrollment_code, current_user.mobile)
        jobs.commit()
        flash(_("The certificate message is on its way to your mobile number."))
    except (RateLimited, NotFound) as exc:
        jobs.rollback()
        flash(exc.message if isinstance(exc, RateLimited)
              else _("This certificate was issued to another mobile number, so it cannot be sent to yours."))
    return redirect(url_for(".index", _anchor=f"member-{member_id}"))


# --- Members -----------------------------------------------------------------------------

@bp.route("/members/new", methods=["GET", "POST"])
@citizen
def member_new():
    mobile = current_user.mobile
    limit = services.members_limit()
    full = services.member_count(mobile) >= limit
    form = MemberForm()
    if request.method == "GET":
        form.contact.data = mobile
    status = 409 if full and request.method == "POST" else 200
    if not full and form.validate_on_submit():
        try:
            member = services.add_member(mobile, form.details())
            jobs.commit()
        except services.MemberLimitReached:
            jobs.rollback()
            full, status = True, 409
        else:
            flash(_("%(name)s was added. Now register them for a program.", name=member.name))
            return redirect_to(url_for(".register", member_id=member.id))
    return render("portal/member_form.html", "portal/_member_form.html", status=status if not htmx else 200,
                  form=form, member=None, full=full, limit=limit, blocker=None)


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@citizen
def member_edit(member_id: int):
    member = services.get_member(current_user.mobile, member_id)
    blocker = services.edit_blocker(member)
    form = MemberForm()
    if request.method == "GET":
        form.fill(services.MemberDetails.of(member))
    if blocker is None and form.validate_on_submit():
        services.update_member(member, form.details())
        jobs.commit()
        flash(_("The details of %(name)s were saved.", name=member.name))
        return redirect_to(url_for(".index", _anchor=f"member-{member.id}"))
    return render("portal/member_form.html", "portal/_member_form.html", form=form, member=member,
                  full=False, limit=None, blocker=blocker)


@bp.route("/members/<int:member_id>/remove", methods=["GET", "POST"])
@citizen
def member_remove(member_id: int):
    member = services.get_member(current_user.mobile, member_id)
    blocker = services.removal_blocker(member)
    if request.method == "POST" and blocker is None:
        name = member.name
        services.remove_member(member)
        jobs.commit()
        flash(_("%(name)s was removed.", name=name))
        return redirect_to(url_for(".index"))
    status = 409 if request.method == "POST" else 200
    return render("portal/member_remove.html", member=member, blocker=blocker, status=status)


# --- Program registration ----------------------------------------------------------------

def _eligibility_form(member, programs) -> tuple[EligibilityForm, object]:
    """The form with the program choices; the chosen program decides the condition choices."""
    form = EligibilityForm()
    form.program.choices = choices((p.id, p.name) for p in programs)
    if request.method == "GET":
        form.birth_year.data = member.birth_year
        form.program.data = request.args.get("program", type=int) or (programs[0].id if len(programs) == 1 else None)
    chosen = next((p for p in programs if p.id == form.program.data), None)
    form.comorbidities.choices = choices((c, translated(c)) for c in ((chosen.comorbidities or []) if chosen else []))
    return form, chosen


@bp.route("/members/<int:member_id>/register", methods=["GET", "POST"])
@citizen
def register(member_id: int):
    member = services.get_member(current_user.mobile, member_id)
    programs = services.registrable_programs(member, local_today())
    form, program = _eligibility_form(member, programs)
    refusal = None
    if programs and form.validate_on_submit():
        try:
            enrolment = services.enrol(member, program, birth_year=form.birth_year.data,
                                       comorbidities=form.comorbidities.data or [], today=local_today())
            jobs.commit()
        except ValidationError as exc:
            jobs.rollback()
            form.birth_year.errors.append(exc.message)
        except (services.NotEligible, services.AlreadyEnrolled) as exc:
            jobs.rollback()
            refusal = exc.message
        else:
            flash(_("%(name)s is registered for %(program)s. Enrolment code: %(code)s.", name=member.name,
                    program=program.name, code=_grouped(enrolment.code)))
            return redirect_to(url_for(".index", _anchor=f"member-{member.id}"))
    return render("portal/register.html", "portal/_register_form.html", form=form, member=member,
                  programs=programs, program=program, refusal=refusal)


@bp.get("/members/<int:member_id>/register/conditions")
@citizen
def register_conditions(member_id: int):
    """htmx: the eligibility questions of the program just picked."""
    member = services.get_member(current_user.mobile, member_id)
    programs = services.registrable_programs(member, local_today())
    form, program = _eligibility_form(member, programs)
    return render("portal/register.html", "portal/_conditions.html", form=form, member=member,
                  programs=programs, program=program, refusal=None, clear_refusal=True)


# --- Certificate downloads ---------------------------------------------------------------

def _download(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"})


@bp.get("/members/<int:member_id>/certificates/<certificate_id>.pdf")
@citizen
@jobs.transactional  # the first download stores the rendering
def certificate_pdf(member_id: int, certificate_id: str):
    cert = services.owned_certificate(current_user.mobile, member_id, certificate_id)
    lang = request.args.get("lang", "en")
    if lang not in dict(services.certificate_languages()):
        raise NotFound(_("Certificates are not available in this language."))
    if request.args.get("bilingual") and lang != "en":
        lang += "+en"
    pdf = certify_services.artifact(cert, "pdf", lang=lang)
    certify_downloads.count("portal", "pdf")
    return _download(pdf, "application/pdf", f"certificate-{cert.certificate_id}-dose{cert.dose}-{lang}.pdf")


@bp.get("/members/<int:member_id>/certificates/<certificate_id>.png")
@citizen
@jobs.transactional
def certificate_qr(member_id: int, certificate_id: str):
    cert = services.owned_certificate(current_user.mobile, member_id, certificate_id)
    png = certify_services.artifact(cert, "qr")
    certify_downloads.count("portal", "qr")
    return _download(png, "image/png", f"certificate-{cert.certificate_id}-dose{cert.dose}-qr.png")


@bp.route("/members/<int:member_id>/certificates/<certificate_id>/eu", methods=["GET", "POST"])
@citizen
@jobs.transactional  # the download count, when there is no Redis
def certificate_eu(member_id: int, certificate_id: str):
    """The EU Digital COVID Certificate of a certificate: the holder states how their name
    splits, then downloads the PDF or the QR code; refusals are shown next to the fields."""
    cert = services.certificate_summary(current_user.mobile, member_id, certificate_id)
    form = EuCertificateForm.for_certificate(certificate_id, cert.name)
    fmt = request.form.get("type", "pdf")
    refusal, status = [], 200
    if form.validate_on_submit() and fmt in services.EU_FORMATS:
        try:
            export = services.eu_export(current_user.mobile, member_id, certificate_id, form.family_name.data,
                                        form.given_name.data, fmt)
        except services.ExportRefused as exc:
            form.family_name.errors = list(exc.errors.get("fn", []))
            form.given_name.errors = list(exc.errors.get("gn", []))
            refusal, status = exc.errors.get("certificate", []), exc.status
        else:
            certify_downloads.count("portal", "eu")
            return _download(export.content, export.mimetype, export.filename)
    elif request.method == "POST":
        status = 422
    return render("portal/eu_certificate.html", status=status, form=form, c=cert, member_id=member_id,
                  refusal=refusal)


@bp.get("/members/<int:member_id>/certificates/<certificate_id>/shc.<suffix>")
@citizen
@jobs.transactional  # the first download stores the rendering
def certificate_shc(member_id: int, certificate_id: str, suffix: str):
    export = services.shc_export(current_user.mobile, member_id, certificate_id, suffix)
    certify_downloads.count("portal", "shc")
    return _download(export.content, export.mimetype, export.filename)


# --- Side-effect reports -----------------------------------------------------------------

def _side_effect_form(subjects) -> tuple[SideEffectForm, object]:
    form = SideEffectForm()
    form.member.choices = choices((s.member.id, s.member.name) for s in subjects)
    if request.method == "GET":
        form.member.data = request.args.get("member", type=int) or (
            subjects[0].member.id if len(subjects) == 1 else None)
    subject = next((s for s in subjects if s.member.id == form.member.data), None)
    form.symptoms.choices = choices((s, translated(s)) for s in (subject.symptoms if subject else []))
    return form, subject


@bp.route("/side-effects", methods=["GET", "POST"])
@citizen
def side_effects():
    """Pick the member and the symptoms, review, then confirm (the report is stored only then)."""
    subjects = services.report_subjects(current_user.mobile)
    form, subject = _side_effect_form(subjects)
    step = "choose"
    if request.method == "POST" and request.form.get("action") != "change" and form.validate_on_submit():
        if not form.symptoms.data:
            form.symptoms.errors.append(_("Choose one or more symptoms from the list."))
        elif request.form.get("action") == "confirm":
            report = services.report_side_effects(current_user.mobile, subject.member.id, form.symptoms.data)
            jobs.commit()
            return redirect_to(url_for(".side_effect_report", report_id=report.id))
        else:
            step = "review"
    return render("portal/side_effects.html", "portal/_side_effects_form.html", form=form,
                  subjects=subjects, subject=subject, step=step)


@bp.get("/side-effects/symptoms")
@citizen
def side_effect_symptoms():
    """htmx: the symptom list of the program the picked member was vaccinated in."""
    subjects = services.report_subjects(current_user.mobile)
    form, subject = _side_effect_form(subjects)
    return render("portal/side_effects.html", "portal/_symptoms.html", form=form, subjects=subjects,
                  subject=subject, step="choose")


@bp.get("/side-effects/<int:report_id>")
@citizen
def side_effect_report(report_id: int):
    confirmation = services.report_confirmation(current_user.mobile, report_id)
    return render("portal/side_effect_report.html", c=confirmation)
