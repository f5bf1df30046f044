"""Dataset snapshots, training runs and the model registry."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def content_hash(sha256s: list[str]) -> str:
    """The snapshot's identity: sha256 of its sorted version hashes, one per line."""
    return hashlib.sha256("\n".join(sorted(sha256s)).encode()).hexdigest()


class DatasetSnapshot(models.Model):
    """The exact images a model learns from, frozen when it is made.

    ``items`` lists ``{"version": id, "sha256": ..., "asset": uuid}`` sorted by sha256; it does not
    depend on the training resolution, so one snapshot can feed runs at several sizes.
    """

    collection = models.ForeignKey("dam.Collection", on_delete=models.PROTECT, related_name="+")
    include_descendants = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True)
    items = models.JSONField(default=list)
    content_hash = models.CharField(max_length=64, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"snapshot {self.pk} ({len(self.items)} images, {self.content_hash[:12]})"

    @property
    def sha256s(self) -> list[str]:
        return [item["sha256"] for item in self.items]

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("Dataset snapshots are immutable; make a new one instead.")
        if self.content_hash != content_hash(self.sha256s):
            raise ValidationError("content_hash does not match the snapshot's items.")
        super().save(*args, **kwargs)


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        FINISHED = "finished", "Finished"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)

    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="runs")
    config = models.JSONField(help_text="TrainConfig.to_dict() the run was started with")
    resolution = models.PositiveIntegerField()
    target_kimg = models.FloatField()
    held_out_fraction = models.FloatField(default=0.1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # kimg, images_per_s, eta_s, loss_g, loss_d, loss_r1, augment_p, step (for the UI and the jobs API).
    progress = models.JSONField(default=dict, blank=True)
    # One entry per checkpoint: {"kimg": ..., "swd_mean": ..., "kid": ..., "encoder_version": ...}.
    metrics = models.JSONField(default=list, blank=True)
    last_checkpoint_kimg = models.FloatField(null=True, blank=True)
    last_sample_grid = models.CharField(max_length=500, blank=True)
    run_dir = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # The process training the run ("host:pid") and when it last wrote; a new worker takes over a
    # run whose owner is gone (killed on this host, or silent too long on another).
    owner = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.resolution}px, {self.get_status_display().lower()})"

    @property
    def kimg(self) -> float:
        return float(self.progress.get("kimg", self.last_checkpoint_kimg or 0.0))


class ModelVersion(models.Model):
    """A finished run's generator, registered for inference with its exact lineage."""

    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version")
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="model_versions")
    name = models.CharField(max_length=200)
    number = models.PositiveIntegerField()
    config = models.JSONField()
    metrics = models.JSONField(default=dict, blank=True)
    checkpoint_path = models.CharField(max_length=500)
    export_path = models.CharField(max_length=500, help_text="TorchScript of G_ema")
    onnx_path = models.CharField(max_length=500, blank=True)
    sample_grid_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-number"]
        constraints = [models.UniqueConstraint(fields=["name", "number"], name="generative_modelversion_unique")]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"
