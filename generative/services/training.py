"""Starting, cancelling and resuming training runs (the task in generative.tasks does the work)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from dam.models import Collection
from generative.conf import generative_settings, runs_dir
from generative.models import DatasetSnapshot, TrainingRun
from generative.nn.errors import GANConfigError
from generative.services.errors import DatasetError, RunStateError
from generative.services.snapshots import check_snapshot, create_snapshot, held_out_split
from generative.training.config import TrainConfig

S = TrainingRun.Status


# The kind of this work in the jobs API (/api/v1/jobs/training-<run id>/) and in webhook payloads.
JOB_KIND = "training"


def default_config(*, resolution: int) -> TrainConfig:
    return TrainConfig.default(resolution, checkpoint_kimg=generative_settings.CHECKPOINT_KIMG)


def training_config(*, resolution: int, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The tuned config for `resolution` with `overrides` of TrainConfig fields (``gan`` merged field by field).

    Each override must have its default's type (an int where a float is expected is fine); a
    GANConfigError names the first that does not.
    """
    base = default_config(resolution=resolution).to_dict()
    overrides = dict(overrides or {})
    gan = overrides.pop("gan", {})
    if not isinstance(gan, dict):
        raise GANConfigError(f"gan={gan!r} should be an object of network settings")
    if gan.get("resolution", resolution) != resolution:
        raise GANConfigError(f"gan.resolution={gan['resolution']!r} differs from the resolution asked for, {resolution}")
    _check_types(overrides, base, prefix="")
    _check_types(gan, base["gan"], prefix="gan.")
    return TrainConfig.from_dict({**base, **overrides, "gan": {**base["gan"], **gan}})


def _check_types(values: dict[str, Any], defaults: dict[str, Any], *, prefix: str) -> None:
    for name, value in values.items():
        if name not in defaults:
            raise GANConfigError(f"{prefix}{name} is not a setting; choose from {', '.join(sorted(defaults))}")
        default = defaults[name]
        expected = (int, float) if isinstance(default, float) else type(default)
        items_ok = not isinstance(value, list) or all(isinstance(v, str) for v in value)
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, expected) or not items_ok:
            raise GANConfigError(f"{prefix}{name}={value!r} should be a {type(default).__name__} like {default!r}")


def record(run: TrainingRun, event: str, *, actor: str | None = None, **payload: Any) -> None:
    from provenance.ledger import append_event

    append_event(kind="generative.training", subject=f"generative.trainingrun:{run.pk}", actor=actor or "system",
                 payload={"event": event, "snapshot": run.snapshot_id,
                          "content_hash": run.snapshot.content_hash, **payload})


def _enqueue(run: TrainingRun) -> None:
    from generative.tasks import train_gan

    def send() -> None:
        result = train_gan.delay(run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(celery_task_id=result.id)

    transaction.on_commit(send)


def start_training(*, snapshot: DatasetSnapshot, kimg: float, resolution: int | None = None,
                   config: TrainConfig | None = None, user=None) -> TrainingRun:
    """Check the snapshot for this resolution, create a queued run and enqueue it on commit.

    `config` defaults to the tuned one for `resolution`; given, its resolution wins.
    """
    if config is None:
        if resolution is None:
            raise GANConfigError("start_training needs a resolution or a config")
        config = default_config(resolution=resolution)
    elif resolution is not None and resolution != config.gan.resolution:
        raise GANConfigError(f"resolution={resolution} differs from the config's {config.gan.resolution}")
    if kimg <= 0:
        raise GANConfigError(f"kimg={kimg!r} must be positive")
    resolution = config.gan.resolution
    check_snapshot(snapshot, resolution=resolution)
    fraction = generative_settings.HELD_OUT_FRACTION
    train, held = held_out_split(snapshot, fraction=fraction)
    if len(train) < 2:
        raise DatasetError(f"snapshot {snapshot.pk}: {len(train)} image(s) left for training after holding out "
                           f"{len(held)} for metrics", code="too_few_images")
    with transaction.atomic():
        run = TrainingRun.objects.create(snapshot=snapshot, config=config.to_dict(), resolution=resolution,
                                         target_kimg=float(kimg), held_out_fraction=fraction, created_by=user)
        # A primary key comes back after the database is reset (or in each fresh test database) while the files
        # stay: the random suffix keeps a new run from resuming an older run's checkpoints as its own.
        run.run_dir = str(runs_dir() / f"run-{run.pk:06d}-{uuid.uuid4().hex[:8]}")
        run.save(update_fields=["run_dir"])
        record(run, "run_queued", actor=f"user:{user.pk}" if user else None, resolution=resolution,
               target_kimg=run.target_kimg, config=run.config, held_out=[snapshot.items[i]["sha256"] for i in held])
        _enqueue(run)
    return run


def train_collection(*, collection: Collection, kimg: float, resolution: int | None = None,
                     config: TrainConfig | None = None, tags: Iterable[str] = (), include_descendants: bool = True,
                     user=None) -> TrainingRun:
    """Snapshot the collection and queue a run on the snapshot: both or neither.

    A run refused (too few images, images too small, a bad config) leaves no snapshot behind.
    """
    with transaction.atomic():
        snapshot = create_snapshot(collection=collection, tags=tags, include_descendants=include_descendants,
                                   user=user)
        return start_training(snapshot=snapshot, kimg=kimg, resolution=resolution, config=config, user=user)


def notify(run: TrainingRun, event: str, **data: Any) -> None:
    """Owe webhook subscribers ``training.<event>``, written in the caller's transaction."""
    from dam.webhooks.services import publish_event

    publish_event(type=f"training.{event}", data={
        "job": f"{JOB_KIND}-{run.pk}", "run": run.pk, "collection": run.snapshot.collection_id,
        "resolution": run.resolution, "target_kimg": run.target_kimg, **data,
    })


def cancel_training(*, run: TrainingRun) -> TrainingRun:
    """Ask the run to stop: a queued run is cancelled at once, a running one within one step."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in TrainingRun.ACTIVE:
            raise RunStateError(f"{run} is {run.get_status_display().lower()}; only an active run can be cancelled")
        run.cancel_requested = True
        if run.status == S.QUEUED:
            run.status, run.finished_at = S.CANCELLED, timezone.now()
        else:
            run.status = S.CANCELLING
        run.save(update_fields=["cancel_requested", "status", "finished_at", "updated_at"])
    return run


def resume_training(*, run: TrainingRun, kimg: float | None = None) -> TrainingRun:
    """Queue a cancelled or failed run again from its last checkpoint (to `kimg`, if given)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status in TrainingRun.ACTIVE:
            raise RunStateError(f"{run} is already {run.get_status_display().lower()}")
        if run.status == S.FINISHED:
            # Its model version is registered with this run's exact checkpoint; more training is a new run.
            raise RunStateError(f"{run} finished at {run.target_kimg:g} kimg; start a new run to train further")
        if kimg is not None:
            run.target_kimg = float(kimg)
        run.status, run.cancel_requested, run.error, run.finished_at = S.QUEUED, False, "", None
        run.save()
        record(run, "run_resumed", target_kimg=run.target_kimg, from_kimg=run.last_checkpoint_kimg)
        _enqueue(run)
    return run
