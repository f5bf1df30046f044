"""Sample quality on real images: BrandForge's GAN against a plain DCGAN, same CPU minutes, same run.

The data are the Noto Color Emoji glyphs (fonts-noto-color-emoji) rendered offline at 32 and 64 px;
15% of them are held out and never trained on. At each resolution an in-house feature encoder is
trained on the training split (outside the GAN budgets), then both GANs train for ``--minutes`` of
wall-clock time each, interleaved in short slices so that load from other processes on the machine
falls on both alike. Each is scored against the held-out emoji (SWD, KID, precision/recall) at three
points in the last 10% of its budget, training paused while it is scored, and each metric's median over
those points is the model's score: one step's scores swing by more than the gaps between models. A
real-vs-real row (training split against held-out) shows the floor a perfect generator would reach.

    .venv/bin/python bench/quality.py                       # 20 min per model per resolution
    .venv/bin/python bench/quality.py --minutes 1           # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generative.datasets.emoji import load_emoji  # noqa: E402
from generative.metrics import EncoderConfig, evaluate, save_encoder, train_encoder  # noqa: E402
from generative.nn.config import GANConfig  # noqa: E402
from generative.nn.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from generative.training.config import TrainConfig  # noqa: E402
from generative.training.samples import grid_image  # noqa: E402
from generative.training.trainer import Trainer  # noqa: E402

METRIC_COLUMNS = ("swd_mean", "kid", "precision", "recall", "density", "coverage", "saturation", "brightness", "white",
                  "off_centre")

FIRST_RELEASE = {"upsample": "bilinear", "output": "linear"}
# name -> (GANConfig overrides, TrainConfig overrides); None marks the DCGAN baseline.
VARIANTS: dict[str, tuple[dict, dict] | None] = {
    "first-release": (FIRST_RELEASE, {"shared_fakes": False}),
    "nearest": ({"output": "linear"}, {"shared_fakes": False}),
    "tanh-bilinear": ({"upsample": "bilinear"}, {"shared_fakes": False}),
    "tanh-nearest": ({}, {"shared_fakes": False}),
    "current": ({}, {}),
    "wide": ({"channel_base": 2048}, {}),
    # Candidates for 64 px, where the default's SWD/KID swing from one evaluation to the next.
    "ema-r0.2": ({}, {"ema_rampup": 0.2}),
    "gamma0.1": ({}, {"r1_gamma": 0.1}),
    "lr0.001": ({}, {"lr_g": 0.001, "lr_d": 0.001}),
    "batch64": ({}, {"batch_size": 64}),
    "cmin32": ({"channel_min": 32}, {}),
    "mix0.5": ({}, {"style_mixing_prob": 0.5}),
    # Half the widths again (channel_base 512): 31% (32 px) to 43% (64 px) of the FLOPs per image. The default
    # since run 5, so the same as "current" there; kept so that the commands of runs 4-5 still run.
    "half": ({"channel_base": 512}, {}),
    # The 32/64 px default before half widths (channel_base 1024: 128 channels at 4-8 px, 64 at 16, 32 at 32,
    # 16 at 64): its wider convolutions use more of the CPU's peak, per image it learns more slowly.
    # Run 19 at the fast machine's budget (--minutes 32 on a slower CPU: the default ~227 kimg, this ~92): SWD 39.9
    # and 50.2 against the default's 46.3 and 54.3, KID 0.0045 and 0.0025 against 0.0021 and 0.0031.
    "cb1024": ({"channel_base": 1024}, {}),
    # 32 px candidates on top of half widths: is the blocky fine texture augmentation leaking or width?
    "half-noaug": ({"channel_base": 512}, {"augment": False}),
    "half-nocutout": ({"channel_base": 512}, {"augment_ops": ("translation", "brightness", "saturation", "contrast")}),
    "half-cmin32": ({"channel_base": 512, "channel_min": 32}, {}),
    # 32 px texture gets worse past ~100 kimg (run 5): does a decaying learning rate or a longer EMA hold it?
    "lr-inv60": ({}, {"lr_decay_kimg": 60.0, "lr_decay_power": 1.0}),
    "lr-rsqrt60": ({}, {"lr_decay_kimg": 60.0, "lr_decay_power": 0.5}),
    "ema20": ({}, {"ema_kimg": 20.0, "ema_rampup": 0.1}),
    # ... neither did (curves, seed 3): the coarse level jumps between 80 and 120 kimg with or without them.
    "gamma4": ({}, {"r1_gamma": 4.0}),
    "gamma1": ({}, {"r1_gamma": 1.0}),  # the 32 px default before run 6
    "mix0": ({}, {"style_mixing_prob": 0.0}),
    # Run 6: what is left at 32 px is the finest level; does a discriminator that is wider there see more texture?
    "dmin32": ({"d_channel_min": 32}, {}),
    # Run 7: fine texture. RGB skips (StyleGAN2's skip generator) leave the top block only detail to add.
    "skips": ({"rgb_skips": True}, {}),  # the 32 px default from run 7 to run 28
    "noskips": ({"rgb_skips": False}, {}),  # the 32 px default before run 7 and since run 28
    # The EMA copy's horizon grows to 10 kimg by 200 kimg: does capping it keep more fine detail?
    "ema4": ({}, {"ema_kimg": 4.0}),  # the 32 px default since run 8
    "skips-ema4": ({"rgb_skips": True}, {"ema_kimg": 4.0}),
    "ema10": ({}, {"ema_kimg": 10.0}),  # the 32 px default before run 8 (still the default at other sizes)
    # ... and a discriminator whose blocks downsample with a learned 4x4 stride-2 conv (as the DCGAN's do).
    "dstride": ({"d_downsample": "stride"}, {}),
    "dstride-dmin32": ({"d_downsample": "stride", "d_channel_min": 32}, {}),
    # Run 8: the finest level punishes 2x2 blockiness; with skips, does bilinear feature upsampling smooth it?
    "bilinear": ({"upsample": "bilinear"}, {}),
    # Run 9: D's subsampling anti-aliased with a binomial blur.
    "dlowpass": ({"d_downsample": "lowpass"}, {}),
    # Run 10: the finest level degrades with training while ADA's p never leaves 0 (r_t stays under 0.6).
    # Augmentation at a fixed strength (DiffAugment), ADA with a lower target, and a wider top G block alone.
    "aug0.2": ({}, {"augment_p": 0.2, "augment_adaptive": False}),
    "ada0.3": ({}, {"ada_target": 0.3}),  # the 32 px default since run 10
    "ada0.2": ({}, {"ada_target": 0.2}),
    "ada0.6": ({}, {"ada_target": 0.6}),  # the 32 px default before run 10 (still the default at other sizes)
    "gmin32": ({"g_channel_min": 32}, {}),
    # ... and StyleGAN's per-pixel noise inputs: does fine detail stop being carried by streaks?
    "noise": ({"noise": True}, {}),
    "noise-ada0.3": ({"noise": True}, {"ada_target": 0.3}),
    # Run 11 (ADA target 0.3 is the default now): noise at 4-16 px moved whole shapes (the coarse level got worse)
    # while the finest level improved. Noise on the top block only, or on 16 and 32 px; and R1 gamma 2 now that
    # augmentation runs (gamma 4 was chosen when it did not).
    "noise32": ({"noise": True, "noise_min_res": 32}, {}),
    "noise16": ({"noise": True, "noise_min_res": 16}, {}),
    "gamma2": ({}, {"r1_gamma": 2.0}),
    # D 32 channels wide at 32 px reached the DCGAN's finest level at 80 kimg in run 6, then lost it, when no
    # augmentation ran (p stayed 0). With ADA now on, does the wider D keep it? Alone, and with G as wide there.
    "dmin32-g": ({"d_channel_min": 32, "g_channel_min": 32}, {}),
    # Run 12: style mixing at 0.5 (not 0.9) led the default at 120 kimg; with the wider D at 32 px too.
    "mix0.5-dmin32": ({"d_channel_min": 32}, {"style_mixing_prob": 0.5}),
    # Run 13: the finest level, where the DCGAN still wins. Its generator doubles with learned 4x4 transposed
    # convolutions and ends in a 3x3 conv to RGB; ours doubles by nearest neighbour and ends in a 1x1 toRGB.
    "tconv": ({"upsample": "transposed"}, {}),
    "rgb3": ({"rgb_kernel": 3}, {}),
    # ... learned doubling everywhere moved the coarse level (curves): the top block alone, and with D wider there.
    "tconv32": ({"top_upsample": "transposed"}, {}),
    "tconv32-dmin32": ({"top_upsample": "transposed", "d_channel_min": 32}, {}),
    # Run 14: keep the generator, and give D a second, patch-level head that scores each cell of its 16 or 8 px
    # feature map (local texture judged apart from the global shape); patch32 is for 64 px networks.
    "patch16": ({"d_patch_res": 16}, {}),  # the 32 px default since run 15
    "patch8": ({"d_patch_res": 8}, {}),
    "patch32": ({"d_patch_res": 32}, {}),
    # ... patch16 moved the finest level to the DCGAN's range and the coarse one away: a patch head on its own
    # trunk (the image head's blocks untouched), and at half weight.
    "patch16-w0.5": ({"d_patch_res": 16}, {"patch_weight": 0.5}),
    "patch16-own": ({"d_patch_res": 16, "d_patch_trunk": "own"}, {}),
    "nopatch": ({"d_patch_res": 0}, {}),  # the 32 px default before run 15 (still the default at other sizes)
    # Run 17: every lost seed also lost the coarse level, and our samples fill the frame more often than real
    # emoji (fewer small figures on white): a 4x4 input that each latent shapes, as the DCGAN's z projection is.
    "mapped": ({"g_input": "mapped"}, {}),  # SWD 32.6 vs 33.3 and 48.1 vs 44.6, KID 1.4x and 2.1x: not adopted
    # Run 18: LeCam regularisation of D (Tseng et al. 2021), made for limited data. At 16 kimg of a 32 px run (seed 9)
    # D's mean scores were 0.23 on reals and -0.20 on fakes and the penalty about 1, so at 0.1 its gradient is roughly
    # a third of the logistic loss's, at 0.3 about the same size (0.3 is the paper's BigGAN weight).
    "lecam0.1": ({}, {"lecam_weight": 0.1}),
    "lecam0.3": ({}, {"lecam_weight": 0.3}),
    # ... and the EMA copy's half-life halved again (4 kimg lowered the finest level against 10 in run 8).
    "ema2": ({}, {"ema_kimg": 2.0}),
    # Run 19: StyleGAN2's pair, anti-aliased doubling in G and a blurred subsampling in D together (each was tried
    # alone under older defaults, runs 8 and 9); the plaid texture on faces in every grid looks like aliasing. It took
    # the plaid away and the detail with it: finest level 41.5 / 43.6 against 26.0 / 33.6, KID 3.9x / 1.5x.
    "antialias": ({"upsample": "bilinear", "d_downsample": "lowpass"}, {}),
    # Run 20: on seeds 9/10 every 32 px grid of the default since run 16 is more saturated than the real set's (mean
    # HSV saturation 0.33-0.36 against 0.25-0.28; the DCGAN 0.29-0.31). D trained on colour-augmented images may stop
    # telling saturation apart, and G drifts. Augmentation without the colour ops (measured: still 0.30-0.33), and
    # without saturation alone (not measured).
    "nocolour": ({}, {"augment_ops": ("translation", "cutout")}),
    "nosat": ({}, {"augment_ops": ("brightness", "contrast", "translation", "cutout")}),
    # ... the colour ops did not set it (curves, seed 9); without style mixing the EMA generator's saturation was the
    # real set's (0.28-0.29), and the raw generator's mean brightness swings by 0.1-0.2 between kimg (EMA 0.72-0.74):
    # half the learning rate, with and without mixing.
    "lr0.001-mix0": ({}, {"lr_g": 0.001, "lr_d": 0.001, "style_mixing_prob": 0.0}),
    # ... it won SWD by 8-9 in both seeds, split KID and trained no colourways: mixing at 0.5 keeps some of them.
    "lr0.001-mix0.5": ({}, {"lr_g": 0.001, "lr_d": 0.001, "style_mixing_prob": 0.5}),
    # Run 21: between the two at the default learning rate, and mixing at 0.9 but only from the 8 px toRGB skip on
    # (ws 3-7 of 8 at 32 px: the 16 and 32 px blocks and the toRGBs above 4 px), where colourways cross over.
    "mix0.2": ({}, {"style_mixing_prob": 0.2}),
    "mixfine3": ({}, {"style_mixing_from": 3}),
    # ... 0.2 won SWD in seeds 9 and 10 and was the 32 px default for seeds 7 and 8's runs ("current" there), with
    # 0.9 beside it under this name; SWD split over the four seeds, KID was lower in all four; 0.9 stays the default.
    "mix0.9": ({}, {"style_mixing_prob": 0.9}),
    # Run 22: the two halves of the 32 px SWD pulled apart. Learned doubling in the top block lowered the finest level
    # in run 13 (30.0 and, with D 32 channels wide at 32 px, 23.7 against 36.4 at 200 kimg) while the coarse level
    # rose; run 20 traced the coarse level to saturation from style mixing, and 0.2 lowered it in three of four seeds
    # in run 21 while the finest level rose in three. Together, on seed 8 (finest level lost to the DCGAN) and seed 9.
    "tconv32-mix0.2": ({"top_upsample": "transposed"}, {"style_mixing_prob": 0.2}),
    "tconv32-dmin32-mix0.2": ({"top_upsample": "transposed", "d_channel_min": 32}, {"style_mixing_prob": 0.2}),
    # ... the coarse level fell and the finest rose (the second variant, four seeds: 50.5 / 36.0 / 59.6 / 48.7 against
    # 43.8 / 32.0 / 28.5 / 29.2), as with 0.2 alone; mean SWD 42.9 against 44.1, 1 of 4 against the DCGAN: not adopted.
    # Run 23: `lr0.001` (above) at 32 px beside the default, seeds 7 and 8 at ~120 kimg: SWD 29.6 and 35.7 against 42.3
    # and 34.3, KID 0.0020 and 0.0024 against 0.0013 and 0.0012, recall lower in both: not adopted.
    # Run 24: `tconv32-dmin32` (above) with the default mixing of 0.9, beside the default, seeds 10, 7, 9, 8 at ~102-107
    # kimg against ~126: SWD 43.5 / 40.2 / 36.3 / 47.7 against 49.8 / 42.1 / 40.7 / 34.5, KID lower in three; the gains
    # were on the coarse level, the finest rose in three of four (seed 8: a checkerboard texture): not adopted.
    # Run 25: R1 gamma upward. 1 -> 4 lowered SWD in run 6 (without augmentation), and with ADA on, 2 was behind 4 at
    # every point of run 11's curves, mostly on the finest level; nothing above 4 has been measured at 32 px.
    "gamma8": ({}, {"r1_gamma": 8.0}),
    "gamma16": ({}, {"r1_gamma": 16.0}),
    # ... both raised the finest level in seeds 10 and 8 (46.2 / 44.3 and 34.4 / 41.0 against 31.9 and 32.2): SWD 57.7
    # / 46.2 against 50.8 and 38.5 / 45.6 against 33.9, not adopted. `mix0.5` (above) beside the default on the same
    # seeds: SWD 43.1 against 51.2 (coarse level) and 41.1 against 35.3 (finest level), KID level and 2.6x lower;
    # seeds 7 and 9: 42.2 against 40.0 and 26.9 against 39.8, KID level and 1.8x higher. Mean SWD over the four 38.3
    # against 41.6, split seed by seed: not adopted.
    # Run 26: `mix0.5` beside the default and the DCGAN in one run, seeds 10, 8, 7, 9 at ~210-225 kimg: SWD 47.6 / 38.4
    # / 35.6 / 33.7 against 42.0 / 45.7 / 31.6 / 41.2 (DCGAN 41.7 / 42.4 / 49.2 / 42.9), KID the same split; over runs
    # 25 and 26 lower in 4 of 8 seed-runs: not adopted.
    # Run 26, after the above: the top block's learned doubling drawn to start as the default's nearest doubling + 3x3
    # (`GANConfig.upsample="transposed-nearest"`). Six minutes only (seeds 10, 8, ~70 kimg): finest level 38.8 / 27.2
    # against 55.8 / 33.6, coarse 91.3 / 39.1 against 63.7 / 38.8, KID higher in both. Next: 20 minutes with the DCGAN.
    # Run 27, 20 minutes beside the default and the DCGAN (seeds 10, 8): SWD 51.4 / 41.8 against 43.3 / 44.8; the
    # finest level fell in both, the coarse level rose in both (KID 4.4x on seed 10): not adopted. `noskips` (above) in
    # the same run: 38.6 / 43.2 against 42.4 / 42.4, KID 0.0004 / 0.0031 against 0.0006 / 0.0015: split, not adopted.
    # A 10-minute look at `noskips` on seeds 7 and 9: 32.4 / 36.2 against 32.0 / 45.2; its coarse level was lower in all
    # four seed-runs. Next: `noskips` at 20 minutes with the DCGAN on seeds 7 and 9.
    # Run 28, `noskips` at 20 minutes beside the default and the DCGAN on seeds 7, 9, 10, 8: SWD 29.5 / 36.7 / 44.9 /
    # 36.6 against 34.6 / 45.8 / 47.0 / 45.2 (DCGAN 43.6 / 44.8 / 50.1 / 35.5); lower in 5 of 6 seed-runs over runs 27-28:
    # the 32 px default since (`GANConfig.default` no longer turns skips on), so `current` is `noskips` from here on.
    # `rgb3` on it (10 minutes, seeds 8 and 10): 35.9 / 52.8 against 34.4 / 45.9; seed 8's finest level fell and its
    # coarse rose, seed 10's finest rose (47.1 against 32.3) with 2.3x the KID: not pursued.
    # Run 29: R1 has barely reached the patch head (its cells enter the penalty through their mean, 1/256 of the
    # image score's weight each at 16 px): a penalty of its own per cell (`TrainConfig.patch_r1`).
    # 20 minutes beside the default and the DCGAN on seeds 7 and 9: 29.0 / 36.0 against 30.5 / 36.7 (DCGAN 24.9 /
    # 45.2), KID 0.0005 / 0.0007 against 0.0006 / -0.0002: inside the default's point spread. At 10 minutes on seeds 8
    # and 10: 56.2 / 46.4 against 36.5 / 50.0 (finest level 55.0 / 58.8 against 34.0 / 32.1): not pursued. `dmin32` on
    # the new default in the same run (seeds 8 and 10): 43.4 / 49.7 against 37.7 / 37.5, not adopted.
    "patchr1": ({}, {"patch_r1": "cells"}),
    # Run 30, the fast Intel Xeon (family 6 model 167): `gmin32` (above, G 32 channels at 32 px) on the no-skips default,
    # 20 minutes beside it and the DCGAN on seeds 9, 10, 7, 8: SWD 33.5 / 50.0 / 41.4 / 39.6 against 34.5 / 42.6 / 36.5 /
    # 35.5 (DCGAN 45.1 / 49.0 / 33.6 / 31.5); its finest level lower in seeds 9 and 10, higher in 7 and 8: not adopted.
    # Run 31 (Intel model 207): the default lost seeds 5 and 6 to the DCGAN twice on the finest level; `skips` (above)
    # beside it on seeds 5-8: SWD 30.9 / 44.3 / 34.1 / 40.3 against 49.9 / 43.2 / 35.7 / 36.7: split, the default stays.
    "tconv32n": ({"top_upsample": "transposed-nearest"}, {}),
    # Run 32: RGB skips into the top only. Without skips the coarse level was lower (runs 28, 31) and with them the
    # finest level on seed 5 (21.3 vs 50.2): one skip toRGB at 16 px, upsampled and added to the top block's, no lower skips.
    # 20 minutes beside the default and the DCGAN on seeds 5-8 (AMD EPYC): SWD 32.0 / 37.9 / 35.9 / 37.7 against 36.6 /
    # 39.8 / 28.4 / 37.9 (seed 7's coarse level 49.5 against 33.8), KID lower on 5 and 8, higher on 6 and 7: not adopted.
    "topskip": ({"rgb_skips": True, "rgb_skip_min_res": 16}, {}),
    # Run 33: every loss to the DCGAN is on the finest level, the 32 px Laplacian band. D also reads that band (the
    # metric's own filter) as three more input channels, so its one full-size layer sees edges and texture directly.
    # 20 minutes beside the default and the DCGAN on seeds 5-8 (AMD EPYC family 25 model 1, ~131-141 kimg): SWD 32.6 /
    # 41.3 / 26.4 / 35.4 against 43.9 / 44.0 / 31.8 / 32.3, the finest level lower in the same three seeds; KID split;
    # against the DCGAN SWD and KID lower in all four. The 32 px default since run 33.
    "highpass": ({"d_highpass": True}, {}),
    "nohighpass": ({"d_highpass": False}, {}),  # the 32 px default before run 33
    "dcgan": None,
}


class OursRunner:
    """BrandForge's GAN through its real Trainer (EMA generator used for samples)."""

    name = "brandforge"

    def __init__(self, *, data: torch.Tensor, resolution: int, batch_size: int, seed: int,
                 gan_overrides: dict | None = None, train_overrides: dict | None = None,
                 device: str = "cpu", name: str = "brandforge") -> None:
        self.name = name
        gan = dataclasses.replace(GANConfig.default(resolution), **(gan_overrides or {}))
        config = TrainConfig.default(resolution, gan=gan, batch_size=batch_size, checkpoint_kimg=1e6, seed=seed)
        config = dataclasses.replace(config, **(train_overrides or {}))
        self.device = torch.device(device)
        self.trainer = Trainer(config=config, dataset=data, run_dir=Path(tempfile.mkdtemp()), device=self.device)

    def step(self) -> int:
        self.trainer.train_step()
        return self.trainer.config.batch_size

    @torch.no_grad()
    def sample(self, n: int, *, seed: int, ema: bool = True, mixed: bool = False) -> torch.Tensor:
        """n images from fixed latents; `ema=False` samples the raw (trained) generator instead.

        `mixed=True` samples colourways as the product makes them (`generative.nn.latent.style_mix`): each
        image takes its layers from a random crossover on from a second latent, drawn from the layers the
        trainer mixes (`TrainConfig.style_mixing_from` to num_ws - 1).
        """
        # The trained G is sampled as it is: switching its mode would leak into the training steps.
        g = self.trainer.G_ema.eval() if ema else self.trainer.G
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, g.config.z_dim, generator=gen).to(self.device)
        if not mixed:
            return torch.cat([g(z[i : i + 64]).cpu() for i in range(0, n, 64)]).contiguous().clamp(-1, 1)
        z2 = torch.randn(n, g.config.z_dim, generator=gen).to(self.device)
        cut = torch.randint(self.trainer.config.style_mixing_from, g.config.num_ws, (n,), generator=gen).to(self.device)
        later = torch.arange(g.config.num_ws, device=self.device)[None, :, None] >= cut[:, None, None]
        out = []
        for i in range(0, n, 64):
            ws = torch.where(later[i : i + 64], g.mapping(z2[i : i + 64]), g.mapping(z[i : i + 64]))
            out.append(g.synthesis(ws).cpu())
        return torch.cat(out).contiguous().clamp(-1, 1)


