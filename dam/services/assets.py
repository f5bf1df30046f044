"""Writes on assets other than ingest: tagging, moving, metadata."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from dam.exceptions import PermissionDeniedError
from dam.models import Asset, Collection, CollectionPermission, Tag
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
