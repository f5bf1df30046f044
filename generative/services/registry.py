"""The model registry: one ModelVersion per finished run, with its exported generator."""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from generative.models import ModelVersion, TrainingRun
from generative.services.errors import RunStateError
from generative.services.training import record
from generative.training.checkpoint import latest_checkpoint
from generative.training.export import ExportError, export_generator, export_generator_onnx

logger = logging.getLogger(__name__)


def model_name(run: TrainingRun) -> str:
    snapshot = run.snapshot
    tags = f" [{', '.join(snapshot.tags)}]" if snapshot.tags else ""
    return f"{snapshot.collection.full_name}{tags} {run.resolution}px"[:200]


def register_model_version(*, run: TrainingRun) -> ModelVersion:
    """Export G_ema of the run's last checkpoint and register it; returns the existing one if any."""
    existing = ModelVersion.objects.filter(run=run).first()
    if existing is not None:
        return existing
    if (run.last_checkpoint_kimg or 0.0) < run.target_kimg - 1e-9:
        raise RunStateError(f"{run} has a checkpoint at {run.last_checkpoint_kimg} kimg, short of its target "
                            f"{run.target_kimg}; only a run trained to its target is registered")
    checkpoint = latest_checkpoint(Path(run.run_dir))
    export_dir = Path(run.run_dir) / "export"
    torchscript = export_generator(checkpoint=checkpoint, path=export_dir / "G_ema.torchscript.pt")
    onnx_path = ""
    try:
        onnx_path = str(export_generator_onnx(checkpoint=checkpoint, path=export_dir / "G_ema.onnx"))
    except (ExportError, RuntimeError) as exc:
        # TorchScript is the contract; ONNX is a convenience that some installs cannot make.
        logger.info("run %s: no ONNX export (%s)", run.pk, exc)
    metrics = run.metrics[-1] if run.metrics else {}
    name = model_name(run)
    with transaction.atomic():
        # Two runs of one name finishing at the same instant collide on the unique constraint.
        number = (ModelVersion.objects.filter(name=name).aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            run=run, snapshot=run.snapshot, name=name, number=number, config=run.config, metrics=metrics,
            checkpoint_path=str(checkpoint), export_path=str(torchscript), onnx_path=onnx_path,
            sample_grid_path=run.last_sample_grid,
        )
        record(run, "model_registered", model_version=version.pk, name=name, number=number,
               checkpoint=checkpoint.name, metrics=metrics)
    return version
