"""Images/s of the default training step from two source trees, alternated in fresh processes.

For a code change that should not change what is trained (only how fast): check out the old commit
beside this tree (`git worktree add /tmp/old HEAD~1`), then

    .venv/bin/python bench/step_ab.py /tmp/old . --resolutions 32 64 --threads 1 2 --rounds 2

Each round runs every (tree, resolution, threads) combination once, in that order, so the two
trees see the same machine load within a round. Augmentation is off (p = 0, as a run starts), R1
runs on one step in 16, and each row also shows the minor page faults per step and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

_CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
root, res, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, root)
import torch
from generative.training.config import TrainConfig
from generative.training.trainer import Trainer
torch.set_num_threads(threads)
config = TrainConfig.default(res, checkpoint_kimg=1e6)
data = (torch.rand(512, 3, res, res, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
trainer = Trainer(config=config, dataset=data, run_dir=Path(tempfile.mkdtemp()), device="cpu")
for _ in range(config.r1_interval):
    trainer.train_step()
before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(steps):
    trainer.train_step()
elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"images_per_s": steps * config.batch_size / elapsed,
                  "faults_per_step": (after.ru_minflt - before.ru_minflt) / steps, "rss_mb": after.ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs=2, type=Path, help="two source trees (the old one first)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64])
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=64, help="timed steps per row (a multiple of 16 keeps R1's share)")
    args = parser.parse_args()
    for tree in args.trees:
        if not (tree / "generative" / "training" / "trainer.py").is_file():
            parser.error(f"{tree}: not a BrandForge source tree (no generative/training/trainer.py)")
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be at least 1")
    print("| round | tree | px | threads | images/s | faults/step | peak RSS (MB) |\n|---|---|---|---|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        for res in args.resolutions:
            for threads in args.threads:
                for tree in args.trees:
                    cmd = [sys.executable, "-c", _CHILD, str(tree.resolve()), str(res), str(threads), str(args.steps)]
                    done = subprocess.run(cmd, capture_output=True, text=True)
                    if done.returncode != 0:
                        raise SystemExit(f"{tree} at {res} px failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    print(f"| {round_} | {tree} | {res} | {threads} | {row['images_per_s']:.1f} "
                          f"| {row['faults_per_step']:.0f} | {row['rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
