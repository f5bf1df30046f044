"""Dataset snapshots from a DAM query, and the checks that run before any training starts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Q, QuerySet

from dam.models import AssetVersion, Collection, ReviewState
from generative.conf import generative_settings
from generative.models import DatasetSnapshot, content_hash
from generative.services.errors import DatasetError

TRAINABLE_STATES = (ReviewState.APPROVED, ReviewState.PUBLISHED)


def eligible_versions(*, collection: Collection, tags: Iterable[str] = (),
                      include_descendants: bool = True) -> QuerySet[AssetVersion]:
    """Approved or published versions of training-allowed assets in the collection (tree)."""
    collections = collection.descendants() if include_descendants else Collection.objects.filter(pk=collection.pk)
    qs = AssetVersion.objects.filter(
        asset__collection__in=collections,
        asset__training_allowed=True,
        review__state__in=TRAINABLE_STATES,
        # An approval binds to the bytes it saw; a review whose hash differs approves nothing.
        review__sha256=F("sha256"),
    )
    # The file's own Content Credentials may refuse AI training even where the asset's rights allow it
    # (ingest records what provenance read; a version ingested without credentials says nothing).
    # has_key keeps SQL's NULL for a missing key from excluding the row.
    qs = qs.exclude(Q(credentials__has_key="training_mining_allowed") & Q(credentials__training_mining_allowed=False))
    for tag in tags:
        qs = qs.filter(asset__tags__name=tag)
    return qs.select_related("asset").order_by("sha256").distinct()


@transaction.atomic
def create_snapshot(*, collection: Collection, tags: Iterable[str] = (), include_descendants: bool = True,
                    user=None) -> DatasetSnapshot:
    """Freeze the eligible versions as a snapshot; refuses one with fewer than MIN_IMAGES images."""
    tags = sorted(set(tags))
    versions = list(eligible_versions(collection=collection, tags=tags, include_descendants=include_descendants))
    minimum = generative_settings.MIN_IMAGES
    if len(versions) < minimum:
        where = f"collection {collection.full_name}" + (f" with tags {', '.join(tags)}" if tags else "")
        raise DatasetError(
            f"{where} has {len(versions)} approved, training-allowed image(s); training needs at least {minimum}",
            code="too_few_images",
        )
    items = [{"version": v.pk, "sha256": v.sha256, "asset": str(v.asset_id)} for v in versions]
    snapshot = DatasetSnapshot(collection=collection, include_descendants=include_descendants, tags=tags,
                               items=items, content_hash=content_hash([i["sha256"] for i in items]), created_by=user)
    snapshot.save()
    from provenance.ledger import append_event

    append_event(kind="generative.training", subject=f"generative.datasetsnapshot:{snapshot.pk}",
                 actor=f"user:{user.pk}" if user is not None else "system",
                 payload={"event": "snapshot_created", "content_hash": snapshot.content_hash,
                          "collection": collection.pk, "tags": tags, "count": len(items)})
    return snapshot


def snapshot_versions(snapshot: DatasetSnapshot) -> list[AssetVersion]:
    """The snapshot's versions in its own order; fails if one was deleted since."""
    by_id = AssetVersion.objects.in_bulk([item["version"] for item in snapshot.items])
    missing = [item["sha256"][:12] for item in snapshot.items if item["version"] not in by_id]
    if missing:
        raise DatasetError(f"snapshot {snapshot.pk}: version(s) {', '.join(missing)} no longer exist",
                           code="versions_missing")
    return [by_id[item["version"]] for item in snapshot.items]


def check_snapshot(snapshot: DatasetSnapshot, *, resolution: int) -> None:
    """Refuse mixed aspect ratios and images smaller than `resolution`, naming the offenders."""
    versions = snapshot_versions(snapshot)
    too_small = [v for v in versions if min(v.width, v.height) < resolution]
    if too_small:
        names = ", ".join(f"{v.original_filename} ({v.width}x{v.height})" for v in too_small[:5])
        more = f" and {len(too_small) - 5} more" if len(too_small) > 5 else ""
        raise DatasetError(f"snapshot {snapshot.pk}: {len(too_small)} image(s) are smaller than {resolution}px "
                           f"on their short side: {names}{more}", code="images_too_small")
    ratios = sorted(((v.width / v.height, v) for v in versions), key=lambda pair: pair[0])
    low, high = ratios[0], ratios[-1]
    spread = high[0] / low[0]
    if spread > generative_settings.MAX_ASPECT_SPREAD:
        raise DatasetError(
            f"snapshot {snapshot.pk} mixes aspect ratios from {low[0]:.2f} ({low[1].original_filename}) to "
            f"{high[0]:.2f} ({high[1].original_filename}); at most {generative_settings.MAX_ASPECT_SPREAD:.2f}x "
            "apart can be cropped to one square shape; split the collection or filter by tag",
            code="mixed_aspect_ratios",
        )


def held_out_split(snapshot: DatasetSnapshot, *, fraction: float) -> tuple[list[int], list[int]]:
    """Indices into ``snapshot.items`` for training and for held-out evaluation.

    The choice depends only on the snapshot's hashes, so every run of a snapshot holds out the
    same images. With a fraction > 0 at least two are held out (KID needs two).
    """
    n = len(snapshot.items)
    count = 0 if fraction <= 0 else min(max(2, round(n * fraction)), n - 1)
    order = sorted(range(n), key=lambda i: hashlib.sha256(
        f"{snapshot.content_hash}:{snapshot.items[i]['sha256']}".encode()).hexdigest())
    held = sorted(order[:count])
    return [i for i in range(n) if i not in set(held)], held
