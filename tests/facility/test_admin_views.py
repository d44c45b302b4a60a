"""Admin pages: who may open them, scope (own facility, own programs), forms with errors next to
their fields, and htmx fragments."""
from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from certify.models import ConfigVersion
from core.extensions import db
from core.models import Facility, FacilityProgram, OutboxMessage, Program, User, Vaccine
from core.roles import ROLES
from facility.models import ProgramAdmin, UploadJob, Vaccinator
from tests.factories import certify_item, seed_vaccines
from tests.factories import facility_admin as fx

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x04\x00\x09\xfb\x03\xfd\xe3U\xf2\x9c\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def world(app):
    """Two facilities in one program, a second program, and a person for every role."""
    with app.app_context():
        seed_vaccines()
        home = fx.facility("KA-1", "PHC Jayanagar", contact_mobile="9811100001")
        away = fx.facility("KA-2", "PHC Hebbal", district="Bengaluru Rural")
        covid, measles = fx.program("COVID-19"), fx.program("Measles")
        fx.link(home, covid)
        fx.link(away, covid)
        people = {role: fx.user(role, home if role not in ("system_admin", "program_admin") else None,
                                name=role.replace("_", " ").title(), programs=[covid] if role == "program_admin" else [])
                  for role in ROLES}
        people["citizen"] = fx.user("", name="Citizen")
        away_admin = fx.user("facility_admin", away, name="Away Admin")
        away_vaccinator = Vaccinator(facility_id=away.id, name="Away Vaccinator", licence_number="L-AWAY")
        home_vaccinator = Vaccinator(facility_id=home.id, name="Home Vaccinator", licence_number="L-HOME")
        db.session.add_all([away_vaccinator, home_vaccinator])
        fx.commit()
        ids = {"home": home.id, "away": away.id, "covid": covid.id, "measles": measles.id,
               "away_admin": away_admin.id, "away_vaccinator": away_vaccinator.id,
               "home_vaccinator": home_vaccinator.id, **{k: u.id for k, u in people.items()}}
        db.session.remove()
    return ids


def admin_rules(app):
    return [r for r in app.url_map.iter_rules()
            if r.endpoint.startswith("facility.admin_") or r.endpoint == "facility.analytics"]


def test_every_admin_view_checks_its_role(app, client, world):
    with app.app_context():
        covishield = db.session.scalar(select(Vaccine.id).where(Vaccine.name == "Covishield"))
        job = UploadJob(kind="certificates", sha256="0" * 64, facility_id=world["home"], user_id=world["facility_admin"])
        db.session.add(job)
        fx.commit()
        job_id = job.id
    values = {"vaccinator_id": world["home_vaccinator"], "user_id": world["facility_staff"], "program_id": world["covid"],
              "vaccine_id": covishield, "job_id": job_id}
    rules = admin_rules(app)
    assert len(rules) > 30
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "required_roles", ()), f"{rule.endpoint} has no role check"
    for who in [*ROLES, "citizen", None]:
        with client.session_transaction() as sess:
            sess.clear()
        if who:
            fx.sign_in(client, world[who])
        for rule in rules:
            url = rule.build(rule.defaults or values, append_unknown=False)[1]  # "new" pages have defaults
            method = "GET" if "GET" in rule.methods else "POST"
            allowed = app.view_functions[rule.endpoint].required_roles
            if method == "POST" and who in allowed:
                continue  # a permitted POST changes data; the other tests cover them
            resp = client.open(url, method=method)
            if who is None:
                assert resp.status_code == 302 and "/login" in resp.headers["Location"], (who, url)
            elif who in allowed:
                assert resp.status_code not in (403, 500), (who, method, url, resp.status_code)
            else:
                assert resp.status_code == 403, (who, method, url, resp.status_code)


