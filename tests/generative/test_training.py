"""The training core: resume exactness, atomic checkpoints, cancel, progress, export and DDP.

Tiny 32 px configs and a few steps each; the processes run one thread because two cores are shared.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image
from torch.utils.data import Dataset

from generative.nn.config import GANConfig
from generative.nn.errors import GANConfigError
from generative.training import checkpoint as ckpt_module
from generative.training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from generative.training.config import TrainConfig
from generative.training.data import DatasetError
from generative.training.export import export_generator, export_generator_onnx, generator_from_checkpoint
from generative.training.trainer import Trainer, resolve_device

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(**overrides) -> TrainConfig:
    """A tiny 32 px run; overrides naming a GANConfig field go to the network, the rest to training."""
    arch = {f.name: overrides.pop(f.name) for f in dataclasses.fields(GANConfig) if f.name in overrides}
    gan = GANConfig(**{"resolution": 32, "channel_base": 256, "channel_max": 32, "z_dim": 16, "w_dim": 16,
                       "mapping_layers": 2, **arch})
    values = {"gan": gan, "batch_size": 4, "r1_interval": 2, "augment_p": 0.2, "ada_interval": 1,
              "ada_speed_kimg": 0.5, "checkpoint_kimg": 1.0, "sample_count": 4, "ema_kimg": 0.01}
    values.update(overrides)
    return TrainConfig(**values)


def images(n: int = 12, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 32, 32, generator=gen) * 255).to(torch.uint8)


def kimg_for(steps: int, config: TrainConfig, world: int = 1) -> float:
    return steps * config.batch_size * world / 1000


def assert_same_modules(a: Trainer, b: Trainer) -> None:
    for name in ("G", "D", "G_ema"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"


@pytest.mark.parametrize(("shared_fakes", "noise", "d_patch_res", "lecam_weight"), [
    (True, False, 0, 0.0), (False, False, 0, 0.0), (True, True, 0, 0.0), (True, False, 16, 0.0), (True, False, 16, 0.5)])
def test_resume_continues_exactly(tmp_path, shared_fakes, noise, d_patch_res, lecam_weight):
    # The learning rate decays from the second step on, so the resumed half runs on the decayed rate too.
    config = tiny_config(shared_fakes=shared_fakes, lr_decay_kimg=0.008, noise=noise, d_patch_res=d_patch_res,
                         lecam_weight=lecam_weight)
    data = images()
    k = 6
    straight = Trainer(config=config, dataset=data, run_dir=tmp_path / "straight")
    straight.train(until_kimg=kimg_for(k, config))

    first = Trainer(config=config, dataset=data, run_dir=tmp_path / "split")
    first.train(until_kimg=kimg_for(k // 2, config))
    resumed = Trainer.resume(tmp_path / "split", dataset=data)
    assert resumed.step == k // 2 and resumed.nimg == k // 2 * config.batch_size
    resumed.train(until_kimg=kimg_for(k, config))

    assert resumed.step == straight.step == k
    assert resumed.ada.p == straight.ada.p and straight.ada.p > 0.2
    assert_same_modules(straight, resumed)
    # LeCam's anchors are running means over every step so far: the checkpoint carries them.
    assert resumed.lecam_anchors == straight.lecam_anchors
    assert sorted(straight.lecam_anchors) == ([] if not lecam_weight else ["fake", "patch_fake", "patch_real", "real"])
    # Noise inputs are drawn from the checkpointed latent stream, and their strengths learn from zero.
    strengths = [m.noise_strength for m in straight.G.modules() if getattr(m, "noise_strength", None) is not None]
    assert len(strengths) == (7 if noise else 0)
    assert all(float(s.detach()) != 0.0 for s in strengths)
    for name in ("opt_g", "opt_d"):
        sa, sb = getattr(straight, name).state_dict()["state"], getattr(resumed, name).state_dict()["state"]
        assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)


def test_patch_head_learns_from_its_own_loss_and_its_weight_scales_it(tmp_path):
    data = images()
    heads = {}
    for weight in (0.0, 1.0):
        trainer = Trainer(config=tiny_config(d_patch_res=8, patch_weight=weight), dataset=data,
                          run_dir=tmp_path / str(weight))
        before = [p.detach().clone() for p in trainer.D.patch_head.parameters()]
        losses = [trainer.train_step() for _ in range(3)]
        heads[weight] = [(a, b.detach()) for a, b in zip(before, trainer.D.patch_head.parameters(), strict=True)]
        assert all(math.isfinite(v) for step in losses for v in step.values())
    # At weight 0 the head gets no gradient (Adam leaves a zero gradient's parameter where it is); at 1 it learns.
    assert all(torch.equal(a, b) for a, b in heads[0.0])
    assert not all(torch.equal(a, b) for a, b in heads[1.0])
    with pytest.raises(GANConfigError, match="patch_weight=-1"):
        tiny_config(patch_weight=-1.0)


def test_patch_r1_cells_penalises_each_cell_on_its_own(tmp_path):
    data = images()
    runs = {}
    for mode in ("joint", "cells"):
        trainer = Trainer(config=tiny_config(d_patch_res=8, patch_r1=mode, r1_gamma=10.0, r1_interval=1),
                          dataset=data, run_dir=tmp_path / mode)
        runs[mode] = (trainer, [trainer.train_step() for _ in range(2)])
    joint, cells = runs["joint"], runs["cells"]
    # Same seed, same data: the first step's R1 differs only in how the patch head enters it. At 8 px the
    # patch map has 64 cells, so the per-cell penalty weighs the head's gradient far more than their mean does.
    assert cells[1][0]["loss_r1"] > joint[1][0]["loss_r1"] > 0
    assert all(math.isfinite(v) for _, losses in runs.values() for step in losses for v in step.values())
    assert not all(torch.equal(a, b) for a, b in zip(joint[0].D.parameters(), cells[0].D.parameters(), strict=True))
    # The mode is stored with the run; a checkpoint config written before it existed trains as "joint".
    assert TrainConfig.from_dict(cells[0].config.to_dict()).patch_r1 == "cells"
    old = joint[0].config.to_dict()
    del old["patch_r1"]
    assert TrainConfig.from_dict(old).patch_r1 == "joint"
    with pytest.raises(GANConfigError, match="patch_r1='pixels' is unknown"):
        tiny_config(patch_r1="pixels")


def test_lecam_anchors_follow_d_scores_and_its_penalty_changes_the_d_step(tmp_path):
    data = images()
    runs = {}
    for weight in (0.0, 2.0):
        trainer = Trainer(config=tiny_config(lecam_weight=weight, lecam_decay=0.5), dataset=data,
                          run_dir=tmp_path / str(weight))
        scores = []
        original = trainer.D.score

        def spy(x, c, original=original, scores=scores):
            logits, patches = original(x, c)
            scores.append(float(logits.detach().mean()))
            return logits, patches

        trainer.D.score = spy
        losses = [trainer.train_step() for _ in range(3)]
        runs[weight] = (trainer, scores, losses)
    trainer, scores, losses = runs[2.0]
    # D scores reals, fakes, then fakes again for G, each step. The first step sets the anchors; later ones
    # move them halfway (decay 0.5) to that step's means.
    real, fake = scores[0::3], scores[1::3]
    expected_real, expected_fake = real[0], fake[0]
    for r, f in zip(real[1:], fake[1:], strict=True):
        expected_real, expected_fake = 0.5 * expected_real + 0.5 * r, 0.5 * expected_fake + 0.5 * f
    assert trainer.lecam_anchors["real"] == pytest.approx(expected_real)
    assert trainer.lecam_anchors["fake"] == pytest.approx(expected_fake)
    assert all(step["loss_lecam"] >= 0 and math.isfinite(step["loss_lecam"]) for step in losses)
    # Off, it keeps no anchors and reports no loss; on, the same seed trains D to other weights.
    off = runs[0.0][0]
    assert off.lecam_anchors == {} and all("loss_lecam" not in step for step in runs[0.0][2])
    assert not all(torch.equal(a, b) for a, b in zip(off.D.parameters(), trainer.D.parameters(), strict=True))
    # A checkpoint written before LeCam existed resumes with no anchors.
    trainer.save()
    state = load_checkpoint(latest_checkpoint(tmp_path / "2.0"))
    del state["lecam"]
    trainer.load_state_dict(state)
    assert trainer.lecam_anchors == {}
    with pytest.raises(GANConfigError, match="lecam_weight=-1"):
        tiny_config(lecam_weight=-1.0)
    with pytest.raises(GANConfigError, match="lecam_decay=1.5"):
        tiny_config(lecam_decay=1.5)


def test_learning_rate_decays_with_images_seen_and_old_checkpoints_keep_it_constant(tmp_path):
    config = tiny_config(lr_decay_kimg=0.008, lr_decay_power=0.5)
    assert config.lr_scale(0) == config.lr_scale(8) == 1.0
    assert config.lr_scale(32) == pytest.approx(0.5)
    assert tiny_config().lr_scale(10**9) == 1.0
    trainer = Trainer(config=config, dataset=images(), run_dir=tmp_path)
    rates = []
    for _ in range(5):
        trainer.train_step()
        rates.append((trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]))
    # The rate of step i is set from the images seen before it: 0, 4, 8, 12 and 16.
    expected = [config.lr_g * config.lr_scale(4 * i) for i in range(5)]
    assert [g for g, _ in rates] == pytest.approx(expected) and [d for _, d in rates] == pytest.approx(expected)
    assert rates[3][0] < rates[2][0] == config.lr_g
    stored = config.to_dict()
    del stored["lr_decay_kimg"], stored["lr_decay_power"]
    assert TrainConfig.from_dict(stored).lr_scale(10**9) == 1.0
    with pytest.raises(GANConfigError, match="lr_decay_kimg=-1"):
        tiny_config(lr_decay_kimg=-1)


def test_fixed_augmentation_strength_survives_training_and_resume(tmp_path):
    config = tiny_config(augment_p=0.3, augment_adaptive=False, checkpoint_kimg=kimg_for(2, tiny_config()))
    adaptive = Trainer(config=tiny_config(augment_p=0.3), dataset=images(), run_dir=tmp_path / "adaptive")
    fixed = Trainer(config=config, dataset=images(), run_dir=tmp_path / "fixed")
    moved, kept = [], []
    for _ in range(4):
        adaptive.train_step()
        fixed.train_step()
        moved.append(adaptive.ada.p)
        kept.append(fixed.ada.p)
    # ada_speed_kimg 0.5 moves an adaptive p by 0.008 a step; the fixed one stays and still measures r_t.
    assert all(abs(p - 0.3) > 1e-9 for p in moved[::2])
    assert kept == [0.3] * 4 and -1.0 <= fixed.ada.rt <= 1.0
    fixed.save()
    resumed = Trainer.resume(tmp_path / "fixed", dataset=images())
    assert resumed.ada.p == 0.3 and not resumed.ada.adaptive and not resumed.config.augment_adaptive
    stored = config.to_dict()
    del stored["augment_adaptive"]
    assert TrainConfig.from_dict(stored).augment_adaptive


def test_default_training_config_follows_the_resolution():
    from generative.services.training import training_config

    assert TrainConfig.default(32).r1_gamma == 4.0 and TrainConfig.default(32).gan == GANConfig.default(32)
    assert TrainConfig.default(64).r1_gamma == TrainConfig().r1_gamma == 1.0
    assert TrainConfig.default(32, r1_gamma=0.5, batch_size=8).r1_gamma == 0.5
    # What the CLI, the jobs API and the task start from; an override still wins.
    assert training_config(resolution=32).r1_gamma == 4.0
    assert training_config(resolution=32, overrides={"r1_gamma": 1}).r1_gamma == 1.0
    assert training_config(resolution=128).r1_gamma == 1.0
    # A shorter EMA half-life at 32 px only (run 8); an override wins there too.
    assert TrainConfig.default(32).ema_kimg == 4.0
    assert TrainConfig.default(64).ema_kimg == TrainConfig().ema_kimg == 10.0
    assert training_config(resolution=32, overrides={"ema_kimg": 20}).ema_kimg == 20.0
    # A lower ADA target at 32 px only (run 10).
    assert TrainConfig.default(32).ada_target == training_config(resolution=32).ada_target == 0.3
    assert TrainConfig.default(64).ada_target == TrainConfig().ada_target == 0.6
    assert training_config(resolution=32, overrides={"ada_target": 0.5}).ada_target == 0.5


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("style_mixing_prob", 1.5, "must lie in [0, 1]"),
    ("ada_target", -0.1, "must lie in [0, 1]"),
    ("augment_p", 2.0, "must lie in [0, 1]"),
    ("lr_g", 0.0, "must be positive"),
    ("lr_d", -0.002, "must be positive"),
    ("ema_kimg", 0.0, "must be positive"),
    ("ada_speed_kimg", -1.0, "must be positive"),
    ("r1_gamma", -4.0, "must not be negative"),
    ("ema_rampup", -0.05, "must not be negative"),
    ("beta1", 1.0, "must lie in [0, 1)"),
    ("beta2", -0.5, "must lie in [0, 1)"),
    ("lr_g", float("nan"), "must be positive"),
    ("style_mixing_from", 0, "must lie in [1, 7]"),
    ("style_mixing_from", 8, "must lie in [1, 7]"),
])
def test_out_of_range_training_settings_are_refused_by_name(name, value, reason):
    from generative.services.training import training_config

    with pytest.raises(GANConfigError) as info:
        training_config(resolution=32, overrides={name: value})
    assert str(info.value).startswith(f"{name}={value!r} ") and reason in str(info.value)
    # The edges of each range are settings, not errors.
    edge = {"style_mixing_prob": 1.0, "ada_target": 0.0, "augment_p": 1.0, "r1_gamma": 0.0, "ema_rampup": 0.0,
            "beta1": 0.0, "style_mixing_from": 7}.get(name)
    if edge is not None:
        assert getattr(training_config(resolution=32, overrides={name: edge}), name) == edge


@pytest.mark.parametrize("mix_from", [1, 3, 5])
def test_style_mixing_crosses_over_no_lower_than_style_mixing_from(tmp_path, mix_from):
    trainer = Trainer(config=tiny_config(style_mixing_prob=1.0, style_mixing_from=mix_from), dataset=images(),
                      run_dir=tmp_path)
    num_ws = trainer.config.gan.num_ws
    # Not seed 1: that is the trainer's own latent stream at seed 0, whose second latents would then equal z.
    z = torch.randn(64, trainer.config.gan.z_dim, generator=torch.Generator().manual_seed(987))
    with torch.no_grad():
        own, mixed = trainer.G.mapping(z), trainer._ws(z, None, update_w_avg=False)
    # Per image, the first layer that holds the second latent's styles: every image is mixed at probability 1.
    changed = (mixed != own).any(dim=2)
    crossover = changed.float().argmax(dim=1)
    assert changed.any(dim=1).all()
    assert int(crossover.min()) == mix_from and int(crossover.max()) == num_ws - 1  # 64 draws cover the range
    # Past its crossover an image keeps the second latent's styles to the last layer.
    assert all(bool(changed[i, int(c):].all()) for i, c in enumerate(crossover))


def test_shared_fakes_run_the_generator_once_per_step_and_old_checkpoints_keep_two(tmp_path):
    calls = []
    for shared in (True, False):
        trainer = Trainer(config=tiny_config(shared_fakes=shared), dataset=images(), run_dir=tmp_path / str(shared))
        handle = trainer.G.synthesis.register_forward_hook(lambda *_, shared=shared: calls.append(shared))
        trainer.train_step()
        trainer.train_step()
        handle.remove()
    assert calls.count(True) == 2 and calls.count(False) == 4
    stored = tiny_config().to_dict()
    del stored["shared_fakes"]
    assert TrainConfig.from_dict(stored).shared_fakes is False
    assert TrainConfig().shared_fakes is True


def test_checkpoint_is_plain_data_and_names_do_not_decide_the_position(tmp_path):
    config = tiny_config()
    trainer = Trainer(config=config, dataset=images(), run_dir=tmp_path)
    trainer.train(until_kimg=kimg_for(2, config))
    path = latest_checkpoint(tmp_path)
    state = torch.load(path, weights_only=True)
    assert state["counters"] == {"step": 2, "nimg": 8}
    assert isinstance(state["code_version"], str) and TrainConfig.from_dict(state["config"]) == config
    assert all(isinstance(t, torch.Tensor) for t in state["rng"][0].values())
    renamed = path.with_name("ckpt-999999999999.pt")
    path.rename(renamed)
    assert Trainer.resume(tmp_path, dataset=images()).nimg == 8
    renamed.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(renamed)


def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    config = tiny_config()
    trainer = Trainer(config=config, dataset=images(), run_dir=tmp_path)
    trainer.train(until_kimg=kimg_for(1, config))
    before = latest_checkpoint(tmp_path)
    before_bytes = before.read_bytes()

    real_save = torch.save

    def torn_save(obj, fh, *args, **kwargs):
        real_save(obj, fh, *args, **kwargs)
        fh.seek(100)
        fh.truncate()
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_module.torch, "save", torn_save)
    trainer.train_step()
    with pytest.raises(OSError, match="disk full"):
        trainer.save()
    monkeypatch.undo()
    assert list_checkpoints(tmp_path) == [before]
    assert before.read_bytes() == before_bytes
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    assert Trainer.resume(tmp_path, dataset=images()).step == 1


def test_cancel_stops_within_one_step_and_keeps_last_checkpoint(tmp_path):
    config = tiny_config(checkpoint_kimg=kimg_for(2, tiny_config()))
    calls = []

    def should_cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    trainer = Trainer(config=config, dataset=images(), run_dir=tmp_path, should_cancel=should_cancel)
    result = trainer.train(until_kimg=1.0)
    assert result.event == "cancelled"
    assert trainer.step == 3
    assert [load_checkpoint(p)["counters"]["step"] for p in list_checkpoints(tmp_path)] == [2]


def test_progress_and_sample_grid(tmp_path):
    config = tiny_config(checkpoint_kimg=kimg_for(2, tiny_config()))
    events = []
    trainer = Trainer(config=config, dataset=images(), run_dir=tmp_path, on_progress=events.append)
    result = trainer.train(until_kimg=kimg_for(3, config))
    assert [e.event for e in events] == ["step", "checkpoint", "step", "finished"]
    assert [e.step for e in events] == [1, 2, 3, 3]
    assert result.kimg == pytest.approx(0.012) and result.eta_s == 0
    assert all(e.images_per_s > 0 and 0 <= e.augment_p <= 1 for e in events)
    assert events[0].loss_r1 is not None and events[1].loss_r1 is None  # lazy R1 on even steps
    assert events[1].checkpoint is not None and events[-1].checkpoint is not None
    grids = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert grids == ["img-000000008.png", "img-000000012.png"]  # one per checkpoint, below 1 kimg too
    grid = Image.open(tmp_path / "samples" / grids[0])
    assert grid.size == (64, 64) and grid.mode == "RGB"  # 4 samples in a 2x2 grid
    assert len(list_checkpoints(tmp_path)) == 2


def test_conditional_training_and_bad_data(tmp_path):
    config = tiny_config(num_classes=2)
    labels = torch.arange(12) % 2
    trainer = Trainer(config=config, dataset=images(), labels=labels, run_dir=tmp_path)
    trainer.train(until_kimg=kimg_for(2, config))
    assert trainer.step == 2
    with pytest.raises(DatasetError, match="no labels"):
        Trainer(config=config, dataset=images(), run_dir=tmp_path)
    with pytest.raises(DatasetError, match="shape"):
        Trainer(config=tiny_config(), dataset=torch.zeros(4, 3, 64, 64, dtype=torch.uint8), run_dir=tmp_path)


class _TupleDataset(Dataset):
    """Float images in [-1, 1] with labels, the shape a torch Dataset of brand assets would have."""

    def __init__(self) -> None:
        self.images = images().float() / 127.5 - 1.0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.images[index], index % 2


def test_trains_from_a_dataset_of_float_images_with_labels(tmp_path):
    config = tiny_config(num_classes=2)
    trainer = Trainer(config=config, dataset=_TupleDataset(), run_dir=tmp_path)
    assert trainer.device == resolve_device(None) == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    real, labels = trainer.data.sample(6, generator=torch.Generator().manual_seed(0), device=trainer.device)
    assert real.is_contiguous(memory_format=torch.channels_last) and real.min() >= -1 and real.max() <= 1
    assert labels.tolist() == [int(i) % 2 for i in torch.randint(12, (6,), generator=torch.Generator().manual_seed(0))]
    trainer.train(until_kimg=kimg_for(1, config))
    assert trainer.step == 1


@pytest.mark.parametrize("arch", [{}, {"rgb_skips": True}, {"rgb_skips": True, "rgb_skip_min_res": 16}, {"noise": True},
                                  {"noise": True, "noise_min_res": 32}, {"upsample": "transposed", "rgb_kernel": 3},
                                  {"g_input": "mapped"}],
                         ids=["plain", "skips", "top-skip", "noise", "noise-top", "learned-up", "mapped-input"])
def test_export_loads_and_generates(tmp_path, arch):
    config = tiny_config(**arch)
    trainer = Trainer(config=config, dataset=images(), run_dir=tmp_path)
    trainer.train(until_kimg=kimg_for(2, config))
    path = export_generator(checkpoint=latest_checkpoint(tmp_path), path=tmp_path / "g.pt")
    module = torch.jit.load(str(path))
    z = torch.randn(3, config.gan.z_dim, generator=torch.Generator().manual_seed(9))
    out = module(z, torch.zeros(3, dtype=torch.long), torch.tensor(1.0))
    assert out.shape == (3, 3, 32, 32)
    reference = generator_from_checkpoint(latest_checkpoint(tmp_path))
    torch.testing.assert_close(out, reference(z), rtol=1e-4, atol=1e-5)
    average = module(z, torch.zeros(3, dtype=torch.long), torch.tensor(0.0))
    torch.testing.assert_close(average[0], average[2])


@pytest.mark.parametrize("arch", [{}, {"rgb_skips": True}, {"noise": True}, {"top_upsample": "transposed"}],
                         ids=["plain", "skips", "noise", "learned-up"])
def test_onnx_export_matches_torch(tmp_path, arch):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    config = tiny_config(**arch)
    trainer = Trainer(config=config, dataset=images(), run_dir=tmp_path)
    trainer.train(until_kimg=kimg_for(1, config))
    path = export_generator_onnx(checkpoint=latest_checkpoint(tmp_path), path=tmp_path / "g.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    z = torch.randn(3, config.gan.z_dim, generator=torch.Generator().manual_seed(4))
    (out,) = ReferenceEvaluator(model).run(None, {"z": z.numpy(), "truncation_psi": torch.tensor(0.7).numpy()})
    reference = generator_from_checkpoint(latest_checkpoint(tmp_path))
    expected = reference(z, truncation_psi=0.7)
    torch.testing.assert_close(torch.from_numpy(out), expected, rtol=1e-3, atol=1e-4)


def _ddp_worker(rank: int, world: int, init_file: str, run_dir: str, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        config = tiny_config()
        trainer = Trainer(config=config, dataset=images(), run_dir=Path(run_dir), device="cpu")
        trainer.train(until_kimg=kimg_for(2, config, world))
        real, _ = trainer.data.sample(4, generator=trainer.rngs["data"], device=trainer.device)
        torch.save({"G": trainer.G.state_dict(), "D": trainer.D.state_dict(), "next_real": real,
                    "p": trainer.ada.p, "step": trainer.step}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_two_processes_keep_weights_identical(tmp_path):
    # fork, not spawn: the children skip re-importing torch, which costs most of the test on two cores.
    mp.start_processes(_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path / "run"), str(tmp_path)),
                       nprocs=2, start_method="fork")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["step"] == r1["step"] == 2 and r0["p"] == r1["p"]
    for net in ("G", "D"):
        for key in r0[net]:
            assert torch.equal(r0[net][key], r1[net][key]), f"{net}.{key} differs across ranks"
    assert not torch.equal(r0["next_real"], r1["next_real"]), "ranks should draw different batches"
    state = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert state["counters"]["nimg"] == 16 and state["world_size"] == 2 and len(state["rng"]) == 2
    for key in r0["G"]:
        assert torch.equal(state["G"][key], r0["G"][key])


@pytest.mark.slow
def test_torchrun_entry_point(tmp_path):
    torch.save(images(), tmp_path / "data.pt")
    (tmp_path / "config.json").write_text(json.dumps(tiny_config().to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "generative.training.ddp_main", "--data", str(tmp_path / "data.pt"), "--run-dir",
           str(tmp_path / "run"), "--config", str(tmp_path / "config.json"), "--until-kimg", "0.016"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_checkpoint(latest_checkpoint(tmp_path / "run"))["counters"]["nimg"] == 16
    # A second launch resumes from the checkpoint instead of starting over.
    cmd[-1] = "0.032"
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_checkpoint(latest_checkpoint(tmp_path / "run"))["counters"]["step"] == 4
