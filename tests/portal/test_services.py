"""Portal services against the real database: members, eligibility, enrolment codes,
certificates by owner, side-effect reports and the facility to visit."""
from __future__ import annotations

import datetime as dt
import secrets

import pytest
from sqlalchemy import func, select

from certify import lifecycle
from certify.models import CertifyRequest
from core import jobs
from core.errors import NotFound, ValidationError
from core.extensions import db
from core.models import (
    Appointment,
    Enrolment,
    Member,
    OutboxMessage,
    SideEffectReport,
    Slot,
)
from portal import services
from tests.factories import portal as f

TODAY = dt.date(2026, 6, 15)
A, B = "9876500001", "9876500002"


def details(**kw) -> services.MemberDetails:
    values = dict(name="Ravi Kumar", gender="Male", birth_year=1980, birth_date=None, id_type="aadhaar",
                  id_number="111122223333", address_line="12 Temple Street", district="Demo District",
                  state="Demo State", pincode="560001", contact=A, email="")
    return services.MemberDetails(**(values | kw))


def book(enrolment: Enrolment, facility, status: str = "booked", dose: int = 1) -> Appointment:
    slot = Slot(facility_id=facility.id, program_id=enrolment.program_id, day=TODAY,
                start_time=dt.time(9), end_time=dt.time(10), capacity=10, booked=1)
    db.session.add(slot)
    db.session.flush()
    appointment = Appointment(enrolment_id=enrolment.id, slot_id=slot.id, dose=dose, status=status)
    db.session.add(appointment)
    db.session.flush()
    return appointment


# --- members ---------------------------------------------------------------------------------

def test_a_fifth_member_is_refused_and_the_limit_is_configurable(app, ctx):
    f.citizen(A)
    for i in range(4):
        services.add_member(A, details(name=f"Person {i}"))
    with pytest.raises(services.MemberLimitReached, match="at most 4 members"):
        services.add_member(A, details(name="Person 5"))
    services.add_member(B, details(name="Someone else", contact=B))  # per number, not global

    app.config["MEMBERS_PER_MOBILE"] = 6  # CoWIN later raised it
    try:
        services.add_member(A, details(name="Person 5"))
    finally:
        app.config["MEMBERS_PER_MOBILE"] = 4
    assert services.member_count(A) == 5


def test_member_details_are_stored_as_typed(ctx):
    f.citizen(A)
    member = services.add_member(A, details(birth_date=dt.date(1980, 3, 9), email="ravi@example.com"))
    jobs.commit()
    stored = db.session.get(Member, member.id)
    assert (stored.mobile, stored.source, stored.birth_year, stored.birth_date) == (A, "portal", 1980, dt.date(1980, 3, 9))
    assert stored.address == {"addressLine1": "12 Temple Street", "district": "Demo District",
                              "state": "Demo State", "pincode": "560001", "country": "IN"}
    assert services.MemberDetails.of(stored) == details(birth_date=dt.date(1980, 3, 9), email="ravi@example.com")


def test_get_member_is_scoped_to_the_number(ctx):
    member = f.member(A)
    assert services.get_member(A, member.id) is member
    with pytest.raises(NotFound):
        services.get_member(B, member.id)


def test_a_vaccinated_member_can_be_neither_edited_nor_removed(ctx):
    program = f.program()
    member = f.member(A, "Asha")
    enrolment = f.enrolment(member, program)
    jobs.commit()
    assert services.edit_blocker(member) is None
    f.certificate(enrolment.code)
    assert services.is_vaccinated(member)
    with pytest.raises(services.MemberLocked, match="no longer be changed"):
        services.update_member(member, details(name="Changed"))
    with pytest.raises(services.MemberLocked, match="vaccination certificate"):
        services.remove_member(member)


def test_a_revoked_certificate_does_not_count_as_vaccinated(ctx):
    member = f.member(A)
    enrolment = f.enrolment(member, f.program())
    jobs.commit()
    f.certificate(enrolment.code)
    lifecycle.revoke_doses(enrolment.code, [1], False, "entered for the wrong person", "tests")
    jobs.commit()
    assert not services.is_vaccinated(member)
    services.update_member(member, details(name="Corrected"))


def test_a_member_with_a_booked_appointment_cannot_be_removed(ctx):
    member = f.member(A)
    enrolment = f.enrolment(member, f.program())
    appointment = book(enrolment, f.facility())
    with pytest.raises(services.MemberLocked, match="booked appointment"):
        services.remove_member(member)
    appointment.status = "cancelled"
    services.remove_member(member)
    jobs.commit()
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 0  # enrolments go with it


