"""``Prefer: redirect`` (RFC 7240) on renditions: the same choice as ?redirect=1, said in a header."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from dam.api.prefer import preferences

SPEC = "max-40x40|format-png"


def _vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",")}


@pytest.fixture
def url(lib) -> str:
    return f"/api/v1/assets/{lib.assets['pub_a'].pk}/renditions/{SPEC}/"


@pytest.mark.parametrize("prefer", ["redirect", "REDIRECT=true", 'respond-async, redirect="1"; x=y, wait=5',
                                    "redirect, redirect=false"])
def test_prefer_redirect_answers_302_and_says_so(lib, url, prefer):
    response = lib.client("read").get(url, HTTP_PREFER=prefer)
    assert response.status_code == 302, response.content[:300]
    assert response["Preference-Applied"] == "redirect"
    assert "prefer" in _vary(response) and "authorization" in _vary(response)
    assert response["Cache-Control"] == "private, no-store"
    assert lib.client(None).get(response["Location"]).status_code == 200  # the signed URL works alone


def test_prefer_bytes_and_no_preference_give_the_bytes(lib, url):
    client = lib.client("read")
    explicit = client.get(url, HTTP_PREFER="redirect=false")
    assert explicit.status_code == 200 and explicit["Content-Type"] == "image/png"
    assert explicit["Preference-Applied"] == "redirect=false" and "prefer" in _vary(explicit)
    assert b"".join(explicit.streaming_content)[:4] == b"\x89PNG"
    for prefer in (None, "return=minimal", "redirect=sometimes", ""):
        headers = {"HTTP_PREFER": prefer} if prefer is not None else {}
        response = client.get(url, **headers)
        assert response.status_code == 200, prefer
        assert not response.has_header("Preference-Applied"), prefer  # not understood: ignored, no error
        assert "prefer" in _vary(response)
    unchanged = client.get(url, HTTP_IF_NONE_MATCH=explicit["ETag"], HTTP_PREFER="redirect=false")
    assert unchanged.status_code == 304 and "prefer" in _vary(unchanged)


def test_the_query_parameter_wins_over_prefer(lib, url):
    client = lib.client("read")
    bytes_ = client.get(url + "?redirect=0", HTTP_PREFER="redirect")
    assert bytes_.status_code == 200 and not bytes_.has_header("Preference-Applied")
    moved = client.get(url + "?redirect=1", HTTP_PREFER="redirect=false")
    assert moved.status_code == 302 and not moved.has_header("Preference-Applied")
    assert "prefer" in _vary(moved)


def test_prefer_does_not_widen_reach(lib):
    draft = f"/api/v1/assets/{lib.assets['draft_a'].pk}/renditions/{SPEC}/"
    assert lib.client("read").get(draft, HTTP_PREFER="redirect").status_code == 404


def test_preferences_parse_as_rfc_7240_says():
    assert preferences('Respond-Async, wait=100, handling="lenient"') == {
        "respond-async": "", "wait": "100", "handling": "lenient"}
    assert preferences('a="x, y", b; p=1, A=2') == {"a": "x, y", "b": ""}  # quoted commas; first wins
    assert preferences('c="say \\"hi\\""') == {"c": 'say "hi"'}
    assert preferences("") == {} and preferences(" , ,") == {}


def test_prefer_is_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/assets/{id}/renditions/{spec}/"]["get"]
    assert "Prefer" in {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    for status in ("200", "302"):
        assert {"Preference-Applied", "Vary"} <= set(operation["responses"][status]["headers"])