def test_a_facility_admin_reaches_only_their_own_facility(app, client, world):
    fx.sign_in(client, world["facility_admin"])
    away_v, away_u = world["away_vaccinator"], world["away_admin"]
    assert client.get(f"/facility/admin/vaccinators/{away_v}").status_code == 404
    assert client.post(f"/facility/admin/vaccinators/{away_v}", data={"name": "x", "licence_number": "y"}).status_code == 404
    assert client.post(f"/facility/admin/vaccinators/{away_v}/active", data={"active": "0"}).status_code == 404
    assert client.get(f"/facility/admin/vaccinators/{away_v}/training-certificate").status_code == 404
    assert client.get(f"/facility/admin/staff/{away_u}").status_code == 404
    assert client.post(f"/facility/admin/staff/{away_u}/active", data={"active": "0"}).status_code == 404
    assert client.get(f"/facility/admin/slots/{world['measles']}").status_code == 404  # not in that program
    listing = client.get("/facility/admin/vaccinators").data
    assert b"Home Vaccinator" in listing and b"Away Vaccinator" not in listing
    staff = client.get("/facility/admin/staff").data
    assert b"Facility Staff" in staff and b"Away Admin" not in staff
    with app.app_context():
        job = UploadJob(kind="certificates", sha256="0" * 64, facility_id=world["away"], user_id=world["away_admin"])
        db.session.add(job)
        fx.commit()
        job_id = job.id
    assert client.get(f"/facility/admin/certificates/upload/{job_id}").status_code == 404
    assert client.get(f"/facility/admin/certificates/upload/{job_id}/errors.csv").status_code == 404
    with app.app_context():
        assert db.session.get(Vaccinator, away_v).active and db.session.get(User, away_u).active


def test_a_facility_admin_without_a_facility_is_refused(app, client):
    with app.app_context():
        lost = fx.user("facility_admin")
        fx.commit()
        uid = lost.id
    fx.sign_in(client, uid)
    resp = client.get("/facility/admin/vaccinators")
    assert resp.status_code == 403 and b"not linked to a facility" in resp.data


def test_vaccinators_are_added_with_errors_next_to_fields_and_toggled_with_htmx(app, client, world):
    fx.sign_in(client, world["facility_admin"])
    bad = client.post("/facility/admin/vaccinators/new", data={"name": "", "licence_number": "L-HOME",
                                                               "email": "nope"})
    assert bad.status_code == 400
    assert b'id="name-error"' in bad.data and b'id="email-error"' in bad.data
    dupe = client.post("/facility/admin/vaccinators/new", data={"name": "Dr. Rao", "licence_number": "l-home"})
    assert dupe.status_code == 400
    assert re.search(rb'id="licence_number-error" role="alert">Another vaccinator at this facility', dupe.data)

    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ok = client.post("/facility/admin/vaccinators/new", content_type="multipart/form-data", data={
        "name": "Dr. Meera Rao", "licence_number": "KMC-12345", "mobile": "98111 22233", "email": "meera@example.org",
        "program_ids": [str(world["covid"])], "active": "y", "training_file": (io.BytesIO(pdf), "training.pdf")})
    assert ok.status_code == 302
    with app.app_context():
        v = db.session.scalar(select(Vaccinator).where(Vaccinator.licence_number == "KMC-12345"))
        assert (v.facility_id, v.mobile, v.program_ids, v.active) == (world["home"], "9811122233", [world["covid"]], True)
        vid = v.id
    download = client.get(f"/facility/admin/vaccinators/{vid}/training-certificate")
    assert download.data == pdf and download.mimetype == "application/pdf"
    fake = client.post(f"/facility/admin/vaccinators/{vid}", content_type="multipart/form-data", data={
        "name": "Dr. Meera Rao", "licence_number": "KMC-12345", "training_file": (io.BytesIO(b"MZ..."), "x.pdf")})
    assert fake.status_code == 400 and b'id="training_file-error"' in fake.data

    row = client.post(f"/facility/admin/vaccinators/{vid}/active", data={"active": "0"}, headers={"HX-Request": "true"})
    assert row.status_code == 200 and row.data.lstrip().startswith(b"<tr") and b"Make active" in row.data
    with app.app_context():
        assert db.session.get(Vaccinator, vid).active is False


