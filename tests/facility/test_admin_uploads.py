"""CSV uploads: bulk certification by real RQ workers (progress, error CSV, a re-upload
certifies nothing twice), pre-enrolment and facilities files."""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time

from sqlalchemy import func, select

from certify.models import Certificate, CertifyRequest
from core.extensions import db
from core.models import Enrolment, Facility, Member, User
from facility import uploads
from facility.models import FacilityProfile, UploadJob, UploadRow
from portal.services import is_enrolment_code_wellformed
from tests.conftest import REDIS_URL, ROOT, TEST_DATABASE_URL
from tests.factories import facility_admin as fx
from tests.factories import seed_vaccines

BAD_ROWS = {  # 0-based index in the data → what is wrong with it
    7: {"recipientDOB": "21-04-1987"},
    100: {"vaccinationName": "Sputnik Ultra"},
    1234: {"vaccinationDose": "first"},
    2000: {"recipientName": ""},
    2999: {"facilityName": "Some Other Hospital"},
}


def start_worker(app) -> subprocess.Popen:
    """A real worker process on the certify queue (uploads and signing), as production runs it."""
    env = dict(os.environ, DATABASE_URL=TEST_DATABASE_URL, REDIS_URL=REDIS_URL, SECRET_KEY=app.config["SECRET_KEY"],
               CERTIFICATE_BASE_URL=app.config["CERTIFICATE_BASE_URL"], CERTIFICATE_DID=app.config["CERTIFICATE_DID"],
               CERTIFICATE_PRIVATE_KEY_FILE=app.config["CERTIFICATE_PRIVATE_KEY_FILE"])
    return subprocess.Popen([sys.executable, "worker.py", "certify"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _setup(app):
    with app.app_context():
        seed_vaccines()
        f = fx.facility("KA-0001", "PHC Jayanagar")
        admin = fx.user("facility_admin", f)
        fx.commit()
        return f.id, admin.id


def _post_file(client, kind_path: str, data: bytes, name: str = "upload.csv", **fields):
    return client.post(f"/facility/admin/{kind_path}/upload", data={"file": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data")


def _job_id(resp) -> int:
    assert resp.status_code == 302, resp.data[:2000]
    return int(re.search(r"/upload/(\d+)$", resp.headers["Location"]).group(1))


def _progress(app, job_id: int) -> uploads.Progress:
    with app.app_context():
        p = uploads.progress(db.session.get(UploadJob, job_id))
        db.session.remove()
    return p


def _count(app, model) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return n


def _run_until_done(app, client, job_id: int, timeout: float = 240) -> list[int]:
    """Start a real worker process, poll the status fragment like the page does, stop the worker."""
    seen = []
    worker = start_worker(app)
    try:
        deadline = time.monotonic() + timeout
        while True:
            fragment = client.get(f"/facility/admin/certificates/upload/{job_id}", headers={"HX-Request": "true"})
            assert fragment.status_code == 200 and b'id="upload-status"' in fragment.data
            assert b"<html" not in fragment.data  # the fragment, not the page
            p = _progress(app, job_id)
            seen.append(p.processed)
            if p.done:
                break
            assert worker.poll() is None, "the worker died"
            assert time.monotonic() < deadline, f"not finished: {p}"
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(10)
    return seen


def test_3000_row_upload_is_certified_by_workers_with_progress_and_an_error_csv(app, client):
    facility_id, admin_id = _setup(app)
    fx.sign_in(client, admin_id)
    rows = [fx.certificate_row(f"BULK-{i:05d}", dose=1 + i % 2) for i in range(3000)]
    for i, change in BAD_ROWS.items():
        rows[i].update(change)
    data = fx.csv_bytes("certificates", rows)

    job_id = _job_id(_post_file(client, "certificates", data, "march.csv"))
    page = client.get(f"/facility/admin/certificates/upload/{job_id}")
    assert page.status_code == 200 and b"march.csv" in page.data and b'hx-trigger="every 1s"' in page.data
    assert _progress(app, job_id).pending == 3000  # nothing is processed in the request

    seen = _run_until_done(app, client, job_id)

    assert seen == sorted(seen) and seen[-1] == 3000  # progress only moves forward
    p = _progress(app, job_id)
    assert (p.ok, p.duplicate, p.error, p.issued, p.signing) == (2995, 0, 5, 2995, 0)
    assert _count(app, Certificate) == 2995
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.pre_enrollment_code == "BULK-00001"))
        evidence = cert.credential["evidence"][0]
        assert evidence["facility"]["name"] == "PHC Jayanagar"  # filled in from the uploader's facility
        assert (evidence["dose"], evidence["vaccine"], cert.credential["credentialSubject"]["name"]) == \
            (2, "Covishield", "Asha Verma")
        assert db.session.get(UploadJob, job_id).finished_at is not None
        db.session.remove()

    final = client.get(f"/facility/admin/certificates/upload/{job_id}").data.decode()
    assert "every 1s" not in final and "Finished" in final
    assert ">2,995<" in final and "Download the error CSV" in final

    error_csv = client.get(f"/facility/admin/certificates/upload/{job_id}/errors.csv")
    assert error_csv.status_code == 200 and error_csv.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(error_csv.data.decode())))
    assert table[0][:3] == ["row", "reason", "preEnrollmentCode"]
    by_row = {int(r[0]): r for r in table[1:]}
    assert sorted(by_row) == [i + 2 for i in BAD_ROWS]  # spreadsheet rows: header is row 1
    assert by_row[9][1] == "recipientDOB: must be a date as YYYY-MM-DD"
    assert by_row[102][1].startswith("vaccinationName: unknown vaccine; known vaccines: ")
    assert by_row[1236][1] == "vaccinationDose: must be a whole number ≥ 1"
    assert by_row[2002][1] == "recipientName: is required"
    assert by_row[3001][1] == "facilityName: must be your facility, PHC Jayanagar (or left empty)"
    assert by_row[1236][2] == "BULK-01234"  # the row as uploaded follows, to fix and re-upload

    # The same file again: every good row is a duplicate, no second certificate.
    again = _job_id(_post_file(client, "certificates", data, "march.csv"))
    _run_until_done(app, client, again)
    p2 = _progress(app, again)
    assert (p2.ok, p2.duplicate, p2.error) == (0, 2995, 5)
    assert _count(app, Certificate) == 2995
    assert _count(app, CertifyRequest) == 2995


