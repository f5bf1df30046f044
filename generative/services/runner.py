"""Executing a training run inside a worker process: claim it, train or resume, record, finish.

Idempotent by design: a run is claimed under a row lock and owned by one process ("host:pid"). A
message delivered twice finds the run finished, or owned by a live process, and does nothing; a run
whose owner was killed is taken over and resumed from its last checkpoint.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import torch
from django.db import transaction
from django.utils import timezone

from generative.conf import generative_settings, runs_dir
from generative.models import TrainingRun
from generative.services import metrics as run_metrics
from generative.services.distributed import train_with_torchrun
from generative.services.preprocess import prepared_images
from generative.services.snapshots import held_out_split
from generative.services.training import notify, record
from generative.training.checkpoint import CheckpointError, list_checkpoints
from generative.training.config import TrainConfig
from generative.training.trainer import Progress, Trainer

logger = logging.getLogger(__name__)
S = TrainingRun.Status


def shutdown_flag(pid: int) -> Path:
    """A file whose existence tells the pool children of worker `pid` on this host to hand their runs back."""
    return runs_dir() / "shutdown" / f"{socket.gethostname()}-{pid}"


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(run: TrainingRun) -> bool:
    """Is the process that owns the run still there? Same host: ask the OS; elsewhere: its heartbeat."""
    host, _, pid = run.owner.rpartition(":")
    if not host:
        return False
    if host == socket.gethostname():
        if int(pid) == os.getpid():
            return False  # an earlier attempt in this very process ended without letting go
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if run.heartbeat_at is None:
        return False
    return (timezone.now() - run.heartbeat_at).total_seconds() < generative_settings.STALE_RUN_S


def claim(run_id: int) -> TrainingRun | None:
    """Take the run for this process, or None when there is nothing for it to do."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().select_related("snapshot").filter(pk=run_id).first()
        if run is None or run.status in (S.CANCELLED, S.FAILED, S.FINISHED):
            return None
        if run.status in (S.RUNNING, S.CANCELLING) and owner_alive(run):
            return None
        if run.status == S.CANCELLING:
            run.status, run.finished_at = S.CANCELLED, timezone.now()
            run.save(update_fields=["status", "finished_at", "updated_at"])
            return None
        resumed = run.status == S.RUNNING
        run.status, run.owner, run.heartbeat_at = S.RUNNING, this_process(), timezone.now()
        run.started_at = run.started_at or run.heartbeat_at
        run.attempts += 1
        run.save()
        record(run, "run_started", actor="worker:train", owner=run.owner, attempt=run.attempts,
               taken_over=resumed, from_kimg=run.last_checkpoint_kimg)
        notify(run, "started", attempt=run.attempts, taken_over=resumed, from_kimg=run.last_checkpoint_kimg)
    return run


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Recorder:
    """The trainer's callbacks: throttled progress, checkpoint bookkeeping and metrics, cancellation."""

    def __init__(self, run: TrainingRun, *, train: torch.Tensor, held_out: torch.Tensor) -> None:
        self.run, self.train, self.held_out = run, train, held_out
        self.owner = run.owner
        self.last_write = 0.0
        self.lost = False
        self.released = False  # the worker is shutting down: hand the run back
        self.encoder = None
        self.start_kimg = 0.0
        self.checkpoints = 0

    def should_cancel(self) -> bool:
        if shutdown_flag(os.getppid()).exists():
            self.released = True
            return True
        row = TrainingRun.objects.filter(pk=self.run.pk).values("cancel_requested", "owner").first()
        self.lost = row is None or row["owner"] != self.owner
        return self.lost or row["cancel_requested"]

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        fields: dict[str, Any] = {}
        if progress.checkpoint is not None:
            kimg = progress.kimg
            fields["last_checkpoint_kimg"] = kimg
            grid = Path(self.run.run_dir) / "samples" / f"img-{int(round(kimg * 1000)):09d}.png"
            if grid.exists():
                fields["last_sample_grid"] = str(grid)
            self.checkpoints += 1
            last = kimg >= self.run.target_kimg - 1e-9
            due = last or self.checkpoints % max(generative_settings.METRICS_EVERY, 1) == 0
            measured = self.measure(progress.checkpoint, kimg=kimg) if due else None
            if measured is not None:
                self.run.metrics = [*self.run.metrics, measured]
                fields["metrics"] = self.run.metrics
        elif progress.event == "step" and now - self.last_write < generative_settings.PROGRESS_INTERVAL_S:
            return
        self.last_write = now
        fields["progress"] = {
            "event": progress.event, "step": progress.step, "kimg": progress.kimg, "target_kimg": progress.until_kimg,
            "start_kimg": self.start_kimg,
            "images_per_s": _finite(progress.images_per_s), "eta_s": _finite(progress.eta_s),
            "loss_g": _finite(progress.loss_g), "loss_d": _finite(progress.loss_d),
            "loss_r1": _finite(progress.loss_r1), "augment_p": progress.augment_p,
        }
        # Only while this process still owns the run: a taken-over run is written by its new owner.
        TrainingRun.objects.filter(pk=self.run.pk, owner=self.owner).update(
            heartbeat_at=timezone.now(), updated_at=timezone.now(), **fields)

    def measure(self, checkpoint: Path, *, kimg: float) -> dict[str, Any] | None:
        if not generative_settings.METRICS or len(self.held_out) < 2:
            return None
        started = time.perf_counter()
        if self.encoder is None:
            self.encoder = run_metrics.encoder_for(self.run, train_images=self.train)
        values = run_metrics.checkpoint_metrics(checkpoint=checkpoint, held_out=self.held_out, encoder=self.encoder)
        return {"kimg": kimg, **{k: _finite(v) for k, v in values.items()},
                "seconds": round(time.perf_counter() - started, 3)}


