"""Reads: what a user may see or do, and look-ups the services and views share."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Q, QuerySet

from dam.models import Asset, AssetVersion, Collection, CollectionPermission


def _granting_collections(user, action: str) -> QuerySet[Collection]:
    return Collection.objects.filter(
        group_permissions__action=action, group_permissions__group__in=user.groups.all()
    ).distinct()


def collections_for(user, action: str) -> QuerySet[Collection]:
    """Collections where ``user`` may perform ``action``: granted on it or on an ancestor."""
    if not getattr(user, "is_active", False):
        return Collection.objects.none()
    if user.is_superuser:
        return Collection.objects.all()
    paths = list(_granting_collections(user, action).values_list("path", flat=True))
    if not paths:
        return Collection.objects.none()
    return Collection.objects.filter(reduce(or_, (Q(path__startswith=p) for p in paths)))


def user_can(user, action: str, collection: Collection) -> bool:
    if not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    chain = [*collection.ancestor_ids(), collection.pk]
    return CollectionPermission.objects.filter(
        action=action, collection_id__in=chain, group__in=user.groups.all()
    ).exists()


def assets_visible_to(user) -> QuerySet[Asset]:
    return Asset.objects.filter(collection__in=collections_for(user, CollectionPermission.Action.VIEW))


def near_duplicate_of(phash: str, *, max_distance: int) -> tuple[AssetVersion, int] | None:
    """The closest stored version whose perceptual hash is within ``max_distance`` bits."""
    if connection.vendor == "postgresql":
        # Hamming distance in the database: XOR of the two 64-bit hashes, then count the ones.
        distance = "bit_count((('x' || phash)::bit(64)) # (('x' || %s)::bit(64)))"
        rows = AssetVersion.objects.raw(
            f"SELECT id, {distance} AS distance FROM dam_assetversion "  # noqa: S608 (no user input)
            f"WHERE {distance} <= %s ORDER BY distance, id LIMIT 1",
            [phash, phash, max_distance],
        )
        for row in rows:
            return row, row.distance
        return None
    target = int(phash, 16)
    best: tuple[int, int] | None = None
    for pk, other in AssetVersion.objects.values_list("pk", "phash").iterator(chunk_size=5000):
        d = (int(other, 16) ^ target).bit_count()
        if d <= max_distance and (best is None or d < best[1]):
            best = (pk, d)
    if best is None:
        return None
    return AssetVersion.objects.get(pk=best[0]), best[1]
