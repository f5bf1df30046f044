"""Errors raised by the offline metrics, and the input checks that raise them."""

from __future__ import annotations

import torch


class MetricInputError(ValueError):
    """A metric was given inputs it cannot measure (wrong shape, too few samples, non-finite values)."""


class EncoderIntegrityError(ValueError):
    """A saved feature encoder does not match its recorded weight hash or format."""


def check_images(images: torch.Tensor, *, name: str) -> None:
    """Raise unless ``images`` is a finite (N, C, H, W) floating tensor with N >= 2."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise MetricInputError(f"{name} must be an (N, C, H, W) tensor, got {shape}")
    if not images.is_floating_point():
        raise MetricInputError(f"{name} must be floating point in [-1, 1], got {images.dtype}")
    if images.shape[0] < 2:
        raise MetricInputError(f"{name} needs at least 2 images, got {images.shape[0]}")
    if not torch.isfinite(images).all():
        raise MetricInputError(f"{name} contains NaN or infinite values")


def check_features(features: torch.Tensor, *, name: str, min_rows: int = 2) -> None:
    """Raise unless ``features`` is a finite (N, D) floating tensor with at least ``min_rows`` rows."""
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise MetricInputError(f"{name} must be an (N, D) feature tensor, got {shape}")
    if features.shape[0] < min_rows:
        raise MetricInputError(f"{name} needs at least {min_rows} rows, got {features.shape[0]}")
    if not torch.isfinite(features).all():
        raise MetricInputError(f"{name} contains NaN or infinite values")
