"""EU Digital COVID Certificate and SMART Health Card downloads in the citizen portal: owner-checked
like the PDF and QR downloads, the EU form with its errors next to the fields, CSRF on its POST."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from certify.credentials import shc
from certify.credentials.eudcc import verify_hc1
from certify.models import Certificate
from core import jobs
from core.extensions import db
from tests.certify.credentials.eudcc_support import read_qr
from tests.factories import portal as f

A, B = "9876500011", "9876500012"


@pytest.fixture
def family(app, client):
    """Account A: Asha Verma, two doses (the certificates carry her name), and Ravi Verma, one
    dose of a vaccine with no EU code. Signed in as A."""
    with app.test_request_context():
        program = f.program("COVID-19 Vaccination", min_age=18)
        asha = f.member(A, "Asha Verma", birth_year=1985)
        ravi = f.member(A, "Ravi Verma", birth_year=1982)
        asha_code, ravi_code = f.enrolment(asha, program).code, f.enrolment(ravi, program).code
        jobs.commit()
        dose1 = f.certificate(asha_code, dose=1, recipient={"name": "Asha Verma"})
        dose2 = f.certificate(asha_code, dose=2, recipient={"name": "Asha Verma"})
        corbevax = f.certificate(ravi_code, dose=1, recipient={"name": "Ravi Verma"}, vaccination={"name": "Corbevax"})
        ids = dict(asha=asha.id, ravi=ravi.id, dose1=dose1.certificate_id, dose2=dose2.certificate_id,
                   corbevax=corbevax.certificate_id)
        f.sign_in(client, A)
        db.session.remove()
    return ids


def eu_url(member: int, certificate: str) -> str:
    return f"/portal/members/{member}/certificates/{certificate}/eu"


def eu_form(certificate: str, family_name: str, given_name: str, fmt: str = "qr") -> dict:
    return {f"eu-{certificate}-family_name": family_name, f"eu-{certificate}-given_name": given_name, "type": fmt}


def text(resp) -> str:
    return resp.get_data(as_text=True)


def test_the_member_card_offers_the_eu_form_and_the_health_card(client, family):
    page = text(client.get("/portal/"))
    asha, dose2 = family["asha"], family["dose2"]
    assert f'action="{eu_url(asha, dose2)}"' in page
    assert f'name="eu-{dose2}-family_name" type="text" value="Verma"' in page  # the name, split as a suggestion
    assert f'name="eu-{dose2}-given_name" type="text" value="Asha"' in page
    for suffix in ("png", "pdf", "smart-health-card"):
        assert f"/portal/members/{asha}/certificates/{dose2}/shc.{suffix}" in page
    assert eu_url(asha, family["dose1"]) in page  # the earlier dose: a link to its own form


def test_eu_qr_and_pdf_of_the_signed_in_members_certificate(client, family, dsc):
    asha, dose2 = family["asha"], family["dose2"]
    qr = client.post(eu_url(asha, dose2), data=eu_form(dose2, "Verma", "Asha"))
    assert qr.status_code == 200 and qr.mimetype == "image/png"
    assert qr.headers["Content-Disposition"] == f'attachment; filename="eu-certificate-{dose2}.png"'
    result = verify_hc1(read_qr(qr.data), [dsc.certificate])
    assert result.valid, result.reasons
    assert result.dcc["nam"] == {"fn": "Verma", "fnt": "VERMA", "gn": "Asha", "gnt": "ASHA"}
    assert result.dcc["v"][0]["dn"] == 2 and f":{dose2}#" in result.dcc["v"][0]["ci"]

    pdf = client.post(eu_url(asha, family["dose1"]), data=eu_form(family["dose1"], "Verma", "Asha", "pdf"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_the_eu_form_page_shows_the_suggestion_and_the_certificate(client, family):
    page = text(client.get(eu_url(family["asha"], family["dose1"])))
    assert "EU Digital COVID Certificate" in page and "Dose 1 of 2" in page
    assert 'value="Verma"' in page and 'value="Asha"' in page


@pytest.mark.parametrize("family_name,given_name,field,message", [
    ("Sharma", "Asha", "family_name", "SHARMA is not part of the name on the certificate (Asha Verma)."),
    ("", "", "family_name", "Give the family name, the given names or both."),
    ("Verma", "A" * 81, "given_name", "Field cannot be longer than 80 characters."),
])
def test_eu_name_errors_are_shown_next_to_the_field(client, family, dsc, family_name, given_name, field, message):
    dose2 = family["dose2"]
    resp = client.post(eu_url(family["asha"], dose2), data=eu_form(dose2, family_name, given_name))
    assert resp.status_code == 422 and resp.mimetype == "text/html"
    page = text(resp)
    error = re.search(rf'<p class="field-error" id="eu-{dose2}-{field}-error" role="alert">([^<]*)</p>', page)
    assert error and error.group(1) == message.replace("'", "&#39;"), page[:3000]
    assert f'aria-describedby="eu-{dose2}-{field}-error"' in page


def test_a_vaccine_without_an_eu_code_is_refused_next_to_the_certificate(client, family, dsc):
    corbevax = family["corbevax"]
    resp = client.post(eu_url(family["ravi"], corbevax), data=eu_form(corbevax, "Verma", "Ravi"))
    assert resp.status_code == 422
    assert ("Corbevax has no EU vaccine code, so this certificate cannot be an EU Digital COVID Certificate."
            in text(resp))


def test_a_suspended_certificate_and_a_missing_dsc_are_explained(app, client, family, tmp_path, monkeypatch):
    dose2 = family["dose2"]
    monkeypatch.setattr(app, "instance_path", str(tmp_path))  # no DSC anywhere
    resp = client.post(eu_url(family["asha"], dose2), data=eu_form(dose2, "Verma", "Asha"))
    assert resp.status_code == 503 and "EU certificates cannot be made at the moment" in text(resp)
    with app.app_context():
        db.session.scalar(select(Certificate).where(Certificate.certificate_id == dose2)).status = "suspended"
        db.session.commit()
    resp = client.post(eu_url(family["asha"], dose2), data=eu_form(dose2, "Verma", "Asha"))
    assert resp.status_code == 409 and "This certificate is suspended; it cannot be exported." in text(resp)


def test_health_card_qr_pdf_and_file(app, client, family):
    base = f"/portal/members/{family['asha']}/certificates/{family['dose2']}/shc"
    png, pdf, card = (client.get(f"{base}.{suffix}") for suffix in ("png", "pdf", "smart-health-card"))
    assert (png.status_code, png.mimetype) == (200, "image/png")
    assert (pdf.status_code, pdf.mimetype) == (200, "application/pdf") and pdf.data.startswith(b"%PDF")
    assert (card.status_code, card.mimetype) == (200, "application/smart-health-card")
    assert card.headers["Content-Disposition"].startswith("attachment;")
    jwks = client.get("/.well-known/jwks.json").json
    result = shc.verify_shc(card.data, {app.config["SHC_ISSUER_URL"]: jwks})
    assert result.status == "valid" and result.name == "Asha Verma" and len(result.immunizations) == 2
    assert read_qr(png.data).startswith("shc:/")


def test_a_download_is_only_reachable_through_its_member(client, family):
    # Asha's certificate under Ravi's id: same account, still no
    assert client.get(eu_url(family["ravi"], family["dose2"])).status_code == 404
    assert client.get(f"/portal/members/{family['ravi']}/certificates/{family['dose2']}/shc.png").status_code == 404
    assert client.get(f"/portal/members/{family['asha']}/certificates/{family['dose2']}/shc.svg").status_code == 404


def test_another_account_gets_404_for_every_export_of_this_one(app, client, family, dsc):
    with app.test_request_context():
        f.member(B, "Meena Devi")
        jobs.commit()
        client.post("/logout")
        f.sign_in(client, B)
        db.session.remove()
    asha, dose2 = family["asha"], family["dose2"]
    assert client.get(eu_url(asha, dose2)).status_code == 404
    assert client.post(eu_url(asha, dose2), data=eu_form(dose2, "Verma", "Asha")).status_code == 404
    for suffix in ("png", "pdf", "smart-health-card"):
        assert client.get(f"/portal/members/{asha}/certificates/{dose2}/shc.{suffix}").status_code == 404
    assert "Asha" not in text(client.get("/portal/"))


def test_the_eu_form_needs_its_csrf_token(app, client, family, dsc, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    asha, dose2 = family["asha"], family["dose2"]
    page = text(client.get("/portal/"))
    token = re.search(rf'id="eu-{dose2}-csrf_token" name="eu-{dose2}-csrf_token" type="hidden" value="([^"]+)"',
                      page).group(1)
    assert client.post(eu_url(asha, dose2), data=eu_form(dose2, "Verma", "Asha")).status_code == 400
    ok = client.post(eu_url(asha, dose2), data=eu_form(dose2, "Verma", "Asha") | {f"eu-{dose2}-csrf_token": token})
    assert ok.status_code == 200 and ok.mimetype == "image/png"


def test_anonymous_visitors_are_sent_to_sign_in(client, family):
    client.post("/logout")
    for url in (eu_url(family["asha"], family["dose2"]),
                f"/portal/members/{family['asha']}/certificates/{family['dose2']}/shc.png"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