def test_an_upload_is_stored_whole_or_rejected_with_the_reason_next_to_the_file_field(app, client):
    _facility_id, admin_id = _setup(app)
    fx.sign_in(client, admin_id)
    missing = fx.csv_bytes("certificates", [fx.certificate_row("X-1")],
                           header=["preEnrollmentCode", "recipientName", "vaccinationDate"])
    resp = _post_file(client, "certificates", missing)
    assert resp.status_code == 400
    assert re.search(rb'<p class="field-error" id="file-error" role="alert">Columns missing from the header: '
                     rb'vaccinationDose, vaccinationName, vaccinatorName', resp.data)
    assert _post_file(client, "certificates", b"preEnrollmentCode\r\n").status_code == 400
    assert b"not UTF-8" in _post_file(client, "certificates", "é".encode("latin-1") + b"\r\n").data
    assert _post_file(client, "certificates", b"x", "photo.png").status_code == 400  # not a .csv
    assert _count(app, UploadJob) == 0 and _count(app, UploadRow) == 0


def test_the_template_is_divocs_certificates_csv_header(client, app):
    _facility_id, admin_id = _setup(app)
    fx.sign_in(client, admin_id)
    from tests.conftest import INTEROP

    resp = client.get("/facility/admin/certificates/template.csv")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    divoc = (INTEROP / "divoc" / "csv-templates" / "certificates.csv").read_text().strip()
    assert resp.data.decode().strip() == divoc
    for kind, path in (("enrollments", "enrolments"), ("facilities", "facilities"), ("vaccinators", "vaccinators")):
        assert uploads.template_csv(kind).strip() == \
            (INTEROP / "divoc" / "csv-templates" / f"{kind}.csv").read_text().strip(), path


