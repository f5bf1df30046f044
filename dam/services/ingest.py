"""Ingest: the one path by which a file becomes an asset version (admin, CLI, REST)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Literal

from django.db import IntegrityError, transaction

from dam.conf import dam_settings
from dam.exceptions import PermissionDeniedError
from dam.ingest import IngestLimits, InspectedFile, inspect_file
from dam.ingest.errors import RejectedFile
from dam.models import Asset, AssetVersion, Collection, CollectionPermission, ReviewState, Tag, VersionReview
from dam.selectors import near_duplicate_of, user_can
from dam.services import files
from dam.services.renditions import get_or_create_renditions
from dam.services.workflow import transition
from provenance.ledger import append_event
from provenance.services.incoming import read_incoming

logger = logging.getLogger(__name__)

Outcome = Literal["created", "new_version", "duplicate"]


@dataclass(frozen=True)
class IngestResult:
    asset: Asset
    version: AssetVersion
    outcome: Outcome

    @property
    def near_duplicate_of(self) -> AssetVersion | None:
        return self.version.near_duplicate_of


def ingest_limits() -> IngestLimits:
    return IngestLimits(
        max_bytes=dam_settings.MAX_UPLOAD_BYTES,
        max_pixels=dam_settings.MAX_PIXELS,
        max_frames=dam_settings.MAX_FRAMES,
        max_archive_members=dam_settings.ZIP_MAX_MEMBERS,
        max_archive_bytes=dam_settings.ZIP_MAX_TOTAL_BYTES,
        max_compression_ratio=float(dam_settings.ZIP_MAX_RATIO),
    )


def original_storage_stem(inspected: InspectedFile) -> str:
    sha = inspected.sha256
    return f"originals/{sha[:2]}/{sha[2:4]}/{sha}"


def _title_from(name: str) -> str:
    stem = os.path.splitext(os.path.basename(name))[0]
    return stem.replace("_", " ").replace("-", " ").strip()[:255] or "Untitled"


def ingest_file(
    *,
    name: str,
    fileobj: BinaryIO,
    collection: Collection,
    user,
    tags: Iterable[str] = (),
    title: str | None = None,
    asset: Asset | None = None,
    source: str = Asset.Source.UPLOADED,
    training_allowed: bool = False,
) -> IngestResult:
    """Validate ``fileobj`` and store it as a new asset (or a new version of ``asset``).

    Raises :class:`RejectedFile` naming the file and the reason, or
    :class:`PermissionDeniedError`. ``user=None`` is the trusted system (CLI, workers) and skips the
    permission check. An exact duplicate (same sha256) returns the existing version
    without storing anything. Call it outside an outer transaction so the file journal commits.
    """
    target = asset.collection if asset is not None else collection
    action = CollectionPermission.Action.CHANGE if asset is not None else CollectionPermission.Action.ADD
    if user is not None and not user_can(user, action, target):
        raise PermissionDeniedError(f"{name}: you may not {action} assets in collection {target}")

    inspected = inspect_file(name=name, fileobj=fileobj, limits=ingest_limits())
    existing = AssetVersion.objects.select_related("asset").filter(sha256=inspected.sha256).first()
    if existing is not None:
        return IngestResult(asset=existing.asset, version=existing, outcome="duplicate")

    twin = near_duplicate_of(inspected.phash, max_distance=dam_settings.NEAR_DUPLICATE_DISTANCE)
    credentials = read_incoming(data=inspected.data, mime_type=inspected.mime)
    stored_name = files.write_pending(
        stem=original_storage_stem(inspected), ext=inspected.ext, data=inspected.data
    )
    try:
        with transaction.atomic():
            result = _create_rows(
                inspected=inspected,
                stored_name=stored_name,
                collection=collection,
                asset=asset,
                user=user,
                tags=tags,
                title=title,
                source=source,
                training_allowed=training_allowed,
                twin=twin,
                credentials=credentials,
            )
            files.adopt(stored_name)
    except IntegrityError:
        # A concurrent ingest of the same bytes committed first: theirs is the asset.
        files.discard(stored_name)
        existing = AssetVersion.objects.select_related("asset").filter(sha256=inspected.sha256).first()
        if existing is None:
            raise
        return IngestResult(asset=existing.asset, version=existing, outcome="duplicate")
    except BaseException:
        files.discard(stored_name)
        raise
    _prewarm(result.version, inspected)
    if result.outcome == "created":
        from dam.signals import asset_created

        transaction.on_commit(lambda: asset_created.send(sender=Asset, asset=result.asset, version=result.version))
    return result


def _create_rows(
    *, inspected, stored_name, collection, asset, user, tags, title, source, training_allowed, twin, credentials
) -> IngestResult:
    outcome: Outcome = "new_version"
    if asset is None:
        outcome = "created"
        asset = Asset(
            title=(title or _title_from(inspected.name)),
            collection=collection,
            source=source,
            # A manifest's training-and-mining permission decides; without one, the caller does.
            training_allowed=training_allowed if credentials.training_mining_allowed is None
            else credentials.training_mining_allowed,
            created_by=user if getattr(user, "pk", None) else None,
        )
        asset.full_clean()
        asset.save()
    else:
        asset = Asset.objects.select_for_update().get(pk=asset.pk)
        if credentials.training_mining_allowed is False and asset.training_allowed:
            asset.training_allowed = False
            asset.save(update_fields=["training_allowed", "updated_at"])
    last = asset.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = AssetVersion(
        asset=asset,
        number=last + 1,
        file=stored_name,
        original_filename=os.path.basename(inspected.name)[:255],
        sha256=inspected.sha256,
        size=inspected.size,
        mime=inspected.mime,
        width=inspected.width,
        height=inspected.height,
        mode=inspected.mode,
        has_icc=inspected.has_icc,
        frames=inspected.frames,
        metadata=inspected.metadata,
        phash=inspected.phash,
        palette=inspected.palette,
        near_duplicate_of=twin[0] if twin else None,
        near_duplicate_distance=twin[1] if twin else None,
        credentials=credentials.as_json(),
        manifest_store=credentials.manifest_store,
        created_by=user if getattr(user, "pk", None) else None,
    )
    version.save()
    VersionReview.objects.create(version=version, sha256=version.sha256)
    asset.current_version = version
    asset.status = ReviewState.DRAFT
    asset.save(update_fields=["current_version", "status", "updated_at"])
    tag_names = sorted({t.strip() for t in tags if t and t.strip()})
    if tag_names:
        asset.tags.add(*[Tag.objects.get_or_create(name=n)[0] for n in tag_names])
    append_event(
        kind="dam.ingest" if outcome == "created" else "dam.version",
        subject=f"dam.assetversion:{version.pk}",
        actor=f"user:{version.created_by_id}" if version.created_by_id else "system",
        payload={"asset": str(asset.pk), "number": version.number, "sha256": version.sha256, "mime": version.mime,
                 "source": asset.source, "collection": asset.collection_id},
    )
    if asset.source == Asset.Source.GENERATED:
        # Generated media go straight to review and can only leave it through a person.
        transition(version=version, action="submit", actor=None, comment="generated")
    return IngestResult(asset=asset, version=version, outcome=outcome)


def _prewarm(version: AssetVersion, inspected: InspectedFile) -> None:
    """Queue the configured renditions for a worker, or make them here from pixels already decoded.

    JPEGs go to the worker, which decodes them cheaply at reduced DCT scale. Other formats have no
    cheap partial decode, so a second full decode in the worker would cost as much as ingest did:
    when this process holds the pixels, it renders from them (and still queues the task if that fails).
    """
    from dam import tasks

    if inspected.decoded is None or inspected.mime == "image/jpeg" or transaction.get_connection().in_atomic_block:
        tasks.prewarm_renditions.delay_on_commit(version.pk)
        return
    try:
        get_or_create_renditions(version=version, specs=list(dam_settings.PREWARM_SPECS), decoded=inspected.decoded)
    except Exception:
        logger.exception("making renditions of %s in process failed; queued for a worker", version)
        tasks.prewarm_renditions.delay(version.pk)


__all__ = ["IngestResult", "RejectedFile", "ingest_file", "ingest_limits"]