# --- eligibility and enrolment ------------------------------------------------------------------

def test_age_is_whole_years_or_the_age_reached_this_year():
    assert services.age_in_years(TODAY, 1966) == 60
    assert services.age_in_years(TODAY, 1966, dt.date(1966, 6, 16)) == 59
    assert services.age_in_years(TODAY, 1966, dt.date(1966, 6, 15)) == 60


@pytest.mark.parametrize(("rules", "answers", "reason"), [
    ({"min_age": 60}, {"birth_year": 1990}, "aged 60 or older. Someone born in 1990 is 36 this year"),
    ({"max_age": 17}, {"birth_year": 1990}, "aged up to 17"),
    ({"comorbidity_required": True}, {"birth_year": 1990}, "only for people with one of these conditions: Diabetes"),
    ({"end_date": TODAY - dt.timedelta(days=1)}, {"birth_year": 1990}, "is closed"),
    ({"start_date": TODAY + dt.timedelta(days=1)}, {"birth_year": 1990}, "is closed"),
    ({"active": False}, {"birth_year": 1990}, "is closed"),
    ({}, {"birth_year": 1990, "comorbidities": ["Asthma"]}, "Asthma is not on the list"),
])
def test_ineligible_answers_get_a_reason(ctx, rules, answers, reason):
    program = f.program("Booster", **rules)
    verdict = services.check_eligibility(program, today=TODAY, **answers)
    assert not verdict.eligible and reason in verdict.reason


def test_eligible_answers(ctx):
    program = f.program("Seniors", min_age=60, max_age=120, comorbidity_required=True)
    assert services.check_eligibility(program, birth_year=1960, comorbidities=["Diabetes"], today=TODAY).eligible
    # a date of birth is exact: born 16 June 1966 is 59 on 15 June 2026
    assert not services.check_eligibility(program, birth_year=1966, birth_date=dt.date(1966, 6, 16),
                                          comorbidities=["Diabetes"], today=TODAY).eligible


def test_enrol_gives_a_code_and_checks_the_answers(ctx):
    program = f.program("COVID-19", min_age=18)
    member = f.member(A, birth_year=None)
    enrolment = services.enrol(member, program, birth_year=1999, comorbidities=["Diabetes"], today=TODAY)
    jobs.commit()
    assert services.is_enrolment_code_wellformed(enrolment.code)
    assert (member.birth_year, enrolment.comorbidities, enrolment.member_id) == (1999, ["Diabetes"], member.id)
    with pytest.raises(services.AlreadyEnrolled, match=enrolment.code):
        services.enrol(member, program, birth_year=1999, today=TODAY)


def test_enrol_refuses_a_year_that_differs_from_the_member(ctx):
    member = f.member(A, "Asha", birth_year=1985)
    with pytest.raises(ValidationError, match=r"saved for Asha \(1985\)") as caught:
        services.enrol(member, f.program(), birth_year=1995, today=TODAY)
    assert caught.value.fields[0].path == "birth_year"


def test_enrol_refuses_the_ineligible(ctx):
    member = f.member(A, birth_year=2015)
    with pytest.raises(services.NotEligible, match="aged 18 or older"):
        services.enrol(member, f.program(min_age=18), birth_year=2015, today=TODAY)
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 0


def test_enrolment_codes_have_a_check_digit():
    code = "10000000009"
    code += services._luhn_digit(code)
    assert services.is_enrolment_code_wellformed(code)
    assert services.is_enrolment_code_wellformed(code[:4] + " " + code[4:8] + " " + code[8:])
    for i in range(11):  # any single mistyped digit
        wrong = code[:i] + str((int(code[i]) + 3) % 10) + code[i + 1:]
        assert not services.is_enrolment_code_wellformed(wrong)
    swapped = code[:3] + code[4] + code[3] + code[5:]  # neighbours swapped
    assert swapped == code or not services.is_enrolment_code_wellformed(swapped)


def test_a_new_code_never_reuses_a_source_systems_code(ctx, monkeypatch):
    """Source systems bring their own preEnrollmentCodes; a code with certificates is skipped."""
    first, second = 12345678901 - 10**10, 23456789012 - 10**10
    taken = "12345678901" + services._luhn_digit("12345678901")
    f.certificate(taken)
    draws = iter([first, second])
    monkeypatch.setattr(secrets, "randbelow", lambda _n: next(draws))  # only where the dice fall
    code = services.new_enrolment_code()
    assert code == "23456789012" + services._luhn_digit("23456789012")


