"""The desk services: codes, the /v3/certify item a vaccination becomes, printing by mobile +
date of birth (scoped to the facility), and DIVOC's beneficiaries API."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from certify.models import Certificate
from certify.schemas import validate_certify_item
from core import jobs
from core.extensions import db
from core.models import Appointment, Slot
from facility import staff_services as desk
from facility.models import QueueEntry
from tests.factories import api_client, certify_item
from tests.factories import facility_staff as f


@pytest.mark.parametrize("scanned, code", [
    ("5550001111", "5550001111"),
    (" 555 000 1111 ", "5550001111"),
    ('{"code": "5550001111", "name": "Asha"}', "5550001111"),
    ('{"preEnrollmentCode": 5550001111}', "5550001111"),
    ('{"enrollmentCode": "AB-12"}', "AB-12"),
    ("https://divoc.example/portal/enrolments?code=5550001111", "5550001111"),
    ("https://divoc.example/r/5550001111/", "5550001111"),
    ('{"name": "no code here"}', ""),
    ("{not json", ""),
    ("", ""),
])
def test_extract_code(scanned, code):
    assert desk.extract_code(scanned) == code


def test_walk_ins_get_the_portals_checked_enrolment_codes(app):
    from portal.services import is_enrolment_code_wellformed

    with app.app_context():
        code = desk.new_enrolment_code()
        assert re.fullmatch(r"[1-9][0-9]{11}", code) and is_enrolment_code_wellformed(code)


def test_the_certify_item_is_a_valid_v3_certify_request(app):
    with app.app_context():
        d = f.desk()
        d.vaccine.validity_days = 365
        no_dob = f.member(birth_date=None, birth_year=1975, id_type="other", id_number="X-99", email="a@b.in",
                          nationality="Indian")
        enr = f.enrolment(d.program, no_dob)
        when = dt.datetime(2026, 3, 4, 20, 0, tzinfo=dt.timezone.utc)  # 5 March in India
        item = desk.certify_item(d.facility, enr, d.vaccine, d.vaccinator, "B-77", 1, when)
        assert validate_certify_item(item, "", dt.date(2026, 3, 5)) == []
        assert item["recipient"]["age"] == "51" and "dob" not in item["recipient"]
        assert item["recipient"]["identity"] == "X-99"
        assert item["recipient"]["contact"] == [f"tel:{no_dob.mobile}", "mailto:a@b.in"]
        assert item["vaccination"] == {
            "name": "Covishield", "manufacturer": "Serum Institute of India", "batch": "B-77",
            "date": "2026-03-04T20:00:00Z", "effectiveStart": "2026-03-05", "effectiveUntil": "2027-03-05",
            "dose": 1, "totalDoses": 2}
        assert item["facility"]["address"]["pincode"] == "411001"
        assert item["vaccinator"] == {"name": d.vaccinator.name}


def test_recording_completes_the_booked_appointment_and_issues_inline_without_redis(app):
    with app.test_request_context():
        d = f.desk()
        enr = f.enrolment(d.program)
        slot = Slot(facility_id=d.facility.id, program_id=d.program.id, day=dt.date.today(),
                    start_time=dt.time(9), end_time=dt.time(10), capacity=5, booked=1)
        db.session.add(slot)
        db.session.flush()
        db.session.add(Appointment(enrolment_id=enr.id, slot_id=slot.id, dose=1))
        entry_id = f.queued(d.facility, enr, d.staff).id
        jobs.commit()
        redis = app.extensions["redis"]
        app.extensions["redis"] = None  # no REDIS_URL: jobs run in-process after the commit
        try:
            desk.record_vaccination(d.facility, d.staff, entry_id, vaccinator_id=d.vaccinator.id,
                                    vaccine_id=d.vaccine.id, batch="A1", dose=1)
            jobs.commit()
        finally:
            app.extensions["redis"] = redis
        assert db.session.scalar(select(Appointment.status)) == "completed"
        d = f.Desk(*(db.session.merge(x) for x in (d.facility, d.program, d.vaccine, d.vaccinator, d.staff)))
        entry = db.session.get(QueueEntry, entry_id)
        state = desk.issuance(entry)
        assert state.state == "issued" and state.certificate.dose == 1
        with pytest.raises(desk.NotFound):  # a second save of the same queue entry
            desk.record_vaccination(d.facility, d.staff, entry.id, vaccinator_id=d.vaccinator.id,
                                    vaccine_id=d.vaccine.id, batch="A1", dose=1)


@pytest.fixture
def printable(app, client, run_jobs):
    """Two facilities; a walk-in certified at the first, and a certificate posted by a source system."""
    with app.app_context():
        d = f.desk()
        mem = f.member(name="Meera Pillai", mobile="9812345678", birth_date=dt.date(1970, 1, 2))
        enr = f.enrolment(d.program, mem, code="6660001111", facility_id=d.facility.id)
        entry = f.queued(d.facility, enr, d.staff)
        printer_here = f.user("certificate_printer", d.facility).id
        elsewhere = f.facility()
        printer_elsewhere = f.user("certificate_printer", elsewhere).id
        admin = f.user("system_admin").id
        jobs.commit()
        desk.record_vaccination(d.facility, d.staff, entry.id, vaccinator_id=d.vaccinator.id,
                                vaccine_id=d.vaccine.id, batch="A1", dose=1)
        jobs.commit()
        cid, secret = api_client(roles=("fetch", "certify"))
        admin_only = api_client(roles=("admin",))
        facility_id = d.facility.id
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                              "client_secret": secret}).json["access_token"]
    client.post("/v3/certify", headers={"Authorization": f"Bearer {token}"}, json=[certify_item(
        "API-42", name="Meera Pillai (API)", recipient={"dob": "1970-01-02", "contact": ["tel:9812345678"]})])
    run_jobs()
    admin_token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": admin_only[0],
                                                    "client_secret": admin_only[1]}).json["access_token"]
    return {"here": printer_here, "elsewhere": printer_elsewhere, "admin": admin, "token": token,
            "admin_token": admin_token, "facility": facility_id}


def test_find_beneficiaries_by_mobile_and_date_of_birth(app, printable):
    with app.app_context():
        everyone = desk.find_beneficiaries("9812345678", dt.date(1970, 1, 2), None)
        assert [(b.code, b.name, [c.dose for c in b.certificates]) for b in everyone] == [
            ("6660001111", "Meera Pillai", [1]), ("API-42", "Meera Pillai (API)", [1])]
        assert everyone[0].program.startswith("COVID-19")
        assert desk.find_beneficiaries("9812345678", dt.date(1970, 1, 3), None) == []
        assert [b.code for b in desk.find_beneficiaries("9812345678", dt.date(1970, 1, 2), printable["facility"])] == [
            "6660001111"]  # a facility sees only the beneficiaries it enrolled or queued


def test_print_page_lists_and_prints_only_this_facility_s_beneficiaries(app, client, printable):
    f.sign_in(client, printable["here"])
    page = client.post("/facility/print", data={"mobile": "9812345678", "dob": "1970-01-02"}).get_data(as_text=True)
    assert "1 beneficiary found" in page and "Meera Pillai" in page and "API-42" not in page
    assert "/facility/print/6660001111.pdf" in page
    assert client.get("/facility/print/6660001111.pdf?dose=1&language=en").status_code == 200
    assert client.get("/facility/print/API-42.pdf").status_code == 404
    assert client.get("/facility/print/6660001111.pdf?language=xx").status_code == 400
    f.sign_in(client, printable["elsewhere"])
    none = client.post("/facility/print", data={"mobile": "9812345678", "dob": "1970-01-02"}, headers={"HX-Request": "true"})
    assert "Nobody was found" in none.get_data(as_text=True) and "<html" not in none.get_data(as_text=True)
    assert client.get("/facility/print/6660001111.pdf").status_code == 404
    f.sign_in(client, printable["admin"])  # no facility: sees all
    assert "2 beneficiaries found" in client.post(
        "/facility/print", data={"mobile": "9812345678", "dob": "1970-01-02"}).get_data(as_text=True)


def test_print_search_errors_sit_next_to_the_fields(client, printable):
    f.sign_in(client, printable["here"])
    resp = client.post("/facility/print", data={"mobile": "98-12", "dob": ""}, headers={"HX-Request": "true"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'id="dob-error" role="alert">This field is required.' in page
    bad_mobile = client.post("/facility/print", data={"mobile": "98-12", "dob": "1970-01-02"})
    assert 'id="mobile-error" role="alert">Enter a mobile number of 10 to 15 digits.' in bad_mobile.get_data(as_text=True)


def test_beneficiaries_api_for_a_bearer_client(client, printable):
    resp = client.get("/certificate/api/beneficiaries?phoneno=9812345678&dob=1970-01-02",
                      headers={"Authorization": f"Bearer {printable['token']}"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-store"
    body = resp.json
    assert [b["preEnrollmentCode"] for b in body] == ["6660001111", "API-42"]
    first = body[0]
    assert {k: first[k] for k in ("name", "dob", "gender", "mobile")} == {
        "name": "Meera Pillai", "dob": "1970-01-02", "gender": "Female", "mobile": "9812345678"}
    cert = first["certificates"][0]
    assert set(cert) == {"certificateId", "dose", "totalDoses", "vaccine", "date", "status", "issuedAt", "pdf"}
    assert (cert["dose"], cert["totalDoses"], cert["vaccine"], cert["status"]) == (1, 2, "Covishield", "valid")
    assert cert["pdf"] == "/certificate/api/certificatePDF/6660001111?dose=1"
    pdf = client.get(cert["pdf"], headers={"Authorization": f"Bearer {printable['token']}"})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_beneficiaries_api_errors_and_roles(client, printable):
    assert client.get("/certificate/api/beneficiaries?phoneno=9812345678&dob=1970-01-02").status_code == 401
    forbidden = client.get("/certificate/api/beneficiaries?phoneno=9812345678&dob=1970-01-02",
                           headers={"Authorization": f"Bearer {printable['admin_token']}"})
    assert forbidden.status_code == 403 and forbidden.json["error"]["code"] == "forbidden"
    bad = client.get("/certificate/api/beneficiaries?phoneno=&dob=02-01-1970",
                     headers={"Authorization": f"Bearer {printable['token']}"})
    assert bad.status_code == 400
    assert [e["path"] for e in bad.json["error"]["fields"]] == ["phoneno", "dob"]
    short = client.get("/certificate/api/beneficiaries?phoneno=12&dob=1970-01-02",
                       headers={"Authorization": f"Bearer {printable['token']}"})
    assert short.status_code == 400 and short.json["error"]["fields"][0]["path"] == "phoneno"


def test_beneficiaries_api_for_a_signed_in_printer_is_scoped_to_the_facility(app, client, printable):
    f.sign_in(client, printable["here"])
    body = client.get("/certificate/api/beneficiaries?phoneno=9812345678&dob=1970-01-02").json
    assert [b["preEnrollmentCode"] for b in body] == ["6660001111"]
    assert body[0]["certificates"][0]["pdf"] == "/facility/print/6660001111.pdf?dose=1"
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.pre_enrollment_code == "6660001111"))
        assert body[0]["certificates"][0]["certificateId"] == cert.certificate_id
    f.sign_in(client, printable["elsewhere"])
    assert client.get("/certificate/api/beneficiaries?phoneno=9812345678&dob=1970-01-02").json == []


def test_a_record_the_certify_schema_refuses_is_a_form_level_error(app):
    """A member pre-enrolled without any birth date or year: /v3/certify needs dob or age."""
    with app.test_request_context():
        d = f.desk()
        enr = f.enrolment(d.program, f.member(birth_date=None, birth_year=None))
        entry_id = f.queued(d.facility, enr, d.staff).id
        with pytest.raises(desk.ValidationError) as raised:
            desk.record_vaccination(d.facility, d.staff, entry_id, vaccinator_id=d.vaccinator.id,
                                    vaccine_id=d.vaccine.id, batch="A1", dose=1)
        assert [(e.path, e.reason) for e in raised.value.fields] == [("", "recipient.dob: dob or age is required")]
        assert "cannot be certified as it is: recipient.dob" in raised.value.message
