"""Metrics at each checkpoint: SWD and KID of G_ema's images against the snapshot's held-out images.

KID is measured in the in-house encoder's feature space. The encoder is trained on the snapshot's
training images (never the held-out ones) the first time a snapshot and resolution need it, saved
with its weight hash, and reused by every later run of the snapshot, so their KIDs compare.
"""

from __future__ import annotations

from pathlib import Path

import torch

from generative.conf import generative_settings, runs_dir
from generative.metrics import (
    EncoderConfig,
    FeatureEncoder,
    kid,
    load_encoder,
    save_encoder,
    swd,
    train_encoder,
)
from generative.models import TrainingRun
from generative.training.export import generator_from_checkpoint

FAKE_SEED = 1234


def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1.0


def encoder_for(run: TrainingRun, *, train_images: torch.Tensor) -> FeatureEncoder:
    steps = generative_settings.METRICS_ENCODER_STEPS
    path = runs_dir() / "encoders" / f"{run.snapshot.content_hash}-{run.resolution}px-{steps}steps.pt"
    if path.exists():
        return load_encoder(path)
    size = min(run.resolution, 32)
    encoder, _ = train_encoder(to_float(train_images), config=EncoderConfig(input_size=size), steps=steps,
                               batch_size=min(64, len(train_images)), name=f"snapshot-{run.snapshot.content_hash[:12]}")
    save_encoder(encoder, path)
    return encoder


@torch.no_grad()
def generated_images(checkpoint: Path, *, count: int) -> torch.Tensor:
    generator = generator_from_checkpoint(checkpoint)
    z = torch.randn(count, generator.config.z_dim, generator=torch.Generator().manual_seed(FAKE_SEED))
    labels = torch.arange(count) % generator.num_classes if generator.num_classes > 0 else None
    return torch.cat([generator(z[i:i + 64], labels[i:i + 64] if labels is not None else None)
                      for i in range(0, count, 64)]).clamp(-1, 1)


def checkpoint_metrics(*, checkpoint: Path, held_out: torch.Tensor, encoder: FeatureEncoder) -> dict[str, float | str]:
    """SWD (x1e3 per level and mean) and KID of the checkpoint's G_ema against `held_out` (uint8 NCHW)."""
    real = to_float(held_out)
    fake = generated_images(checkpoint, count=generative_settings.METRICS_FAKES)
    result: dict[str, float | str] = dict(swd(real, fake, seed=0))
    result["kid"], result["kid_std"] = kid(encoder.features(real), encoder.features(fake), seed=0)
    result["encoder_version"] = encoder.version
    result["held_out"] = len(real)
    result["fakes"] = len(fake)
    return result
