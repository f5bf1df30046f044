"""Run 20 probe: how far SWD's levels move when a real set is changed in one known way (seed 9's split).

A random 589 of the training split against the 589 held-out emoji, as is and after a saturation gain, a
brightness offset (in [-1, 1] units), a 3 px shift, half of it duplicated, and a 3x3 blur.

    .venv/bin/python bench/results/quality/curves-32-run20-s9/swd_sensitivity.py
"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import torch.nn.functional as F  # noqa: E402
from quality import colour_stats  # noqa: E402

from generative.datasets.emoji import load_emoji  # noqa: E402
from generative.metrics.swd import swd  # noqa: E402

torch.set_num_threads(1)
train, held = load_emoji(size=32, cache_dir=ROOT / "var" / "cache" / "emoji").split(holdout_fraction=0.15, seed=9)
real_train, real_held = train.to_tensor(), held.to_tensor()
base = real_train[torch.randperm(len(real_train), generator=torch.Generator().manual_seed(9))[:len(real_held)]]


def show(name: str, x: torch.Tensor) -> None:
    s, c = swd(real_held, x.clamp(-1, 1), seed=9), colour_stats(x.clamp(-1, 1))
    print(f"{name:30s} mean {s['swd_mean']:.1f} finest {s['swd_32']:.1f} coarse {s['swd_16']:.1f} "
          f"sat {c['saturation']:.3f} white {c['white']:.3f}", flush=True)


show("real", base)
for gain in (1.15, 1.3):
    grey = base.mean(1, keepdim=True)
    show(f"sat x{gain}", (base - grey) * gain + grey)
for offset in (-0.03, -0.06):
    show(f"bright {offset}", base + offset)
show("shift 3px", torch.roll(base, 3, dims=3))
show("half duplicated", torch.cat([base[:295], base[:294]]))
show("blur", F.avg_pool2d(F.pad(base, (1, 1, 1, 1), mode="replicate"), 3, 1))
