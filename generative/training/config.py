"""Training hyper-parameters; stored in every checkpoint as a plain dict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from generative.nn.augment import ALL_OPS
from generative.nn.config import GANConfig
from generative.nn.errors import GANConfigError

# R1 strength per output size where a measurement moved it off the 1.0 default: at 32 px, gamma 4 kept the
# emoji curves from drifting off after 80 kimg where 1.0 did (bench/RESULTS_quality.md, run 6), and 0.1 was worse.
R1_GAMMA_BY_RESOLUTION = {32: 4.0}
# EMA half-life (kimg) per output size where a measurement moved it off the 10 kimg default: at 32 px a 4 kimg
# half-life lowered the finest SWD level in both 20-minute seeds and at every curve point (RESULTS_quality.md, run 8).
EMA_KIMG_BY_RESOLUTION = {32: 4.0}
# ADA target per output size where a measurement moved it off StyleGAN2-ADA's 0.6: at 32 px, R1 gamma 4 keeps
# r_t near 0.4, so at 0.6 augmentation never switched on; at 0.3 p climbs to about 0.16 by 200 kimg and KID
# fell 5-10x from 120 kimg on (bench/RESULTS_quality.md, run 10).
ADA_TARGET_BY_RESOLUTION = {32: 0.3}
PATCH_R1_MODES = ("joint", "cells")


@dataclass(frozen=True)
class TrainConfig:
    gan: GANConfig = field(default_factory=lambda: GANConfig.default(64))
    batch_size: int = 32  # per process; 32 keeps both CPU cores busy at 64 px within 1.2 GB RSS
    lr_g: float = 0.002
    lr_d: float = 0.002
    # Learning-rate decay, a function of images seen only (so a resumed run follows the same curve):
    # constant up to `lr_decay_kimg`, then lr * (lr_decay_kimg / kimg) ** lr_decay_power. 0 keeps it constant.
    lr_decay_kimg: float = 0.0
    lr_decay_power: float = 1.0
    beta1: float = 0.0
    beta2: float = 0.99
    r1_gamma: float = 1.0
    # R1 runs on one step in `r1_interval` (lazy regularisation), scaled up to the same strength.
    r1_interval: int = 16
    # With a patch-level discriminator head (`GANConfig.d_patch_res`): the weight of its loss, the mean over
    # patches, beside the image-level loss (R1 then penalises the gradient of their weighted sum).
    patch_weight: float = 1.0
    # How R1 reaches the patch head. "joint": one penalty on the gradient of the image score plus the weighted
    # mean of the cells, so each cell's gradient counts 1/cells of the image score's. "cells": a penalty of its
    # own, `patch_weight` times the squared gradient of the cells' sum over their count (the cells' mean R1
    # where their gradients do not overlap), so each cell is held about as smooth as the image score.
    patch_r1: str = "joint"
    # LeCam regularisation of D (generative.nn.losses.lecam_penalty): its weight (0 switches it off) and the decay
    # of the running means of D's scores that anchor it. With a patch head, its cells get their own anchors.
    lecam_weight: float = 0.0
    lecam_decay: float = 0.99
    style_mixing_prob: float = 0.9
    # The lowest layer (index into ws) from which a mixed image may take a second latent's styles: the crossover is
    # drawn uniformly from [style_mixing_from, num_ws - 1]. 1 mixes across every layer, as StyleGAN2 does; a higher
    # value mixes only the fine layers, where colourways cross over (generative.nn.latent.style_mix).
    style_mixing_from: int = 1
    # One generator pass per step: the D step's fakes (kept with their graph) also feed the G step,
    # as in the DCGAN recipe; saves a generator forward per step (about 8% of a 32 px step on CPU).
    shared_fakes: bool = True
    ema_kimg: float = 10.0
    ema_rampup: float = 0.05
    augment: bool = True
    # The starting augmentation probability; with `augment_adaptive` off, the fixed one.
    augment_p: float = 0.0
    augment_adaptive: bool = True
    ada_target: float = 0.6
    ada_speed_kimg: float = 100.0
    ada_interval: int = 4
    augment_ops: tuple[str, ...] = ALL_OPS
    checkpoint_kimg: float = 10.0
    keep_checkpoints: int = 3
    sample_count: int = 16
    sample_seed: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "r1_interval", "ada_interval", "keep_checkpoints", "sample_count"):
            if getattr(self, name) < 1:
                raise GANConfigError(f"{name}={getattr(self, name)!r} must be at least 1")
        for name in ("augment_p", "style_mixing_prob", "ada_target", "lecam_decay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise GANConfigError(f"{name}={getattr(self, name)!r} must lie in [0, 1]")
        for name in ("lr_g", "lr_d", "ema_kimg", "ada_speed_kimg", "checkpoint_kimg"):
            if not getattr(self, name) > 0:
                raise GANConfigError(f"{name}={getattr(self, name)!r} must be positive")
        for name in ("r1_gamma", "patch_weight", "lecam_weight", "ema_rampup", "lr_decay_kimg", "lr_decay_power"):
            if not getattr(self, name) >= 0:
                raise GANConfigError(f"{name}={getattr(self, name)!r} must not be negative")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise GANConfigError(f"{name}={getattr(self, name)!r} must lie in [0, 1): Adam's moment decay")
        if not 1 <= self.style_mixing_from < self.gan.num_ws:
            raise GANConfigError(f"style_mixing_from={self.style_mixing_from!r} must lie in [1, {self.gan.num_ws - 1}]: "
                                 f"a crossover layer of this {self.gan.resolution} px generator's {self.gan.num_ws} styles")
        if self.patch_r1 not in PATCH_R1_MODES:
            raise GANConfigError(f"patch_r1={self.patch_r1!r} is unknown; choose one of {PATCH_R1_MODES}")
        unknown = sorted(set(self.augment_ops) - set(ALL_OPS))
        if unknown:
            raise GANConfigError(f"augment_ops {unknown} are unknown; choose from {ALL_OPS}")

    @classmethod
    def default(cls, resolution: int, **overrides: Any) -> TrainConfig:
        """The tuned defaults for one output size: `GANConfig.default(resolution)`, its R1 strength, EMA and
        ADA target."""
        values = {"gan": GANConfig.default(resolution), "r1_gamma": R1_GAMMA_BY_RESOLUTION.get(resolution, cls.r1_gamma),
                  "ema_kimg": EMA_KIMG_BY_RESOLUTION.get(resolution, cls.ema_kimg),
                  "ada_target": ADA_TARGET_BY_RESOLUTION.get(resolution, cls.ada_target)}
        return cls(**{**values, **overrides})

    def lr_scale(self, nimg: int) -> float:
        """The factor on lr_g and lr_d after `nimg` images."""
        kimg = nimg / 1000.0
        if self.lr_decay_kimg <= 0 or kimg <= self.lr_decay_kimg:
            return 1.0
        return (self.lr_decay_kimg / kimg) ** self.lr_decay_power

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augment_ops"] = list(self.augment_ops)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GANConfigError(f"TrainConfig.from_dict got unknown keys {unknown}")
        # A checkpoint written before `shared_fakes` existed resumes the way it was trained.
        values = {"shared_fakes": False, **data}
        if "gan" in values:
            values["gan"] = GANConfig.from_dict(values["gan"])
        if "augment_ops" in values:
            values["augment_ops"] = tuple(values["augment_ops"])
        return cls(**values)