def test_staff_roles_are_set_for_the_facility_only(app, client, world):
    fx.sign_in(client, world["facility_admin"])
    ok = client.post("/facility/admin/staff/new", data={"name": "Kavya", "mobile": "9811100077", "employee_id": "E-7",
                                                        "roles": ["facility_staff", "certificate_printer"], "active": "y"})
    assert ok.status_code == 302
    with app.app_context():
        kavya = db.session.scalar(select(User).where(User.mobile == "9811100077"))
        assert (kavya.roles, kavya.facility_id, kavya.employee_id) == \
            ("facility_staff certificate_printer", world["home"], "E-7")
    taken = client.post("/facility/admin/staff/new", data={"name": "Away", "mobile": _mobile(app, world["away_admin"]),
                                                           "roles": ["facility_staff"], "active": "y"})
    assert taken.status_code == 400 and b'id="mobile-error"' in taken.data and b"another facility" in taken.data
    no_role = client.post("/facility/admin/staff/new", data={"name": "X", "mobile": "9811100078"})
    assert no_role.status_code == 400 and b'id="roles-error"' in no_role.data
    escalate = client.post("/facility/admin/staff/new", data={"name": "X", "mobile": "9811100079",
                                                              "roles": ["system_admin"]})
    assert escalate.status_code == 400 and b'id="roles-error"' in escalate.data
    myself = client.post(f"/facility/admin/staff/{world['facility_admin']}/active", data={"active": "0"},
                         headers={"HX-Request": "true"})
    assert myself.status_code == 200 and b"You cannot disable yourself" in myself.data
    off = client.post(f"/facility/admin/staff/{world['facility_staff']}/active", data={"active": "0"})
    assert off.status_code == 302
    with app.app_context():
        assert db.session.get(User, world["facility_staff"]).active is False
        assert db.session.get(User, world["facility_admin"]).active is True


def _mobile(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).mobile


def test_slot_configuration_is_validated_and_saved(app, client, world):
    fx.sign_in(client, world["facility_admin"])
    url = f"/facility/admin/slots/{world['covid']}"
    page = client.get(url)
    assert page.status_code == 200 and b'value="09:00"' in page.data
    bad = client.post(url, data={"appointment_start": "17:00", "appointment_end": "09:00", "slot_minutes": "30",
                                 "slot_capacity": "20", "walkin_days": ["0"], "walkin_start": "10:00"})
    assert bad.status_code == 400
    assert b'id="appointment_end-error"' in bad.data and b'id="walkin_end-error"' in bad.data
    with app.app_context():  # the booking window is open already: the change reaches it
        from portal import booking

        link = db.session.scalar(select(FacilityProgram).where(FacilityProgram.facility_id == world["home"],
                                                               FacilityProgram.program_id == world["covid"]))
        opened = booking.ensure_slots([link], booking.booking_days()[:1])
        db.session.commit()
    ok = client.post(url, data={"appointment_start": "08:30", "appointment_end": "16:00", "slot_minutes": "30",
                                "slot_capacity": "25", "walkin_days": ["5", "6"], "walkin_start": "10:00",
                                "walkin_end": "13:00"})
    assert ok.status_code == 302
    told = client.get(ok.headers["Location"]).data.decode()
    # 09:00-17:00 in hours became 08:30-16:00 in half hours: 09:00..15:00 change, 16:00 goes, 8 new
    assert opened == 8 and "from tomorrow: 8 slots added, 7 changed, 1 removed." in told
    with app.app_context():
        link = db.session.scalar(select(FacilityProgram).where(FacilityProgram.facility_id == world["home"],
                                                               FacilityProgram.program_id == world["covid"]))
        assert (str(link.appointment_start), link.slot_minutes, link.slot_capacity, link.walkin_days,
                str(link.walkin_end)) == ("08:30:00", 30, 25, [5, 6], "13:00:00")
    listing = client.get("/facility/admin/slots").data.decode()
    assert "08:30–16:00" in listing and "Sat, Sun" in listing


