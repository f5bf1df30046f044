"""Sliced Wasserstein distance between two image sets, measured on Laplacian-pyramid patches.

Following the multi-scale statistical similarity of Karras et al. (2018): each image is split into a
Laplacian pyramid, random 7x7 neighbourhoods are taken at every level, and the two clouds of patch
descriptors are compared with the sliced Wasserstein distance (mean over random directions of the
1-D Wasserstein distance of the projections). Fine levels catch texture and edges, the coarsest one
catches colour and layout.

Patches are cut at the same random positions in both sets, and both descriptor clouds are standardised with the *reference* set's per-channel mean and deviation,
so a pure colour or brightness shift still counts as a difference (standardising each set by its own
statistics would hide it). Values are reported multiplied by 1e3.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from generative.metrics.errors import MetricInputError, check_images

PATCH_SIZE = 7
SCALE = 1e3

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: torch.Tensor) -> torch.Tensor:
    # The 5x5 binomial kernel is separable; weighted sums of shifted views beat conv2d on CPU here.
    h, w = x.shape[-2:]
    p = F.pad(x, (2, 2, 2, 2), mode="reflect")
    rows = sum(wt * p[..., i : i + h, :] for i, wt in enumerate(_BINOMIAL.tolist()))
    return sum(wt * rows[..., i : i + w] for i, wt in enumerate(_BINOMIAL.tolist()))


def _down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[:, :, ::2, ::2]


def _up(x: torch.Tensor) -> torch.Tensor:
    # Zero-insertion upsampling followed by the same blur (times 4 to keep the energy) inverts _down's grid.
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, h * 2, w * 2)
    out[:, :, ::2, ::2] = x
    return _blur(out) * 4.0


def laplacian_pyramid(images: torch.Tensor, *, min_resolution: int = 16) -> list[torch.Tensor]:
    """Band-pass levels from finest to coarsest; the last level is the low-pass residual."""
    check_images(images, name="images")
    if images.shape[-1] < min_resolution:
        raise MetricInputError(
            f"images are {images.shape[-1]} px, smaller than min_resolution={min_resolution}"
        )
    levels = []
    current = images.float()
    while current.shape[-1] > min_resolution:
        low = _down(current)
        levels.append(current - _up(low))
        current = low
    levels.append(current)
    return levels


def _patch_positions(
    shape: torch.Size, *, per_image: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    n, _, h, w = shape
    if h < PATCH_SIZE or w < PATCH_SIZE:
        raise MetricInputError(f"pyramid level of {h}x{w} px is smaller than a {PATCH_SIZE}px patch")
    ys = torch.randint(0, h - PATCH_SIZE + 1, (n, per_image), generator=generator)
    xs = torch.randint(0, w - PATCH_SIZE + 1, (n, per_image), generator=generator)
    return ys, xs


def _descriptors(level: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    n, c = level.shape[:2]
    per_image = ys.shape[1]
    offs = torch.arange(PATCH_SIZE)
    rows = (ys[..., None] + offs)[..., :, None].expand(n, per_image, PATCH_SIZE, PATCH_SIZE)
    cols = (xs[..., None] + offs)[..., None, :].expand(n, per_image, PATCH_SIZE, PATCH_SIZE)
    batch = torch.arange(n)[:, None, None, None].expand_as(rows)
    # (n, c, h, w) -> (n, per_image, 7, 7, c) by advanced indexing, then one row per patch.
    patches = level.permute(0, 2, 3, 1)[batch, rows, cols]
    return patches.permute(0, 1, 4, 2, 3).reshape(n * per_image, c * PATCH_SIZE * PATCH_SIZE)


def sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, *, directions: int, repeats: int, generator: torch.Generator
) -> float:
    """Mean 1-D Wasserstein distance of ``a`` and ``b`` (same row count) along random unit directions."""
    if a.shape != b.shape:
        raise MetricInputError(f"descriptor sets differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    total = 0.0
    for _ in range(repeats):
        dirs = torch.randn(directions, a.shape[1], generator=generator)
        dirs = dirs / dirs.norm(dim=1, keepdim=True)
        # NumPy's sort along contiguous rows is an order of magnitude faster than torch.sort on CPU.
        pa = np.sort((dirs @ a.T).numpy(), axis=1)
        pb = np.sort((dirs @ b.T).numpy(), axis=1)
        total += float(np.abs(pa - pb).mean())
    return total / repeats


def swd(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    patches_per_image: int = 64,
    directions: int = 128,
    repeats: int = 4,
    min_resolution: int = 16,
    seed: int = 0,
) -> dict[str, float]:
    """SWD (x1e3) of ``fake`` against ``real`` per pyramid level, keyed ``swd_<res>``, plus ``swd_mean``.

    Images are (N, C, H, W) in [-1, 1]. The sets may differ in size; the larger one is subsampled so
    both clouds have the same number of descriptors.
    """
    check_images(real, name="real")
    check_images(fake, name="fake")
    if real.shape[1:] != fake.shape[1:]:
        raise MetricInputError(f"real is {tuple(real.shape[1:])} but fake is {tuple(fake.shape[1:])}")
    generator = torch.Generator().manual_seed(seed)
    n = min(len(real), len(fake))
    if len(real) > n:
        real = real[torch.randperm(len(real), generator=generator)[:n]]
    if len(fake) > n:
        fake = fake[torch.randperm(len(fake), generator=generator)[:n]]
    result: dict[str, float] = {}
    for lr, lf in zip(
        laplacian_pyramid(real, min_resolution=min_resolution),
        laplacian_pyramid(fake, min_resolution=min_resolution),
        strict=True,
    ):
        # Both sets are cut at the same positions (common random numbers): the sampling noise then
        # cancels in the comparison instead of adding to it, and a set against itself scores zero.
        ys, xs = _patch_positions(lr.shape, per_image=patches_per_image, generator=generator)
        dr, df = _descriptors(lr, ys, xs), _descriptors(lf, ys, xs)
        channels = lr.shape[1]
        per_channel = dr.view(len(dr), channels, -1)
        mean = per_channel.mean(dim=(0, 2)).repeat_interleave(PATCH_SIZE * PATCH_SIZE)
        std = per_channel.std(dim=(0, 2)).clamp_min(1e-8).repeat_interleave(PATCH_SIZE * PATCH_SIZE)
        value = sliced_wasserstein(
            (dr - mean) / std, (df - mean) / std, directions=directions, repeats=repeats, generator=generator
        )
        result[f"swd_{lr.shape[-1]}"] = value * SCALE
    result["swd_mean"] = sum(result.values()) / len(result)
    return result
