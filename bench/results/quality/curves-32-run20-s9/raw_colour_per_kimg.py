"""Run 20 probe: colour statistics of the raw and EMA generators every 1,000 images (256 fixed latents).

    .venv/bin/python bench/results/quality/curves-32-run20-s9/raw_colour_per_kimg.py current 9 60
"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from quality import VARIANTS, OursRunner, colour_stats  # noqa: E402

from generative.datasets.emoji import load_emoji  # noqa: E402

torch.set_num_threads(1)
variant, seed, kimg = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
train, held = load_emoji(size=32, cache_dir=ROOT / "var" / "cache" / "emoji").split(holdout_fraction=0.15, seed=seed)
uint8 = torch.from_numpy(train.images).permute(0, 3, 1, 2).contiguous()
gan, tr = VARIANTS[variant]
runner = OursRunner(data=uint8, resolution=32, batch_size=32, seed=seed, gan_overrides=gan, train_overrides=tr)
print("real", colour_stats(held.to_tensor()), flush=True)
seen, nxt = 0, 1000
while seen < kimg * 1000:
    seen += runner.step()
    if seen >= nxt:
        nxt += 1000
        raw, ema = colour_stats(runner.sample(256, seed=1, ema=False)), colour_stats(runner.sample(256, seed=1))
        print(f"{seen / 1000:.0f} raw b {raw['brightness']:.3f} s {raw['saturation']:.3f} w {raw['white']:.3f} | "
              f"ema b {ema['brightness']:.3f} s {ema['saturation']:.3f} w {ema['white']:.3f}", flush=True)
