"""Sample grids from fixed seeds, so grids of one run are comparable checkpoint to checkpoint."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generative.nn.generator import Generator


def fixed_latents(*, count: int, z_dim: int, num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The same z (and labels cycling through the classes) for a given seed, on any device."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(count, z_dim, generator=gen)
    labels = torch.arange(count) % num_classes if num_classes > 0 else None
    return z, labels


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float NCHW -> uint8 NHWC."""
    x = ((images.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def grid_image(images: torch.Tensor) -> Image.Image:
    pixels = to_uint8(images)
    n, h, w, c = pixels.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.zeros((rows * h, cols * w, c), dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        canvas[r * h:(r + 1) * h, q * w:(q + 1) * w] = pixels[i]
    return Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)


@torch.no_grad()
def save_sample_grid(generator: Generator, *, path: Path, count: int, seed: int, device: torch.device,
                     batch_size: int = 16) -> Path:
    """Render `count` fixed-seed images from `generator` into one PNG, written atomically."""
    cfg = generator.config
    z, labels = fixed_latents(count=count, z_dim=cfg.z_dim, num_classes=cfg.num_classes, seed=seed)
    was_training = generator.training
    generator.eval()
    chunks = []
    for start in range(0, count, batch_size):
        zc = z[start:start + batch_size].to(device)
        lc = labels[start:start + batch_size].to(device) if labels is not None else None
        chunks.append(generator(zc, lc).cpu())
    generator.train(was_training)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            grid_image(torch.cat(chunks)).save(fh, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
