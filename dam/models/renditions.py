"""Renditions: derived files of a version, one per canonical spec."""

from __future__ import annotations

from django.db import models


class Rendition(models.Model):
    version = models.ForeignKey("dam.AssetVersion", on_delete=models.CASCADE, related_name="renditions")
    spec = models.CharField(max_length=255)
    # The focal point the rendition was cropped around: moving it makes new renditions.
    focal_key = models.CharField(max_length=64, blank=True, default="")
    # Signed with a C2PA manifest (original as parent): what delivery serves. Staff previews are not.
    signed = models.BooleanField(default=False)
    file = models.FileField(max_length=500)
    mime = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(
                fields=["version", "spec", "focal_key", "signed"], name="dam_rendition_unique_spec"
            )]

    def __str__(self) -> str:
        return f"{self.version} [{self.spec}]"
