"""Keep storage in step with rows: a deleted version or rendition takes its file with it; a deleted
asset leaves a tombstone for incremental sync."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete

from dam.models import Asset, AssetVersion, Rendition


def _delete_file_on_commit(sender, instance, **kwargs) -> None:
    name = instance.file.name
    if name:
        # After commit: a rolled-back delete must not lose the file.
        transaction.on_commit(lambda: default_storage.delete(name))


def _record_asset_deletion(sender, instance: Asset, **kwargs) -> None:
    from dam.services.assets import record_asset_deletion

    record_asset_deletion(asset=instance)


def _prewarm_delivery_renditions(sender, transition, version, asset, **kwargs) -> None:
    # Published: a CMS will ask for the signed renditions next; make them before it does.
    if transition.to_state == "published":
        from dam.tasks import prewarm_renditions, reissue_publication_credentials

        prewarm_renditions.delay(version.pk, signed=True)
        if asset.source == "generated":
            reissue_publication_credentials.delay(version.pk)


def connect() -> None:
    from dam.signals import version_transitioned

    for model in (AssetVersion, Rendition):
        post_delete.connect(_delete_file_on_commit, sender=model, dispatch_uid=f"dam_delete_file_{model.__name__}")
    pre_delete.connect(_record_asset_deletion, sender=Asset, dispatch_uid="dam_record_asset_deletion")
    version_transitioned.connect(_prewarm_delivery_renditions, dispatch_uid="dam_prewarm_delivery_renditions")
