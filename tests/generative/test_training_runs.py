"""Training runs end to end: a tiny 32 px run to a registered model, cancel, failure, and a real
worker killed with SIGKILL mid-run that a new worker resumes from the last checkpoint."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from generative.models import ModelVersion, TrainingRun
from generative.nn.config import GANConfig
from generative.services import runner
from generative.services.errors import DatasetError, RunStateError
from generative.services.registry import register_model_version
from generative.services.snapshots import create_snapshot
from generative.services.training import cancel_training, resume_training, start_training
from generative.tasks import train_gan
from generative.training.checkpoint import list_checkpoints, load_checkpoint
from generative.training.config import TrainConfig
from provenance.models import LedgerEntry
from tests.conftest import WorkerProcess, start_worker, stop_process
from tests.dam.workflow_helpers import build_team
from tests.generative.test_snapshots import add_image

S = TrainingRun.Status
CHECKPOINT_KIMG = 0.02  # five steps of four images
CHEAP_METRICS = {"GENERATIVE_MIN_IMAGES": 6, "GENERATIVE_METRICS_FAKES": 16, "GENERATIVE_METRICS_ENCODER_STEPS": 3,
                 "GENERATIVE_HELD_OUT_FRACTION": 0.25, "GENERATIVE_PROGRESS_INTERVAL_S": 0.0,
                 "GENERATIVE_TORCH_THREADS": 1}


def tiny_config() -> TrainConfig:
    gan = GANConfig(resolution=32, channel_base=256, channel_max=32, z_dim=16, w_dim=16, mapping_layers=2)
    return TrainConfig(gan=gan, batch_size=4, r1_interval=2, augment_p=0.2, ada_interval=1, ada_speed_kimg=0.5,
                       checkpoint_kimg=CHECKPOINT_KIMG, sample_count=4, ema_kimg=0.01)


@pytest.fixture
def snapshot(db, settings):
    for name, value in CHEAP_METRICS.items():
        setattr(settings, name, value)
    team = build_team(legal_mode="any")
    for seed in range(8):
        add_image(team, seed=seed, size=(48, 40))
    return create_snapshot(collection=team.collection, user=team.librarian)


def events(run: TrainingRun) -> list[dict]:
    return [e.payload for e in LedgerEntry.objects.filter(subject=f"generative.trainingrun:{run.pk}").order_by("seq")]


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_run_trains_records_metrics_and_registers_a_model_version(snapshot, admin_client):
    run = start_training(snapshot=snapshot, kimg=3 * CHECKPOINT_KIMG, config=tiny_config())
    assert run.status == S.QUEUED and run.resolution == 32

    assert train_gan(run.pk) == S.FINISHED
    run.refresh_from_db()
    assert run.status == S.FINISHED and run.attempts == 1
    assert run.progress["kimg"] == pytest.approx(3 * CHECKPOINT_KIMG)
    assert run.progress["images_per_s"] > 0 and run.progress["loss_d"] is not None
    assert run.last_checkpoint_kimg == pytest.approx(3 * CHECKPOINT_KIMG)
    assert [m["kimg"] for m in run.metrics] == pytest.approx([CHECKPOINT_KIMG * i for i in (1, 2, 3)])
    assert all(m["swd_mean"] > 0 and "kid" in m and m["held_out"] == 2 for m in run.metrics)
    assert len({m["encoder_version"] for m in run.metrics}) == 1  # trained once, reused

    version = ModelVersion.objects.get(run=run)
    assert version.snapshot == snapshot and version.number == 1 and version.metrics == run.metrics[-1]
    assert Path(version.sample_grid_path).exists()
    generator = torch.jit.load(version.export_path)
    images = generator(torch.randn(2, 16), torch.zeros(2, dtype=torch.long), torch.tensor(1.0))
    assert images.shape == (2, 3, 32, 32)
    assert register_model_version(run=run) == version  # idempotent
    assert train_gan(run.pk) == "skipped"  # a re-delivered message changes nothing
    kinds = [e["event"] for e in events(run)]
    assert kinds == ["run_queued", "run_started", "model_registered", "run_finished"]
    assert all(e["content_hash"] == snapshot.content_hash for e in events(run))

    # The admin shows the model with its samples and exact lineage, and the run with its progress.
    page = admin_client.get(reverse("admin:generative_modelversion_change", args=[version.pk])).content.decode()
    assert all(sha in page for sha in snapshot.sha256s) and snapshot.content_hash in page
    grid = admin_client.get(reverse("admin:generative_modelversion_samples", args=[version.pk]))
    assert grid["Content-Type"] == "image/png" and b"".join(grid.streaming_content)[:4] == b"\x89PNG"
    runs = admin_client.get(reverse("admin:generative_trainingrun_changelist")).content.decode()
    assert "0.06 / 0.06 kimg" in runs
    snapshot_page = admin_client.get(reverse("admin:generative_datasetsnapshot_change", args=[snapshot.pk]))
    assert snapshot_page.status_code == 200 and b'name="_save"' not in snapshot_page.content


def test_cancel_stops_within_one_step_and_keeps_the_checkpoint(snapshot, monkeypatch):
    run = start_training(snapshot=snapshot, kimg=3 * CHECKPOINT_KIMG, config=tiny_config())
    original = runner.Recorder.__call__
    cancelled_at = {}

    def cancel_after_first_checkpoint(recorder, progress):
        original(recorder, progress)
        if progress.checkpoint is not None and not cancelled_at:
            cancelled_at["step"] = progress.step
            cancel_training(run=TrainingRun.objects.get(pk=run.pk))

    monkeypatch.setattr(runner.Recorder, "__call__", cancel_after_first_checkpoint)
    assert train_gan(run.pk) == S.CANCELLED
    run.refresh_from_db()
    assert run.status == S.CANCELLED
    assert run.progress["step"] == cancelled_at["step"]  # not one step more
    kept = list_checkpoints(Path(run.run_dir))
    assert [load_checkpoint(p)["counters"]["step"] for p in kept] == [cancelled_at["step"]]
    with pytest.raises(RunStateError, match="only an active run"):
        cancel_training(run=run)

    monkeypatch.setattr(runner.Recorder, "__call__", original)
    resume_training(run=run)
    assert train_gan(run.pk) == S.FINISHED
    run.refresh_from_db()
    assert run.progress["start_kimg"] == pytest.approx(CHECKPOINT_KIMG) and run.attempts == 2


def test_a_failure_is_recorded_and_the_checkpoint_kept(snapshot, monkeypatch):
    run = start_training(snapshot=snapshot, kimg=2 * CHECKPOINT_KIMG, config=tiny_config())

    def broken_metrics(*args, **kwargs):
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(runner.run_metrics, "checkpoint_metrics", broken_metrics)
    assert train_gan(run.pk) == S.FAILED
    run.refresh_from_db()
    assert run.status == S.FAILED and "encoder exploded" in run.error
    assert list_checkpoints(Path(run.run_dir))  # the checkpoint was written before the metrics failed
    assert not ModelVersion.objects.filter(run=run).exists()


def test_a_new_run_never_resumes_files_left_under_its_number(snapshot):
    """A reset database hands out run numbers again while the runs folder keeps the old runs' files."""
    old = start_training(snapshot=snapshot, kimg=2 * CHECKPOINT_KIMG, config=tiny_config())
    assert train_gan(old.pk) == S.FINISHED
    new = start_training(snapshot=snapshot, kimg=2 * CHECKPOINT_KIMG, config=tiny_config())
    # The folder the new run would have had before run folders got a random suffix, holding a finished run.
    numbered = Path(new.run_dir).parent / f"run-{new.pk:06d}"
    shutil.copytree(old.run_dir, numbered)
    assert Path(new.run_dir) != numbered and not Path(new.run_dir).exists()
    assert train_gan(new.pk) == S.FINISHED
    new.refresh_from_db()
    assert new.progress["start_kimg"] == 0  # trained from scratch, not "resumed" at the old run's end
    assert [m["kimg"] for m in new.metrics] == pytest.approx([CHECKPOINT_KIMG, 2 * CHECKPOINT_KIMG])
    assert sorted(p.name for p in numbered.rglob("*")) == sorted(p.name for p in Path(old.run_dir).rglob("*"))


