"""Kernel Inception Distance, measured in the in-house encoder's feature space.

KID (Binkowski et al., 2018) is the squared maximum mean discrepancy with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, estimated without bias and averaged over random subsets. Unlike FID it
has an unbiased estimator, so small sample sizes do not shift its expected value.
"""

from __future__ import annotations

import torch

from generative.metrics.errors import MetricInputError, check_features


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2: within-set kernel means leave out the diagonal (a sample paired with itself)."""
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(term_x + term_y - 2.0 * kxy.mean())


def kid(
    real_features: torch.Tensor,
    fake_features: torch.Tensor,
    *,
    subsets: int = 50,
    subset_size: int | None = None,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean and standard deviation of the unbiased MMD^2 over ``subsets`` random subsets of both sets.

    By default a subset is 1000 samples or half the smaller set, whichever is less: subsets as large
    as the whole set would all be the same samples and their spread would say nothing.
    """
    check_features(real_features, name="real_features")
    check_features(fake_features, name="fake_features")
    if real_features.shape[1] != fake_features.shape[1]:
        raise MetricInputError(
            f"feature widths differ: real {real_features.shape[1]} vs fake {fake_features.shape[1]}"
        )
    if subsets < 1:
        raise MetricInputError(f"subsets={subsets} must be at least 1")
    smaller = min(len(real_features), len(fake_features))
    size = min(subset_size or max(2, min(1000, smaller // 2)), smaller)
    generator = torch.Generator().manual_seed(seed)
    x, y = real_features.double(), fake_features.double()
    values = torch.tensor(
        [
            mmd2_unbiased(
                x[torch.randperm(len(x), generator=generator)[:size]],
                y[torch.randperm(len(y), generator=generator)[:size]],
            )
            for _ in range(subsets)
        ],
        dtype=torch.float64,
    )
    std = float(values.std()) if subsets > 1 else 0.0
    return float(values.mean()), std
