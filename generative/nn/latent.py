"""Latent-space helpers for variant generation: interpolation, truncation and style mixing."""

from __future__ import annotations

import torch

from generative.nn.errors import ShapeError


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Straight-line interpolation; right for w/ws, whose space has no preferred norm."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor, *, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the last dimension; right for Gaussian z, whose samples
    concentrate on a sphere, so straight lines through the middle leave the typical set."""
    if a.shape != b.shape:
        raise ShapeError(f"slerp needs equal shapes; got {tuple(a.shape)} and {tuple(b.shape)}")
    a_norm = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b_norm = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    dot = (a_norm * b_norm).sum(dim=-1, keepdim=True).clamp(-1 + eps, 1 - eps)
    omega = torch.acos(dot)
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    sin_omega = torch.sin(omega)
    # Nearly parallel vectors make sin(omega) vanish; lerp is then exact to first order.
    near = sin_omega.abs() < 1e-4
    coef_a = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / sin_omega)
    coef_b = torch.where(near, t, torch.sin(t * omega) / sin_omega)
    return coef_a * a + coef_b * b


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, *, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """Pull ws toward the average w by `psi` (1 = unchanged, 0 = the average image).

    With `cutoff`, only layers below it are truncated: coarse structure becomes typical while
    fine detail keeps its variety.
    """
    if ws.ndim != 3 or ws.shape[2] != w_avg.shape[0]:
        raise ShapeError(f"ws has shape {tuple(ws.shape)}; expected [batch, num_ws, {w_avg.shape[0]}]")
    out = w_avg.lerp(ws, psi)
    if cutoff is not None:
        out = torch.cat([out[:, :cutoff], ws[:, cutoff:]], dim=1)
    return out


def style_mix(ws_a: torch.Tensor, ws_b: torch.Tensor, *, crossover: int) -> torch.Tensor:
    """Layers below `crossover` from ws_a (layout, shape), the rest from ws_b (colours, texture).

    Mixing the fine layers of another latent is how colourways of one design are made.
    """
    if ws_a.shape != ws_b.shape:
        raise ShapeError(f"style_mix needs equal shapes; got {tuple(ws_a.shape)} and {tuple(ws_b.shape)}")
    if not 0 <= crossover <= ws_a.shape[1]:
        raise ShapeError(f"crossover={crossover} is outside 0..{ws_a.shape[1]}")
    return torch.cat([ws_a[:, :crossover], ws_b[:, crossover:]], dim=1)
