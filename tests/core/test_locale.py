"""The UI language: the switcher's choice is remembered, ?lang= applies to one request, unknown codes are ignored."""
from __future__ import annotations


def test_switcher_choice_is_remembered_across_pages(client):
    resp = client.get("/language/hi?next=/verify")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/verify")
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="hi">' in page
    assert 'aria-current="true">हिन्दी' in page  # the switcher marks the current language


def test_lang_parameter_applies_to_that_request_only(client):
    assert '<html lang="hi">' in client.get("/?lang=hi").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_unknown_language_falls_back_instead_of_failing(client):
    resp = client.get("/verify?lang=xx", headers={"Accept-Language": "hi"})
    assert resp.status_code == 200
    assert '<html lang="hi">' in resp.get_data(as_text=True)
    assert client.get("/language/xx").status_code == 302
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_switcher_never_redirects_off_site(client):
    resp = client.get("/language/hi?next=//evil.example/")
    assert "evil.example" not in resp.headers["Location"]
