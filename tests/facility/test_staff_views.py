"""The facility desk over HTTP: verify → queue → record → certificate issued → print, walk-ins,
field errors, htmx fragments, CSRF, and staff seeing only their own facility."""
from __future__ import annotations

import re

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from certify.models import AuditEvent, Certificate, CertifyRequest
from core import jobs
from core.extensions import db
from core.models import Enrolment, Member, local_today
from facility.models import QueueEntry
from tests.factories import facility_staff as f

HX = {"HX-Request": "true"}


@pytest.fixture
def desk(app, client):
    """A facility in a program, its staff member signed in, and a pre-enrolled beneficiary."""
    with app.app_context():
        d = f.desk()
        enr = f.enrolment(d.program, f.member(name="Asha Verma", mobile="9876500001"), code="5550001111")
        ids = {"facility": d.facility.id, "program": d.program.id, "vaccine": d.vaccine.id,
               "vaccinator": d.vaccinator.id, "staff": d.staff.id, "enrolment": enr.id, "code": enr.code}
        jobs.commit()
    f.sign_in(client, ids["staff"])
    return ids


def waiting_entry(app, enrolment_id: int) -> QueueEntry:
    with app.app_context():
        entry = db.session.scalar(select(QueueEntry).where(QueueEntry.enrolment_id == enrolment_id))
        db.session.expunge(entry)
        return entry


def test_verify_shows_the_member_and_the_id_to_check(client, desk):
    resp = client.post("/facility/verify", data={"code": " 555 000 1111 "})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Asha Verma" in page and "Check the photo ID" in page
    assert "Aadhaar" in page and "2345 6789" in page  # the ID to compare with the card
    assert "Add to the queue for dose 1" in page


def test_verify_accepts_a_scanned_registration_qr(client, desk):
    scanned = '{"code": "5550001111", "name": "Asha Verma"}'
    resp = client.post("/facility/verify", data={"code": scanned}, headers=HX)
    assert resp.status_code == 200 and "Asha Verma" in resp.get_data(as_text=True)
    assert "<html" not in resp.get_data(as_text=True)  # the fragment only
    assert "HX-Request" in resp.headers["Vary"]


def test_an_unknown_code_is_a_field_error(client, desk):
    resp = client.post("/facility/verify", data={"code": "1234"}, headers=HX)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert re.search(r'<p class="field-error" id="code-error" role="alert">No beneficiary has the enrolment code 1234',
                     page)
    assert 'aria-invalid="true"' in page


def test_a_program_the_facility_does_not_offer_is_refused(app, client, desk):
    with app.app_context():
        other = f.program(name="Measles-Rubella")
        f.enrolment(other, code="5550002222")
        jobs.commit()
    resp = client.post("/facility/verify", data={"code": "5550002222"})
    assert resp.status_code == 422 and "which this facility does not offer" in resp.get_data(as_text=True)


def test_verify_queue_record_issue_and_print(app, client, desk, run_jobs):
    # Arrange: verified and added to the queue
    added = client.post("/facility/queue", data={"code": desk["code"]}, headers=HX)
    assert added.status_code == 200 and "Asha Verma is in the queue for dose 1." in added.get_data(as_text=True)
    again = client.post("/facility/queue", data={"code": desk["code"]}, headers=HX)
    assert "already in the queue for dose 1" in again.get_data(as_text=True)
    entry = waiting_entry(app, desk["enrolment"])
    queue = client.get("/facility/queue", headers=HX)
    assert "Asha Verma" in queue.get_data(as_text=True) and "Dose 1" in queue.get_data(as_text=True)

    # Act: record the vaccination
    form = client.get(f"/facility/queue/{entry.id}/vaccinate")
    assert form.status_code == 200 and "Save and issue certificate" in form.get_data(as_text=True)
    saved = client.post(f"/facility/queue/{entry.id}/vaccinate", data={
        "vaccinator": desk["vaccinator"], "vaccine": desk["vaccine"], "batch": "4120Z025", "dose": "1"})
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/facility/queue/{entry.id}/certificate")

    # The request went through the /v3/certify service: one pending request, signed by the worker
    with app.app_context():
        req = db.session.scalar(select(CertifyRequest))
        assert (req.pre_enrollment_code, req.dose, req.status, req.client_id) == (
            desk["code"], 1, "pending", f"user:{desk['staff']}")
        assert req.payload["recipient"]["identity"].startswith("did:in.gov.uidai.aadhaar:")
        assert req.payload["recipient"]["contact"] == ["tel:9876500001"]
        assert req.payload["vaccination"]["batch"] == "4120Z025"
        assert req.payload["facility"]["name"].startswith("Primary Health Centre")
    pending = client.get(f"/facility/queue/{entry.id}/certificate", headers=HX)
    assert "Issuing the certificate" in pending.get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in pending.get_data(as_text=True)
    run_jobs()
    issued = client.get(f"/facility/queue/{entry.id}/certificate", headers=HX)
    text = issued.get_data(as_text=True)
    assert "Certificate issued" in text and "hx-trigger" not in text  # polling stops
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        assert cert.credential["credentialSubject"]["name"] == "Asha Verma"
        assert cert.credential["evidence"][0]["verifier"]["name"].startswith("Nurse Kavita")
        assert db.session.scalar(select(AuditEvent.actor)) == f"client:user:{desk['staff']}"
        assert db.session.get(QueueEntry, entry.id).status == "vaccinated"
    assert cert.certificate_id in text

    # Print it in Hindi
    pdf = client.get(f"/facility/print/{desk['code']}.pdf?dose=1&language=hi")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert "टीकाकरण" in "".join(page.extract_text() for page in PdfReader(__import__("io").BytesIO(pdf.data)).pages)
    # …and the queue shows the certificate under today's issued list, not as waiting
    after = client.get("/facility/queue").get_data(as_text=True)
    assert "Nobody is waiting" in after and f"/facility/queue/{entry.id}/certificate" in after


