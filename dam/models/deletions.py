"""Hard deletions of assets, kept so incremental sync can tell a CMS to drop what is gone."""

from __future__ import annotations

from django.db import models


class AssetDeletion(models.Model):
    """One asset row deleted for good (the admin, a shell), written in the deleting transaction.

    It outlives the asset and its collection, so it holds plain values, no foreign keys:
    ``collection_path`` scopes it the way the asset was scoped when it went, and ``was_published``
    decides whether a delivery token, which never saw drafts, is told about it.
    """

    asset_id = models.UUIDField()
    collection_id = models.BigIntegerField()
    collection_path = models.CharField(max_length=1000)
    was_published = models.BooleanField(default=False)
    deleted_at = models.DateTimeField()

    class Meta:
        ordering = ["deleted_at", "asset_id"]
        # Sync reads them in this order from a point in time.
        indexes = [models.Index(fields=["deleted_at", "asset_id"], name="dam_assetdeletion_sync")]

    def __str__(self) -> str:
        return f"asset {self.asset_id} deleted at {self.deleted_at:%Y-%m-%d %H:%M:%S}"
