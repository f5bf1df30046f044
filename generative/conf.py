"""Generative settings, read lazily from Django settings (``GENERATIVE_*``) with defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from config.appsettings import app_settings

DEFAULTS: dict[str, Any] = {
    "DEVICE": "",
    # Where runs, preprocessed data sets and metric encoders live; "" means <VAR_DIR>/generative/runs.
    "RUNS_DIR": "",
    "CHECKPOINT_KIMG": 10.0,
    # A data set smaller than this cannot teach a GAN anything but memorisation.
    "MIN_IMAGES": 16,
    # Widest allowed ratio between the most and least elongated image (long side / short side).
    "MAX_ASPECT_SPREAD": 1.34,
    # How non-square images become square: "crop" (centre) or "pad" (with the background colour).
    "FIT": "crop",
    "BACKGROUND": "#ffffff",
    "HELD_OUT_FRACTION": 0.1,
    # Metrics at each checkpoint: generated images compared, and the in-house encoder's training steps.
    "METRICS": True,
    "METRICS_FAKES": 256,
    "METRICS_ENCODER_STEPS": 200,
    # Measure at every Nth checkpoint (the last one always), when checkpoints are cheap and metrics not.
    "METRICS_EVERY": 1,
    # Progress is written to the database at most this often (checkpoints and the end always are).
    "PROGRESS_INTERVAL_S": 2.0,
    # A run whose owner on another host has not written for this long is taken over by a new worker.
    "STALE_RUN_S": 300.0,
    # Processes per run: above 1 the task launches torchrun (DDP, one GPU each, Gloo on CPU); 1 trains
    # in the worker process.
    "DDP_PROCESSES": 1,
    "TORCH_THREADS": 0,
}

generative_settings = app_settings("GENERATIVE_", DEFAULTS)


def runs_dir() -> Path:
    return Path(generative_settings.RUNS_DIR or Path(settings.VAR_DIR) / "generative" / "runs")