def test_a_re_upload_while_the_first_is_still_signing_does_not_certify_twice(app, client, run_jobs):
    """Rows accepted by the first upload but not signed yet are duplicates in the second."""
    _facility_id, admin_id = _setup(app)
    fx.sign_in(client, admin_id)
    data = fx.csv_bytes("certificates", [fx.certificate_row(f"RACE-{i}") for i in range(40)])
    first = _job_id(_post_file(client, "certificates", data))
    second = _job_id(_post_file(client, "certificates", data))
    from facility import tasks

    with app.app_context():  # both files processed before any signing job runs
        for job_id in (first, second):
            tasks.process_upload.func(job_id, 1, 10_000)
            from core import jobs

            jobs.commit()
        db.session.remove()
    run_jobs()
    assert (_progress(app, first).ok, _progress(app, second).duplicate) == (40, 40)
    assert _count(app, Certificate) == 40


def test_a_chunk_run_twice_processes_its_rows_once(app, client):
    _facility_id, admin_id = _setup(app)
    fx.sign_in(client, admin_id)
    job_id = _job_id(_post_file(client, "certificates",
                                fx.csv_bytes("certificates", [fx.certificate_row(f"TWICE-{i}") for i in range(5)])))
    from core import jobs
    from facility import tasks

    with app.app_context():
        assert tasks.process_upload.func(job_id, 2, 6) == 5
        jobs.commit()
        assert tasks.process_upload.func(job_id, 2, 6) == 0
        jobs.commit()
        db.session.remove()
    assert _count(app, CertifyRequest) == 5


def test_a_stalled_upload_can_be_queued_again(app, client, run_jobs):
    _facility_id, admin_id = _setup(app)
    fx.sign_in(client, admin_id)
    job_id = _job_id(_post_file(client, "certificates", fx.csv_bytes("certificates", [fx.certificate_row("LOST-1")])))
    conn = app.extensions["redis"]
    conn.delete(*list(conn.scan_iter("rq:*")))  # Redis lost the queue
    run_jobs()
    assert _progress(app, job_id).pending == 1
    resp = client.post(f"/facility/admin/certificates/upload/{job_id}/resume")
    assert resp.status_code == 302
    run_jobs()
    assert _progress(app, job_id).issued == 1


def test_denied_batches_and_doses_beyond_the_total_are_bad_rows(app, client, run_jobs):
    _facility_id, admin_id = _setup(app)
    with app.app_context():
        from core.models import Vaccine

        db.session.scalar(select(Vaccine).where(Vaccine.name == "Covishield")).denied_batches = ["BAD42"]
        fx.commit()
    fx.sign_in(client, admin_id)
    rows = [fx.certificate_row("D-1", vaccinationBatch="BAD42"),
            fx.certificate_row("D-2", dose=3, vaccinationTotalDoses="2"),
            fx.certificate_row("D-3", vaccinationTotalDoses="")]  # the vaccine's doses are used
    job_id = _job_id(_post_file(client, "certificates", fx.csv_bytes("certificates", rows)))
    run_jobs()
    with app.app_context():
        reasons = dict(db.session.execute(select(UploadRow.row_number, UploadRow.reason)
                                          .where(UploadRow.job_id == job_id)).all())
        db.session.remove()
    assert reasons == {2: "vaccinationBatch: batch BAD42 of Covishield is denied",
                       3: "vaccinationDose: must not be more than vaccinationTotalDoses", 4: ""}
    assert _progress(app, job_id).issued == 1


# --- Pre-enrolment ---------------------------------------------------------------------------------

def _enrolment_setup(app):
    with app.app_context():
        f = fx.facility("KA-0002", "CHC Hebbal")
        other = fx.facility("KA-0003", "CHC Yelahanka")
        p = fx.program("COVID-19", min_age=18)
        fx.link(f, p)
        admin = fx.user("facility_admin", f)
        sysadmin = fx.user("system_admin")
        fx.commit()
        return p.id, f.id, other.id, admin.id, sysadmin.id


