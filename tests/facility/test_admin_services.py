"""Admin services called directly: scope, validation rules and what each one stores."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from certify import config_store
from core.errors import Forbidden, NotFound, ValidationError
from core.extensions import db
from core.models import FacilityProgram, OutboxMessage, User, Vaccine
from facility import admin_services as svc
from facility import analytics, uploads
from tests.factories import certify_item, seed_vaccines
from tests.factories import facility_admin as fx


@pytest.fixture
def ctx(app):
    """A request context: the services' messages are translated for the request's language."""
    with app.test_request_context():
        yield
        db.session.remove()


def field_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.fields[0].path


def test_own_facility_and_managed_programs(ctx):
    f = fx.facility()
    a, b = fx.program("A"), fx.program("B")
    admin = fx.user("facility_admin", f)
    lost = fx.user("facility_admin")
    controller = fx.user("program_admin", programs=[b])
    root = fx.user("system_admin")
    assert svc.own_facility(admin).id == f.id
    with pytest.raises(Forbidden):
        svc.own_facility(lost)
    assert [p.name for p in svc.managed_programs(controller)] == ["B"]
    assert [p.name for p in svc.managed_programs(root)] == ["A", "B"]
    with pytest.raises(NotFound):
        svc.managed_program(controller, a.id)


def test_vaccinator_licences_are_unique_per_facility_only(ctx):
    home, away = fx.facility(), fx.facility()
    p = fx.program()
    v = svc.save_vaccinator(home.id, svc.VaccinatorData(name="Rao", licence_number="KMC-1", mobile="98111 00002",
                                                        program_ids=[p.id]))
    assert (v.mobile, v.program_ids, v.training_certificate) == ("9811100002", [p.id], "")
    svc.save_vaccinator(away.id, svc.VaccinatorData(name="Other", licence_number="kmc-1"))
    with pytest.raises(ValidationError) as exc:
        svc.save_vaccinator(home.id, svc.VaccinatorData(name="Dup", licence_number="kmc-1"))
    assert field_of(exc) == "licence_number"
    with pytest.raises(ValidationError) as exc:
        svc.save_vaccinator(home.id, svc.VaccinatorData(name="X", licence_number="L2", program_ids=[999]))
    assert field_of(exc) == "program_ids"
    kept = svc.save_vaccinator(home.id, svc.VaccinatorData(name="Rao", licence_number="KMC-1",
                                                           training_certificate="TRN-9"), v.id)
    again = svc.save_vaccinator(home.id, svc.VaccinatorData(name="Rao", licence_number="KMC-1"), v.id)
    assert kept.training_certificate == again.training_certificate == "TRN-9"  # None keeps it
    with pytest.raises(NotFound):
        svc.set_vaccinator_active(away.id, v.id, False)


def test_staff_keep_roles_from_outside_the_facility(ctx):
    f = fx.facility()
    admin = fx.user("facility_admin", f)
    citizen = fx.user("", mobile="9811100010")
    boss = fx.user("program_admin", mobile="9811100011")
    made = svc.save_staff(f.id, admin, mobile="9811100010", name="Kavya", employee_id="E1",
                          roles=["vaccinator"], active=True)
    assert made.id == citizen.id and (made.roles, made.facility_id) == ("vaccinator", f.id)
    both = svc.save_staff(f.id, admin, mobile="9811100011", name="Boss", employee_id="",
                          roles=["facility_staff"], active=True)
    assert both.id == boss.id and both.roles == "program_admin facility_staff"
    changed = svc.save_staff(f.id, admin, mobile="9811100011", name="Boss", employee_id="",
                             roles=["certificate_printer"], active=True, user_id=boss.id)
    assert changed.roles == "program_admin certificate_printer"
    with pytest.raises(ValidationError) as exc:
        svc.save_staff(f.id, admin, mobile="9811100011", name="x", employee_id="", roles=["vaccinator"],
                       active=True, user_id=citizen.id)
    assert field_of(exc) == "mobile"
    with pytest.raises(ValidationError) as exc:
        svc.save_staff(f.id, admin, mobile=admin.mobile, name="Me", employee_id="", roles=["facility_staff"],
                       active=True, user_id=admin.id)
    assert field_of(exc) == "roles"


def test_slot_configuration_rules(ctx):
    f, p = fx.facility(), fx.program()
    fx.link(f, p)
    t = dt.time
    common = dict(appointment_start=t(9), appointment_end=t(10), slot_minutes=30, slot_capacity=5,
                  walkin_days=[1, 3], walkin_start=t(11), walkin_end=t(12))
    row = svc.save_slot_config(f.id, p.id, **common).config
    assert (row.walkin_days, row.slot_minutes) == ([1, 3], 30)
    for change, field in (({"slot_minutes": 90}, "slot_minutes"), ({"walkin_days": [7]}, "walkin_days"),
                          ({"walkin_start": None, "walkin_end": None}, "walkin_start"),
                          ({"appointment_end": t(9)}, "appointment_end")):
        with pytest.raises(ValidationError) as exc:
            svc.save_slot_config(f.id, p.id, **{**common, **change})
        assert field_of(exc) == field
    assert svc.save_slot_config(f.id, p.id, **{**common, "walkin_days": [], "walkin_start": None,
                                               "walkin_end": None}).config.walkin_days == []
    with pytest.raises(NotFound):
        svc.save_slot_config(f.id, fx.program().id, **common)


def test_program_facilities_filters_and_bulk_changes(ctx):
    p = fx.program("COVID-19")
    ka1 = fx.facility(state="Karnataka", district="Mysuru", category="private", contact_mobile="9811100020")
    ka2 = fx.facility(state="Karnataka", district="Bengaluru Urban")
    mh = fx.facility(state="Maharashtra", district="Pune")
    fx.link(ka2, p, active=False)
    assert {r.facility.id for r in svc.program_facilities(p, state="Karnataka")} == {ka1.id, ka2.id}
    assert [r.facility.id for r in svc.program_facilities(p, category="private")] == [ka1.id]
    assert {r.facility.id for r in svc.program_facilities(p, status="inactive")} == {ka1.id, ka2.id, mh.id}
    assert svc.set_facilities_active(p, [ka1.id, ka2.id], True) == 2
    assert svc.set_facilities_active(p, [ka1.id, ka2.id], True) == 0
    assert svc.set_facilities_active(p, [mh.id], False) == 0  # not in the program: nothing to deactivate
    assert {r.facility.id for r in svc.program_facilities(p, status="active")} == {ka1.id, ka2.id}
    assert svc.set_daily_rate(p, [ka1.id, mh.id], 40) == (1, 1)
    with pytest.raises(ValidationError):
        svc.set_daily_rate(p, [ka1.id], None)
    assert svc.notify_facilities(p, [ka1.id, ka2.id], " Stock ", "Arrives Monday") == (1, 1)
    message = db.session.scalar(select(OutboxMessage))
    assert (message.to, message.event, message.body) == ("9811100020", "facility_notice",
                                                         "COVID-19: Stock\nArrives Monday")
    with pytest.raises(ValidationError) as exc:
        svc.notify_facilities(p, [], "S", "M")
    assert field_of(exc) == "facility_ids"
    states, districts = svc.region_options()
    assert states == ["Karnataka", "Maharashtra"] and ("Maharashtra", "Pune") in districts
    assert db.session.scalar(select(FacilityProgram.daily_rate).where(FacilityProgram.facility_id == ka1.id)) == 40


def test_saving_a_program_moves_its_vaccines(ctx):
    seed_vaccines()
    covaxin = db.session.scalar(select(Vaccine).where(Vaccine.name == "Covaxin"))
    first = svc.save_program(svc.ProgramData(name="First", vaccine_ids=[covaxin.id]))
    second = svc.save_program(svc.ProgramData(name="Second", vaccine_ids=[covaxin.id], min_age=18, max_age=45,
                                              comorbidities=["Diabetes"], comorbidity_required=True))
    assert covaxin.program_id == second.id
    assert svc.program_vaccines().get(first.id) is None
    with pytest.raises(ValidationError) as exc:
        svc.save_program(svc.ProgramData(name="first"))
    assert field_of(exc) == "name"
    with pytest.raises(ValidationError) as exc:
        svc.save_program(svc.ProgramData(name="Third", comorbidity_required=True))
    assert field_of(exc) == "comorbidities"


def test_the_vaccine_mapping_lands_in_map_icd11_and_renames_follow(ctx):
    seed_vaccines()
    v = svc.save_vaccine(svc.VaccineData(name="Cervavac", icd11_code="xm4bj0", icd11_term="HPV vaccine"), "user:1")
    doc = config_store.json_document("map:icd11")
    assert doc["Cervavac"] == {"code": "XM4BJ0", "term": "HPV vaccine"}
    assert doc["Covishield"]["code"] == "XM9QW8"  # the rest of the map is kept
    assert svc.publish_icd11_entry(v, "Cervavac", "user:1") is False  # unchanged: no new version
    svc.save_vaccine(svc.VaccineData(name="Cervavac HPV", icd11_code="XM4BJ0", icd11_term="HPV vaccine"),
                     "user:1", v.id)
    doc = config_store.json_document("map:icd11")
    assert "Cervavac" not in doc and doc["Cervavac HPV"]["code"] == "XM4BJ0"
    assert [r.version for r in config_store.history("map:icd11")] == [2, 1]
    assert svc.effective_icd11(v) == ("XM4BJ0", "HPV vaccine")
    covishield = db.session.scalar(select(Vaccine).where(Vaccine.name == "Covishield"))
    config_store.publish("map:icd11", json.dumps({**doc, "Covishield": {"code": "XM6QV1", "term": "edited"}}), "cli")
    assert svc.effective_icd11(covishield) == ("XM6QV1", "edited")  # what the form shows
    with pytest.raises(ValidationError) as exc:
        svc.save_vaccine(svc.VaccineData(name="covishield", icd11_code="XM9QW8", icd11_term="x"), "user:1")
    assert field_of(exc) == "name"


def test_users_get_roles_facilities_and_programs(ctx):
    f, p = fx.facility(), fx.program()
    root = fx.user("system_admin")
    u = svc.save_user(root, mobile="9811100030", name="Priya", roles=["program_admin", "vaccinator"],
                      facility_id=f.id, program_ids=[p.id], employee_id="", active=True)
    assert (u.roles, u.facility_id, svc.user_program_ids(u.id)) == ("program_admin vaccinator", f.id, [p.id])
    u = svc.save_user(root, mobile="9811100030", name="Priya", roles=["facility_staff"], facility_id=f.id,
                      program_ids=[p.id], employee_id="", active=True, user_id=u.id)
    assert svc.user_program_ids(u.id) == []  # no longer a program admin
    assert [x.id for x in svc.list_users("facility_staff")] == [u.id]
    for kwargs, field in (({"roles": ["vaccinator"], "facility_id": None}, "facility_id"),
                          ({"roles": ["program_admin"], "program_ids": []}, "program_ids"),
                          ({"roles": ["root"]}, "roles"), ({"mobile": "12"}, "mobile")):
        base = dict(mobile="9811100031", name="X", roles=["system_admin"], facility_id=None, program_ids=[],
                    employee_id="", active=True)
        with pytest.raises(ValidationError) as exc:
            svc.save_user(root, **{**base, **kwargs})
        assert field_of(exc) == field
    assert db.session.scalar(select(User).where(User.mobile == "9811100031")) is None


def test_csv_parsing_maps_divocs_columns(ctx):
    columns, rows = uploads.parse_csv("certificates", b"\xef\xbb\xbfPREENROLLMENTCODE,recipientname,vaccinationDate,"
                                                     b"vaccinationDose,vaccinationName,vaccinatorName,extra\r\n"
                                                     b"\r\nA-1,Asha,2021-10-17,1,Covishield,Rao,x,surplus\r\n")
    assert columns[:2] == ["preEnrollmentCode", "recipientName"] and columns[-1] == "extra"
    assert rows == [(3, {"preEnrollmentCode": "A-1", "recipientName": "Asha", "vaccinationDate": "2021-10-17",
                         "vaccinationDose": "1", "vaccinationName": "Covishield", "vaccinatorName": "Rao",
                         "extra": "x", "__extra__": "1"})]
    with pytest.raises(ValidationError) as exc:
        uploads.parse_csv("certificates", b"preEnrollmentCode,preEnrollmentCode,recipientName,vaccinationDate,"
                                          b"vaccinationDose,vaccinationName,vaccinatorName\r\n1,1,a,b,c,d,e\r\n")
    assert "twice" in exc.value.message


def test_a_certificates_row_becomes_a_certify_request_item(ctx):
    seed_vaccines()
    f = fx.facility("KA-9", "PHC Hebbal", district="Bengaluru Urban")
    from certify.services import known_vaccines

    vaccines = known_vaccines()
    item, problems = uploads.certify_item(fx.certificate_row("X-1", vaccinationTotalDoses="",
                                                             vaccinationManufacturer=""), f, vaccines)
    assert problems == []
    assert item["recipient"]["contact"] == ["tel:9812345678"]
    assert item["recipient"]["address"]["pincode"] == "560001"
    assert item["vaccination"]["totalDoses"] == 2 and item["vaccination"]["dose"] == 1
    assert item["vaccination"]["manufacturer"] == "Serum Institute Of India"
    assert item["vaccination"]["effectiveUntil"] == "2022-10-17"
    assert item["facility"] == {"name": "PHC Hebbal", "address": {"district": "Bengaluru Urban", "state": "Karnataka"}}
    assert uploads.check_certify_item(item, vaccines, dt.date.today()) == []
    item["recipient"].pop("dob")
    assert uploads.check_certify_item(item, vaccines, dt.date.today()) == ["recipientDOB: dob or age is required"]


def test_analytics_scope_and_bands(ctx, app, run_jobs):
    seed_vaccines()
    items = [certify_item(f"S-{i}", recipient={"dob": dob, "gender": g}, facility={"name": name})
             for i, (dob, g, name) in enumerate([("2010-01-01", "Female", "A"), ("1990-01-01", "Male", "A"),
                                                 ("1970-01-01", "Female", "B"), ("1940-01-01", "Female", "B")])]
    db.session.remove()
    fx.issue(app, run_jobs, items)
    tz = app.config["CERTIFICATE_TIMEZONE"]
    today = dt.datetime.now(ZoneInfo(tz)).date()  # certificates count on their day in this zone
    assert analytics.refresh(tz) == 4
    assert analytics.refresh(tz) == 0  # counted once
    everyone = analytics.Scope()
    assert analytics.by_age_band(everyone, today, today, tz).rows == [("0–17", 1), ("18–44", 1), ("45–59", 1),
                                                                       ("60+", 1)]
    assert analytics.by_gender(everyone, today, today, tz).rows == [("Female", 3), ("Male", 1)]
    f = fx.facility(name="B")
    assert analytics.per_day(analytics.Scope(facility=f), today - dt.timedelta(days=2), today, tz).rows[-1] == \
        (today.isoformat(), 2)
    assert analytics.per_day(everyone, today - dt.timedelta(days=2), today, tz).total == 4
    assert analytics.by_program(analytics.Scope(program_ids=[12345]), today, today, tz).rows == []


def test_a_certificate_committed_late_is_still_counted_once(ctx, app, run_jobs):
    """A signing transaction may commit after a later one: the fold looks back LATE before its
    newest fact (and no further: one committed hours late would be missed)."""
    from certify.models import Certificate

    seed_vaccines()
    db.session.remove()
    fx.issue(app, run_jobs, [certify_item("LATE-1")])
    tz = app.config["CERTIFICATE_TIMEZONE"]
    original = db.session.scalar(select(Certificate))

    def clone(pk: int, ago: dt.timedelta) -> None:
        db.session.add(Certificate(
            id=pk, certificate_id=f"C{pk}", pre_enrollment_code=f"LATE-{pk}", dose=1, total_doses=2,
            kind="vaccination", event_key="1", name="x", vaccine="Covishield", credential=original.credential,
            status="valid", issued_at=original.issued_at - ago))
        db.session.flush()

    clone(100, dt.timedelta(0))
    assert analytics.refresh(tz) == 2
    clone(50, dt.timedelta(minutes=1))  # committed after 100, issued just before it
    clone(40, dt.timedelta(hours=2))
    assert analytics.refresh(tz) == 1
    assert analytics.refresh(tz) == 0
    from facility.models import AnalyticsDaily, CertificateFact

    assert sorted(db.session.scalars(select(CertificateFact.certificate_pk))) == [1, 50, 100]
    assert db.session.scalar(select(func.sum(AnalyticsDaily.n)).where(AnalyticsDaily.dimension == "total")) == 3


def test_month_roll_ups_add_up_to_the_days(ctx, app, run_jobs):
    """Facility and district charts over long ranges read whole months from the monthly
    roll-up and the partial months from the daily one: the sums must match the facts."""
    from certify.models import Certificate
    from facility.models import CertificateFact

    seed_vaccines()
    db.session.remove()
    fx.issue(app, run_jobs, [certify_item("M-1", facility={"name": "PHC A"})])
    tz = app.config["CERTIFICATE_TIMEZONE"]
    original = db.session.scalar(select(Certificate))
    base = dt.datetime(2026, 1, 20, 6, 0, tzinfo=dt.timezone.utc)
    for i in range(60):  # 20 Jan .. 18 Apr, two facilities
        credential = json.loads(json.dumps(original.credential))
        credential["evidence"][0]["facility"]["name"] = "PHC A" if i % 3 else "PHC B"
        db.session.add(Certificate(
            certificate_id=f"M{i}", pre_enrollment_code=f"M-{i + 2}", dose=1, total_doses=2, kind="vaccination",
            event_key="1", name="x", vaccine="Covishield", credential=credential, status="valid",
            issued_at=base + dt.timedelta(days=(i * 3) % 88)))
    db.session.flush()
    while analytics.refresh(tz):
        pass
    everyone = analytics.Scope()
    for start, end in ((dt.date(2026, 1, 25), dt.date(2026, 4, 10)), (dt.date(2026, 2, 1), dt.date(2026, 3, 31)),
                       (dt.date(2026, 1, 1), dt.date(2026, 12, 31)), (dt.date(2026, 2, 3), dt.date(2026, 2, 20))):
        expected = dict(db.session.execute(
            select(CertificateFact.facility_name, func.count()).where(CertificateFact.day.between(start, end))
            .group_by(CertificateFact.facility_name)).all())
        assert dict(analytics.by_facility(everyone, start, end, tz).rows) == expected, (start, end)
        assert analytics.per_day(everyone, start, end, tz).total == sum(expected.values())
