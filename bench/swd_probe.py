"""What the SWD pyramid levels punish: held-out emoji against other real emoji, degraded on purpose.

Scores 600 real 32 px emoji against 600 others, as they are and after a known degradation (blur,
sharpening, noise, 2x2 blocks, greying), so a model's per-level SWD can be read as "how much blur
or noise is that". Runs in about a minute on one core; needs the rendered emoji cache (or the font).

    .venv/bin/python bench/swd_probe.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generative.datasets.emoji import load_emoji  # noqa: E402
from generative.metrics.swd import swd  # noqa: E402


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :]) / 16.0
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k.expand(x.shape[1], 1, 3, 3), groups=x.shape[1])


def _blocks(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0, mode="nearest")


def degradations(gen: torch.Generator) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    def noise(sd: float) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: (x + sd * torch.randn(x.shape, generator=gen)).clamp(-1, 1)

    return {
        "none (real floor)": lambda x: x,
        "noise sd 0.02": noise(0.02),
        "noise sd 0.05": noise(0.05),
        "noise sd 0.1": noise(0.1),
        "30% [1,2,1] blur": lambda x: 0.7 * x + 0.3 * _blur(x),
        "[1,2,1] blur": _blur,
        "30% sharpen": lambda x: (1.3 * x - 0.3 * _blur(x)).clamp(-1, 1),
        "2x2 blocks": _blocks,
        "30% toward grey": lambda x: 0.7 * x + 0.3 * x.mean(dim=1, keepdim=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "cache" / "emoji")
    parser.add_argument("--n", type=int, default=600, help="images per set")
    parser.add_argument("--seeds", type=int, default=2, help="SWD seeds averaged per row")
    args = parser.parse_args()
    if args.n < 16 or args.seeds < 1:
        parser.error(f"--n {args.n} / --seeds {args.seeds}: use at least 16 images and one seed")
    torch.set_num_threads(1)
    emoji = load_emoji(size=32, cache_dir=args.cache_dir)
    real = torch.from_numpy(emoji.images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if len(real) < 2 * args.n:
        parser.error(f"--n {args.n}: the set has {len(real)} images, fewer than two sets of {args.n}")
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(real), generator=gen)
    reference, other = real[order[: args.n]], real[order[args.n : 2 * args.n]]
    print("| degradation of the other set | SWD 32 (finest) | SWD 16 (coarse) |\n| --- | --- | --- |")
    for name, degrade in degradations(gen).items():
        scores = [swd(reference, degrade(other), seed=s) for s in range(args.seeds)]
        finest = sum(s["swd_32"] for s in scores) / len(scores)
        coarse = sum(s["swd_16"] for s in scores) / len(scores)
        print(f"| {name} | {finest:.1f} | {coarse:.1f} |", flush=True)


if __name__ == "__main__":
    main()
