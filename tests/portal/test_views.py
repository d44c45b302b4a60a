"""Portal pages through the Flask test client: sign-in required, forms with errors beside the
fields, htmx fragments, owner-checked downloads, and two accounts that never see each other."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from core import jobs
from core.extensions import db
from core.models import Enrolment, Member, OutboxMessage, SideEffectReport
from tests.factories import portal as f

A, B = "9876500001", "9876500002"
HX = {"HX-Request": "true"}

MEMBER_FORM = {"name": "Meena Devi", "gender": "Female", "birth_year": "1975", "birth_date": "",
               "id_type": "aadhaar", "id_number": "5555 6666 7777", "address_line": "7 Canal Road",
               "district": "Demo District", "state": "Demo State", "pincode": "560001",
               "contact": A, "email": ""}


@pytest.fixture
def family(app, client):
    """Account A: Asha (vaccinated, two doses) and Ravi (registered, no certificate)."""
    with app.test_request_context():
        program = f.program("COVID-19 Vaccination", min_age=18)
        asha = f.member(A, "Asha Verma", birth_year=1985)
        ravi = f.member(A, "Ravi Verma", birth_year=1982)
        asha_enrolment = f.enrolment(asha, program)
        ravi_enrolment = f.enrolment(ravi, program)
        facility = f.facility("MOH Gothatuwa", pincode="00500", district="Colombo", contact_mobile="9000054321")
        jobs.commit()
        dose1 = f.certificate(asha_enrolment.code, dose=1)
        dose2 = f.certificate(asha_enrolment.code, dose=2)
        ids = dict(program=program.id, asha=asha.id, ravi=ravi.id, asha_code=asha_enrolment.code,
                   ravi_code=ravi_enrolment.code, dose1=dose1.certificate_id, dose2=dose2.certificate_id,
                   facility=facility.id)
        db.session.remove()
    f_sign_in(app, client, A)
    return ids


def f_sign_in(app, client, mobile):
    with app.test_request_context():
        f.sign_in(client, mobile)
        db.session.remove()


def count(app, model, *where) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return n


def text(resp) -> str:
    return resp.get_data(as_text=True)


# --- sign-in required ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/portal/", "/portal/members/new", "/portal/members/1/edit",
                                  "/portal/members/1/remove", "/portal/members/1/register",
                                  "/portal/members/1/certificates/123.pdf", "/portal/members/1/certificates/123.png",
                                  "/portal/side-effects", "/portal/side-effects/1"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/login" and query["purpose"] == ["portal"]
    assert query["next"][0].rstrip("?") == path


def test_anonymous_posts_do_not_change_anything(app, client, family):
    client.post("/logout")
    resp = client.post(f"/portal/members/{family['ravi']}/remove")
    assert resp.status_code == 302 and count(app, Member) == 2


# --- dashboard -----------------------------------------------------------------------------

def test_the_dashboard_lists_the_family_and_the_latest_certificate(client, family):
    resp = client.get("/portal/")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "private, no-store" and "HX-Request" in resp.headers["Vary"]
    page = text(resp)
    assert "Asha Verma" in page and "Ravi Verma" in page
    code = family["asha_code"]
    assert " ".join(code[i:i + 4] for i in range(0, len(code), 4)) in page
    assert "Dose 2 of 2" in page and "1 earlier certificate" in page
    assert f"/portal/members/{family['asha']}/certificates/{family['dose2']}.pdf" in page  # the download form
    assert f"/portal/members/{family['asha']}/certificates/{family['dose1']}.pdf?lang=en" in page  # older dose
    assert '<option value="hi">हिन्दी</option>' in page
    assert 'href="/verify"' in page and "Members registered with the mobile number ending 0001: 2 of 4." in page
    assert "{# booking" not in page  # the lead's include point is a template comment


def test_the_dashboard_is_translated(client, family):
    page = text(client.get("/portal/", headers={"Accept-Language": "hi-IN,hi;q=0.9"}))
    assert "आपका परिवार" in page and "प्रमाणपत्र की भाषा" in page
    assert '<option value="hi" selected>' in page  # the PDF language follows the page


def test_a_member_card_fragment_for_polling(client, family):
    resp = client.get(f"/portal/members/{family['ravi']}/card", headers=HX)
    assert resp.status_code == 200 and "<html" not in text(resp) and "Ravi Verma" in text(resp)
    assert client.get(f"/portal/members/{family['ravi']}/card").status_code == 302  # a page load: the dashboard


# --- members -------------------------------------------------------------------------------

def test_add_a_member_then_register_them(app, client, family):
    resp = client.post("/portal/members/new", data=MEMBER_FORM)
    assert resp.status_code == 303
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.name == "Meena Devi"))
        assert (member.mobile, member.id_number, member.birth_year) == (A, "555566667777", 1975)
        member_id = member.id
    assert resp.headers["Location"] == f"/portal/members/{member_id}/register"
    page = text(client.get(resp.headers["Location"]))
    assert "Meena Devi was added" in page and "Register Meena Devi for a program" in page


def test_the_badge_says_fully_or_partially_vaccinated(app, client, family):
    def badge(member_id: int) -> str | None:
        card = text(client.get(f"/portal/members/{member_id}/card", headers=HX))
        found = re.search(r'<span class="badge[^"]*">([^<]+)</span>', card.split("</header>")[0])
        return found.group(1) if found else None

    assert badge(family["asha"]) == "Fully Vaccinated"  # dose 2 of 2
    assert badge(family["ravi"]) is None  # registered, no dose yet
    with app.test_request_context():
        f.certificate(family["ravi_code"], dose=1)
        db.session.remove()
    assert badge(family["ravi"]) == "Partially Vaccinated"


def test_form_errors_are_shown_next_to_the_fields(app, client, family):
    data = MEMBER_FORM | {"name": "", "birth_year": "1850", "id_number": "12", "pincode": "5600", "email": "x@"}
    resp = client.post("/portal/members/new", data=data)
    assert resp.status_code == 200
    page = text(resp)
    for field_id, message in [("name", "This field is required."), ("birth_year", "Enter a year between"),
                              ("id_number", "An Aadhaar number has 12 digits."),
                              ("pincode", "Enter the 6-digit PIN code."), ("email", "like name@example.com")]:
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field_id}"', page), field_id
        assert re.search(rf'<p class="field-error" id="{field_id}-error" role="alert">[^<]*{re.escape(message)}', page), field_id
    assert count(app, Member) == 2


def test_htmx_form_posts_get_the_fragment_and_a_redirect_header(app, client, family):
    bad = client.post("/portal/members/new", data=MEMBER_FORM | {"name": ""}, headers=HX)
    assert bad.status_code == 200 and "<html" not in text(bad) and 'id="member-form"' in text(bad)
    assert "HX-Request" in bad.headers["Vary"]
    good = client.post("/portal/members/new", data=MEMBER_FORM, headers=HX)
    assert good.status_code == 200 and good.headers["HX-Redirect"].endswith("/register")


def test_a_fifth_member_is_refused(app, client, family):
    for name in ("Third", "Fourth"):
        assert client.post("/portal/members/new", data=MEMBER_FORM | {"name": name}).status_code == 303
    page = text(client.get("/portal/"))
    assert "Add a member" not in page and "the most members allowed for one mobile number (4)" in page
    resp = client.get("/portal/members/new")
    assert "Member limit reached" in text(resp) and 'name="name"' not in text(resp)
    refused = client.post("/portal/members/new", data=MEMBER_FORM | {"name": "Fifth"})
    assert refused.status_code == 409 and "at most 4 members" in text(refused)
    assert count(app, Member) == 4


def test_edit_until_vaccinated(app, client, family):
    form = text(client.get(f"/portal/members/{family['ravi']}/edit"))
    assert 'value="Ravi Verma"' in form and 'value="1982"' in form
    resp = client.post(f"/portal/members/{family['ravi']}/edit", data=MEMBER_FORM | {"name": "Ravi K. Verma"})
    assert resp.status_code == 303
    assert count(app, Member, Member.name == "Ravi K. Verma") == 1

    locked = client.get(f"/portal/members/{family['asha']}/edit")
    assert "can no longer be changed" in text(locked) and 'name="name"' not in text(locked)
    client.post(f"/portal/members/{family['asha']}/edit", data=MEMBER_FORM | {"name": "Someone Else"})
    assert count(app, Member, Member.name == "Asha Verma") == 1


def test_remove_only_without_appointment_or_certificate(app, client, family):
    refused = client.post(f"/portal/members/{family['asha']}/remove")
    assert refused.status_code == 409 and "stays on your account" in text(refused)
    confirm = client.get(f"/portal/members/{family['ravi']}/remove")
    assert "Remove Ravi Verma?" in text(confirm)
    done = client.post(f"/portal/members/{family['ravi']}/remove")
    assert done.status_code == 303 and count(app, Member) == 1
    assert count(app, Enrolment, Enrolment.code == family["ravi_code"]) == 0


# --- programs and eligibility ---------------------------------------------------------------

def test_register_shows_the_program_questions(app, client, family):
    with app.test_request_context():
        f.program("Seniors", min_age=60, comorbidities=["Diabetes", "Asthma"])
        jobs.commit()
    page = text(client.get(f"/portal/members/{family['ravi']}/register"))
    assert "Seniors" in page and "COVID-19 Vaccination" not in page  # Ravi is already registered there
    assert 'value="1982"' in page and "For people aged 60 or older." in page and "Asthma" in page


def test_the_conditions_fragment_follows_the_chosen_program(app, client, family):
    with app.test_request_context():
        one = f.program("One", comorbidities=["Asthma"])
        two = f.program("Two", comorbidities=["Cancer"], comorbidity_required=True)
        jobs.commit()
        one_id, two_id = one.id, two.id
    resp = client.get(f"/portal/members/{family['ravi']}/register/conditions?program={two_id}", headers=HX)
    assert "<html" not in text(resp) and "Cancer" in text(resp) and "Asthma" not in text(resp)
    assert "At least one is required" in text(resp)
    resp = client.get(f"/portal/members/{family['ravi']}/register/conditions?program={one_id}", headers=HX)
    assert "Asthma" in text(resp) and "Cancer" not in text(resp)
    assert '<div id="refusal" hx-swap-oob="delete"></div>' in text(resp)  # the old program's refusal goes


def new_program(app, name: str, **rules) -> int:
    with app.test_request_context():
        program_id = f.program(name, **rules).id
        jobs.commit()
    return program_id


def test_an_eligible_member_gets_an_enrolment_code(app, client, family):
    program_id = new_program(app, "Booster", min_age=18)
    resp = client.post(f"/portal/members/{family['ravi']}/register",
                       data={"program": program_id, "birth_year": "1982", "comorbidities": ["Diabetes"]})
    assert resp.status_code == 303
    with app.app_context():
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.program_id == program_id))
        assert enrolment.member_id == family["ravi"] and enrolment.comorbidities == ["Diabetes"]
        code = enrolment.code
    assert f"Enrolment code: {code[:4]} {code[4:8]} {code[8:]}." in text(client.get("/portal/"))


def test_the_enrolment_code_is_sent_by_sms_in_the_pages_language(app, client, family):
    program_id = new_program(app, "Booster", min_age=18)
    resp = client.post(f"/portal/members/{family['ravi']}/register?lang=hi",
                       data={"program": program_id, "birth_year": "1982"})
    assert resp.status_code == 303
    with app.app_context():
        code = db.session.scalar(select(Enrolment.code).where(Enrolment.program_id == program_id))
        [sms] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == "enrolment_registered")).all()
        assert (sms.to, sms.language, sms.reference) == (A, "hi", code)
        assert f"नामांकन कोड {code}" in sms.body and "Ravi Verma" in sms.body and "Booster" in sms.body
        db.session.remove()


def test_an_ineligible_member_gets_the_reason(app, client, family):
    program_id = new_program(app, "Seniors", min_age=60)
    resp = client.post(f"/portal/members/{family['ravi']}/register",
                       data={"program": program_id, "birth_year": "1982"}, headers=HX)
    page = text(resp)
    assert resp.status_code == 200 and "<html" not in page
    assert "Not eligible" in page and "Seniors is for people aged 60 or older. Someone born in 1982" in page
    assert count(app, Enrolment, Enrolment.program_id == program_id) == 0
    wrong_year = client.post(f"/portal/members/{family['ravi']}/register",
                             data={"program": program_id, "birth_year": "1990"})
    assert "does not match the year of birth saved for Ravi Verma (1982)" in text(wrong_year)


# --- certificate downloads ------------------------------------------------------------------

def test_download_the_pdf_in_a_language_and_the_qr(client, family):
    base = f"/portal/members/{family['asha']}/certificates/{family['dose2']}"
    pdf = client.get(base + ".pdf?lang=hi&bilingual=1")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="certificate-{family["dose2"]}-dose2-hi+en.pdf"'
    assert pdf.headers["Cache-Control"] == "private, no-store"
    older = client.get(f"/portal/members/{family['asha']}/certificates/{family['dose1']}.pdf")
    assert older.status_code == 200 and older.data.startswith(b"%PDF")
    png = client.get(base + ".png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert client.get(base + ".pdf?lang=fr").status_code == 404  # no French certificate catalog


def test_a_certificate_is_only_reachable_through_its_member(client, family):
    # Asha's certificate under Ravi's id: same account, still no
    assert client.get(f"/portal/members/{family['ravi']}/certificates/{family['dose2']}.pdf").status_code == 404
    assert client.get(f"/portal/members/{family['asha']}/certificates/99999999999999999999.png").status_code == 404


# --- two accounts -----------------------------------------------------------------------------

def test_another_number_sees_nothing_of_this_family(app, client, family):
    """Every member, certificate and report URL of account A answers 404 to account B."""
    client.post("/portal/side-effects", data={"member": family["asha"], "symptoms": ["Fever"], "action": "confirm"})
    with app.app_context():
        report_id = db.session.scalar(select(SideEffectReport.id))
    assert report_id is not None
    a, r = family["asha"], family["ravi"]
    urls = [f"/portal/members/{a}/edit", f"/portal/members/{r}/edit", f"/portal/members/{a}/remove",
            f"/portal/members/{r}/remove", f"/portal/members/{r}/register",
            f"/portal/members/{r}/register/conditions?program={family['program']}",
            f"/portal/members/{a}/card", f"/portal/members/{a}/certificates/{family['dose2']}.pdf",
            f"/portal/members/{a}/certificates/{family['dose1']}.pdf?lang=hi",
            f"/portal/members/{a}/certificates/{family['dose2']}.png", f"/portal/side-effects/{report_id}"]
    for url in urls:
        assert client.get(url).status_code == 200 or url.endswith("/card"), url  # A can

    client.post("/logout")
    f_sign_in(app, client, B)
    for url in urls:
        assert client.get(url, headers=HX if url.endswith("/card") else {}).status_code == 404, url
    assert client.post(f"/portal/members/{r}/remove").status_code == 404
    assert client.post(f"/portal/members/{r}/edit", data=MEMBER_FORM).status_code == 404
    assert client.post(f"/portal/members/{r}/register",
                       data={"program": family["program"], "birth_year": "1982"}).status_code == 404
    dashboard = text(client.get("/portal/"))
    assert "Asha Verma" not in dashboard and "No members yet" in dashboard
    report = client.post("/portal/side-effects", data={"member": a, "symptoms": ["Fever"], "action": "confirm"})
    assert report.status_code == 200 and "Asha Verma" not in text(report)
    assert count(app, Member) == 2 and count(app, SideEffectReport) == 1
    assert count(app, Member, Member.name == "Meena Devi") == 0


# --- side effects ---------------------------------------------------------------------------

def test_report_side_effects_review_then_confirm(app, client, family):
    page = text(client.get("/portal/side-effects"))
    assert "Asha Verma" in page and "Ravi Verma" not in page  # only the vaccinated can report
    assert 'value="Fever"' in page  # the only vaccinated member is preselected, with the symptom list
    symptoms = client.get(f"/portal/side-effects/symptoms?member={family['asha']}", headers=HX)
    assert "<html" not in text(symptoms) and "Pain at the injection site" in text(symptoms)

    review = client.post("/portal/side-effects", data={"member": family["asha"], "symptoms": ["Fever", "Headache"],
                                                       "action": "review"})
    assert "Please check before sending" in text(review) and count(app, SideEffectReport) == 0
    change = client.post("/portal/side-effects", data={"member": family["asha"], "symptoms": ["Fever"],
                                                       "action": "change"})
    assert re.search(r'value="Fever" checked|checked[^>]*value="Fever"', text(change))

    done = client.post("/portal/side-effects", data={"member": family["asha"], "symptoms": ["Fever", "Headache"],
                                                     "action": "confirm"})
    assert done.status_code == 303
    confirmation = text(client.get(done.headers["Location"]))
    assert "Report sent" in confirmation and "MOH Gothatuwa" in confirmation
    assert "If the symptoms get worse" in confirmation
    with app.app_context():
        report = db.session.scalar(select(SideEffectReport))
        assert (report.facility_id, report.symptoms) == (family["facility"], ["Fever", "Headache"])
        sms = db.session.scalar(select(OutboxMessage).where(OutboxMessage.event == "side_effect_reported"))
        assert sms.to == "9000054321"



def test_symptoms_read_in_the_citizens_language_and_are_stored_as_listed(app, client, family):
    """Listed symptoms the catalogs know are shown translated; one they do not is shown as typed."""
    from core import notify
    from core.models import Program

    with app.app_context():
        program = db.session.get(Program, family["program"])
        program.side_effects = [*program.side_effects, "Sore arm"]
        db.session.commit()
    choices = text(client.get(f"/portal/side-effects/symptoms?member={family['asha']}&lang=ta", headers=HX))
    assert re.search(r'value="Fever".*?காய்ச்சல்', choices, re.S)
    assert "தலைவலி" in choices and "Sore arm" in choices and ">Fever<" not in choices

    review = client.post("/portal/side-effects?lang=hi", data={"member": family["asha"], "action": "review",
                                                               "symptoms": ["Fever", "Sore arm"]})
    assert "<li>बुखार</li>" in text(review) and "<li>Sore arm</li>" in text(review)
    done = client.post("/portal/side-effects?lang=hi", data={"member": family["asha"], "action": "confirm",
                                                             "symptoms": ["Fever", "Sore arm"]})
    assert "<li>बुखार</li>" in text(client.get(done.headers["Location"] + "?lang=hi"))
    with app.app_context():
        assert db.session.scalar(select(SideEffectReport.symptoms)) == ["Fever", "Sore arm"]
        sms = db.session.scalar(select(OutboxMessage).where(OutboxMessage.event == "side_effect_reported"))
        assert "Fever, Sore arm" in sms.body  # the facility's number reads the default language, English
    with app.test_request_context():
        assert "காய்ச்சல், தலைவலி" in notify.preview("side_effect_reported", "ta").body

def test_no_symptom_chosen_is_an_error_beside_the_list(app, client, family):
    resp = client.post("/portal/side-effects", data={"member": family["asha"], "action": "review"})
    assert "Choose one or more symptoms from the list." in text(resp) and count(app, SideEffectReport) == 0


# --- CSRF -----------------------------------------------------------------------------------

def test_htmx_posts_carry_the_csrf_token_from_the_page(app, client, family):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = text(client.get("/portal/members/new"))
        token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
        form = MEMBER_FORM | {"name": "Via htmx"}
        assert client.post("/portal/members/new", data=form, headers=HX).status_code == 400
        ok = client.post("/portal/members/new", data=form, headers=HX | {"X-CSRFToken": token})
        assert ok.status_code == 200 and ok.headers["HX-Redirect"].endswith("/register")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_resend_certificate_sms_is_owner_only_and_rate_limited(app, client, family):
    """The card's "send again" button: to the signed-in number only, at most NOTIFY_RESENDS_PER_HOUR times."""
    def issued_sms() -> int:
        with app.app_context():
            return len(db.session.scalars(select(OutboxMessage).where(
                OutboxMessage.event == "certificate_issued", OutboxMessage.to.contains(A))).all())

    # Asha's certificates carry the source system's number (1691742639): nothing goes to A
    other = f"/portal/members/{family['asha']}/certificates/{family['dose2']}/resend"
    assert "another mobile number" in text(client.post(other, follow_redirects=True))
    with app.test_request_context():
        ravi_cert = f.certificate(family["ravi_code"], dose=1, recipient={"contact": [f"tel:{A}"]})
        db.session.remove()
    url = f"/portal/members/{family['ravi']}/certificates/{ravi_cert.certificate_id}/resend"
    before = issued_sms()
    limit = app.config["NOTIFY_RESENDS_PER_HOUR"]
    for _ in range(limit):
        assert client.post(url).status_code == 302
    assert issued_sms() == before + limit
    page = text(client.post(url, follow_redirects=True))
    assert "several times already" in page and issued_sms() == before + limit

    client.post("/logout")
    f_sign_in(app, client, B)
    assert client.post(url).status_code == 404