def test_a_batch_of_codes_skips_every_code_in_use(ctx, monkeypatch):
    """Pre-enrolment uploads draw many codes at once: none is an enrolment's, a certificate's or a
    certify request's code, none repeats, and all carry the check digit."""
    def code(n: int) -> str:
        body = str(10**10 + n)
        return body + services._luhn_digit(body)

    program = f.program("COVID-19")
    db.session.add(Enrolment(code=code(1), member_id=f.member(A, "Asha").id, program_id=program.id))
    f.certificate(code(2))
    db.session.add(CertifyRequest(pre_enrollment_code=code(3), dose=1, event_key="e", payload={}))
    db.session.flush()
    draws = iter([1, 2, 3, 4, 4, 5, 6])  # three taken, then a repeat within the batch
    monkeypatch.setattr(secrets, "randbelow", lambda _n: next(draws))
    assert services.new_enrolment_codes(3) == [code(4), code(5), code(6)]
    monkeypatch.undo()
    many = services.new_enrolment_codes(500)
    assert len(set(many)) == 500 and all(services.is_enrolment_code_wellformed(c) for c in many)


# --- the dashboard and downloads ----------------------------------------------------------------

def test_member_cards_show_the_latest_certificate_first(ctx):
    program = f.program("COVID-19")
    member = f.member(A, "Asha")
    other = f.member(A, "Ravi")
    enrolment = f.enrolment(member, program)
    f.enrolment(other, program)
    jobs.commit()
    f.certificate(enrolment.code, dose=1)
    f.certificate(enrolment.code, dose=2)
    f.member(B, "Not mine")

    cards = services.member_cards(A, TODAY)
    assert [c.member.name for c in cards] == ["Asha", "Ravi"]
    asha, ravi = cards
    assert asha.vaccinated and not asha.can_edit and not asha.can_remove
    row = asha.enrolments[0]
    assert row.latest.dose == 2 and [o.dose for o in row.older] == [1]
    assert (row.latest.date, row.latest.facility, row.latest.total_doses) == ("2021-10-17", "MOH Gothatuwa", 2)
    assert not ravi.vaccinated and ravi.can_edit and ravi.can_remove and ravi.enrolments[0].latest is None
    assert not asha.registrable  # the one open program is taken


def test_a_pending_certify_request_shows_as_being_issued(ctx):
    from certify import services as certify_services
    from tests.factories import certify_item, seed_vaccines

    seed_vaccines()
    member = f.member(A)
    enrolment = f.enrolment(member, f.program())
    certify_services.accept_certify_batch([certify_item(code=enrolment.code)], "tests")
    db.session.flush()
    card = services.member_card(A, member.id, TODAY)
    assert card.pending and card.enrolments[0].latest is None


def test_owned_certificate_needs_the_owner_and_a_live_certificate(ctx):
    member = f.member(A)
    enrolment = f.enrolment(member, f.program())
    jobs.commit()
    cert = f.certificate(enrolment.code)
    assert services.owned_certificate(A, member.id, cert.certificate_id).id == cert.id
    with pytest.raises(NotFound):
        services.owned_certificate(B, member.id, cert.certificate_id)
    stranger = f.member(B)
    with pytest.raises(NotFound):
        services.owned_certificate(B, stranger.id, cert.certificate_id)
    lifecycle.revoke_doses(enrolment.code, [1], False, "wrong person", "tests")
    with pytest.raises(NotFound):
        services.owned_certificate(A, member.id, cert.certificate_id)


# --- side effects -----------------------------------------------------------------------------

def test_the_vaccinating_facility_is_matched_by_name_then_pincode(ctx):
    f.facility("MOH Gothatuwa", pincode="110001", district="Elsewhere")
    home = f.facility("moh gothatuwa", pincode="00500", district="Colombo")
    member = f.member(A)
    enrolment = f.enrolment(member, f.program())
    jobs.commit()
    cert = f.certificate(enrolment.code)  # the sample facility: MOH Gothatuwa, Colombo
    assert services.vaccinating_facility(cert, enrolment).id == home.id


def test_without_a_named_match_the_completed_appointment_tells(ctx):
    clinic = f.facility("Ward 7 Clinic")
    member = f.member(A)
    enrolment = f.enrolment(member, f.program())
    jobs.commit()
    cert = f.certificate(enrolment.code, facility_name="Some unlisted camp")
    assert services.vaccinating_facility(cert, enrolment) is None
    book(enrolment, clinic, status="completed")
    assert services.vaccinating_facility(cert, enrolment).id == clinic.id


