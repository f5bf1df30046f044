"""Reads: what a user may see or do, and look-ups the services and views share."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import CharField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.utils import timezone

from dam.models import (
    Asset,
    AssetDeletion,
    AssetVersion,
    Collection,
    CollectionPermission,
    ReviewState,
    Workflow,
)


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



def tag_names_of(asset_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Tag names of each asset, in name order, in one query: cheaper than a prefetch of Tag rows."""
    names: dict[uuid.UUID, list[str]] = {}
    links = Asset.tags.through.objects.filter(asset_id__in=list(asset_ids)).order_by("tag__name")
    for asset_id, name in links.values_list("asset_id", "tag__name"):
        names.setdefault(asset_id, []).append(name)
    return names

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


def workflow_for(collection: Collection) -> Workflow | None:
    """The workflow of ``collection`` or of its nearest ancestor that has one."""
    chain = [*collection.ancestor_ids(), collection.pk]
    by_collection = {w.collection_id: w for w in Workflow.objects.filter(collection_id__in=chain)}
    for pk in reversed(chain):
        if pk in by_collection:
            return by_collection[pk]
    return None


def users_who_can(action: str, collection: Collection):
    from django.contrib.auth import get_user_model

    chain = [*collection.ancestor_ids(), collection.pk]
    return get_user_model().objects.filter(
        is_active=True,
        groups__collection_permissions__action=action,
        groups__collection_permissions__collection_id__in=chain,
    ).distinct()


def deliverable_assets(*, collections: QuerySet[Collection]) -> QuerySet[Asset]:
    """The delivery gate: what a CMS may receive. Published, not expired, in a visible collection.

    The one place this rule lives; originals, renditions and metadata all go through it.
    """
    now = timezone.now()
    return Asset.objects.filter(
        collection__in=collections,
        published_version__isnull=False,
        published_version__review__state=ReviewState.PUBLISHED,
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def is_deliverable(version: AssetVersion, *, collections: QuerySet[Collection] | None = None) -> bool:
    assets = deliverable_assets(collections=collections if collections is not None else Collection.objects.all())
    return assets.filter(pk=version.asset_id, published_version=version).exists()


def asset_deletions(*, collections: QuerySet[Collection], delivery: bool = False) -> QuerySet[AssetDeletion]:
    """Hard deletions of assets that lay in ``collections`` when they went.

    Matched by the recorded path, so a collection deleted since still counts through a reachable
    ancestor (``collections`` is closed under descendants: grants and token scopes are subtrees).
    ``delivery``: only assets that had been published, the only ones a delivery token ever saw.
    """
    deleted_from = ExpressionWrapper(OuterRef("collection_path"), output_field=CharField())
    in_reach = collections.alias(deleted_from=deleted_from).filter(deleted_from__startswith=F("path"))
    deletions = AssetDeletion.objects.filter(Exists(in_reach))
    return deletions.filter(was_published=True) if delivery else deletions


def review_queue(user) -> QuerySet:
    """Versions waiting on a step ``user`` may act on, oldest submission first."""
    from dam.models import StepApproval, VersionReview

    waiting = VersionReview.objects.filter(state=ReviewState.IN_REVIEW)
    if not user.is_superuser:
        mine = Q(step__group__in=user.groups.all())
        implicit = Q(step__isnull=True, version__asset__collection__in=collections_for(user, CollectionPermission.Action.APPROVE))
        waiting = waiting.filter(mine | implicit)
    already = StepApproval.objects.filter(user=user, review=OuterRef("pk"), round=OuterRef("round"), step=OuterRef("step"))
    return (
        waiting.exclude(Exists(already))
        .select_related("version__asset__collection", "version__created_by", "step")
        .order_by("submitted_at", "pk")
    )


class CollectionPathError(ValueError):
    pass


def collection_at_path(path: str) -> Collection:
    """The existing collection at ``path`` ("Brand/Logos"); CollectionPathError names what is missing."""
    parent = None
    for name in [part.strip() for part in path.split("/") if part.strip()]:
        found = Collection.objects.filter(parent=parent, name=name).first()
        if found is None:
            where = f"inside {parent.full_name}" if parent else "at the top level"
            raise CollectionPathError(f"collection {path!r}: no collection named {name!r} {where}")
        parent = found
    if parent is None:
        raise CollectionPathError("collection: give a collection path such as Brand/Logos")
    return parent