def _trainer(run: TrainingRun, *, data: torch.Tensor, recorder: Recorder) -> Trainer:
    common = {"dataset": data, "device": generative_settings.DEVICE or None, "on_progress": recorder,
              "should_cancel": recorder.should_cancel}
    run_dir = Path(run.run_dir)
    # Newest first; an unreadable file (a disk fault, never a torn write) falls back to the one before.
    for checkpoint in reversed(list_checkpoints(run_dir)):
        try:
            return Trainer.resume(run_dir, checkpoint=checkpoint, **common)
        except CheckpointError as exc:
            logger.warning("run %s: skipping checkpoint %s: %s", run.pk, checkpoint.name, exc)
    return Trainer(config=TrainConfig.from_dict(run.config), run_dir=run_dir, **common)


def execute(run: TrainingRun) -> str:
    """Train the claimed run to its target; returns the status it ends in."""
    if generative_settings.TORCH_THREADS > 0:
        torch.set_num_threads(generative_settings.TORCH_THREADS)
    images = torch.from_numpy(prepared_images(run.snapshot, resolution=run.resolution))
    train_idx, held_idx = held_out_split(run.snapshot, fraction=run.held_out_fraction)
    recorder = Recorder(run, train=images[train_idx], held_out=images[held_idx])
    processes = generative_settings.DDP_PROCESSES
    if processes > 1:
        event = train_with_torchrun(run, train=images[train_idx], recorder=recorder, processes=processes)
    else:
        trainer = _trainer(run, data=images[train_idx], recorder=recorder)
        recorder.start_kimg = trainer.kimg
        event = trainer.train(until_kimg=run.target_kimg).event
        if recorder.released and not recorder.lost:
            # A warm shutdown should not wait for the whole run, nor lose the steps since the last checkpoint.
            trainer.save()
            TrainingRun.objects.filter(pk=run.pk, owner=recorder.owner).update(last_checkpoint_kimg=trainer.kimg)
    if recorder.released and not recorder.lost:
        return release(run, owner=recorder.owner)
    if recorder.lost:
        logger.warning("run %s was taken over by another process; this one stops", run.pk)
        return S.RUNNING
    if event == "finished":
        return S.FINISHED  # the caller registers the model, then marks the run finished
    with transaction.atomic():
        TrainingRun.objects.filter(pk=run.pk, owner=recorder.owner).update(
            status=S.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now())
        record(run, "run_cancelled", actor="worker:train", last_checkpoint_kimg=TrainingRun.objects.values_list(
            "last_checkpoint_kimg", flat=True).get(pk=run.pk))
    return S.CANCELLED


def release(run: TrainingRun, *, owner: str) -> str:
    """Put the run back in the queue's hands (status queued, no owner); the caller re-enqueues it."""
    with transaction.atomic():
        TrainingRun.objects.filter(pk=run.pk, owner=owner).update(status=S.QUEUED, owner="",
                                                                  updated_at=timezone.now())
        record(run, "run_released", actor="worker:train", last_checkpoint_kimg=TrainingRun.objects.values_list(
            "last_checkpoint_kimg", flat=True).get(pk=run.pk))
    return S.QUEUED


def finish(run: TrainingRun) -> None:
    """Register the trained model, then mark the run finished: a finished run always has its model."""
    from generative.services.registry import register_model_version

    run.refresh_from_db()
    version = register_model_version(run=run)
    with transaction.atomic():  # whoever sees the run finished also finds it in the ledger
        TrainingRun.objects.filter(pk=run.pk).update(status=S.FINISHED, finished_at=timezone.now(),
                                                     updated_at=timezone.now())
        record(run, "run_finished", actor="worker:train", kimg=run.kimg, model_version=version.pk)
        notify(run, "finished", kimg=run.kimg, model_version=version.pk, metrics=version.metrics)


def fail(run_id: int, *, error: BaseException) -> None:
    """Mark the run failed with a readable message; its checkpoints stay for a resume."""
    message = f"{type(error).__name__}: {error}"[:5000]
    with transaction.atomic():
        TrainingRun.objects.filter(pk=run_id).update(status=S.FAILED, error=message, finished_at=timezone.now(),
                                                     updated_at=timezone.now())
        run = TrainingRun.objects.select_related("snapshot").filter(pk=run_id).first()
        if run is not None:
            record(run, "run_failed", actor="worker:train", error=message)
            notify(run, "failed", error=message)