def test_nearest_facility_by_pincode_then_district_then_distance(ctx):
    vaccinated_at = f.facility("Far Hospital", pincode="999999", district="Far", latitude=12.90, longitude=77.50)
    f.facility("Distant", pincode="888888", district="Other", latitude=20.0, longitude=80.0)
    close = f.facility("Close", pincode="777777", district="Other", latitude=12.95, longitude=77.55)
    same_district = f.facility("District Hospital", pincode="560099", district="Home District")
    same_pin = f.facility("PHC Lake Road", pincode="560042", district="Home District")
    f.facility("Closed PHC", pincode="560042", district="Home District", active=False)

    assert services.nearest_facility("560042", "Home District", vaccinated_at).id == same_pin.id
    assert services.nearest_facility("560043", "home district", vaccinated_at).id == same_district.id
    assert services.nearest_facility("560043", "Nowhere", vaccinated_at).id == vaccinated_at.id  # distance 0
    vaccinated_at.active = False
    assert services.nearest_facility("560043", "Nowhere", vaccinated_at).id == close.id
    assert services.nearest_facility("", "", None) is None


def test_a_report_is_stored_and_the_facility_is_told_by_sms(ctx):
    facility = f.facility("MOH Gothatuwa", pincode="00500", contact_mobile="9000012345")
    member = f.member(A, "Asha")
    enrolment = f.enrolment(member, f.program())
    jobs.commit()
    cert = f.certificate(enrolment.code)
    report = services.report_side_effects(A, member.id, ["Headache", "Fever"])
    jobs.commit()

    stored = db.session.get(SideEffectReport, report.id)
    assert (stored.facility_id, stored.enrolment_code, stored.certificate_id, stored.reported_by) == (
        facility.id, enrolment.code, cert.certificate_id, A)
    assert stored.symptoms == ["Fever", "Headache"]  # in the program's order
    sms = db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == "side_effect_reported")).all()
    assert [m.to for m in sms] == ["9000012345"]
    assert "Fever, Headache" in sms[0].body and enrolment.code in sms[0].body  # no name: an SMS is not private


def test_a_report_needs_listed_symptoms_and_a_vaccinated_member_of_the_caller(ctx):
    member = f.member(A)
    unvaccinated = f.member(A)
    enrolment = f.enrolment(member, f.program())
    f.enrolment(unvaccinated, f.program())
    jobs.commit()
    f.certificate(enrolment.code)
    with pytest.raises(ValidationError):
        services.report_side_effects(A, member.id, ["Fever", "Sneezing"])
    with pytest.raises(ValidationError):
        services.report_side_effects(A, member.id, [])
    with pytest.raises(NotFound):
        services.report_side_effects(A, unvaccinated.id, ["Fever"])
    with pytest.raises(NotFound):
        services.report_side_effects(B, member.id, ["Fever"])
    assert db.session.scalar(select(func.count()).select_from(SideEffectReport)) == 0


def test_the_confirmation_is_only_for_the_reporter(ctx):
    member = f.member(A, address={"pincode": "560001", "district": "Demo District"})
    enrolment = f.enrolment(member, f.program())
    visit = f.facility("PHC Demo", pincode="560001")
    jobs.commit()
    f.certificate(enrolment.code)
    report = services.report_side_effects(A, member.id, ["Fever"])
    confirmation = services.report_confirmation(A, report.id)
    assert confirmation.visit.id == visit.id and confirmation.vaccinated_at is None
    with pytest.raises(NotFound):
        services.report_confirmation(B, report.id)


def test_concurrent_adds_never_pass_the_limit(app):
    """Four requests race for the one free place (3 of 4 taken): exactly one gets it."""
    import threading

    with app.test_request_context():
        for i in range(3):
            f.member(A, f"Existing {i}")
        jobs.commit()
        db.session.remove()
    barrier, outcomes = threading.Barrier(4), []

    def add(i: int) -> None:
        with app.test_request_context():
            try:
                barrier.wait(timeout=10)
                services.add_member(A, details(name=f"Racer {i}"))
                jobs.commit()
                outcomes.append("added")
            except services.MemberLimitReached:
                jobs.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["added", "refused", "refused", "refused"]
    with app.app_context():
        assert services.member_count(A) == 4
        db.session.remove()
