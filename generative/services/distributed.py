"""Multi-process (DDP) training of a run: torchrun launched from the task, watched from the worker.

The worker process itself never touches CUDA: torchrun's children each pick their own GPU
(``LOCAL_RANK``; Gloo on CPU-only machines). The worker follows their progress lines, turns each new
checkpoint into metrics and database progress, and ends the process group on a cancel request; the
last checkpoint is then the resumable state (at most one checkpoint interval is lost).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from generative.conf import generative_settings
from generative.models import TrainingRun
from generative.training.checkpoint import atomic_save, list_checkpoints, load_checkpoint
from generative.training.trainer import Progress

# One line of generative.training.ddp_main's output.
_LINE = re.compile(
    r"(?P<event>\w+) step (?P<step>\d+) kimg (?P<kimg>[\d.]+)/(?P<until>[\d.]+) (?P<rate>[\d.]+) img/s "
    r"eta (?P<eta>[\d.]+|\?)s? G (?P<g>\S+) D (?P<d>\S+) p (?P<p>[\d.]+)"
)


class DistributedRunError(RuntimeError):
    """torchrun exited with an error; the message carries the end of its output."""


def parse_line(line: str, *, checkpoint: Path | None = None) -> Progress | None:
    match = _LINE.search(line)
    if match is None:
        return None
    eta = None if match["eta"] == "?" else float(match["eta"])
    return Progress(event=match["event"], step=int(match["step"]), kimg=float(match["kimg"]),
                    until_kimg=float(match["until"]), images_per_s=float(match["rate"]), eta_s=eta,
                    loss_g=float(match["g"]), loss_d=float(match["d"]), loss_r1=None, augment_p=float(match["p"]),
                    checkpoint=checkpoint)


def command(*, run: TrainingRun, data: Path, config: Path, processes: int) -> list[str]:
    device = ["--device", generative_settings.DEVICE] if generative_settings.DEVICE else []
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            "-m", "generative.training.ddp_main", "--data", str(data), "--run-dir", run.run_dir,
            "--until-kimg", str(run.target_kimg), "--config", str(config), *device]


def train_with_torchrun(run: TrainingRun, *, train: torch.Tensor, recorder, processes: int) -> str:
    """Train `run` in `processes` DDP processes; returns "finished" or "cancelled"."""
    run_dir = Path(run.run_dir)
    data, config = run_dir / "train-data.pt", run_dir / "config.json"
    atomic_save(train.contiguous(), data)
    config.write_text(json.dumps(run.config))
    recorder.start_kimg = (load_checkpoint(list_checkpoints(run_dir)[-1])["counters"]["nimg"] / 1000
                           if list_checkpoints(run_dir) else 0.0)
    process = subprocess.Popen(command(run=run, data=data, config=config, processes=processes), cwd=Path.cwd(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    seen = {p.name for p in list_checkpoints(run_dir)}
    reported = 0
    cancelled = False
    while True:
        done = process.poll() is not None
        for checkpoint in list_checkpoints(run_dir):
            if checkpoint.name not in seen:
                seen.add(checkpoint.name)
                nimg = load_checkpoint(checkpoint)["counters"]["nimg"]
                last = parse_line(lines[-1]) if lines else None
                recorder(Progress(event="checkpoint", step=last.step if last else 0, kimg=nimg / 1000,
                                  until_kimg=run.target_kimg, images_per_s=last.images_per_s if last else 0.0,
                                  eta_s=last.eta_s if last else None, loss_g=last.loss_g if last else float("nan"),
                                  loss_d=last.loss_d if last else float("nan"), loss_r1=None,
                                  augment_p=last.augment_p if last else 0.0, checkpoint=checkpoint))
        for line in lines[reported:]:
            progress = parse_line(line)
            if progress is not None and progress.event == "step":
                recorder(progress)
        reported = len(lines)
        if done:
            break
        if not cancelled and recorder.should_cancel():
            cancelled = True
            os.killpg(process.pid, signal.SIGTERM)
        time.sleep(0.5)
    reader.join(timeout=5)
    if cancelled:
        return "cancelled"
    if process.returncode != 0:
        raise DistributedRunError(f"torchrun exited with {process.returncode}: {''.join(lines[-20:])[-2000:]}")
    return "finished"
