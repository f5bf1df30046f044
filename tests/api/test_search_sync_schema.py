"""Filters and search, incremental sync with tombstones, query counts, and the OpenAPI contract."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dam.models import Asset, AssetVersion
from dam.services.workflow import transition
from tests.api.conftest import add_asset


def _titles(response) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {row["title"] for row in response.json()["results"]}


def test_full_text_search_and_filters(lib):
    client = lib.client("session:reviewer")
    assert _titles(client.get("/api/v1/assets/?q=sunset")) == {"Sunset beach"}
    assert _titles(client.get("/api/v1/assets/", {"q": "orange sea"})) == {"Sunset beach"}  # from the description
    assert _titles(client.get("/api/v1/assets/?q=nothing-like-it")) == set()
    assert _titles(client.get("/api/v1/assets/?tags=summer")) == {"Sunset beach", "Mountain lake"}
    assert _titles(client.get("/api/v1/assets/?tags=summer,beach")) == {"Sunset beach"}
    assert _titles(client.get(f"/api/v1/assets/?collection={lib.a.pk}")) == {
        "Sunset beach", "Draft poster", "Mountain lake", "Old campaign"}
    assert _titles(client.get(f"/api/v1/assets/?collection={lib.a_sub.pk}")) == {"Mountain lake"}
    assert _titles(client.get("/api/v1/assets/?status=draft")) == {"Draft poster"}
    assert _titles(client.get("/api/v1/assets/?width_min=150")) == {"Mountain lake"}
    assert _titles(client.get("/api/v1/assets/?width_max=150&mime=image/*")) == {
        "Sunset beach", "Draft poster", "Secret launch", "Old campaign"}
    assert _titles(client.get("/api/v1/assets/?mime=image/jpeg")) == set()
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert _titles(client.get("/api/v1/assets/", {"created_after": future})) == set()


def test_search_follows_metadata_edits(lib):
    # PostgreSQL searches a stored document (migration 0008), SQLite the columns themselves: either
    # way an edit is found at once, through the API and through a bulk update that bypasses save().
    client = lib.client("write")
    url = f"/api/v1/assets/{lib.assets['pub_a'].pk}/"
    assert _titles(client.get("/api/v1/assets/?q=harbour")) == set()
    edited = client.patch(url, {"title": "Harbour lights"}, format="json", HTTP_IF_MATCH=client.get(url)["ETag"])
    assert edited.status_code == 200, edited.content[:300]
    assert _titles(client.get("/api/v1/assets/?q=harbour")) == {"Harbour lights"}
    assert _titles(client.get("/api/v1/assets/?q=sunset")) == set()  # the old title is gone
    assert _titles(client.get("/api/v1/assets/", {"q": "orange sea"})) == {"Harbour lights"}
    Asset.objects.filter(pk=lib.assets["pub_a"].pk).update(description="fog at dawn")
    assert _titles(client.get("/api/v1/assets/", {"q": "fog dawn"})) == {"Harbour lights"}
    assert _titles(client.get("/api/v1/assets/", {"q": "orange sea"})) == set()
    # A delivery token sees the edit too, and still only what the delivery gate lets through.
    assert _titles(lib.client("read").get("/api/v1/assets/?q=harbour")) == {"Harbour lights"}


def test_colour_filter_matches_palette_entries(lib):
    client = lib.client("session:reviewer")
    lake = AssetVersion.objects.get(pk=lib.assets["pub_sub"].current_version_id)
    colour = lake.palette[0]["hex"]
    near = _titles(client.get("/api/v1/assets/", {"colour": colour, "colour_distance": 0}))
    assert "Mountain lake" in near
    expected = {a.title for a in Asset.objects.select_related("current_version")
                if any(e["hex"] == colour for e in a.current_version.palette)}
    assert near == expected
    assert client.get("/api/v1/assets/?colour=blue").status_code == 400


def test_search_never_widens_a_delivery_token(lib):
    client = lib.client("read")
    assert _titles(client.get("/api/v1/assets/?q=launch")) == set()  # B's asset
    assert _titles(client.get("/api/v1/assets/?q=poster")) == set()  # A's draft
    assert _titles(client.get("/api/v1/assets/?status=draft")) == set()


def test_sync_returns_changes_then_tombstones(lib):
    client = lib.client("read")
    start = "2000-01-01T00:00:00Z"
    entries = client.get("/api/v1/sync/", {"updated_since": start}).json()["results"]
    live = {e["id"] for e in entries if not e["deleted"]}
    assert live == {str(lib.assets["pub_a"].pk), str(lib.assets["pub_sub"].pk)}
    # The expired asset was published once, so the CMS is told to drop it; the draft never shows.
    dropped = {e["id"]: e["tombstone"]["reason"] for e in entries if e["deleted"]}
    assert dropped == {str(lib.assets["expired_a"].pk): "unpublished"}
    last = max(e["asset"]["updated_at"] if e["asset"] else e["tombstone"]["updated_at"] for e in entries)

    transition(version=lib.assets["pub_a"].current_version, action="archive", actor=lib.reviewer)
    later = client.get("/api/v1/sync/", {"updated_since": last}).json()["results"]
    assert [(e["id"], e["deleted"], e["tombstone"]["reason"]) for e in later] == [
        (str(lib.assets["pub_a"].pk), True, "archived")]
    assert client.get("/api/v1/sync/").status_code == 400


# Queries per list request: authentication (token or session + user), the caller's collections
# (two), the page, and one query per nested relation: the assets' tag names (sync: their tags,
# and the deletions). A sub-resource (versions, audit) finds its asset, then reads its page.
# None of them grows with the rows.
PINNED = {"/api/v1/assets/": 5, "/api/v1/tags/": 4, "/api/v1/collections/": 4,
          "/api/v1/sync/?updated_since=2000-01-01T00:00Z": 6, "versions": 5, "audit": 5}


@pytest.mark.parametrize("who", ["read", "session:reviewer"])
def test_list_query_counts_are_pinned_and_do_not_grow(lib, who, django_assert_num_queries):
    client = lib.client(who)
    client.get("/api/v1/tags/")  # the token's last_used_at write happens once a minute, not per request
    asset = lib.assets["pub_a"].pk
    urls = {url: url for url in PINNED if url.startswith("/")}
    urls["versions"] = f"/api/v1/assets/{asset}/versions/"
    if who != "read":
        urls["audit"] = f"/api/v1/assets/{asset}/audit/"

    def check_all() -> None:
        for key, url in urls.items():
            with django_assert_num_queries(PINNED[key]):
                assert client.get(url).status_code == 200, url

    check_all()
    for seed in range(10, 16):
        extra = add_asset(lib, seed=seed, collection=lib.a, title=f"Extra {seed}", publish=True, tags=(f"t{seed}",))
        transition(version=extra.current_version, action="archive", actor=lib.reviewer)
    check_all()


def test_schema_is_valid_and_served_with_local_docs(lib):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in ("/api/v1/assets/{id}/actions/{name}/", "/api/v1/sync/", "application/problem+json"):
        assert path in schema
    client = lib.client(None)
    served = client.get("/api/v1/schema/")
    assert served.status_code == 200 and b"openapi" in served.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content and b"unpkg" not in docs.content