def test_beneficiaries_past_current_and_upcoming(app, client, world, run_jobs):
    from core.models import Appointment, Enrolment, Member, Slot
    from facility.models import QueueEntry

    fx.issue(app, run_jobs, [certify_item("PAST-1", name="Past Person", facility={"name": "PHC Jayanagar"}),
                             certify_item("ELSEWHERE-1", name="Other Place", facility={"name": "PHC Hebbal"})])
    tomorrow = dt.date.today() + dt.timedelta(days=3)
    with app.app_context():
        for code, name in (("NOW-1", "Queued Person"), ("SOON-1", "Booked Person")):
            m = Member(mobile="9811100900", name=name)
            db.session.add(m)
            db.session.flush()
            db.session.add(Enrolment(code=code, member_id=m.id, program_id=world["covid"], facility_id=world["home"]))
        db.session.flush()
        now_e, soon_e = (db.session.scalar(select(Enrolment).where(Enrolment.code == c)) for c in ("NOW-1", "SOON-1"))
        db.session.add(QueueEntry(facility_id=world["home"], enrolment_id=now_e.id, dose=1))
        slot = Slot(facility_id=world["home"], program_id=world["covid"], day=tomorrow, start_time=dt.time(10),
                    end_time=dt.time(11), capacity=10, booked=1)
        db.session.add(slot)
        db.session.flush()
        db.session.add(Appointment(enrolment_id=soon_e.id, slot_id=slot.id, dose=2))
        fx.commit()
    fx.sign_in(client, world["facility_admin"])
    start = (dt.date.today() - dt.timedelta(days=3650)).isoformat()
    page = client.get(f"/facility/admin/beneficiaries?start={start}&end={(tomorrow + dt.timedelta(days=1)).isoformat()}")
    text = page.data.decode()
    assert page.status_code == 200
    past, current, upcoming = (text.split(f'id="ben-{k}"')[1].split("</section>")[0] for k in ("past", "current", "upcoming"))
    assert "Past Person" in past and "Other Place" not in text
    assert "Queued Person" in current and "in the queue" in current
    assert "Booked Person" in upcoming and "10:00" in upcoming and tomorrow.isoformat() in upcoming
    fragment = client.get(f"/facility/admin/beneficiaries?program_id={world['measles']}&start={start}",
                          headers={"HX-Request": "true"})
    assert fragment.data.lstrip().startswith(b'<div id="beneficiaries"') and b"Booked Person" not in fragment.data
    bad = client.get("/facility/admin/beneficiaries?start=2024-05-01&end=2024-04-01")
    assert bad.status_code == 400 and b'id="end-error"' in bad.data


def test_a_program_admin_activates_rates_and_notifies_facilities_of_their_programs(app, client, world):
    fx.sign_in(client, world["program_admin"])
    assert client.get(f"/facility/admin/programs/{world['measles']}/facilities").status_code == 404
    assert client.post(f"/facility/admin/programs/{world['measles']}/facilities",
                       data={"action": "activate", "facility_ids": [str(world["home"])]}).status_code == 404
    home = client.get("/facility/admin/program-facilities")
    assert home.status_code == 302 and home.headers["Location"].endswith(f"/programs/{world['covid']}/facilities")
    url = f"/facility/admin/programs/{world['covid']}/facilities"
    rural = client.get(url + "?district=Bengaluru+Rural", headers={"HX-Request": "true"}).data
    assert rural.lstrip().startswith(b'<div id="facility-results"') and b"PHC Hebbal" in rural \
        and b"PHC Jayanagar" not in rural

    off = client.post(url + "?district=Bengaluru+Rural", data={"action": "deactivate", "facility_ids": [str(world["away"])]},
                      headers={"HX-Request": "true"})
    assert b"1 facilities deactivated." in off.data and b"PHC Jayanagar" not in off.data
    rate = client.post(url, data={"action": "rate", "daily_rate": "250",
                                  "facility_ids": [str(world["home"]), str(world["away"])]})
    assert rate.status_code == 302
    none = client.post(url, data={"action": "notify", "subject": "Stock", "message": "New doses arrive Monday."},
                       headers={"HX-Request": "true"})
    assert none.status_code == 400 and b"Select at least one facility." in none.data
    no_subject = client.post(url, data={"action": "notify", "facility_ids": [str(world["home"])]},
                             headers={"HX-Request": "true"})
    assert no_subject.status_code == 400 and b'id="subject-error"' in no_subject.data
    sent = client.post(url, data={"action": "notify", "subject": "Stock", "message": "New doses arrive Monday.",
                                  "facility_ids": [str(world["home"]), str(world["away"])]},
                       headers={"HX-Request": "true"})
    assert b"Message queued to 1 facilities; 1 have no contact number." in sent.data
    with app.app_context():
        links = {fp.facility_id: (fp.active, fp.daily_rate) for fp in db.session.scalars(
            select(FacilityProgram).where(FacilityProgram.program_id == world["covid"]))}
        assert links == {world["home"]: (True, 250), world["away"]: (False, 250)}
        sms = db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == "facility_notice")).all()
        assert [(m.to, m.body) for m in sms] == [("9811100001", "COVID-19: Stock\nNew doses arrive Monday.")]


