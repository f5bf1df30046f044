"""Differentiable augmentation for small data sets, with an adaptive strength.

Every transform is differentiable in the image, so the generator is trained through the same
augmentation the discriminator sees and does not learn to reproduce it ("leaking"). Hue shifts and
mirroring are left out on purpose: brand colours and lettering must survive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from generative.nn.errors import GANConfigError

ALL_OPS = ("translation", "cutout", "brightness", "saturation", "contrast")


def _uniform(n: int, *, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # Draw on the generator's own device (CPU), then move: the draw sequence, and so the result,
    # is the same whatever device trains.
    return torch.rand(n, generator=generator).to(device)


def _where(mask: torch.Tensor, augmented: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.where(mask[:, None, None, None], augmented, x)


def _brightness(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return x + (u - 0.5)[:, None, None, None]


def _saturation(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (u * 2.0)[:, None, None, None] + mean


def _contrast(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (u + 0.5)[:, None, None, None] + mean


def _translation(x: torch.Tensor, ux: torch.Tensor, uy: torch.Tensor, *, ratio: float = 0.125) -> torch.Tensor:
    """Shift by whole pixels, up to `ratio` of the size, filling with zeros (mid-grey).

    Built from gathers rather than grid_sample: R1 differentiates D's gradient again through this
    op, and CUDA's grid_sample backward has no derivative of its own (training crashed on the GPU
    at the first R1 step once p > 0).
    """
    n, c, h, w = x.shape
    max_dx, max_dy = max(int(w * ratio), 1), max(int(h * ratio), 1)
    dx = ((ux * (2 * max_dx + 1)).floor().clamp(max=2 * max_dx) - max_dx).long()
    dy = ((uy * (2 * max_dy + 1)).floor().clamp(max=2 * max_dy) - max_dy).long()
    # Output pixel (i, j) comes from input pixel (i - dy, j - dx), or is zero past the border.
    src_y = torch.arange(h, device=x.device)[None, :] - dy[:, None]
    src_x = torch.arange(w, device=x.device)[None, :] - dx[:, None]
    keep = ((src_y >= 0) & (src_y < h))[:, None, :, None] & ((src_x >= 0) & (src_x < w))[:, None, None, :]
    rows = torch.gather(x, 2, src_y.clamp(0, h - 1)[:, None, :, None].expand(n, c, h, w))
    shifted = torch.gather(rows, 3, src_x.clamp(0, w - 1)[:, None, None, :].expand(n, c, h, w))
    return shifted * keep.to(x.dtype)


def _cutout(x: torch.Tensor, ux: torch.Tensor, uy: torch.Tensor, *, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of side `ratio` * size whose centre is anywhere in the image."""
    n, _, h, w = x.shape
    cy = (uy * h)[:, None, None]
    cx = (ux * w)[:, None, None]
    ys = torch.arange(h, device=x.device, dtype=x.dtype)[None, :, None] + 0.5
    xs = torch.arange(w, device=x.device, dtype=x.dtype)[None, None, :] + 0.5
    inside = ((ys - cy).abs() < h * ratio / 2) & ((xs - cx).abs() < w * ratio / 2)
    return x * (~inside).to(x.dtype)[:, None, :, :]


def augment(x: torch.Tensor, *, p: float, generator: torch.Generator,
            ops: tuple[str, ...] = ALL_OPS) -> torch.Tensor:
    """Apply each op in `ops` to each image independently with probability `p`.

    The random draws are the same whatever `p` is, so runs that differ only in p stay comparable
    and a resumed run consumes the generator exactly as an uninterrupted one.
    """
    unknown = sorted(set(ops) - set(ALL_OPS))
    if unknown:
        raise GANConfigError(f"augmentation ops {unknown} are unknown; choose from {ALL_OPS}")
    n, device = x.shape[0], x.device
    for op in ALL_OPS:
        apply_u = _uniform(n, generator=generator, device=device)
        u1 = _uniform(n, generator=generator, device=device)
        u2 = _uniform(n, generator=generator, device=device)
        if op not in ops or p <= 0.0:
            continue
        mask = apply_u < p
        if op == "brightness":
            y = _brightness(x, u1)
        elif op == "saturation":
            y = _saturation(x, u1)
        elif op == "contrast":
            y = _contrast(x, u1)
        elif op == "translation":
            y = _translation(x, u1, u2)
        else:
            y = _cutout(x, u1, u2)
        x = _where(mask, y, x)
    return x


@dataclass
class AdaptiveAugment:
    """Adjusts the augmentation probability p from how sure D is about real images.

    The heuristic r_t = E[sign(D(real))] rises toward 1 as D overfits; p goes up while r_t is above
    `target` and down while below, at a rate that can move p by 1 in `speed_kimg` thousand images.
    With ``adaptive=False`` p stays where it starts (DiffAugment's fixed strength); r_t is still
    measured, so the log shows whether D would have asked for more.
    """

    p: float = 0.0
    target: float = 0.6
    speed_kimg: float = 100.0
    interval: int = 4
    ops: tuple[str, ...] = ALL_OPS
    sign_sum: float = 0.0
    count: int = 0
    steps: int = 0
    adaptive: bool = True
    # The last r_t measured (nan before the first `interval` steps).
    rt: float = float("nan")

    def accumulate(self, real_logits: torch.Tensor) -> None:
        self.sign_sum += float(real_logits.detach().sign().sum())
        self.count += int(real_logits.shape[0])

    def step(self, *, batch_images: int,
             reduce_fn: Callable[[float, int], tuple[float, float]] | None = None) -> None:
        """Call once per training step; every `interval` steps p moves toward the target.

        `reduce_fn` sums the statistics over processes, so every rank moves p identically.
        """
        self.steps += 1
        if self.steps % self.interval:
            return
        sign_sum, count = self.sign_sum, self.count
        if reduce_fn is not None:
            sign_sum, count = reduce_fn(sign_sum, count)
        if count:
            self.rt = sign_sum / count
            if self.adaptive:
                delta = batch_images * self.interval / (self.speed_kimg * 1000.0)
                self.p = min(max(self.p + (delta if self.rt > self.target else -delta), 0.0), 1.0)
        self.sign_sum, self.count = 0.0, 0

    def state_dict(self) -> dict[str, float | int | list[str]]:
        return {"p": self.p, "target": self.target, "speed_kimg": self.speed_kimg, "interval": self.interval,
                "ops": list(self.ops), "sign_sum": self.sign_sum, "count": self.count, "steps": self.steps,
                "adaptive": self.adaptive, "rt": self.rt}

    @classmethod
    def from_state_dict(cls, state: dict) -> AdaptiveAugment:
        return cls(p=float(state["p"]), target=float(state["target"]), speed_kimg=float(state["speed_kimg"]),
                   interval=int(state["interval"]), ops=tuple(state["ops"]), sign_sum=float(state["sign_sum"]),
                   count=int(state["count"]), steps=int(state["steps"]),
                # Checkpoints from before the fixed mode always adapted, and kept no r_t.
                adaptive=bool(state.get("adaptive", True)), rt=float(state.get("rt", float("nan"))))
