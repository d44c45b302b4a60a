"""The system admin's configuration pages: role checks, preview, publish, rollback."""
from __future__ import annotations

from sqlalchemy import select

from certify.models import ConfigVersion
from core.extensions import db
from core.models import User


def sign_in(app, client, roles: str, mobile: str = "9000000100") -> None:
    with app.app_context():
        user = User(mobile=mobile, name="Admin", roles=roles)
        db.session.add(user)
        db.session.commit()
        uid = user.id
    with client.session_transaction() as sess:
        sess["_user_id"] = str(uid)
        sess["_fresh"] = True


def test_config_pages_need_the_system_admin_role(app, client):
    assert client.get("/facility/admin/config").status_code == 302  # anonymous → sign in
    assert "/login" in client.get("/facility/admin/config").headers["Location"]
    sign_in(app, client, roles="facility_staff")
    assert client.get("/facility/admin/config").status_code == 403
    assert client.post("/facility/admin/config/settings/publish", data={"content": "{}"}).status_code == 403


def test_admin_previews_publishes_and_rolls_back_a_template(app, client):
    sign_in(app, client, roles="system_admin")
    listing = client.get("/facility/admin/config")
    assert listing.status_code == 200 and b"template:vaccination" in listing.data
    page = client.get("/facility/admin/config/template:vaccination")
    assert page.status_code == 200 and b"<textarea" in page.data
    original = client.get("/facility/admin/config/template:vaccination").data
    shipped = app.test_cli_runner().invoke(args=["config", "show", "template:vaccination"]).output

    changed = shipped.replace("</body>", "<p>PILOT EDITION</p></body>")
    preview = client.post("/facility/admin/config/template:vaccination/preview", data={"content": changed},
                          headers={"HX-Request": "true"})
    assert preview.status_code == 200 and b"data:image/png;base64," in preview.data
    broken = client.post("/facility/admin/config/template:vaccination/preview",
                         data={"content": "{% for x in %}"}, headers={"HX-Request": "true"})
    assert b"Rejected:" in broken.data and b"line 1" in broken.data
    with app.app_context():
        assert db.session.scalar(select(ConfigVersion)) is None  # previews never save

    bad = client.post("/facility/admin/config/template:vaccination/publish", data={"content": "{% if %}"})
    assert bad.status_code == 400 and b'id="content-error"' in bad.data
    ok = client.post("/facility/admin/config/template:vaccination/publish",
                     data={"content": changed, "comment": "pilot"})
    assert ok.status_code == 302
    with app.app_context():
        row = db.session.scalar(select(ConfigVersion).where(ConfigVersion.active))
        assert (row.key, row.version, row.comment) == ("template:vaccination", 1, "pilot")
        assert row.author.startswith("user:")
    back = client.post("/facility/admin/config/template:vaccination/rollback/0")
    assert back.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(ConfigVersion).where(ConfigVersion.active)) is None
    assert original


def test_a_published_template_reaches_the_next_download(app, client, run_jobs):
    import subprocess

    from tests.factories import api_client, certify_item, seed_vaccines

    with app.app_context():
        seed_vaccines()
        cid, secret = api_client()
    tok = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                            "client_secret": secret}).json["access_token"]
    headers = {"Authorization": f"Bearer {tok}"}
    client.post("/v3/certify", json=[certify_item("TPL-1")], headers=headers)
    run_jobs()
    before = client.get("/certificate/api/certificatePDF/TPL-1", headers=headers).data
    shipped = app.test_cli_runner().invoke(args=["config", "show", "template:vaccination"]).output
    sign_in(app, client, roles="system_admin")
    client.post("/facility/admin/config/template:vaccination/publish",
                data={"content": shipped.replace("</body>", "<p>PILOT EDITION</p></body>")})
    after = client.get("/certificate/api/certificatePDF/TPL-1", headers=headers).data

    def text(pdf: bytes) -> str:
        return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()

    assert "PILOT EDITION" not in text(before) and "PILOT EDITION" in text(after)  # cache invalidated
