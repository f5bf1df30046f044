"""Keep storage in step with rows: a deleted version or rendition takes its file with it."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete

from dam.models import AssetVersion, Rendition


def _delete_file_on_commit(sender, instance, **kwargs) -> None:
    name = instance.file.name
    if name:
        # After commit: a rolled-back delete must not lose the file.
        transaction.on_commit(lambda: default_storage.delete(name))


def connect() -> None:
    for model in (AssetVersion, Rendition):
        post_delete.connect(_delete_file_on_commit, sender=model, dispatch_uid=f"dam_delete_file_{model.__name__}")