def test_a_denied_batch_is_refused_next_to_the_field(app, client, desk):
    client.post("/facility/queue", data={"code": desk["code"]})
    entry = waiting_entry(app, desk["enrolment"])
    resp = client.post(f"/facility/queue/{entry.id}/vaccinate", data={
        "vaccinator": desk["vaccinator"], "vaccine": desk["vaccine"], "batch": " bad-001 ", "dose": "1"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert re.search(r'id="batch-error" role="alert">Batch bad-001 of Covishield is on the deny list', page)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CertifyRequest)) == 0
        assert db.session.get(QueueEntry, entry.id).status == "waiting"


def test_dose_interval_and_duplicate_doses_are_field_errors(app, client, desk, run_jobs):
    client.post("/facility/queue", data={"code": desk["code"]})
    entry = waiting_entry(app, desk["enrolment"])
    client.post(f"/facility/queue/{entry.id}/vaccinate", data={
        "vaccinator": desk["vaccinator"], "vaccine": desk["vaccine"], "batch": "A1", "dose": "1"})
    run_jobs()
    # the next visit: dose 2 is offered, but only 28 days after dose 1
    verified = client.post("/facility/verify", data={"code": desk["code"]}).get_data(as_text=True)
    assert "Add to the queue for dose 2" in verified and "Dose 2 is due from" in verified
    client.post("/facility/queue", data={"code": desk["code"]})
    with app.app_context():
        second = db.session.scalar(select(QueueEntry).where(QueueEntry.status == "waiting"))
        assert second.dose == 2
        second_id = second.id
    early = client.post(f"/facility/queue/{second_id}/vaccinate", data={
        "vaccinator": desk["vaccinator"], "vaccine": desk["vaccine"], "batch": "A2", "dose": "2"})
    assert early.status_code == 422 and "Dose 2 of Covishield is due from" in early.get_data(as_text=True)
    again = client.post(f"/facility/queue/{second_id}/vaccinate", data={
        "vaccinator": desk["vaccinator"], "vaccine": desk["vaccine"], "batch": "A2", "dose": "1"})
    assert again.status_code == 422 and "Dose 1 is already certified" in again.get_data(as_text=True)
    too_many = client.post(f"/facility/queue/{second_id}/vaccinate", data={
        "vaccinator": desk["vaccinator"], "vaccine": desk["vaccine"], "batch": "A2", "dose": "3"})
    assert "Covishield has 2 doses" in too_many.get_data(as_text=True)


