"""The GAN training loop: one D step (with lazy R1) and one G step per batch, EMA, adaptive
augmentation, atomic checkpoints, fixed-seed sample grids, progress and cancellation.

Every random draw comes from one of three seeded torch.Generators (data, latents, augmentation)
whose states are checkpointed, so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from generative.nn.augment import AdaptiveAugment, augment
from generative.nn.discriminator import Discriminator
from generative.nn.generator import Generator
from generative.nn.losses import discriminator_loss, generator_loss, lecam_penalty, r1_penalty
from generative.training import distributed as ddp
from generative.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from generative.training.config import TrainConfig
from generative.training.data import ImageSource
from generative.training.ema import ema_beta, update_ema
from generative.training.memory import keep_freed_memory
from generative.training.samples import save_sample_grid

_RNG_NAMES = ("data", "latent", "augment")


@dataclass(frozen=True)
class Progress:
    event: str  # "step", "checkpoint", "finished" or "cancelled"
    step: int
    kimg: float
    until_kimg: float
    images_per_s: float
    eta_s: float | None
    loss_g: float
    loss_d: float
    loss_r1: float | None
    augment_p: float
    checkpoint: Path | None = None


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The given device, else this process's GPU when there is one, else the CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


class Trainer:
    def __init__(self, *, config: TrainConfig, dataset: torch.Tensor | Dataset, run_dir: Path,
                 device: str | torch.device | None = None, labels: torch.Tensor | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_cancel: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            # Freed activations stay mapped for the next step instead of being faulted in again (memory.py).
            keep_freed_memory()
        self.on_progress, self.should_cancel = on_progress, should_cancel
        self.rank, self.world_size = ddp.world()
        gan = config.gan
        self.data = ImageSource(dataset, resolution=gan.resolution, channels=gan.img_channels, labels=labels,
                                num_classes=gan.num_classes)
        # Initialise from the seed without disturbing the caller's global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.G = Generator(gan)
            self.D = Discriminator(gan)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        for module in (self.G, self.D, self.G_ema):
            module.to(self.device, memory_format=torch.channels_last)
            ddp.broadcast_module(module)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=betas, eps=1e-8)
        self.ada = AdaptiveAugment(p=config.augment_p, target=config.ada_target, speed_kimg=config.ada_speed_kimg,
                                   interval=config.ada_interval, ops=config.augment_ops,
                                   adaptive=config.augment_adaptive)
        self.rngs = {name: torch.Generator().manual_seed(self._stream_seed(i)) for i, name in enumerate(_RNG_NAMES)}
        self.step = 0
        self.nimg = 0
        # Running means of D's scores that anchor LeCam (empty until its first step): "real"/"fake" for the
        # image head, "patch_real"/"patch_fake" for the patch head's cells.
        self.lecam_anchors: dict[str, float] = {}

    def _stream_seed(self, stream: int) -> int:
        return (self.config.seed * 1_000_003 + self.rank * 7919 + stream) % (2**63)

    @property
    def kimg(self) -> float:
        return self.nimg / 1000.0

    # ----- resume -------------------------------------------------------------------------------------------

    @classmethod
    def resume(cls, run_dir: Path, *, dataset: torch.Tensor | Dataset, device: str | torch.device | None = None,
               labels: torch.Tensor | None = None, on_progress: Callable[[Progress], None] | None = None,
               should_cancel: Callable[[], bool] | None = None, checkpoint: Path | None = None) -> Trainer:
        """A trainer at the exact position of `checkpoint` (default: the run's latest)."""
        state = load_checkpoint(checkpoint or latest_checkpoint(run_dir))
        trainer = cls(config=TrainConfig.from_dict(state["config"]), dataset=dataset, run_dir=run_dir, device=device,
                      labels=labels, on_progress=on_progress, should_cancel=should_cancel)
        trainer.load_state_dict(state)
        return trainer

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume; RNG states of every rank, gathered (collective call)."""
        own = {name: gen.get_state() for name, gen in self.rngs.items()}
        return {
            "config": self.config.to_dict(),
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "augment": self.ada.state_dict(),
            "counters": {"step": self.step, "nimg": self.nimg},
            "lecam": dict(self.lecam_anchors),
            "rng": ddp.gather_objects(own),
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("G", "D", "G_ema"):
            getattr(self, name).load_state_dict(state[name])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.ada = AdaptiveAugment.from_state_dict(state["augment"])
        self.step = int(state["counters"]["step"])
        self.nimg = int(state["counters"]["nimg"])
        # Checkpoints from before LeCam existed hold no anchors; their runs never used them.
        self.lecam_anchors = {name: float(v) for name, v in state.get("lecam", {}).items()}
        if int(state["world_size"]) == self.world_size:
            for name, gen in self.rngs.items():
                gen.set_state(state["rng"][self.rank][name])
        else:
            # Another process count cannot replay the same draws; derive fresh streams from the position.
            for i, (_, gen) in enumerate(self.rngs.items()):
                gen.manual_seed(self._stream_seed(i) + self.step * 31)

    # ----- one step -----------------------------------------------------------------------------------------

    def _ws(self, z: torch.Tensor, c: torch.Tensor | None, *, update_w_avg: bool) -> torch.Tensor:
        """Mapped styles, with style mixing: past a random layer, styles of a second latent take over.

        The mixing draws are made whether or not they are used, so the random streams advance the
        same way on every step.
        """
        gen, n = self.rngs["latent"], z.shape[0]
        num_ws = self.config.gan.num_ws
        z2 = torch.randn(z.shape, generator=gen).to(self.device)
        use = torch.rand(n, generator=gen).to(self.device) < self.config.style_mixing_prob
        cutoff = torch.randint(self.config.style_mixing_from, num_ws, (n,), generator=gen).to(self.device)
        ws = self.G.mapping(z, c, update_w_avg=update_w_avg)
        if self.config.style_mixing_prob > 0:
            ws2 = self.G.mapping(z2, c)
            layer = torch.arange(num_ws, device=self.device)[None, :]
            ws = torch.where((use[:, None] & (layer >= cutoff[:, None]))[:, :, None], ws2, ws)
        return ws

    def _noise(self, n: int) -> list[torch.Tensor] | None:
        # From the latent stream, and only for generators with noise inputs: others draw exactly as before.
        return self.G.synthesis.random_noise(n, generator=self.rngs["latent"], device=self.device)

    def _latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(n, self.config.gan.z_dim, generator=self.rngs["latent"]).to(self.device)
        return z, self.data.sample_labels(n, generator=self.rngs["latent"], device=self.device)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if not self.config.augment:
            return x
        return augment(x, p=self.ada.p, generator=self.rngs["augment"], ops=self.ada.ops)

    def _lecam(self, real: torch.Tensor, fake: torch.Tensor, prefix: str = "") -> torch.Tensor:
        """LeCam's penalty for one head, after moving its anchors by this step's mean scores (averaged over
        processes, so every rank holds the same anchors). The first step sets them (no zero bias)."""
        means = ddp.sum_floats(float(real.detach().mean()), float(fake.detach().mean()), device=self.device)
        decay = self.config.lecam_decay
        for name, mean in zip((prefix + "real", prefix + "fake"), means, strict=True):
            mean /= self.world_size
            old = self.lecam_anchors.get(name)
            self.lecam_anchors[name] = mean if old is None else decay * old + (1 - decay) * mean
        return lecam_penalty(real, fake, anchor_real=self.lecam_anchors[prefix + "real"],
                             anchor_fake=self.lecam_anchors[prefix + "fake"])

    def train_step(self) -> dict[str, float]:
        cfg, batch = self.config, self.config.batch_size
        scale = cfg.lr_scale(self.nimg)
        for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * scale
        do_r1 = cfg.r1_gamma > 0 and self.step % cfg.r1_interval == 0

        # Discriminator: real vs fake, plus R1 on the reals every r1_interval steps (scaled up to match).
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        real, c_real = self.data.sample(batch, generator=self.rngs["data"], device=self.device)
        z, c_fake = self._latents(batch)
        if cfg.shared_fakes:
            self.G.requires_grad_(True)
            fake_g = self.G.synthesis(self._ws(z, c_fake, update_w_avg=True), self._noise(batch))
            fake = fake_g.detach()
        else:
            with torch.no_grad():
                fake = self.G.synthesis(self._ws(z, c_fake, update_w_avg=False), self._noise(batch))
        real.requires_grad_(do_r1)
        real_logits, real_patches = self.D.score(self._augment(real), c_real)
        fake_logits, fake_patches = self.D.score(self._augment(fake), c_fake)
        loss_d = discriminator_loss(real_logits, fake_logits)
        if real_patches is not None:
            loss_d = loss_d + cfg.patch_weight * discriminator_loss(real_patches, fake_patches)
        loss_total = loss_d
        loss_lecam = None
        if cfg.lecam_weight > 0:
            loss_lecam = self._lecam(real_logits, fake_logits)
            if real_patches is not None:
                loss_lecam = loss_lecam + cfg.patch_weight * self._lecam(real_patches, fake_patches, "patch_")
            loss_total = loss_total + cfg.lecam_weight * loss_lecam
        loss_r1 = None
        if do_r1:
            if real_patches is None:
                loss_r1 = r1_penalty(real_logits, real)
            elif cfg.patch_r1 == "cells":
                cells = real_patches[0].numel()
                loss_r1 = r1_penalty(real_logits, real) + cfg.patch_weight * r1_penalty(real_patches, real) / cells
            else:
                loss_r1 = r1_penalty(real_logits + cfg.patch_weight * real_patches.mean(dim=(1, 2)), real)
            loss_total = loss_total + loss_r1 * (cfg.r1_gamma / 2 * cfg.r1_interval)
        self.opt_d.zero_grad(set_to_none=True)
        loss_total.backward()
        ddp.average_gradients(self.D)
        self.opt_d.step()
        self.ada.accumulate(real_logits)
        self.ada.step(batch_images=batch * self.world_size,
                      reduce_fn=lambda s, c: ddp.sum_floats(s, c, device=self.device))

        # Generator: non-saturating loss through the same augmentation D sees.
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        if cfg.shared_fakes:
            fake = fake_g
        else:
            z, c_fake = self._latents(batch)
            fake = self.G.synthesis(self._ws(z, c_fake, update_w_avg=True), self._noise(batch))
        fake_logits, fake_patches = self.D.score(self._augment(fake), c_fake)
        loss_g = generator_loss(fake_logits)
        if fake_patches is not None:
            loss_g = loss_g + cfg.patch_weight * generator_loss(fake_patches)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        ddp.average_gradients(self.G)
        self.opt_g.step()
        ddp.average_buffers(self.G)

        self.step += 1
        self.nimg += batch * self.world_size
        beta = ema_beta(batch_images=batch * self.world_size, cur_nimg=self.nimg, ema_kimg=cfg.ema_kimg,
                        rampup=cfg.ema_rampup)
        update_ema(ema=self.G_ema, model=self.G, beta=beta)
        losses = {"loss_g": float(loss_g.detach()), "loss_d": float(loss_d.detach())}
        if loss_r1 is not None:
            losses["loss_r1"] = float(loss_r1.detach())
        if loss_lecam is not None:
            losses["loss_lecam"] = float(loss_lecam.detach())
        return losses

    # ----- the loop -----------------------------------------------------------------------------------------

    def save(self) -> Path | None:
        """Checkpoint and sample grid for the current position (rank 0 writes; all ranks must call)."""
        state = self.state_dict()
        path = None
        if self.rank == 0:
            path = save_checkpoint(state, run_dir=self.run_dir, keep=self.config.keep_checkpoints)
            save_sample_grid(self.G_ema, path=self.run_dir / "samples" / f"img-{self.nimg:09d}.png",
                             count=self.config.sample_count, seed=self.config.sample_seed, device=self.device)
        ddp.barrier()
        return path

    def _cancelled(self) -> bool:
        flag = bool(self.should_cancel()) if self.should_cancel is not None else False
        return ddp.any_true(flag, device=self.device)

    def train(self, *, until_kimg: float) -> Progress:
        """Train until `until_kimg` thousand images have been seen in total (across all processes).

        Checkpoints every `checkpoint_kimg` and at the end. A cancel request stops before the next
        step and writes nothing, so the last checkpoint stays the resumable state.
        """
        target = int(round(until_kimg * 1000))
        every = max(int(round(self.config.checkpoint_kimg * 1000)), 1)
        next_save = (self.nimg // every + 1) * every
        start_time, start_nimg = time.perf_counter(), self.nimg
        losses: dict[str, float] = {"loss_g": math.nan, "loss_d": math.nan}
        saved_at = None
        event = "finished"
        while self.nimg < target:
            if self._cancelled():
                event = "cancelled"
                break
            losses = self.train_step()
            checkpoint = None
            if self.nimg >= next_save:
                checkpoint = self.save()
                saved_at = self.nimg
                next_save = (self.nimg // every + 1) * every
            self._report("checkpoint" if checkpoint else "step", losses, target, start_time, start_nimg, checkpoint)
        checkpoint = None
        if event == "finished" and saved_at != self.nimg:
            checkpoint = self.save()
        return self._report(event, losses, target, start_time, start_nimg, checkpoint)

    def _report(self, event: str, losses: dict[str, float], target: int, start_time: float, start_nimg: int,
                checkpoint: Path | None) -> Progress:
        elapsed = max(time.perf_counter() - start_time, 1e-9)
        rate = (self.nimg - start_nimg) / elapsed
        remaining = max(target - self.nimg, 0)
        progress = Progress(event=event, step=self.step, kimg=self.kimg, until_kimg=target / 1000.0,
                            images_per_s=rate, eta_s=remaining / rate if rate > 0 else None,
                            loss_g=losses["loss_g"], loss_d=losses["loss_d"], loss_r1=losses.get("loss_r1"),
                            augment_p=self.ada.p, checkpoint=checkpoint)
        if self.on_progress is not None and self.rank == 0:
            self.on_progress(progress)
        return progress
