"""Batch image augmentations for the encoder's contrastive training, driven by an explicit generator.

Every random draw comes from the ``torch.Generator`` passed in, so a seeded training run sees the
same views every time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_resized_crop(
    images: torch.Tensor, *, generator: torch.Generator, min_scale: float = 0.5
) -> torch.Tensor:
    """Crop a random square of ``min_scale``..1 of the side, with a random horizontal flip, back to full size."""
    n = images.shape[0]
    scale = min_scale + (1.0 - min_scale) * torch.rand(n, generator=generator)
    shift = (1.0 - scale)[:, None] * (torch.rand(n, 2, generator=generator) * 2.0 - 1.0)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def colour_jitter(images: torch.Tensor, *, generator: torch.Generator, strength: float = 0.4) -> torch.Tensor:
    """Random brightness, contrast and saturation per image; inputs and outputs are in [-1, 1]."""
    n = images.shape[0]

    def factor() -> torch.Tensor:
        return (1.0 + strength * (torch.rand(n, 1, 1, 1, generator=generator) * 2.0 - 1.0)).to(images)

    x = images * factor()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor() + mean
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * factor() + grey
    return x.clamp(-1.0, 1.0)


def two_views(images: torch.Tensor, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views of the same batch, the positives of a contrastive loss."""

    def view() -> torch.Tensor:
        return colour_jitter(random_resized_crop(images, generator=generator), generator=generator)

    return view(), view()