def test_activating_a_facility_new_to_the_program_creates_its_link(app, client, world):
    fx.sign_in(client, world["system_admin"])  # a system admin manages every program
    url = f"/facility/admin/programs/{world['measles']}/facilities"
    inactive = client.get(url + "?status=inactive").data
    assert b"PHC Jayanagar" in inactive and b"PHC Hebbal" in inactive
    client.post(url, data={"action": "activate", "facility_ids": [str(world["home"])]})
    active = client.get(url + "?status=active").data
    assert b"PHC Jayanagar" in active and b"PHC Hebbal" not in active
    with app.app_context():
        link = db.session.scalar(select(FacilityProgram).where(FacilityProgram.program_id == world["measles"]))
        assert (link.facility_id, link.active, link.daily_rate) == (world["home"], True, 100)


def test_a_system_admin_creates_a_program_with_logo_vaccines_and_eligibility(app, client, world):
    fx.sign_in(client, world["system_admin"])
    with app.app_context():
        covaxin = db.session.scalar(select(Vaccine.id).where(Vaccine.name == "Covaxin"))
    data = {"name": "Polio 2027", "description": "Oral polio drive", "start_date": "2027-01-01",
            "end_date": "2026-12-31", "min_age": "0", "max_age": "5", "comorbidities": "",
            "comorbidity_required": "y", "vaccine_ids": [str(covaxin)], "active": "y"}
    bad = client.post("/facility/admin/programs/new", data=data)
    assert bad.status_code == 400 and b'id="end_date-error"' in bad.data
    clash = client.post("/facility/admin/programs/new", data={**data, "name": "covid-19", "end_date": "2027-12-31"})
    assert clash.status_code == 400 and b'id="name-error"' in clash.data
    ok = client.post("/facility/admin/programs/new", content_type="multipart/form-data", data={
        **data, "end_date": "2027-12-31", "comorbidities": "Diabetes\nAsthma\ndiabetes\n",
        "side_effects": "Fever\nPain at the site", "logo": (io.BytesIO(PNG), "logo.png")})
    assert ok.status_code == 302
    with app.app_context():
        p = db.session.scalar(select(Program).where(Program.name == "Polio 2027"))
        assert p.logo.startswith("data:image/png;base64,")
        assert (p.min_age, p.max_age, p.comorbidities, p.side_effects, p.comorbidity_required) == \
            (0, 5, ["Diabetes", "Asthma"], ["Fever", "Pain at the site"], True)
        assert db.session.get(Vaccine, covaxin).program_id == p.id
        pid = p.id
    listing = client.get("/facility/admin/programs").data
    assert b"Polio 2027" in listing and b"data:image/png;base64," in listing
    edit = client.post(f"/facility/admin/programs/{pid}/edit", data={**data, "end_date": "2027-12-31",
                                                                     "comorbidities": "Diabetes", "vaccine_ids": []})
    assert edit.status_code == 302
    with app.app_context():
        assert db.session.get(Vaccine, covaxin).program_id is None
        assert db.session.get(Program, pid).logo.startswith("data:image/png")  # kept
    notpng = client.post(f"/facility/admin/programs/{pid}/edit", content_type="multipart/form-data",
                         data={**data, "end_date": "2027-12-31", "logo": (io.BytesIO(b"<svg/>"), "logo.png")})
    assert notpng.status_code == 400 and b'id="logo-error"' in notpng.data