def test_pre_enrolment_creates_members_and_enrolments_with_codes_and_row_errors(app, client, run_jobs):
    program_id, facility_id, _other, admin_id, _sys = _enrolment_setup(app)
    fx.sign_in(client, admin_id)
    rows = [
        {"phone": "9876500001", "name": "Ravi Kumar", "dob": "1980-01-02", "gender": "Male", "email": "ravi@example.org",
         "addressLine1": "1 Lake Rd", "district": "Bengaluru Urban", "state": "Karnataka", "pincode": "560024",
         "identity": "did:in.gov.uidai.aadhaar:222233334444", "nationality": "Indian", "doseNumber": "1"},
        {"phone": "9876500001", "name": "Lata Kumar", "dob": "1982-05-06", "gender": "f"},
        {"phone": "12", "name": "Bad Phone", "dob": "1990-01-01"},
        {"phone": "9876500002", "name": "Young One", "dob": "2015-01-01"},  # under the program's minimum age
        {"phone": "9876500003", "name": "Elsewhere", "dob": "1970-01-01", "enrollmentScopeId": "KA-0003"},
        {"phone": "9876500004", "name": "Here", "dob": "1970-01-01", "enrollmentScopeId": "ka-0002"},
    ]
    data = fx.csv_bytes("enrollments", rows)
    resp = _post_file(client, "enrolments", data, program_id=str(program_id))
    job_id = _job_id(resp)
    run_jobs()
    with app.app_context():
        outcome = {r.row_number: (r.status, r.reason, r.result) for r in db.session.scalars(
            select(UploadRow).where(UploadRow.job_id == job_id))}
        enrolments = db.session.scalars(select(Enrolment).order_by(Enrolment.id)).all()
        assert [(e.member.name, e.program_id, e.facility_id) for e in enrolments] == [
            ("Ravi Kumar", program_id, facility_id), ("Lata Kumar", program_id, facility_id),
            ("Here", program_id, facility_id)]
        assert all(is_enrolment_code_wellformed(e.code) for e in enrolments)  # the portal's and desk's scheme
        ravi = enrolments[0].member
        assert (ravi.mobile, ravi.gender, ravi.birth_date.isoformat(), ravi.source, ravi.address["pincode"]) == \
            ("9876500001", "Male", "1980-01-02", "preenrolment", "560024")
        assert enrolments[1].member.gender == "Female"
        db.session.remove()
    assert outcome[2] == ("ok", "", enrolments[0].code)
    assert outcome[4] == ("error", "phone: must be a mobile number of 10 to 15 digits", "")
    assert outcome[5][0] == "error" and "age 1" in outcome[5][1] and "eligibility" in outcome[5][1]
    assert outcome[6] == ("error", "enrollmentScopeId: must be your facility's code, KA-0002 (or left empty)", "")

    again = _job_id(_post_file(client, "enrolments", data, program_id=str(program_id)))
    run_jobs()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 3
        statuses = [s for (s,) in db.session.execute(select(UploadRow.status).where(UploadRow.job_id == again)
                                                     .order_by(UploadRow.row_number))]
        db.session.remove()
    assert statuses == ["duplicate", "duplicate", "error", "error", "error", "duplicate"]
    page = client.get(f"/facility/admin/enrolments/upload/{again}")
    assert b"Already enrolled" in page.data and b"Finished" in page.data


def test_a_system_admin_pre_enrols_for_any_facility_by_its_code(app, client, run_jobs):
    program_id, _f, other_id, _admin, sys_id = _enrolment_setup(app)
    fx.sign_in(client, sys_id)
    page = client.get("/facility/admin/enrolments/upload")
    assert page.status_code == 200 and b"COVID-19" in page.data
    rows = [{"phone": "9876500009", "name": "Far Away", "dob": "1970-01-01", "enrollmentScopeId": "KA-0003"},
            {"phone": "9876500010", "name": "Nowhere", "dob": "1970-01-01", "enrollmentScopeId": "XX-9"}]
    job_id = _job_id(_post_file(client, "enrolments", fx.csv_bytes("enrollments", rows), program_id=str(program_id)))
    run_jobs()
    with app.app_context():
        enrolment = db.session.scalar(select(Enrolment))
        assert enrolment.facility_id == other_id
        reason = db.session.scalar(select(UploadRow.reason).where(UploadRow.job_id == job_id, UploadRow.row_number == 3))
        db.session.remove()
    assert reason == "enrollmentScopeId: no facility with code XX-9"


