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


def test_error_pages_speak_the_readers_language_not_werkzeugs(client):
    missing = client.get("/no/such/page?lang=ta")
    page = missing.get_data(as_text=True)
    assert missing.status_code == 404 and '<html lang="ta">' in page
    assert "பிழை 404" in page and "இந்தப் பக்கம் இல்லை." in page and "முகப்புப் பக்கத்துக்குத் திரும்பவும்" in page
    assert "requested URL was not found" not in page
    english = client.get("/no/such/page").get_data(as_text=True)
    assert "This page does not exist." in english and "Back to the home page" in english
    wrong_method = client.delete("/?lang=hi")
    assert wrong_method.status_code == 405 and "इस पेज का इस तरह उपयोग नहीं किया जा सकता" in wrong_method.get_data(as_text=True)