def test_only_this_facility_s_active_vaccinators_and_the_program_s_vaccines(app, client, desk):
    with app.app_context():
        fac = db.session.get(f.Facility, desk["facility"])
        other_fac = f.facility()
        stranger = f.vaccinator(other_fac, name="Other Facility Nurse")
        inactive = f.vaccinator(fac, name="Retired Nurse", active=False)
        other_prog = f.program(name="Typhoid")
        foreign_vaccine = f.vaccine(other_prog, name="Typbar")
        jobs.commit()
        ids = (stranger.id, inactive.id, foreign_vaccine.id)
    client.post("/facility/queue", data={"code": desk["code"]})
    entry = waiting_entry(app, desk["enrolment"])
    page = client.get(f"/facility/queue/{entry.id}/vaccinate").get_data(as_text=True)
    assert "Nurse Kavita" in page and "Other Facility Nurse" not in page and "Retired Nurse" not in page
    assert "Typbar" not in page
    forged = client.post(f"/facility/queue/{entry.id}/vaccinate", data={
        "vaccinator": ids[0], "vaccine": ids[2], "batch": "A1", "dose": "1"})
    assert forged.status_code == 422
    assert 'id="vaccinator-error" role="alert">Choose one from the list.' in forged.get_data(as_text=True)


def test_leaving_the_queue(app, client, desk):
    client.post("/facility/queue", data={"code": desk["code"]})
    entry = waiting_entry(app, desk["enrolment"])
    resp = client.post(f"/facility/queue/{entry.id}/leave", headers=HX)
    assert resp.status_code == 200 and "Nobody is waiting" in resp.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(QueueEntry, entry.id)
        assert row.status == "left" and row.finished_at is not None
    assert client.post(f"/facility/queue/{entry.id}/leave").status_code == 404


WALK_IN = {"name": "Ravi  Kumar", "gender": "Male", "birth_date": "1990-02-03", "birth_year": "",
           "id_type": "passport", "id_number": "M1234567", "address_line1": "12 Park Street",
           "address_line2": "", "district": "Pune", "state": "Maharashtra", "pincode": "411002",
           "mobile": "98765 43210", "email": "ravi@example.com"}


def test_walk_in_creates_member_enrolment_and_queue_entry(app, client, desk):
    resp = client.post("/facility/walk-in", data={**WALK_IN, "program": desk["program"]})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/facility/queue")
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.name == "Ravi Kumar"))
        assert (member.mobile, member.contact, member.source, member.birth_year) == (
            "9876543210", "9876543210", "facility", 1990)
        assert member.address["pincode"] == "411002"
        enrolment = member.enrolments[0]
        assert re.fullmatch(r"[1-9][0-9]{11}", enrolment.code) and enrolment.facility_id == desk["facility"]
        entry = db.session.scalar(select(QueueEntry).where(QueueEntry.enrolment_id == enrolment.id))
        assert (entry.status, entry.dose, entry.verified_by) == ("waiting", 1, desk["staff"])
        code = enrolment.code
    queue = client.get("/facility/queue").get_data(as_text=True)
    assert f"enrolled with the code {code}" in queue and "Ravi Kumar" in queue
    # the same person again is sent to verification with their code
    twice = client.post("/facility/walk-in", data={**WALK_IN, "name": "ravi kumar", "program": desk["program"]})
    assert twice.status_code == 422 and "already enrolled in" in twice.get_data(as_text=True)
    assert code in twice.get_data(as_text=True)


def test_walk_in_errors_sit_next_to_their_fields(app, client, desk):
    with app.app_context():
        prog = db.session.get(f.Program, desk["program"])
        prog.min_age, prog.max_age = 18, 60
        jobs.commit()
    typos = client.post("/facility/walk-in", data={**WALK_IN, "program": desk["program"], "pincode": "41", "name": ""})
    assert typos.status_code == 422
    page = typos.get_data(as_text=True)
    assert 'id="pincode-error" role="alert">Enter the 6-digit PIN code.' in page
    assert 'id="name-error" role="alert">This field is required.' in page
    assert 'value="12 Park Street"' in page  # what was typed stays
    with app.app_context():
        this_year = local_today().year  # the facility's year, not the server's (UTC on New Year's Eve)
    young = client.post("/facility/walk-in", data={
        **WALK_IN, "program": desk["program"], "birth_date": "", "birth_year": str(this_year - 10),
        "mobile": "12ab"})
    assert young.status_code == 422
    page = young.get_data(as_text=True)
    assert re.search(r'id="birth_year-error" role="alert">[^<]* is for ages 18 to 60; this person is 10\.', page)
    assert 'id="mobile-error" role="alert">Enter a mobile number of 10 to 15 digits.' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 1  # only the fixture's


