"""Assets and their immutable versions."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from dam.models.workflow import ReviewState


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Asset(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Image"

    class Source(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        IMPORTED = "imported", "Imported"
        GENERATED = "generated", "Generated"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.IMAGE)
    collection = models.ForeignKey("dam.Collection", on_delete=models.PROTECT, related_name="assets")
    tags = models.ManyToManyField(Tag, blank=True, related_name="assets")
    # Focal point in the current version's (orientation-corrected) pixel space.
    focal_x = models.PositiveIntegerField(null=True, blank=True)
    focal_y = models.PositiveIntegerField(null=True, blank=True)
    focal_width = models.PositiveIntegerField(null=True, blank=True)
    focal_height = models.PositiveIntegerField(null=True, blank=True)
    licence = models.TextField(blank=True)
    usage_terms = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    training_allowed = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOADED)
    # The review state of the current version, kept here for listing and filtering.
    status = models.CharField(
        max_length=24, choices=ReviewState.choices, default=ReviewState.DRAFT, db_index=True, editable=False
    )
    current_version = models.OneToOneField(
        "dam.AssetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The version a CMS receives: set by publishing, cleared by archiving or expiry. A newer version
    # in review does not take the published one away.
    published_version = models.OneToOneField(
        "dam.AssetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def focal_point(self) -> tuple[int, int, int, int] | None:
        if self.focal_x is None or self.focal_y is None:
            return None
        return (self.focal_x, self.focal_y, self.focal_width or 1, self.focal_height or 1)

    def clean(self) -> None:
        given = [self.focal_x, self.focal_y]
        if any(v is not None for v in given) and any(v is None for v in given):
            raise ValidationError("A focal point needs both x and y.")


class AssetVersion(models.Model):
    """One immutable file of an asset. A new upload makes a new version; none is ever edited."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    file = models.FileField(max_length=500)
    original_filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    mime = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    mode = models.CharField(max_length=16)
    has_icc = models.BooleanField(default=False)
    frames = models.PositiveIntegerField(default=1)
    metadata = models.JSONField(default=dict, blank=True)
    phash = models.CharField(max_length=16, db_index=True)
    palette = models.JSONField(default=list, blank=True)
    near_duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="near_duplicates"
    )
    near_duplicate_distance = models.PositiveSmallIntegerField(null=True, blank=True)
    # Content Credentials the file arrived with (provenance.services.incoming): the verdict, the
    # validation state, whether it declares AI generation, its training-and-mining permissions.
    credentials = models.JSONField(default=dict, blank=True)
    manifest_store = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["asset", "-number"]
        constraints = [models.UniqueConstraint(fields=["asset", "number"], name="dam_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.asset.title} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.pop("allow_update", False):
            raise ValidationError("Asset versions are immutable; upload a new version instead.")
        super().save(*args, **kwargs)
