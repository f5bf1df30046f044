"""Learning curves per thousand images seen: SWD and KID of one GAN variant on the emoji set.

bench/quality.py answers "which model is better after 20 minutes"; this answers "which design
choice learns more per image", a question that does not depend on how loaded the machine is, so
variants can run side by side as separate processes. Each run trains one variant for ``--kimg``
thousand images (one thread) and scores the EMA generator against the held-out emoji every
``--every`` kimg, with an encoder trained once on the training split and cached.

    .venv/bin/python bench/quality_curves.py --variant current --res 32 --kimg 40
    .venv/bin/python bench/quality_curves.py --variant dcgan --res 32 --kimg 120 --every 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from quality import VARIANTS, DCGANRunner, OursRunner, colour_stats, evaluate_draws  # noqa: E402

from generative.datasets.emoji import EmojiSet, load_emoji  # noqa: E402
from generative.metrics import EncoderConfig, load_encoder, save_encoder, train_encoder  # noqa: E402
from generative.training.samples import grid_image  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--res", type=int, default=32, choices=(32, 64))
    parser.add_argument("--kimg", type=float, default=40.0)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="the GAN's seed")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="held-out split and encoder seed: keep it fixed to compare GAN seeds on one yardstick")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "cache" / "emoji")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "curves")
    parser.add_argument("--draws", type=int, default=1,
                        help="sample sets scored per point (mean shown; the sd goes in brackets)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: curves per kimg do not depend on it")
    parser.add_argument("--data", type=Path,
                        help="a rendered emoji-*.npy from the cache (its .json beside it), for machines without "
                             "the font")
    parser.add_argument("--also-raw", action="store_true",
                        help="score the raw generator too (a second row per point), not only its EMA copy")
    parser.add_argument("--also-mixed", action="store_true",
                        help="score style-mixed samples too (colourways: a random crossover per image), another row")
    args = parser.parse_args()
    if args.draws < 1:
        parser.error(f"--draws {args.draws}: score at least one sample set per point")
    if args.also_raw and VARIANTS[args.variant] is None:
        parser.error(f"--also-raw: the {args.variant} variant has no EMA copy to tell apart from a raw generator")
    if args.also_mixed and VARIANTS[args.variant] is None:
        parser.error(f"--also-mixed: the {args.variant} variant has no per-layer styles to mix")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    emoji = load_emoji(size=args.res, cache_dir=args.cache_dir) if args.data is None else load_cached(args.data)
    train, held = emoji.split(holdout_fraction=0.15, seed=args.split_seed)
    real_train, real_held = train.to_tensor(), held.to_tensor()
    encoder_path = args.out / f"encoder-{args.res}.pt"
    if encoder_path.exists():
        encoder = load_encoder(encoder_path)
    else:
        encoder, _ = train_encoder(real_train, config=EncoderConfig(input_size=32), steps=400, seed=args.split_seed,
                                   name=f"emoji{args.res}")
        save_encoder(encoder, encoder_path)

    uint8 = torch.from_numpy(train.images).permute(0, 3, 1, 2).contiguous()
    overrides = VARIANTS[args.variant]
    if overrides is None:
        runner = DCGANRunner(data=uint8, resolution=args.res, batch_size=64, seed=args.seed, device=args.device)
    else:
        runner = OursRunner(data=uint8, resolution=args.res, batch_size=args.batch, seed=args.seed,
                            gan_overrides=overrides[0], train_overrides=overrides[1], device=args.device)

    real_colour = colour_stats(real_held)
    print("Held-out emoji: " + ", ".join(f"{k} {v:.3f}" for k, v in real_colour.items()) + "\n", flush=True)
    print(f"| variant | px | seed | kimg | SWD x1e3 | SWD per level | KID | precision | recall | saturation | brightness | white | off-centre px | "
          f"augment p | r_t | train s |\n|{' --- |' * 16}", flush=True)
    seen, spent, next_eval = 0, 0.0, args.every * 1000
    while seen < args.kimg * 1000:
        start = time.perf_counter()
        seen += runner.step()
        spent += time.perf_counter() - start
        if seen >= next_eval:
            next_eval += args.every * 1000
            ours = isinstance(runner, OursRunner)
            p, rt = (runner.trainer.ada.p, runner.trainer.ada.rt) if ours else (float("nan"), float("nan"))
            rows = [(args.variant, {})]
            if args.also_raw and isinstance(runner, OursRunner):
                rows.append((f"{args.variant} (raw G)", {"ema": False}))
            if args.also_mixed and isinstance(runner, OursRunner):
                rows.append((f"{args.variant} (mixed styles)", {"mixed": True}))
            for label, kwargs in rows:
                m = evaluate_draws(real_held, lambda i, kw=kwargs: runner.sample(len(real_held), seed=args.seed + 1 + i, **kw),
                                   draws=args.draws, encoder=encoder, seed=args.split_seed)
                levels = " / ".join(f"{m[k]:.1f}" for k in sorted((k for k in m if k.startswith("swd_") and k[4:].isdigit()),
                                                                  key=lambda k: -int(k[4:])))
                print(f"| {label} | {args.res} | {args.seed} | {seen / 1000:.0f} | {m['swd_mean']:.1f} ({m['swd_mean_sd']:.1f}) | "
                      f"{levels} | {m['kid']:.4f} | {m['precision']:.2f} | {m['recall']:.2f} | "
                      f"{m['saturation']:.3f} | {m['brightness']:.3f} | {m['white']:.3f} | {m['off_centre']:.2f} | {p:.3f} | {rt:.2f} | {spent:.0f} |", flush=True)
            fake = runner.sample(64, seed=args.seed + 1)
            grid_image(fake).save(args.out / f"curve-{args.res}-{args.variant}-s{args.seed}.png")


def load_cached(path: Path) -> EmojiSet:
    """An emoji set straight from its cache files, without the font that keys the cache."""
    sequences = tuple(json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["sequences"])
    return EmojiSet(images=np.load(path, allow_pickle=False), sequences=sequences)


if __name__ == "__main__":
    main()
