"""Mobile OTP sign-in: hashed, expiring, single-use, try-limited and send-limited."""
from __future__ import annotations

import re

from sqlalchemy import select, text, update

from core.extensions import db
from core.models import OtpChallenge, OutboxMessage, User


def outbox(app, mobile):
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == mobile)
                                  .order_by(OutboxMessage.id)).all()
        db.session.remove()
        return rows


def code_from_outbox(app, mobile) -> str:
    return re.search(r"\b(\d{6})\b", outbox(app, mobile)[-1].body).group(1)


def request_code(client, mobile, purpose="portal", address="10.0.0.1"):
    return client.post(f"/login?purpose={purpose}", data={"mobile": mobile, "next": "/portal/"},
                       environ_base={"REMOTE_ADDR": address})


def test_sign_in_with_the_code_from_the_sms(app, client):
    resp = request_code(client, "9876543210")
    assert resp.status_code == 302 and "/login/code" in resp.headers["Location"]
    code = code_from_outbox(app, "9876543210")
    with app.app_context():
        stored = db.session.scalar(select(OtpChallenge))
        assert code not in stored.code_hash  # hashed, never stored in clear
    resp = client.post("/login/code?purpose=portal", data={"code": code, "next": "/portal/"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/portal/"
    with client.session_transaction() as sess:
        assert sess["_user_id"]
    # single use
    client.post("/logout")
    with client.session_transaction() as sess:
        sess["otp_challenge"] = stored.id
    again = client.post("/login/code?purpose=portal", data={"code": code})
    assert again.status_code == 200 and b"wrong or has expired" in again.data


def test_five_wrong_tries_burn_the_code(app, client):
    request_code(client, "9876500001")
    code = code_from_outbox(app, "9876500001")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    bodies = [client.post("/login/code", data={"code": wrong}).data for _ in range(5)]
    assert b"4 tries left" in bodies[0]
    final = client.post("/login/code", data={"code": code})
    assert final.status_code == 200 and b"wrong or has expired" in final.data


def test_expired_code_is_refused(app, client):
    request_code(client, "9876500002")
    code = code_from_outbox(app, "9876500002")
    with app.app_context():
        db.session.execute(update(OtpChallenge).values(expires_at=OtpChallenge.created_at))
        db.session.commit()
    resp = client.post("/login/code", data={"code": code})
    assert b"wrong or has expired" in resp.data


def test_sends_are_limited_per_number_and_per_address(app, client):
    for i in range(app.config["OTP_SENDS_PER_NUMBER_PER_HOUR"]):
        assert request_code(client, "9876500003", address=f"10.1.0.{i}").status_code == 302
    refused = request_code(client, "9876500003", address="10.1.0.99")
    assert refused.status_code == 200 and b"Too many codes were sent to this number" in refused.data
    limit = app.config["OTP_SENDS_PER_ADDRESS_PER_HOUR"]
    codes = [request_code(client, f"97765{i:05d}", address="10.2.0.1").status_code for i in range(limit + 1)]
    assert codes[:limit] == [302] * limit and codes[-1] == 200


def test_facility_sign_in_does_not_reveal_unknown_numbers(app, client):
    with app.app_context():
        db.session.add(User(mobile="9000000001", name="Staff", roles="facility_staff"))
        db.session.commit()
    staff = request_code(client, "9000000001", purpose="facility")
    stranger = request_code(client, "9000000002", purpose="facility")
    assert staff.status_code == stranger.status_code == 302
    assert len(outbox(app, "9000000001")) == 1 and outbox(app, "9000000002") == []  # no SMS to strangers
    page = client.get(stranger.headers["Location"])
    assert b"If this number can sign in here" in page.data


def test_bad_mobile_is_an_error_next_to_the_field(client):
    resp = request_code(client, "12ab")
    assert resp.status_code == 200 and b'class="field-error"' in resp.data and b"10 to 15 digits" in resp.data


def test_forms_need_a_csrf_token(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = client.post("/login", data={"mobile": "9876543210"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert resp.status_code == 400  # CSRFProtect refuses before the view runs
    assert b"This form has expired. Go back, reload the page and try again." in resp.data
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM otp_challenges")) == 0


def test_next_must_stay_on_this_site(app, client):
    request_code(client, "9876500009")
    code = code_from_outbox(app, "9876500009")
    resp = client.post("/login/code", data={"code": code, "next": "https://evil.example/"})
    assert resp.headers["Location"] == "/portal/"


def test_signed_in_pages_offer_sign_out(app, client):
    request_code(client, "9876500010")
    client.post("/login/code", data={"code": code_from_outbox(app, "9876500010")})
    page = client.get("/portal/")
    assert b"Sign out" in page.data and b"(0010)" in page.data
    client.post("/logout")
    assert b"Sign out" not in client.get("/portal/").data