def test_pre_enrolment_needs_a_program_of_the_facility(app, client):
    _program_id, _f, _o, admin_id, _s = _enrolment_setup(app)
    with app.app_context():
        elsewhere = fx.program("Measles").id
        fx.commit()
    fx.sign_in(client, admin_id)
    resp = _post_file(client, "enrolments", fx.csv_bytes("enrollments", []), program_id=str(elsewhere))
    assert resp.status_code == 400 and b'id="program_id-error"' in resp.data


# --- Facilities ------------------------------------------------------------------------------------

FACILITY_ROWS = [
    {"facilityCode": "MH-101", "facilityName": "PHC Kothrud", "contact": "9822000101", "email": "kothrud@example.org",
     "operatingHourStart": "9", "operatingHourEnd": "17:30", "category": "GOVT", "type": "Fixed location",
     "status": "Active", "addressLine1": "Paud Rd", "district": "Pune", "state": "Maharashtra", "pincode": "411038",
     "geoLocationLat": "18.5074", "geoLocationLon": "73.8077", "websiteURL": "https://example.org/kothrud",
     "adminName": "Dr. Sunita Patil", "adminMobile": "9822000901"},
    {"facilityCode": "MH-102", "facilityName": "Ruby Hall", "category": "PRIVATE", "status": "Inactive",
     "district": "Pune", "state": "Maharashtra"},
    {"facilityCode": "", "facilityName": "No Code"},
    {"facilityCode": "MH-103", "facilityName": "Bad Hours", "operatingHourStart": "25:00", "category": "army"},
    {"facilityCode": "MH-104", "facilityName": "Taken Admin", "adminMobile": "9822000999"},
]


def test_facilities_upload_creates_facilities_and_their_admins(app, client, run_jobs):
    with app.app_context():
        p = fx.program("COVID-19")
        elsewhere = fx.facility("KA-1")
        fx.user("facility_staff", elsewhere, mobile="9822000999")
        program_admin = fx.user("program_admin", programs=[p])
        fx.commit()
        pa_id = program_admin.id
    fx.sign_in(client, pa_id)
    data = fx.csv_bytes("facilities", FACILITY_ROWS)
    job_id = _job_id(_post_file(client, "facilities", data))
    run_jobs()
    with app.app_context():
        rows = {r.row_number: (r.status, r.reason, r.result) for r in db.session.scalars(
            select(UploadRow).where(UploadRow.job_id == job_id))}
        kothrud = db.session.scalar(select(Facility).where(Facility.code == "MH-101"))
        assert (kothrud.name, kothrud.category, kothrud.contact_mobile, kothrud.district, kothrud.pincode,
                kothrud.address, kothrud.latitude) == ("PHC Kothrud", "government", "9822000101", "Pune", "411038",
                                                       {"addressLine1": "Paud Rd"}, 18.5074)
        profile = db.session.get(FacilityProfile, kothrud.id)
        assert (profile.facility_type, str(profile.operating_start), str(profile.operating_end)) == \
            ("Fixed location", "09:00:00", "17:30:00")
        admin = db.session.scalar(select(User).where(User.mobile == "9822000901"))
        assert (admin.name, admin.roles, admin.facility_id) == ("Dr. Sunita Patil", "facility_admin", kothrud.id)
        ruby = db.session.scalar(select(Facility).where(Facility.code == "MH-102"))
        assert (ruby.category, ruby.active) == ("private", False)
        assert db.session.scalar(select(Facility).where(Facility.code == "MH-104")) is None  # row rolled back
        db.session.remove()
    assert rows[2] == ("ok", "created", "MH-101")
    assert rows[4] == ("error", "facilityCode: is required", "")
    assert rows[5] == ("error", "operatingHourStart: must be a time such as 09:00; category: must be GOVT or PRIVATE", "")
    assert rows[6] == ("error", "adminMobile: 9822000999 is already staff of another facility", "")

    again = _job_id(_post_file(client, "facilities", data))
    run_jobs()
    with app.app_context():
        statuses = [s for (s,) in db.session.execute(select(UploadRow.status).where(UploadRow.job_id == again)
                                                     .order_by(UploadRow.row_number))]
        db.session.remove()
    assert statuses == ["duplicate", "duplicate", "error", "error", "error"]
    errors = client.get(f"/facility/admin/facilities/upload/{again}/errors.csv").data.decode()
    assert errors.splitlines()[1].startswith("4,facilityCode: is required,,No Code")


