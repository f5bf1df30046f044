"""The hand-run benchmarks refuse a bad option before any training starts, naming the option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("script", "args", "message"), [
    ("quality.py", ["--draws", "0"], "--draws 0: score at least one sample set per model"),
    ("quality.py", ["--score-at", "0.9", "1.5"], "--score-at [0.9, 1.5]: each point is a fraction of the budget"),
    ("quality_curves.py", ["--variant", "current", "--draws", "0"], "--draws 0: score at least one sample set per point"),
    ("train.py", ["--also-channel-base", "512", "0"], "--also-channel-base [0]: channel_base must be a positive integer"),
    ("quality_curves.py", ["--variant", "dcgan", "--also-raw"], "--also-raw: the dcgan variant has no EMA copy"),
    ("quality_curves.py", ["--variant", "dcgan", "--also-mixed"], "--also-mixed: the dcgan variant has no per-layer"),
    ("train.py", ["--also-gan", "d_patch=16"], "'d_patch=16': give KEY=VALUE with KEY a GANConfig field"),
    ("train.py", ["--also-gan", "d_patch_res=x"], "'d_patch_res=x': d_patch_res takes a int"),
    ("train.py", ["--also-gan", "noise=ture"], "'noise=ture': noise takes a bool"),
    ("train.py", ["--also-gan", "d_patch_res=32", "--resolutions", "32"], "{'d_patch_res': 32} at 32 px: d_patch_res=32"),
    ("train.py", ["--ddp", "1"], "--ddp 1: give 2 or more processes"),
    ("train.py", ["--ddp", "3", "--resolutions", "32"], "--ddp 3: the batch at [32] px does not split evenly"),
    ("train.py", ["--ddp", "2", "--ddp-batch", "0"], "--ddp-batch 0: the batch per rank must be at least 1"),
    ("swd_probe.py", ["--n", "5"], "--n 5 / --seeds 2: use at least 16 images and one seed"),
    ("step_ab.py", ["bench", "."], "bench: not a BrandForge source tree"),
    ("step_ab.py", [".", ".", "--rounds", "0"], "--rounds and --steps must be at least 1"),
])
def test_bench_script_refuses_bad_option(script, args, message):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert message in proc.stderr