def test_start_refuses_a_snapshot_that_cannot_train(snapshot):
    with pytest.raises(DatasetError, match="smaller than 64px"):
        start_training(snapshot=snapshot, kimg=1, resolution=64)
    assert not TrainingRun.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkilled_worker_leaves_a_resumable_run_that_a_new_worker_finishes(snapshot, monkeypatch, tmp_path):
    """SIGKILL a worker mid-run, resume on a second one, stop that one warmly (SIGTERM), finish on a third."""
    for name, value in CHEAP_METRICS.items():
        monkeypatch.setenv(name, str(value))
    target = 9 * CHECKPOINT_KIMG
    run = start_training(snapshot=snapshot, kimg=target, config=tiny_config())
    db_name = connection.settings_dict["NAME"]
    log = tmp_path / "worker.log"

    def current() -> TrainingRun:
        return TrainingRun.objects.get(pk=run.pk)

    def moving_past_a_checkpoint(since: float):
        now = current()
        ckpt = now.last_checkpoint_kimg or 0
        return ckpt > since and now.progress.get("kimg", 0) > ckpt and now.status == S.RUNNING

    worker = start_worker(db_name=db_name, queues="train", log=log)
    try:
        WorkerProcess(worker, log).wait_for(lambda: moving_past_a_checkpoint(0), timeout=120,
                                            what="a checkpoint and progress beyond it")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        stop_process(worker)
    killed = current()
    assert killed.status == S.RUNNING and killed.progress["kimg"] < target, (killed.status, killed.progress)
    state = load_checkpoint(list_checkpoints(Path(killed.run_dir))[-1])  # intact and loadable
    saved_kimg = state["counters"]["nimg"] / 1000
    assert saved_kimg >= killed.progress["kimg"] - CHECKPOINT_KIMG - 1e-9  # at most one interval lost

    second = start_worker(db_name=db_name, queues="train", log=log)
    try:
        WorkerProcess(second, log).wait_for(lambda: moving_past_a_checkpoint(saved_kimg), timeout=120,
                                            what="the resumed run moving on")
        assert current().progress["start_kimg"] == pytest.approx(saved_kimg)  # resumed, not restarted
        os.kill(second.pid, signal.SIGTERM)  # a warm shutdown, as in a deploy
        second.wait(timeout=60)
    finally:
        stop_process(second)
    released = current()
    assert released.status == S.QUEUED and released.owner == "", (released.status, events(run), log.read_text()[-3000:])
    # Checkpointed on the way out: nothing trained is lost.
    assert released.last_checkpoint_kimg == pytest.approx(released.progress["kimg"])

    third = start_worker(db_name=db_name, queues="train", log=log)
    try:
        WorkerProcess(third, log).wait_for(lambda: current().status == S.FINISHED, timeout=120,
                                           what="the run finishing")
    finally:
        stop_process(third)
    run.refresh_from_db()
    assert run.attempts == 3, events(run)
    assert run.progress["start_kimg"] == pytest.approx(released.last_checkpoint_kimg)
    assert run.progress["kimg"] == pytest.approx(target)
    kinds = [e["event"] for e in events(run)]
    assert kinds == ["run_queued", "run_started", "run_started", "run_released", "run_started",
                     "model_registered", "run_finished"], events(run)
    assert [e.get("taken_over") for e in events(run) if e["event"] == "run_started"] == [False, True, False]
    assert ModelVersion.objects.filter(run=run).exists()


