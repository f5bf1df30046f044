"""Offline image-set metrics for generators: SWD in pixel space, KID and precision/recall in the in-house
encoder's feature space. Pure torch/numpy; nothing is downloaded."""

from __future__ import annotations

import torch

from generative.metrics.encoder import (
    EncoderConfig,
    FeatureEncoder,
    load_encoder,
    save_encoder,
    train_encoder,
)
from generative.metrics.errors import EncoderIntegrityError, MetricInputError, check_images
from generative.metrics.kid import kid
from generative.metrics.precision_recall import precision_recall
from generative.metrics.swd import swd

__all__ = [
    "EncoderConfig",
    "EncoderIntegrityError",
    "FeatureEncoder",
    "MetricInputError",
    "evaluate",
    "kid",
    "load_encoder",
    "precision_recall",
    "save_encoder",
    "swd",
    "train_encoder",
]


def evaluate(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    encoder: FeatureEncoder,
    seed: int = 0,
    k: int = 3,
    kid_subsets: int = 50,
) -> dict[str, float | str]:
    """Every metric of ``fake`` against held-out ``real`` images, both (N, 3, H, W) in [-1, 1].

    Returns the SWD per pyramid level and their mean (x1e3, lower is better), ``kid`` and ``kid_std``
    (lower is better), ``precision``, ``recall``, ``density``, ``coverage`` (higher is better) and the
    ``encoder_version`` the feature-space metrics were measured with, so results stay comparable only
    between runs that used the same encoder.
    """
    check_images(real, name="real")
    check_images(fake, name="fake")
    if real.shape[1:] != fake.shape[1:]:
        raise MetricInputError(f"real is {tuple(real.shape[1:])} but fake is {tuple(fake.shape[1:])}")
    result: dict[str, float | str] = dict(swd(real, fake, seed=seed))
    real_f, fake_f = encoder.features(real), encoder.features(fake)
    result["kid"], result["kid_std"] = kid(real_f, fake_f, subsets=kid_subsets, seed=seed)
    result.update(precision_recall(real_f, fake_f, k=k))
    result["encoder_version"] = encoder.version
    return result
