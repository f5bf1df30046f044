"""``manage.py train_gan --collection NAME --res 64 --kimg 200 [--tag T] [--resume RUN] [--no-wait]``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError
from tqdm import tqdm

from dam.models import Collection
from dam.selectors import CollectionPathError, collection_at_path
from generative.models import TrainingRun
from generative.nn.errors import GANConfigError
from generative.services.errors import GenerativeError
from generative.services.training import resume_training, train_collection, training_config


def find_collection(path: str) -> Collection:
    """The collection at "Brand/Logos" (never created here: training reads what exists)."""
    try:
        return collection_at_path(path)
    except CollectionPathError as exc:
        raise CommandError(f"--{exc}") from exc


class Command(BaseCommand):
    help = (
        "Train a GAN on a collection's approved, training-allowed images. Makes a dataset snapshot, "
        "queues a run on the 'train' queue and, unless --no-wait, follows its progress; Ctrl-C stops "
        "following, never the run. --resume RUN queues a cancelled or failed run again (or follows one "
        "that is still active, or reports a finished one's model)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--collection", help='collection path, e.g. "Brand/Logos" (with its descendants)')
        parser.add_argument("--tag", action="append", default=[], dest="tags", help="only assets with this tag (repeatable)")
        parser.add_argument("--no-descendants", action="store_true", help="leave out sub-collections")
        parser.add_argument("--res", type=int, default=64, help="output size: 32, 64, 128 or 256 (default 64)")
        parser.add_argument("--kimg", type=float, help="train until this many thousand images have been shown")
        parser.add_argument("--config", type=Path, help="JSON of TrainConfig fields overriding the defaults")
        parser.add_argument("--resume", type=int, metavar="RUN", help="the id of a run to resume or follow")
        parser.add_argument("--user", help="act as this user (recorded in the snapshot and ledger)")
        parser.add_argument("--no-wait", action="store_true", help="queue the run and return at once")
        parser.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)

    def handle(self, *args, **opts) -> None:
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"--user {opts['user']!r}: no active user with that name")
        try:
            run = self._resume(opts) if opts["resume"] is not None else self._start(opts, user=user)
        except (GenerativeError, GANConfigError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Run {run.pk}: {run.get_status_display().lower()}, {run.resolution}px to "
                          f"{run.target_kimg:g} kimg, snapshot {run.snapshot.content_hash[:12]} "
                          f"({len(run.snapshot.items)} images); run dir {run.run_dir}")
        if not opts["no_wait"]:
            self._follow(run, poll=opts["poll"])

    def _start(self, opts: dict, *, user) -> TrainingRun:
        if not opts["collection"] or opts["kimg"] is None:
            raise CommandError("--collection and --kimg are needed to start a run (or give --resume RUN)")
        overrides = None
        if opts["config"] is not None:
            try:
                overrides = json.loads(opts["config"].read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--config {opts['config']}: {exc}") from exc
            if not isinstance(overrides, dict):
                raise CommandError(f"--config {opts['config']}: expected a JSON object of TrainConfig fields")
        config = training_config(resolution=opts["res"], overrides=overrides)
        return train_collection(collection=find_collection(opts["collection"]), tags=opts["tags"],
                                include_descendants=not opts["no_descendants"], kimg=opts["kimg"], config=config,
                                user=user)

    def _resume(self, opts: dict) -> TrainingRun:
        run = TrainingRun.objects.select_related("snapshot").filter(pk=opts["resume"]).first()
        if run is None:
            raise CommandError(f"--resume {opts['resume']}: no such training run")
        if run.status in TrainingRun.ACTIVE or (run.status == TrainingRun.Status.FINISHED and opts["kimg"] is None):
            return run  # follow it, or report its model
        return resume_training(run=run, kimg=opts["kimg"])

    def _follow(self, run: TrainingRun, *, poll: float) -> None:
        bar = tqdm(total=run.target_kimg, unit="kimg", file=self.stderr._out, dynamic_ncols=True,
                   bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}{postfix}]")
        try:
            while True:
                run.refresh_from_db()
                p = run.progress
                bar.n = min(float(p.get("kimg", 0.0)), run.target_kimg)
                parts = [run.status]
                if p.get("images_per_s"):
                    parts.append(f"{p['images_per_s']:.1f} img/s")
                if p.get("eta_s") is not None:
                    parts.append(f"eta {p['eta_s']:.0f}s")
                if p.get("loss_g") is not None:
                    parts.append(f"G {p['loss_g']:.3f} D {p['loss_d']:.3f} p {p.get('augment_p', 0):.2f}")
                bar.set_postfix_str(", ".join(parts), refresh=True)
                if run.status not in TrainingRun.ACTIVE:
                    break
                time.sleep(poll)
        except KeyboardInterrupt:
            bar.close()
            self.stdout.write(f"Stopped following; run {run.pk} goes on (follow it again with --resume {run.pk}).")
            return
        bar.close()
        self._summary(run)

    def _summary(self, run: TrainingRun) -> None:
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(f"run {run.pk} failed: {run.error}")
        if run.status != TrainingRun.Status.FINISHED:
            self.stdout.write(f"Run {run.pk} {run.get_status_display().lower()} at {run.kimg:.2f} kimg; "
                              f"last checkpoint at {run.last_checkpoint_kimg} kimg.")
            return
        version = run.model_version
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in version.metrics.items()
                            if k in ("swd_mean", "kid") and isinstance(v, float))
        self.stdout.write(self.style.SUCCESS(
            f"Run {run.pk} finished: model {version.name} v{version.number} ({metrics or 'no metrics'}); "
            f"TorchScript {version.export_path}; samples {version.sample_grid_path}"))
