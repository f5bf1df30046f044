"""Exponential moving average of the generator, the copy used for inference."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(*, batch_images: int, cur_nimg: int, ema_kimg: float, rampup: float | None) -> float:
    """Decay per step for a half-life of `ema_kimg` thousand images.

    The ramp-up shortens the half-life early on, so G_ema is not dominated by the random init.
    """
    ema_nimg = ema_kimg * 1000.0
    if rampup is not None and rampup > 0:
        ema_nimg = min(ema_nimg, cur_nimg * rampup)
    return 0.5 ** (batch_images / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(*, ema: nn.Module, model: nn.Module, beta: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    # Buffers (w_avg) are already running averages: copy them as they are.
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
