"""The training process keeps freed tensor memory mapped (glibc malloc tuning), so steps stop page-faulting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from generative.training import memory

ROOT = Path(__file__).resolve().parents[2]

# Allocates and writes 12 blocks of 16 MiB (the size of large activations), frees them, and prints the resident
# set before and after the free, in MiB. With glibc's own settings, blocks that size are mmapped or trimmed off the
# heap when freed; with ours they stay mapped for the next step.
_PROBE = textwrap.dedent("""
    import sys, torch
    from generative.training.memory import keep_freed_memory
    tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20
    blocks = [torch.ones(4, 1024, 1024) for _ in range(12)]
    held = rss_mib()
    del blocks
    print(tuned, held, rss_mib())
""")


def _probe(mode: str) -> tuple[str, float, float]:
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    tuned, held, after = done.stdout.split()
    return tuned, float(held), float(after)


@pytest.mark.skipif(not memory._glibc(), reason="the tuning is for glibc's malloc; other C libraries are left alone")
def test_freed_activation_memory_stays_mapped_once_tuned():
    tuned, held, after = _probe("tuned")
    assert tuned == "True"
    assert held - after < 0.1 * 192, f"freeing 192 MiB dropped the resident set from {held:.0f} to {after:.0f} MiB"
    # The same probe without the tuning hands the memory back: the check above can fail.
    _, held, after = _probe("default")
    assert held - after > 0.9 * 192, f"glibc's defaults kept {after:.0f} of {held:.0f} MiB resident"


def test_non_glibc_processes_are_left_alone(monkeypatch):
    monkeypatch.setattr(memory, "_applied", None)
    monkeypatch.setattr(memory, "_glibc", lambda: False)
    assert memory.keep_freed_memory() is False
    # Decided once per process: later calls give the same answer without trying again.
    monkeypatch.setattr(memory, "_glibc", lambda: True)
    assert memory.keep_freed_memory() is False


def test_a_cpu_trainer_tunes_its_process(tmp_path, monkeypatch):
    import torch

    from generative.nn.config import GANConfig
    from generative.training.config import TrainConfig
    from generative.training.trainer import Trainer

    monkeypatch.setattr(memory, "_applied", None)
    config = TrainConfig(gan=GANConfig(resolution=32, channel_base=64, channel_max=16, mapping_layers=1), batch_size=2)
    Trainer(config=config, dataset=torch.zeros(4, 3, 32, 32, dtype=torch.uint8), run_dir=tmp_path, device="cpu")
    assert memory._applied is memory._glibc()