class DCGANRunner:
    """The plain DCGAN recipe: BCE non-saturating loss, Adam(2e-4, 0.5, 0.999), batch 64, no tricks."""

    name = "dcgan"

    def __init__(self, *, data: torch.Tensor, resolution: int, batch_size: int, seed: int,
                 device: str = "cpu") -> None:
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.G = DCGANGenerator(resolution=resolution, base=256).to(self.device)
        self.D = DCGANDiscriminator(resolution=resolution, base=256).to(self.device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.data = data.to(self.device).float() / 127.5 - 1.0
        self.batch_size = batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def step(self) -> int:
        real = self.data[torch.randint(0, len(self.data), (self.batch_size,), generator=self.gen).to(self.device)]
        z = torch.randn(self.batch_size, self.G.z_dim, generator=self.gen).to(self.device)
        fake = self.G(z)
        loss_d = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake.detach())).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        loss_g = F.softplus(-self.D(fake)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return self.batch_size

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> torch.Tensor:
        # Batch statistics, in batches of the training size, as the DCGAN recipe samples: running
        # averages lag far behind early in training and would turn its samples to flat grey.
        z = torch.randn(n, self.G.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
        return torch.cat([self.G(z[i : i + self.batch_size]).cpu() for i in range(0, n, self.batch_size)])


def train_interleaved(runners: list, *, seconds: float, slice_s: float, log: Callable[[str], None],
                      score_at: tuple[float, ...] = (1.0,),
                      score: Callable[[float, dict[str, float]], None] | None = None) -> dict:
    """Give each runner ``seconds`` of wall-clock training in alternating slices; returns images seen.

    At each fraction in ``score_at``, once every runner has trained that share of ``seconds``,
    ``score(fraction, kimg_by_runner)`` runs. Its time is outside every budget: the runners are paused.
    """
    spent = {r.name: 0.0 for r in runners}
    images = {r.name: 0 for r in runners}
    points = []
    for fraction in sorted({*score_at, 1.0}):
        target = fraction * seconds
        while any(spent[r.name] < target for r in runners):
            for r in runners:
                budget = min(slice_s, target - spent[r.name])
                if budget <= 0:
                    continue
                start = time.perf_counter()
                while time.perf_counter() - start < budget:
                    images[r.name] += r.step()
                spent[r.name] += time.perf_counter() - start
            log("  " + ", ".join(f"{n}: {spent[n]:.0f}s {images[n] / 1000:.1f} kimg" for n in spent))
        if fraction in score_at:
            kimg = {n: v / 1000 for n, v in images.items()}
            points.append({"fraction": fraction, "kimg": kimg})
            if score is not None:
                score(fraction, kimg)
    return {"seconds": spent, "kimg": {n: v / 1000 for n, v in images.items()}, "points": points}


def run_resolution(args: argparse.Namespace, resolution: int, log: Callable[[str], None]) -> dict:
    data = load_emoji(size=resolution, cache_dir=args.cache_dir)
    train, held = data.split(holdout_fraction=args.holdout, seed=args.seed)
    real_train, real_held = train.to_tensor(), held.to_tensor()
    log(f"[{resolution}px] {len(train)} training emoji, {len(held)} held out")

    start = time.perf_counter()
    encoder, losses = train_encoder(
        real_train, config=EncoderConfig(input_size=32), steps=args.encoder_steps, seed=args.seed,
        name=f"emoji{resolution}",
    )
    version = save_encoder(encoder, args.out / f"encoder-{resolution}.pt")
    log(f"[{resolution}px] encoder {version}: loss {losses[0]:.3f} -> {losses[-1]:.3f} "
        f"in {time.perf_counter() - start:.0f}s")

    uint8 = torch.from_numpy(train.images).permute(0, 3, 1, 2).contiguous()
    runners = []
    for variant in args.variant if "brandforge" in args.models else []:
        gan_overrides, train_overrides = VARIANTS[variant]
        if args.channel_base is not None:
            gan_overrides = {**gan_overrides, "channel_base": args.channel_base}
        # One variant keeps the plain name; several, run side by side, are told apart by theirs.
        name = "brandforge" if len(args.variant) == 1 else f"brandforge-{variant}"
        runners.append(OursRunner(data=uint8, resolution=resolution, batch_size=args.batch, seed=args.seed,
                                  gan_overrides=gan_overrides, train_overrides=train_overrides, name=name))
    if "dcgan" in args.models:
        runners.append(DCGANRunner(data=uint8, resolution=resolution, batch_size=64, seed=args.seed))
    n_eval = len(real_held)
    per_point: dict[str, list[dict]] = {r.name: [] for r in runners}

    def score(fraction: float, kimg: dict[str, float]) -> None:
        for r in runners:
            start = time.perf_counter()
            m = evaluate_draws(real_held, lambda i, r=r: r.sample(n_eval, seed=args.seed + 1 + i),
                               draws=args.draws, encoder=encoder, seed=args.seed)
            per_point[r.name].append({"fraction": fraction, "kimg": kimg[r.name], **m})
            log(f"  scored {r.name} at {fraction:.0%} of the budget ({kimg[r.name]:.1f} kimg): "
                f"SWD {m['swd_mean']:.1f} KID {m['kid']:.4f} in {time.perf_counter() - start:.0f}s")

    budget = train_interleaved(runners, seconds=args.minutes * 60, slice_s=args.slice_seconds, log=log,
                               score_at=tuple(args.score_at), score=score)

    def real_draw(i: int) -> torch.Tensor:
        # A random draw: the split keeps code-point order, so its head is all keycaps and symbols.
        pick = torch.randperm(len(real_train), generator=torch.Generator().manual_seed(args.seed + i))[:n_eval]
        return real_train[pick]

    rows = {"real (train split)": evaluate_draws(real_held, real_draw, draws=args.draws, encoder=encoder,
                                                 seed=args.seed)}
    grid_image(real_held[:64]).save(args.out / f"quality-{resolution}-real.png")
    for r in runners:
        rows[r.name] = median_over_points(per_point[r.name])
        grid_image(r.sample(64, seed=args.seed + 1)).save(args.out / f"quality-{resolution}-{r.name}.png")
    return {"resolution": resolution, "encoder": version, "encoder_loss": [losses[0], losses[-1]],
            "held_out": n_eval, "budget": budget, "metrics": rows}


def median_over_points(points: list[dict]) -> dict:
    """One model's score: each metric's median over the points scored late in its budget.

    A GAN's scores swing from one step to the next by more than the gaps between models, so a verdict
    taken at the last step alone says where that step landed; the median of several points says where the
    model is. Each metric keeps its per-point values (``<metric>_points``) and the sample-draw spread of
    the point it took its median from (``<metric>_sd``).
    """
    out: dict = {"points": len(points), "draws": points[0]["draws"], "kimg_points": [p["kimg"] for p in points]}
    for key, value in points[0].items():
        if key in ("fraction", "kimg", "draws") or key.endswith("_sd"):
            continue
        if isinstance(value, str):
            out[key] = value
            continue
        values = [float(p[key]) for p in points]
        order = sorted(range(len(points)), key=values.__getitem__)
        mid = order[(len(order) - 1) // 2]  # the lower median: always a value that was measured
        out[key] = values[mid]
        out[f"{key}_sd"] = float(points[mid].get(f"{key}_sd", 0.0))
        out[f"{key}_points"] = values
    return out


def colour_stats(images: torch.Tensor) -> dict[str, float]:
    """Colour and layout statistics behind the coarsest SWD level, in units a person can read.

    Images are in [-1, 1]. ``saturation``: mean HSV saturation; ``brightness``: mean of all channels in
    [0, 1]; ``white``: share of near-white pixels (every channel above 0.94); ``off_centre``: mean distance,
    in pixels, of each image's non-white mass centroid from the image centre (the emoji are centred).
    """
    x = (images.float() + 1.0) / 2.0
    hi, lo = x.amax(dim=1), x.amin(dim=1)
    saturation = ((hi - lo) / hi.clamp_min(1e-6)).mean()
    ink = (1.0 - lo).clamp_min(0.0)  # how far each pixel is from white
    h, w = ink.shape[-2:]
    mass = ink.sum(dim=(1, 2))
    ys = torch.arange(h, dtype=ink.dtype)[None, :, None] + 0.5
    xs = torch.arange(w, dtype=ink.dtype)[None, None, :] + 0.5
    cy = (ink * ys).sum(dim=(1, 2)) / mass.clamp_min(1e-6)
    cx = (ink * xs).sum(dim=(1, 2)) / mass.clamp_min(1e-6)
    # A blank (all-white) image has no centroid; it counts as centred.
    off_centre = torch.where(mass > 1e-6, torch.hypot(cy - h / 2, cx - w / 2), 0.0).mean()
    return {"saturation": float(saturation), "brightness": float(x.mean()), "white": float((lo > 0.94).float().mean()),
            "off_centre": float(off_centre)}


def evaluate_draws(real: torch.Tensor, draw: Callable[[int], torch.Tensor], *, draws: int, encoder,
                   seed: int) -> dict[str, float | str]:
    """Every metric, averaged over ``draws`` independent sample sets of one model (``draw(i)``).

    One set of 589 images moves SWD by several points from draw to draw; the mean over draws, with
    each metric's spread across them (``<metric>_sd``), separates the models from that noise.
    """
    runs = []
    for i in range(draws):
        images = draw(i)
        runs.append({**evaluate(real, images, encoder=encoder, seed=seed), **colour_stats(images)})
    out: dict[str, float | str] = {"draws": draws}
    for key, value in runs[0].items():
        if isinstance(value, str):
            out[key] = value
            continue
        values = torch.tensor([float(run[key]) for run in runs], dtype=torch.float64)
        out[key] = float(values.mean())
        out[f"{key}_sd"] = float(values.std()) if draws > 1 else 0.0
    return out


def table(result: dict) -> str:
    lines = [f"{result['resolution']} px, encoder {result['encoder']}, {result['held_out']} held-out emoji",
             f"| model | kimg | {' | '.join(METRIC_COLUMNS)} |", "|" + " --- |" * (len(METRIC_COLUMNS) + 2)]
    for name, m in result["metrics"].items():
        kimg = result["budget"]["kimg"].get(name)
        cells = [f"{m['swd_mean']:.1f} ± {m.get('swd_mean_sd', 0.0):.1f}{_points(m, 'swd_mean', '.1f')}",
                 f"{m['kid']:.4f} ± {m.get('kid_sd', 0.0):.4f}{_points(m, 'kid', '.4f')}",
                 *(f"{m[c]:.3f}" for c in METRIC_COLUMNS[2:])]
        lines.append(f"| {name} | {'-' if kimg is None else f'{kimg:.1f}'} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _points(m: dict, key: str, fmt: str) -> str:
    values = m.get(f"{key}_points")
    return "" if not values or len(values) < 2 else " (" + " / ".join(format(v, fmt) for v in values) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="training minutes per model per resolution")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "cache" / "emoji")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--holdout", type=float, default=0.15)
    parser.add_argument("--encoder-steps", type=int, default=400)
    parser.add_argument("--slice-seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads; 1 is fastest on a CPU shared with other jobs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=32, help="our GAN's batch size (the DCGAN keeps its recipe's 64)")
    parser.add_argument("--channel-base", type=int, default=None,
                        help="our GAN's channel_base for every variant (default: each variant's own; "
                             "GANConfig.default uses 512 at 32 and 64 px)")
    parser.add_argument("--variant", nargs="+", default=["current"], choices=sorted(v for v in VARIANTS if VARIANTS[v]),
                        help="our GAN's design variant(s), trained side by side, interleaved with the DCGAN "
                             "(bench/quality_curves.py lists them); default: the defaults")
    parser.add_argument("--draws", type=int, default=2,
                        help="independent sample sets scored per model at each point (and real training draws for "
                             "the floor); a point's score is their mean")
    parser.add_argument("--score-at", type=float, nargs="+", default=[0.9, 0.95, 1.0],
                        help="fractions of the budget at which every model is scored (training paused); a model's "
                             "score is each metric's median over these points. Default: three points in the last "
                             "10%% of the budget")
    parser.add_argument("--models", nargs="+", default=["brandforge", "dcgan"], choices=["brandforge", "dcgan"])
    args = parser.parse_args()
    if args.draws < 1:
        parser.error(f"--draws {args.draws}: score at least one sample set per model")
    if not all(0 < f <= 1 for f in args.score_at):
        parser.error(f"--score-at {args.score_at}: each point is a fraction of the budget in (0, 1]")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    results = []
    for resolution in args.resolutions:
        results.append(run_resolution(args, resolution, log))
        print("\n" + table(results[-1]) + "\n", flush=True)
    payload = {"minutes": args.minutes, "threads": args.threads, "batch": args.batch, "variant": args.variant,
               "draws": args.draws, "score_at": sorted(args.score_at),
               "channel_base": args.channel_base, "torch": torch.__version__, "results": results}
    (args.out / "quality-results.json").write_text(json.dumps(payload, indent=2))
    print(f"grids and quality-results.json in {args.out}")


if __name__ == "__main__":
    main()
