"""Training runs as jobs of the REST API: ``POST /api/v1/jobs/`` with ``"kind": "training"``.

Registered in the jobs registry of ``dam.api.jobs`` by ``GenerativeConfig.ready()``. A run is
reachable when its snapshot's collection is; starting one needs the ``generate`` scope and the
user's ``generative.add_trainingrun`` permission (cancelling: ``change``, as in the admin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError

from dam.api.errors import Conflict
from dam.api.jobs import JobKind, JobSerializer, JobStartSerializer, job_id
from generative.models import ModelVersion, TrainingRun
from generative.nn.config import SUPPORTED_RESOLUTIONS
from generative.nn.errors import GANConfigError
from generative.services.errors import DatasetError, RunStateError
from generative.services.training import JOB_KIND, cancel_training, train_collection, training_config

SAMPLES = "samples.png"
# Which request field a refused data set is about.
_DATASET_FIELDS = {"images_too_small": "resolution"}


class TrainingProgressSerializer(serializers.Serializer):
    fraction = serializers.FloatField(help_text="kimg / target_kimg, from 0 to 1")
    kimg = serializers.FloatField(help_text="Thousands of images shown so far")
    target_kimg = serializers.FloatField()
    step = serializers.IntegerField(allow_null=True)
    images_per_s = serializers.FloatField(allow_null=True)
    eta_s = serializers.FloatField(allow_null=True, help_text="Seconds left at the current speed")
    loss_g = serializers.FloatField(allow_null=True)
    loss_d = serializers.FloatField(allow_null=True)
    loss_r1 = serializers.FloatField(allow_null=True)
    augment_p = serializers.FloatField(allow_null=True, help_text="Adaptive augmentation probability")
    last_checkpoint_kimg = serializers.FloatField(allow_null=True)
    sample_grid = serializers.URLField(allow_null=True, help_text="The latest sample grid (PNG)")


class TrainingParametersSerializer(serializers.Serializer):
    collection = serializers.IntegerField()
    tags = serializers.ListField(child=serializers.CharField())
    include_descendants = serializers.BooleanField()
    resolution = serializers.IntegerField()
    kimg = serializers.FloatField()
    snapshot = serializers.CharField(help_text="Content hash of the frozen data set")
    config = serializers.DictField(help_text="The full TrainConfig the run trains with")


class TrainingResultSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    name = serializers.CharField()
    number = serializers.IntegerField()
    metrics = serializers.DictField(help_text="At the last checkpoint: swd_mean, kid, ...")
    sample_grid = serializers.URLField(allow_null=True)


def _model_version(run: TrainingRun) -> ModelVersion | None:
    try:
        return run.model_version
    except ObjectDoesNotExist:
        return None


def _sample_grid_url(run: TrainingRun, context: dict[str, Any]) -> str:
    path = reverse("dam-api:job-files", kwargs={"id": job_id(JOB_KIND, run.pk), "name": SAMPLES})
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class TrainingJobSerializer(JobSerializer):
    """A training run as a job: its progress while it trains, then its model version or its error."""

    kind_name = JOB_KIND

    progress = serializers.SerializerMethodField()
    parameters = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField(help_text="Set when the run failed.")

    @extend_schema_field(TrainingProgressSerializer)
    def get_progress(self, run: TrainingRun) -> dict[str, Any]:
        p = run.progress
        return {
            "fraction": min(run.kimg / run.target_kimg, 1.0) if run.target_kimg else 0.0,
            "kimg": run.kimg, "target_kimg": run.target_kimg, "step": p.get("step"),
            **{name: p.get(name) for name in ("images_per_s", "eta_s", "loss_g", "loss_d", "loss_r1", "augment_p")},
            "last_checkpoint_kimg": run.last_checkpoint_kimg,
            "sample_grid": _sample_grid_url(run, self.context) if run.last_sample_grid else None,
        }

    @extend_schema_field(TrainingParametersSerializer)
    def get_parameters(self, run: TrainingRun) -> dict[str, Any]:
        snapshot = run.snapshot
        return {"collection": snapshot.collection_id, "tags": snapshot.tags,
                "include_descendants": snapshot.include_descendants, "resolution": run.resolution,
                "kimg": run.target_kimg, "snapshot": snapshot.content_hash, "config": run.config}

    @extend_schema_field(TrainingResultSerializer(allow_null=True))
    def get_result(self, run: TrainingRun) -> dict[str, Any] | None:
        version = _model_version(run) if run.status == TrainingRun.Status.FINISHED else None
        if version is None:
            return None
        return {"model_version": version.pk, "name": version.name, "number": version.number,
                "metrics": version.metrics,
                "sample_grid": _sample_grid_url(run, self.context) if version.sample_grid_path else None}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, run: TrainingRun) -> str | None:
        return run.error or None if run.status == TrainingRun.Status.FAILED else None


class TrainingStartSerializer(JobStartSerializer):
    kind = serializers.ChoiceField(choices=[JOB_KIND])
    collection = serializers.IntegerField(
        min_value=1, help_text="A collection you can reach; its approved, training-allowed images are the data set.")
    include_descendants = serializers.BooleanField(default=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list,
                                 help_text="Only assets with all of these tags.")
    resolution = serializers.ChoiceField(choices=SUPPORTED_RESOLUTIONS, default=64)
    kimg = serializers.FloatField(help_text="Train until this many thousand images have been shown (> 0).")
    config = serializers.DictField(required=False, help_text="TrainConfig fields overriding the tuned defaults "
                                                             "(as manage.py train_gan --config; gan merged by field).")

    def validate_kimg(self, value: float) -> float:
        if not value > 0:
            raise serializers.ValidationError("must be more than 0")
        return value


class TrainingJobs(JobKind):
    name = JOB_KIND
    model = TrainingRun
    serializer_class = TrainingJobSerializer
    start_serializer_class = TrainingStartSerializer

    def jobs(self, caller):
        return (TrainingRun.objects.filter(snapshot__collection__in=caller.collections)
                .select_related("snapshot", "model_version").defer("snapshot__items"))

    def start(self, data: dict[str, Any], *, caller) -> TrainingRun:
        if not caller.user.has_perm("generative.add_trainingrun"):
            raise PermissionDenied("Starting a training run needs the generative.add_trainingrun permission.")
        collection = caller.collections.filter(pk=data["collection"]).first()
        if collection is None:
            raise ValidationError({"collection": [f"no collection {data['collection']} that you can reach"]})
        try:
            config = training_config(resolution=data["resolution"], overrides=data.get("config"))
            run = train_collection(collection=collection, tags=data["tags"], kimg=data["kimg"], config=config,
                                   include_descendants=data["include_descendants"], user=caller.user)
        except GANConfigError as exc:
            raise ValidationError({"config": [str(exc)]}, code="invalid_config") from exc
        except DatasetError as exc:
            raise ValidationError({_DATASET_FIELDS.get(exc.code, "collection"): [exc.message]}, code=exc.code) from exc
        return self.jobs(caller).get(pk=run.pk)

    def cancel(self, job: TrainingRun, *, caller) -> TrainingRun:
        if not caller.user.has_perm("generative.change_trainingrun"):
            raise PermissionDenied("Cancelling a training run needs the generative.change_trainingrun permission.")
        try:
            cancel_training(run=job)
        except RunStateError as exc:
            raise Conflict(exc.message, code="job_not_active") from exc
        return self.jobs(caller).get(pk=job.pk)

    def file(self, job: TrainingRun, name: str) -> tuple[Path, str] | None:
        if name != SAMPLES:
            return None
        version = _model_version(job)
        grid = (version.sample_grid_path if version is not None else "") or job.last_sample_grid
        return (Path(grid), "image/png") if grid else None