def test_train_gan_command_queues_a_run_and_reports_the_model(snapshot, tmp_path, settings):
    settings.GENERATIVE_METRICS_EVERY = 5  # of two checkpoints, only the last is measured
    tiny = tiny_config().to_dict()
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps(tiny))
    with pytest.raises(CommandError, match="no collection named 'Nope' inside Brand"):
        call_command("train_gan", collection="Brand/Nope", kimg=1)
    with pytest.raises(CommandError, match="smaller than 64px"):
        call_command("train_gan", collection="Brand", kimg=1, res=64)
    out = io.StringIO()
    call_command("train_gan", collection="Brand", kimg=2 * CHECKPOINT_KIMG, res=32, config=config_file, no_wait=True,
                 stdout=out)
    run = TrainingRun.objects.get()
    assert f"Run {run.pk}: queued, 32px to 0.04 kimg" in out.getvalue()
    assert run.config == tiny and run.snapshot.content_hash == snapshot.content_hash
    train_gan(run.pk)
    assert [m["kimg"] for m in TrainingRun.objects.get(pk=run.pk).metrics] == pytest.approx([2 * CHECKPOINT_KIMG])
    out = io.StringIO()
    call_command("train_gan", resume=run.pk, poll=0.01, stdout=out, stderr=io.StringIO())
    assert re.search(rf"Run {run.pk} finished: model Brand 32px v1 \(kid [0-9.e-]+, swd_mean [0-9.]+\)", out.getvalue())


@pytest.mark.slow
def test_ddp_run_launched_with_torchrun_from_the_task(snapshot, settings):
    settings.GENERATIVE_DDP_PROCESSES = 2  # Gloo on CPU here; one GPU per process where there are GPUs
    run = start_training(snapshot=snapshot, kimg=2 * CHECKPOINT_KIMG, config=tiny_config())
    assert train_gan(run.pk) == S.FINISHED, TrainingRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    state = load_checkpoint(list_checkpoints(Path(run.run_dir))[-1])
    assert state["world_size"] == 2 and state["counters"]["nimg"] == round(2 * CHECKPOINT_KIMG * 1000)
    assert run.last_checkpoint_kimg == pytest.approx(2 * CHECKPOINT_KIMG) and len(run.metrics) >= 1
    assert ModelVersion.objects.filter(run=run).exists()


def test_ctrl_c_stops_following_but_not_the_run(snapshot, monkeypatch):
    run = start_training(snapshot=snapshot, kimg=CHECKPOINT_KIMG, config=tiny_config())

    def interrupted(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("generative.management.commands.train_gan.time.sleep", interrupted)
    out = io.StringIO()
    call_command("train_gan", resume=run.pk, stdout=out, stderr=io.StringIO())
    assert f"Stopped following; run {run.pk} goes on" in out.getvalue()
    run.refresh_from_db()
    assert run.status == S.QUEUED and not run.cancel_requested