def test_the_vaccine_form_publishes_the_icd11_mapping_used_at_issuance(app, client, world, run_jobs):
    fx.sign_in(client, world["system_admin"])
    form = {"name": "Cervavac", "manufacturer": "Serum Institute of India", "administration": "intramuscular",
            "program_id": str(world["covid"]), "doses": "2", "interval_days": "28", "validity_days": "365",
            "icd11_code": "xm1nl1", "icd11_term": "Papillomavirus vaccines",
            "denied_batches": "B1\nB2\n", "price": "145.50", "active": "y"}
    bad = client.post("/facility/admin/vaccines/new", data={**form, "icd11_code": "covid!"})
    assert bad.status_code == 400 and b'id="icd11_code-error"' in bad.data
    assert client.post("/facility/admin/vaccines/new", data=form).status_code == 302
    with app.app_context():
        v = db.session.scalar(select(Vaccine).where(Vaccine.name == "Cervavac"))
        assert (v.icd11_code, v.denied_batches, v.price, v.program_id, v.validity_days) == \
            ("XM1NL1", ["B1", "B2"], 145.5, world["covid"], 365)
        vid = v.id
        versions = db.session.scalars(select(ConfigVersion).where(ConfigVersion.key == "map:icd11")).all()
        assert [r.version for r in versions] == [1] and '"Cervavac"' in versions[0].content
        assert versions[0].author == f"user:{world['system_admin']}"
    assert client.post(f"/facility/admin/vaccines/{vid}/edit", data=form).status_code == 302  # no change: no version
    covishield = _vaccine_id(app, "Covishield")
    page = client.get(f"/facility/admin/vaccines/{covishield}/edit").data
    assert b'value="XM9QW8"' in page  # the form shows the mapping issuance uses
    client.post(f"/facility/admin/vaccines/{covishield}/edit", data={
        **form, "name": "Covishield", "icd11_code": "XM6QV1", "icd11_term": "COVID-19 vaccine, edited",
        "denied_batches": "", "program_id": "0"})
    with app.app_context():
        assert db.session.scalar(select(func.max(ConfigVersion.version)).where(ConfigVersion.key == "map:icd11")) == 2
    fx.issue(app, run_jobs, [certify_item("ICD-1")])
    with app.app_context():
        from certify.models import Certificate

        cert = db.session.scalar(select(Certificate).where(Certificate.pre_enrollment_code == "ICD-1"))
        assert cert.credential["evidence"][0]["icd11Code"] == "XM6QV1"
        assert cert.credential["evidence"][0]["prophylaxis"] == "COVID-19 vaccine, edited"


def _vaccine_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Vaccine.id).where(Vaccine.name == name))


def test_users_and_roles_link_program_admins_to_their_programs(app, client, world):
    fx.sign_in(client, world["system_admin"])
    missing = client.post("/facility/admin/users/new", data={"name": "Priya", "mobile": "9811100555",
                                                             "roles": ["program_admin"], "active": "y"})
    assert missing.status_code == 400 and b'id="program_ids-error"' in missing.data
    no_facility = client.post("/facility/admin/users/new", data={"name": "Priya", "mobile": "9811100555",
                                                                 "roles": ["vaccinator"], "active": "y"})
    assert no_facility.status_code == 400 and b'id="facility_id-error"' in no_facility.data
    ok = client.post("/facility/admin/users/new", data={"name": "Priya", "mobile": "9811100555", "active": "y",
                                                        "roles": ["program_admin"], "program_ids": [str(world["measles"])]})
    assert ok.status_code == 302
    with app.app_context():
        priya = db.session.scalar(select(User).where(User.mobile == "9811100555"))
        assert db.session.scalars(select(ProgramAdmin.program_id).where(ProgramAdmin.user_id == priya.id)).all() == \
            [world["measles"]]
        pid = priya.id
    fx.sign_in(client, pid)
    assert client.get(f"/facility/admin/programs/{world['measles']}/facilities").status_code == 200
    assert client.get(f"/facility/admin/programs/{world['covid']}/facilities").status_code == 404
    fx.sign_in(client, world["system_admin"])
    me = client.post(f"/facility/admin/users/{world['system_admin']}/edit",
                     data={"name": "Me", "mobile": _mobile(app, world["system_admin"]), "roles": ["program_admin"],
                           "program_ids": [str(world["covid"])], "active": "y"})
    assert me.status_code == 400 and b"your own administrator role" in me.data
    listing = client.get("/facility/admin/users?role=program_admin").data
    assert b"Priya" in listing and b"Facility Staff" not in listing


