"""The manifest repository: one row per manifest BrandForge signed for generated media.

A row keeps the manifest store exactly as signed (``application/c2pa`` bytes) so a file whose
metadata was stripped can get its credential back, through the watermark (the soft-binding value)
or, failing that, through the perceptual hash.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class StoredManifest(models.Model):
    manifest_id = models.CharField(max_length=255, unique=True, help_text="The active manifest's label (urn:c2pa:…).")
    # Unique: one watermark ID names one manifest, which is what makes recovery unambiguous.
    watermark_id = models.CharField(
        max_length=64, unique=True, null=True, blank=True, help_text="Soft-binding value: base64 of the 48-bit watermark payload."
    )
    algorithm = models.CharField(max_length=64, help_text="Soft-binding algorithm of the watermark.")
    title = models.CharField(max_length=255, blank=True)
    manifest_store = models.BinaryField(help_text="The signed manifest store (application/c2pa).")
    manifest_json = models.JSONField(default=dict, help_text="The store as c2pa reads it, for display.")
    # What the manifest declares, kept at signing so a recovered credential can say it too.
    declares_ai_generation = models.BooleanField(default=False)
    training_mining = models.JSONField(default=dict)
    mime_type = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64, db_index=True, help_text="Of the signed file.")
    pixel_sha256 = models.CharField(max_length=64, help_text="Of the decoded pixels: equal after a lossless re-encode.")
    phash = models.CharField(max_length=16, db_index=True, help_text="imagehash.phash of the signed image, 16 hex digits.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "stored manifest"

    def __str__(self) -> str:
        return f"{self.manifest_id} ({self.title or self.mime_type})"
