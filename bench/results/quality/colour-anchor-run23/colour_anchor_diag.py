"""Run 23's colour-anchoring diagnostic; runs at commit a3bb1c7 (colour anchoring was reverted after it).

    .venv/bin/python bench/results/quality/colour-anchor-run23/colour_anchor_diag.py WEIGHT STEPS

Trains the 32 px default with `colour_weight=WEIGHT` on seed 10's split and prints, every 250 steps, the mean
colour gap of the last 250 steps and `colour_stats` of 512 EMA samples (1e-9 is the default, reporting the gap).
"""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, "bench")
from quality import OursRunner, colour_stats  # noqa: E402

from generative.datasets.emoji import load_emoji  # noqa: E402

torch.set_num_threads(1)
weight, steps = float(sys.argv[1]), int(sys.argv[2])
data = load_emoji(size=32, cache_dir=Path("var/cache/emoji"))
train, held = data.split(holdout_fraction=0.15, seed=10)
uint8 = torch.from_numpy(train.images).permute(0, 3, 1, 2).contiguous()
runner = OursRunner(data=uint8, resolution=32, batch_size=32, seed=10, train_overrides={"colour_weight": weight})
print("held", {k: round(v, 3) for k, v in colour_stats(held.to_tensor()).items()}, flush=True)
start, gaps = time.time(), []
for i in range(1, steps + 1):
    losses = runner.trainer.train_step()
    gaps.append(losses["colour_gap"])
    if i % 250 == 0:
        stats = colour_stats(runner.sample(512, seed=1))
        print(i, f"{time.time() - start:.0f}s gap(mean last 250) {sum(gaps[-250:]) / 250:.2f} "
              f"loss_g {losses['loss_g']:.2f}", {k: round(v, 3) for k, v in stats.items()}, flush=True)
