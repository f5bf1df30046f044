"""k-NN manifold precision and recall (Kynkaanniemi et al., 2019), plus density and coverage.

Each set's manifold is the union of balls around its samples, each ball reaching the sample's k-th
nearest neighbour in the same set. Precision is the share of generated samples inside the real
manifold (fidelity); recall is the share of real samples inside the generated one (diversity).
Density and coverage (Naeem et al., 2020) are the outlier-robust variants measured on the real balls.
"""

from __future__ import annotations

import torch

from generative.metrics.errors import MetricInputError, check_features


def _pairwise(a: torch.Tensor, b: torch.Tensor, *, chunk: int = 2048) -> torch.Tensor:
    return torch.cat([torch.cdist(a[i : i + chunk], b) for i in range(0, len(a), chunk)])


def knn_radii(features: torch.Tensor, *, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    if not 1 <= k < len(features):
        raise MetricInputError(f"k={k} must be between 1 and the number of samples minus one ({len(features) - 1})")
    dist = _pairwise(features, features)
    # The smallest distance is the sample to itself, so the k-th neighbour is at index k.
    return dist.kthvalue(k + 1, dim=1).values


def precision_recall(
    real_features: torch.Tensor, fake_features: torch.Tensor, *, k: int = 3
) -> dict[str, float]:
    """``precision``, ``recall``, ``density`` and ``coverage`` of the fake set against the real one."""
    check_features(real_features, name="real_features", min_rows=k + 1)
    check_features(fake_features, name="fake_features", min_rows=k + 1)
    if real_features.shape[1] != fake_features.shape[1]:
        raise MetricInputError(
            f"feature widths differ: real {real_features.shape[1]} vs fake {fake_features.shape[1]}"
        )
    real, fake = real_features.double(), fake_features.double()
    real_radii, fake_radii = knn_radii(real, k=k), knn_radii(fake, k=k)
    real_to_fake = _pairwise(real, fake)
    inside_real = real_to_fake <= real_radii[:, None]
    inside_fake = real_to_fake <= fake_radii[None, :]
    return {
        "precision": float(inside_real.any(dim=0).double().mean()),
        "recall": float(inside_fake.any(dim=1).double().mean()),
        "density": float(inside_real.double().sum(dim=0).mean() / k),
        "coverage": float((real_to_fake.min(dim=1).values <= real_radii).double().mean()),
    }
