"""Residual discriminator with minibatch standard deviation, projection class conditioning and an
optional patch-level head."""

from __future__ import annotations

import math

import torch
from torch import nn

from generative.nn.config import GANConfig
from generative.nn.errors import ShapeError
from generative.nn.layers import (
    LRELU_GAIN,
    EqualConv2d,
    EqualLinear,
    downsample2x,
    laplacian_detail,
    lowpass_downsample2x,
    minibatch_stddev,
)


class DiscriminatorBlock(nn.Module):
    """Two convolutions and a 2x downsample, with a 1x1 shortcut (res -> res / 2).

    ``downsample="pool"`` averages 2x2 and then runs the second 3x3 conv at a quarter of the pixels;
    ``"stride"`` makes the second conv a 4x4 stride-2 one, which reads the full-size grid itself.
    """

    def __init__(self, in_channels: int, out_channels: int, *, downsample: str = "pool") -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, activate=True, input_gain=LRELU_GAIN)
        self.strided = downsample == "stride"
        self.conv1 = EqualConv2d(in_channels, out_channels, activate=True, input_gain=LRELU_GAIN,
                                 kernel_size=4 if self.strided else 3, stride=2 if self.strided else 1)
        # Without the gain, the shortcut stays at the same (un-gained) scale as the residual branch.
        self.skip = EqualConv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.downsample = lowpass_downsample2x if downsample == "lowpass" else downsample2x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(self.downsample(x))
        x = self.conv0(x)
        x = self.conv1(x if self.strided else self.downsample(x))
        # In place: neither the sum nor a scalar multiply needs its output for the backward pass.
        return (x + y).mul_(1.0 / math.sqrt(2.0))


def _trunk(config: GANConfig, *, down_to: int) -> tuple[EqualConv2d, list[DiscriminatorBlock]]:
    """fromRGB and the blocks that halve the image down to a `down_to` px feature map."""
    from_rgb = EqualConv2d(config.d_input_channels, config.d_channels(config.resolution), kernel_size=1, activate=True)
    blocks = []
    res = config.resolution
    while res > down_to:
        blocks.append(DiscriminatorBlock(config.d_channels(res), config.d_channels(res // 2),
                                         downsample=config.d_downsample))
        res //= 2
    return from_rgb, blocks


# With `d_highpass`, the finest Laplacian band enters at this gain: on the 32 px emoji set its spread is 0.22
# against the image's 0.61 (both in [-1, 1] units), so the band reaches fromRGB at about the colours' scale.
HIGHPASS_GAIN = 2.8


class Discriminator(nn.Module):
    """images [batch, C, res, res] in [-1, 1] (and labels) -> realness logits [batch]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.resolution, self.img_channels = config.resolution, config.img_channels
        self.mbstd_group = config.mbstd_group
        self.highpass = config.d_highpass
        self.from_rgb, blocks = _trunk(config, down_to=4)
        self.blocks = nn.ModuleList(blocks)
        self.patch_res = config.d_patch_res
        self.patch_head = self.patch_trunk = None
        if self.patch_res:
            cp = config.d_channels(self.patch_res)
            self.patch_head = nn.Sequential(
                EqualConv2d(cp, cp, kernel_size=1, activate=True, input_gain=LRELU_GAIN),
                EqualConv2d(cp, 1, kernel_size=1, input_gain=LRELU_GAIN),
            )
            if config.d_patch_trunk == "own":
                # The image head's layers down to patch_res, with weights of their own.
                from_rgb, own_blocks = _trunk(config, down_to=self.patch_res)
                self.patch_trunk = nn.Sequential(from_rgb, *own_blocks)
        c4 = config.d_channels(4)
        self.conv4 = EqualConv2d(c4 + 1, c4, activate=True, input_gain=LRELU_GAIN)
        self.fc = EqualLinear(c4 * 16, c4, activate=True, input_gain=LRELU_GAIN)
        self.out = EqualLinear(c4, 1, input_gain=LRELU_GAIN)
        self.num_classes = config.num_classes
        # Projection conditioning: the logit gains <embed(c), features>, so labels shape the decision
        # without a separate head per class.
        self.embed = EqualLinear(config.num_classes, c4, input_gain=LRELU_GAIN) if config.num_classes > 0 else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self._run(img, c, patches=False)[0]

    def score(self, img: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Image logits [batch] and, with a patch head, patch logits [batch, d_patch_res, d_patch_res]."""
        return self._run(img, c, patches=self.patch_head is not None)

    def _run(self, img: torch.Tensor, c: torch.Tensor | None, *,
             patches: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        if img.ndim != 4 or img.shape[1:] != (self.img_channels, self.resolution, self.resolution):
            raise ShapeError(
                f"images have shape {tuple(img.shape)}; expected [batch, {self.img_channels}, "
                f"{self.resolution}, {self.resolution}]"
            )
        if self.embed is not None and c is None:
            raise ShapeError(f"this discriminator has {self.num_classes} classes and needs labels c")
        if self.highpass:
            img = torch.cat([img, laplacian_detail(img).mul_(HIGHPASS_GAIN)], dim=1)
        x = self.from_rgb(img)
        patch_logits = None
        if patches and self.patch_trunk is not None:
            patch_logits = self.patch_head(self.patch_trunk(img)).squeeze(1)
        for block in self.blocks:
            x = block(x)
            if patches and self.patch_trunk is None and x.shape[-1] == self.patch_res:
                patch_logits = self.patch_head(x).squeeze(1)
        x = self.conv4(minibatch_stddev(x, group_size=self.mbstd_group))
        h = self.fc(x.flatten(1))
        logits = self.out(h).squeeze(1)
        if self.embed is not None:
            onehot = nn.functional.one_hot(c.long(), self.num_classes).to(h.dtype)
            logits = logits + (self.embed(onehot) * h).sum(dim=1) / math.sqrt(h.shape[1])
        return logits, patch_logits
