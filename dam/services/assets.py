"""Writes on assets other than ingest: tagging, moving, metadata, the record of a hard delete."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from dam.exceptions import PermissionDeniedError
from dam.models import (
    Asset,
    AssetDeletion,
    Collection,
    CollectionPermission,
    ReviewState,
    ReviewTransition,
    Tag,
)
from dam.selectors import user_can


def _require(user, action: str, collection: Collection, what: str) -> None:
    if not user_can(user, action, collection):
        raise PermissionDeniedError(f"{what}: you may not {action} assets in collection {collection}")


def assets_add_tag(*, assets: Iterable[Asset], tag: str, user) -> int:
    name = tag.strip()
    if not name:
        raise ValueError("tag: a tag needs a name")
    if len(name) > 100:
        raise ValueError(f"tag {name[:20]!r}…: a tag is at most 100 characters")
    assets = list(assets)
    for asset in assets:
        _require(user, CollectionPermission.Action.CHANGE, asset.collection, asset.title)
    with transaction.atomic():
        tag_obj, _ = Tag.objects.get_or_create(name=name)
        for asset in assets:
            asset.tags.add(tag_obj)
        # Tag changes count as updates for incremental sync.
        Asset.objects.filter(pk__in=[a.pk for a in assets]).update(updated_at=timezone.now())
    return len(assets)


def assets_move(*, assets: Iterable[Asset], collection: Collection, user) -> int:
    assets = list(assets)
    _require(user, CollectionPermission.Action.ADD, collection, f"collection {collection}")
    for asset in assets:
        _require(user, CollectionPermission.Action.CHANGE, asset.collection, asset.title)
    with transaction.atomic():
        for asset in assets:
            asset.collection = collection
            asset.save(update_fields=["collection", "updated_at"])
    return len(assets)


def record_asset_deletion(*, asset: Asset) -> AssetDeletion:
    """Remember that ``asset`` is being deleted for good, in the deleting transaction.

    Called for every Asset row Django deletes (``pre_delete``: the review trail still exists), so a
    delete from the admin or a shell leaves a tombstone for incremental sync. A rolled-back delete
    rolls this back with it.
    """
    path = Collection.objects.filter(pk=asset.collection_id).values_list("path", flat=True).first() or ""
    was_published = ReviewTransition.objects.filter(version__asset=asset, to_state=ReviewState.PUBLISHED).exists()
    return AssetDeletion.objects.create(asset_id=asset.pk, collection_id=asset.collection_id, collection_path=path,
                                        was_published=was_published, deleted_at=timezone.now())