def test_a_program_admin_sees_only_their_own_facility_uploads(app, client):
    with app.app_context():
        a, b = fx.user("program_admin"), fx.user("program_admin")
        fx.commit()
        a_id, b_id = a.id, b.id
    fx.sign_in(client, a_id)
    job_id = _job_id(_post_file(client, "facilities", fx.csv_bytes("facilities", FACILITY_ROWS[:1])))
    fx.sign_in(client, b_id)
    assert client.get(f"/facility/admin/facilities/upload/{job_id}").status_code == 404
    assert client.get(f"/facility/admin/facilities/upload/{job_id}/errors.csv").status_code == 404
    assert b"upload.csv" not in client.get("/facility/admin/facilities/upload").data


# --- Vaccinators -----------------------------------------------------------------------------------

def test_vaccinators_csv_adds_and_updates_vaccinators_at_their_facilities(app, client, run_jobs):
    from facility.models import Vaccinator

    with app.app_context():
        home, away = fx.facility("KA-1", "PHC Jayanagar"), fx.facility("KA-2", "PHC Hebbal")
        admin, root = fx.user("facility_admin", home), fx.user("system_admin")
        fx.commit()
        ids = {"home": home.id, "away": away.id, "admin": admin.id, "root": root.id}
    rows = [{"code": "KMC-1", "name": "Dr. Meera Rao", "mobileNumber": "9811100001", "status": "Active",
             "facilityIds": "KA-1, KA-2"},
            {"code": "KMC-2", "name": "Dr. Ali", "email": "ali@example.org", "status": "Inactive", "facilityIds": "KA-2"},
            {"code": "KMC-3", "name": "Nowhere", "facilityIds": "XX-1"},
            {"code": "", "name": "No code", "facilityIds": "KA-1"}]
    fx.sign_in(client, ids["root"])
    job_id = _job_id(_post_file(client, "vaccinators", fx.csv_bytes("vaccinators", rows)))
    run_jobs()
    with app.app_context():
        got = sorted((v.facility_id, v.licence_number, v.name, v.active) for v in db.session.scalars(select(Vaccinator)))
        outcome = {r.row_number: (r.status, r.reason, r.result) for r in db.session.scalars(
            select(UploadRow).where(UploadRow.job_id == job_id))}
        db.session.remove()
    assert got == [(ids["home"], "KMC-1", "Dr. Meera Rao", True), (ids["away"], "KMC-1", "Dr. Meera Rao", True),
                   (ids["away"], "KMC-2", "Dr. Ali", False)]
    assert outcome[2] == ("ok", "created", "KA-1 KA-2")
    assert outcome[4] == ("error", "facilityIds: no facility with code XX-1", "")
    assert outcome[5] == ("error", "code: is required", "")

    fx.sign_in(client, ids["admin"])  # a facility administrator's file is for their own facility
    mine = [{"code": "kmc-1", "name": "Dr. Meera Rao K", "status": "Active"},
            {"code": "KMC-9", "name": "Elsewhere", "facilityIds": "KA-2"}]
    job_id = _job_id(_post_file(client, "vaccinators", fx.csv_bytes("vaccinators", mine)))
    run_jobs()
    with app.app_context():
        names = {(v.facility_id, v.name) for v in db.session.scalars(select(Vaccinator))}
        reason = db.session.scalar(select(UploadRow.reason).where(UploadRow.job_id == job_id, UploadRow.row_number == 3))
        db.session.remove()
    assert (ids["home"], "Dr. Meera Rao K") in names and (ids["away"], "Dr. Meera Rao") in names
    assert reason == "facilityIds: must be your facility's code, KA-1 (or left empty)"
    page = client.get("/facility/admin/vaccinators").data
    assert b"Dr. Meera Rao K" in page and b"Upload a CSV of vaccinators" in page