def test_walk_in_needs_a_birth_date_or_year_and_a_free_member_slot(app, client, desk):
    resp = client.post("/facility/walk-in", data={**WALK_IN, "program": desk["program"], "birth_date": ""})
    assert 'id="birth_date-error" role="alert">Enter the date of birth or the year of birth.' in resp.get_data(as_text=True)
    with app.app_context():
        for i in range(app.config["MEMBERS_PER_MOBILE"]):
            f.member(mobile="9876543210", name=f"Family member {i}")
        jobs.commit()
    full = client.post("/facility/walk-in", data={**WALK_IN, "program": desk["program"]})
    assert full.status_code == 422
    assert re.search(r'id="mobile-error" role="alert">4 people are already registered with this mobile number',
                     full.get_data(as_text=True))


def test_walk_in_conditions_follow_the_program(app, client, desk):
    with app.app_context():
        prog = db.session.get(f.Program, desk["program"])
        prog.comorbidities, prog.comorbidity_required = ["Diabetes", "Hypertension"], True
        jobs.commit()
    page = client.get("/facility/walk-in").get_data(as_text=True)
    assert 'value="Diabetes"' in page
    none = client.post("/facility/walk-in", data={**WALK_IN, "program": desk["program"]})
    assert "only for people with one of these conditions" in none.get_data(as_text=True)
    ok = client.post("/facility/walk-in", data={**WALK_IN, "program": desk["program"], "comorbidities": ["Diabetes"]})
    assert ok.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Enrolment.comorbidities).where(Enrolment.facility_id.is_not(None))) == ["Diabetes"]


def test_staff_see_only_their_own_facility(app, client, desk):
    with app.app_context():
        elsewhere = f.facility()
        f.activate(elsewhere, db.session.get(f.Program, desk["program"]))
        other_staff = f.user("facility_staff", elsewhere)
        enr = db.session.get(Enrolment, desk["enrolment"])
        entry = f.queued(db.session.get(f.Facility, desk["facility"]), enr)
        jobs.commit()
        entry_id, other_id = entry.id, other_staff.id
    f.sign_in(client, other_id)
    assert "Asha Verma" not in client.get("/facility/queue").get_data(as_text=True)
    assert client.get(f"/facility/queue/{entry_id}/vaccinate").status_code == 404
    assert client.post(f"/facility/queue/{entry_id}/leave").status_code == 404
    assert client.get(f"/facility/queue/{entry_id}/certificate").status_code == 404


def test_staff_without_a_facility_cannot_use_the_desk(app, client):
    with app.app_context():
        uid = f.user("facility_staff").id
        jobs.commit()
    f.sign_in(client, uid)
    home = client.get("/facility/")
    assert home.status_code == 200 and "not linked to an active facility" in home.get_data(as_text=True)
    assert client.get("/facility/queue").status_code == 403
    assert client.post("/facility/verify", data={"code": "1"}).status_code == 403


def test_desk_forms_need_the_csrf_token(app, client, desk):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = client.post("/facility/verify", data={"code": desk["code"]}, headers=HX)
        assert refused.status_code == 400
        page = client.get("/facility/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        ok = client.post("/facility/verify", data={"code": desk["code"], "csrf_token": token}, headers=HX)
        assert ok.status_code == 200 and "Asha Verma" in ok.get_data(as_text=True)
        assert 'name="csrf_token"' in ok.get_data(as_text=True)  # the add-to-queue form carries one too
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_the_desk_in_hindi(client, desk):
    page = client.get("/facility/?lang=hi").get_data(as_text=True)
    assert "लाभार्थी का सत्यापन करें" in page and "Verify beneficiary" not in page


def test_staff_home_lists_side_effects_reported_for_this_facility_only(app, client, desk):
    from core.models import SideEffectReport

    with app.app_context():
        other = f.facility()
        member_id = db.session.scalar(select(Enrolment.member_id).where(Enrolment.id == desk["enrolment"]))
        db.session.add_all([
            SideEffectReport(member_id=member_id, enrolment_code=desk["code"], facility_id=desk["facility"],
                             symptoms=["Fever", "Headache"], reported_by="9876500001"),
            SideEffectReport(member_id=member_id, enrolment_code="OTHER-FACILITY", facility_id=other.id,
                             symptoms=["Rash"], reported_by="9876500001")])
        jobs.commit()
    page = client.get("/facility/").get_data(as_text=True)
    assert "Side effects reported" in page and "Fever, Headache" in page and desk["code"] in page
    assert "OTHER-FACILITY" not in page and "Rash" not in page
