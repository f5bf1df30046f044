"""Hard deletes leave tombstones in /api/v1/sync/, scoped like the asset was; sync pages across both."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.deletion import ProtectedError
from django.urls import reverse

from dam.models import Asset, AssetDeletion, Collection
from dam.services.assets import record_asset_deletion
from dam.services.collections import collection_for_path
from tests.api.conftest import add_asset, assert_problem, issue

SINCE = "2000-01-01T00:00:00Z"


def _tombstones(client, since: str = SINCE) -> dict[str, str]:
    response = client.get("/api/v1/sync/", {"updated_since": since})
    assert response.status_code == 200, response.content[:300]
    return {e["id"]: e["tombstone"]["reason"] for e in response.json()["results"] if e["deleted"]}


def test_an_asset_deleted_in_the_admin_leaves_a_tombstone_only_in_its_scope(lib):
    issue(lib, "write_b", scopes=["read", "write"], collections=[lib.b], user=lib.uploader)
    draft = lib.assets["draft_a"]
    admin = User.objects.create_superuser("root")
    client = lib.client(None)
    client.force_login(admin)
    page = client.post(reverse("admin:dam_asset_delete", args=[draft.pk]), {"post": "yes"})
    assert page.status_code == 302, page.content[:500]
    assert not Asset.objects.filter(pk=draft.pk).exists()

    record = AssetDeletion.objects.get(asset_id=draft.pk)
    assert record.collection_path == lib.a.path and not record.was_published
    assert _tombstones(lib.client("write"))[str(draft.pk)] == "deleted"
    assert _tombstones(lib.client("session:reviewer"))[str(draft.pk)] == "deleted"
    # A token bound to B, a user who sees only B, and a delivery token (it never saw the draft) do not.
    for who in ("write_b", "session:viewer_b", "read"):
        assert str(draft.pk) not in _tombstones(lib.client(who)), who


def test_the_tombstone_is_written_with_the_delete_and_rolled_back_with_it(lib):
    draft = lib.assets["draft_a"]
    with pytest.raises(RuntimeError), transaction.atomic():
        Asset.objects.filter(pk=draft.pk).delete()
        assert AssetDeletion.objects.filter(asset_id=draft.pk).exists()  # same transaction
        raise RuntimeError("the delete is rolled back")
    assert Asset.objects.filter(pk=draft.pk).exists() and not AssetDeletion.objects.exists()

    # A published asset's review trail protects it: the delete fails and leaves no tombstone behind.
    with pytest.raises(ProtectedError):
        lib.assets["pub_a"].delete()
    assert not AssetDeletion.objects.exists()


def test_a_tombstone_outlives_its_collection_through_a_reachable_ancestor(lib):
    deep = collection_for_path("A/Sub/Gone")
    asset = add_asset(lib, seed=40, collection=deep, title="Short-lived", publish=False)
    asset_id = str(asset.pk)
    asset.delete()
    Collection.objects.filter(pk=deep.pk).delete()
    assert _tombstones(lib.client("write"))[asset_id] == "deleted"
    issue(lib, "write_sub", scopes=["read", "write"], collections=[lib.a_sub], user=lib.uploader)
    assert asset_id in _tombstones(lib.client("write_sub"))
    issue(lib, "write_b", scopes=["read", "write"], collections=[lib.b], user=lib.uploader)
    assert asset_id not in _tombstones(lib.client("write_b"))


def test_a_delivery_token_hears_of_deleted_assets_it_could_have_received(lib):
    # The review trail keeps published assets from being deleted today; the record must still say
    # whether the asset was ever published, so a delivery token is told to drop what it holds.
    published = lib.assets["pub_sub"]
    record = record_asset_deletion(asset=published)
    assert record.was_published and record.collection_path == lib.a_sub.path
    Asset.objects.filter(pk=published.pk).update(updated_at=record.deleted_at.replace(year=2001))
    assert _tombstones(lib.client("read"), since="2002-01-01T00:00:00Z")[str(published.pk)] == "deleted"
    issue(lib, "read_b", scopes=["read"], collections=[lib.b])
    assert str(published.pk) not in _tombstones(lib.client("read_b"))


def test_sync_pages_merge_changes_and_deletions_in_order(lib):
    gone = []
    for seed in range(50, 53):
        asset = add_asset(lib, seed=seed, collection=lib.a, title=f"Temp {seed}", publish=False)
        gone.append(str(asset.pk))
        asset.delete()
    client = lib.client("write")
    everything = client.get("/api/v1/sync/", {"updated_since": SINCE}).json()
    assert everything["next"] is None
    expected = [(e["id"], e["deleted"]) for e in everything["results"]]
    assert {i for i, deleted in expected if deleted} == set(gone) and len(expected) == 4 + 3

    seen, url = [], f"/api/v1/sync/?updated_since={SINCE}&page_size=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2 and page["previous"] is None
        seen += [(e["id"], e["deleted"]) for e in page["results"]]
        url = page["next"]
    assert seen == expected
    stamps = [e["asset"]["updated_at"] if e["asset"] else e["tombstone"]["updated_at"] for e in everything["results"]]
    assert stamps == sorted(stamps)

    assert_problem(client.get("/api/v1/sync/", {"updated_since": SINCE, "cursor": "bm90IGEgY3Vyc29y"}), 400)
    body = assert_problem(client.get("/api/v1/sync/", {"updated_since": SINCE, "cursor": "%%%"}), 400)
    assert body["errors"][0]["field"] == "cursor"