def test_analytics_counts_certificates_within_the_viewers_scope(app, client, world, run_jobs):
    items = [certify_item(f"AN-{i}", dose=1 + i % 2, facility={"name": "PHC Jayanagar" if i < 3 else "PHC Hebbal"},
                          recipient={"gender": "Female" if i % 2 else "Male", "dob": "1950-01-01" if i == 0 else "1990-06-01"})
             for i in range(5)]
    fx.issue(app, run_jobs, items)
    with app.app_context():
        db.session.scalar(select(Vaccine).where(Vaccine.name == "Covishield")).program_id = world["covid"]
        fx.commit()
    today = dt.datetime.now(ZoneInfo(app.config["CERTIFICATE_TIMEZONE"])).date().isoformat()
    fx.sign_in(client, world["system_admin"])
    page = client.get(f"/facility/analytics?start={today}&end={today}").data.decode()
    assert re.search(r'id="per-day">Certificates issued per day <span class="count">5</span>', page)
    facility_rows = re.findall(r'<th scope="row">([^<]+)</th><td class="bar-cell">.*?</td><td class="num">(\d+)</td>',
                               page.split('id="by_facility"')[1].split("</section>")[0])
    assert facility_rows == [("PHC Jayanagar", "3"), ("PHC Hebbal", "2")]
    ages = page.split('id="by_age_band"')[1].split("</section>")[0]
    assert "18–44" in ages and "60+" in ages
    assert "COVID-19" in page.split('id="by_program"')[1].split("</section>")[0]

    fx.sign_in(client, world["facility_admin"])  # only their facility's certificates
    mine = client.get(f"/facility/analytics?start={today}&end={today}").data.decode()
    assert re.search(r'id="per-day">Certificates issued per day <span class="count">3</span>', mine)
    assert "PHC Hebbal" not in mine and 'id="verifications"' not in mine

    with app.app_context():
        db.session.add(ProgramAdmin(user_id=world["program_admin"], program_id=world["measles"]))
        db.session.execute(ProgramAdmin.__table__.delete().where(ProgramAdmin.program_id == world["covid"]))
        fx.commit()
    fx.sign_in(client, world["program_admin"])  # covid is no longer theirs
    theirs = client.get(f"/facility/analytics?start={today}&end={today}").data.decode()
    assert re.search(r'id="per-day">Certificates issued per day <span class="count">0</span>', theirs)
    other = client.get(f"/facility/analytics?start={today}&end={today}&program_id={world['covid']}")
    assert other.status_code == 400 and b'id="program_id-error"' in other.data
    bad = client.get("/facility/analytics?start=2020-01-01&end=2024-01-01")
    assert bad.status_code == 400 and b'id="start-error"' in bad.data


def test_forms_and_htmx_posts_need_the_csrf_token(app, client, world):
    fx.sign_in(client, world["facility_admin"])
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.get("/facility/admin/vaccinators").data.decode()
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        url = f"/facility/admin/vaccinators/{world['home_vaccinator']}/active"
        assert client.post(url, data={"active": "0"}).status_code == 400
        assert client.post(url, data={"active": "0"}, headers={"X-CSRFToken": token, "HX-Request": "true"}).status_code == 200
        assert client.post("/facility/admin/vaccinators/new", data={"name": "x", "licence_number": "y"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_admin_pages_speak_hindi(client, world):
    fx.sign_in(client, world["system_admin"])
    page = client.get("/facility/admin/vaccines?lang=hi").data.decode()
    assert "टीके" in page and "नया टीका दर्ज करें" in page
    home = client.get("/facility/admin/?lang=hi").data.decode()
    assert "प्रशासन" in home


def test_facilities_in_the_list_are_only_active_ones(app, client, world):
    with app.app_context():
        db.session.get(Facility, world["away"]).active = False
        fx.commit()
    fx.sign_in(client, world["program_admin"])
    page = client.get(f"/facility/admin/programs/{world['covid']}/facilities").data
    assert b"PHC Jayanagar" in page and b"PHC Hebbal" not in page


def test_a_backlog_is_counted_by_a_worker_while_the_page_says_so(app, client, world, run_jobs, monkeypatch):
    from facility import analytics

    fx.issue(app, run_jobs, [certify_item(f"BACK-{i}") for i in range(5)])
    monkeypatch.setattr(analytics, "FOLD_BATCH", 2)
    fx.sign_in(client, world["system_admin"])
    first = client.get("/facility/analytics").data.decode()
    assert "still being counted" in first
    assert re.search(r'id="per-day">Certificates issued per day <span class="count">2</span>', first)
    run_jobs()  # the refresh job folds the rest, two at a time
    second = client.get("/facility/analytics").data.decode()
    assert "still being counted" not in second
    assert re.search(r'id="per-day">Certificates issued per day <span class="count">5</span>', second)
