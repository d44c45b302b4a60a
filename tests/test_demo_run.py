"""What `make run` serves: SQLite, no Redis (jobs run inline in the web process), the demo seed
and the demo accounts. Everyone signs in with the real OTP forms, a source system certifies
with the demo client, and the citizen finds the certificate in the portal."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import OutboxMessage

DEMO_SIGN_INS = {  # mobile -> (purpose, the page they land on)
    "9000000100": ("facility", "/facility/admin/"),
    "9000000101": ("facility", "/facility/admin/program-facilities"),
    "9000000102": ("facility", "/facility/admin/vaccinators"),
    "9000000103": ("facility", "/facility/queue"),
    "9000000104": ("facility", "/facility/print"),
    "1691742639": ("portal", "/portal/"),
}


@pytest.fixture
def demo_app(tmp_path, key_dir):
    from certify.shc_exports import write_shc_key
    from core import create_app

    write_shc_key(str(tmp_path / "shc.pem"))
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "demo-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}",
        "REDIS_URL": None,  # inline jobs, as make run
        "CERTIFICATE_BASE_URL": "http://127.0.0.1:5000",
        "CERTIFICATE_PRIVATE_KEY_FILE": str(key_dir / "ed25519.pem"),
        "SHC_PRIVATE_KEY_FILE": str(tmp_path / "shc.pem"),
        "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.session.remove()
    runner = app.test_cli_runner()
    for args in (["certify", "seed"], ["facility", "demo-users"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def sign_in(app, client, mobile: str, purpose: str, next_path: str) -> None:
    resp = client.post(f"/login?purpose={purpose}&next={next_path}", data={"mobile": mobile, "next": next_path})
    assert resp.status_code == 302 and "/login/code" in resp.headers["Location"], resp.get_data(as_text=True)[:500]
    with app.app_context():
        body = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == mobile)
                                  .order_by(OutboxMessage.id.desc())).first()
        db.session.remove()
    code = re.search(r"\b(\d{6})\b", body).group(1)
    resp = client.post(resp.headers["Location"], data={"code": code, "next": next_path})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(next_path), resp.headers.get("Location")


@pytest.mark.parametrize("mobile", list(DEMO_SIGN_INS))
def test_every_demo_account_signs_in_and_reaches_its_page(demo_app, mobile):
    purpose, page = DEMO_SIGN_INS[mobile]
    client = demo_app.test_client()
    sign_in(demo_app, client, mobile, purpose, page)
    assert client.get(page, follow_redirects=True).status_code == 200


def test_the_readme_example_reaches_the_citizen_with_jobs_inline(demo_app):
    client = demo_app.test_client()
    with demo_app.app_context():
        from core.models import ApiClient

        assert db.session.scalar(select(ApiClient).where(ApiClient.name == "demo-source-system"))
        db.session.remove()
    from core import auth

    with demo_app.app_context():
        api_client, secret = auth.create_client("readme", ["certify"])
        client_id = api_client.client_id
        db.session.commit()
        db.session.remove()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                              "client_secret": secret}).json["access_token"]
    item = {"preEnrollmentCode": "987456126",
            "recipient": {"name": "John Doe", "dob": "1987-04-21", "gender": "Male", "nationality": "Indian",
                          "identity": "872550100V", "contact": ["tel:1691742639"]},
            "vaccination": {"name": "Covishield", "batch": "41202025", "manufacturer": "Serum Institute of India",
                            "date": "2021-10-17T13:10", "effectiveStart": "2021-10-25",
                            "effectiveUntil": "2022-10-24", "dose": 1, "totalDoses": 2},
            "vaccinator": {"name": "Bartjan Verduijn"}, "facility": {"name": "MOH Gothatuwa"}}
    resp = client.post("/v3/certify", data=json.dumps([item]), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 202 and resp.json["accepted"] == 1, resp.json
    listed = client.get("/v1/certificates?preEnrollmentCode=987456126", headers={"Authorization": f"Bearer {token}"})
    [cert] = listed.json["certificates"]
    assert cert["status"] == "valid"  # signed inline, in the request that accepted it

    citizen = demo_app.test_client()
    sign_in(demo_app, citizen, "1691742639", "portal", "/portal/")
    dashboard = citizen.get("/portal/").get_data(as_text=True)
    assert "John Doe" in dashboard and cert["certificateId"] in dashboard
    with demo_app.app_context():
        issued = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == "1691742639",
                                                                     OutboxMessage.event == "certificate_issued")).all()
        db.session.remove()
    assert len(issued) == 1 and "/portal/c/987456126" in issued[0]

    # without Redis, download counts reach the table in a request's transaction (analytics folds the rest)
    pdf = citizen.get("/portal/c/987456126?dose=1&lang=hi")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    with demo_app.app_context():
        from certify import downloads
        from certify.models import DownloadCount

        downloads.fold()
        db.session.commit()
        counted = [(r.channel, r.kind, r.count) for r in db.session.scalars(select(DownloadCount))]
        db.session.remove()
    assert counted == [("sms_link", "pdf", 1)]


def test_the_demo_desk_records_dose_2_with_jobs_inline(demo_app):
    """The demo vaccinator gives the README's beneficiary dose 2 at the demo hospital: the
    certificate is signed in the same request, inline."""
    from certify.models import Certificate

    test_the_readme_example_reaches_the_citizen_with_jobs_inline(demo_app)
    desk = demo_app.test_client()
    sign_in(demo_app, desk, "9000000103", "facility", "/facility/")
    resp = desk.post("/facility/queue", data={"code": "987456126"})
    assert resp.status_code in (200, 302, 303), resp.status_code
    page = desk.get("/facility/queue").get_data(as_text=True)
    entry = re.search(r"/facility/queue/(\d+)/vaccinate", page)
    assert entry, page[-2000:]
    form = desk.get(entry.group(0)).get_data(as_text=True)
    vaccinator = re.search(r'<option value="(\d+)"[^>]*>Dr. Meera Nair', form)
    vaccine = re.search(r'<option value="(\d+)"[^>]*>Covishield', form)
    assert vaccinator and vaccine, form
    resp = desk.post(entry.group(0), data={"vaccinator": vaccinator.group(1), "vaccine": vaccine.group(1),
                                           "batch": "4120Z025", "dose": "2"})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[-3000:]
    with demo_app.app_context():
        doses = db.session.scalars(select(Certificate.dose).where(Certificate.pre_enrollment_code == "987456126")
                                   .order_by(Certificate.dose)).all()
        db.session.remove()
    assert doses == [1, 2]


def test_a_new_citizen_adds_a_member_registers_and_books_with_jobs_inline(demo_app):
    citizen = demo_app.test_client()
    sign_in(demo_app, citizen, "9812345670", "portal", "/portal/")
    member = {"name": "Meena Devi", "gender": "Female", "birth_year": "1975", "birth_date": "", "id_type": "aadhaar",
              "id_number": "5555 6666 7777", "address_line": "7 Canal Road", "district": "Demo District",
              "state": "Demo State", "pincode": "560001", "contact": "9812345670", "email": ""}
    resp = citizen.post("/portal/members/new", data=member)
    assert resp.status_code == 303, resp.get_data(as_text=True)[-2000:]
    register = resp.headers["Location"]
    page = citizen.get(register).get_data(as_text=True)
    program_id = re.search(r'name="program"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="program"', page)
    program_id = next(g for g in program_id.groups() if g)
    resp = citizen.post(register, data={"program": program_id, "birth_year": "1975"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[-2000:]
    with demo_app.app_context():
        from core.models import Enrolment

        code = db.session.scalar(select(Enrolment.code).join(Enrolment.member).where(
            Enrolment.member.has(name="Meena Devi")))
        sms = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == "9812345670")).all()
        db.session.remove()
    assert code and any(code in body for body in sms)  # the enrolment SMS went out inline

    search = citizen.get(f"/portal/book?program={program_id}&pincode=560001").get_data(as_text=True)
    facility = re.search(r"/portal/book/facilities/(\d+)[^\"]*", search)
    assert facility, search[-3000:]
    slots = citizen.get(facility.group(0).replace("&amp;", "&")).get_data(as_text=True)
    slot = re.search(r"/portal/book/slots/(\d+)", slots)
    assert slot, slots[-3000:]
    form = citizen.get(slot.group(0)).get_data(as_text=True)
    member_id = re.search(r'name="members"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="members"', form)
    resp = citizen.post(slot.group(0), data={"members": next(g for g in member_id.groups() if g)})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[-2000:]
    appointments = citizen.get("/portal/appointments").get_data(as_text=True)
    assert "Meena Devi" in appointments and "District Hospital, Demo Town" in appointments
