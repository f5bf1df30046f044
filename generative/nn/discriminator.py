"""Residual discriminator with minibatch standard deviation and projection class conditioning."""

from __future__ import annotations

import math

import torch
from torch import nn

from generative.nn.config import GANConfig
from generative.nn.errors import ShapeError
from generative.nn.layers import LRELU_GAIN, EqualConv2d, EqualLinear, downsample2x, minibatch_stddev


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convolutions and a 2x downsample, with a 1x1 shortcut (res -> res / 2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, activate=True, input_gain=LRELU_GAIN)
        self.conv1 = EqualConv2d(in_channels, out_channels, activate=True, input_gain=LRELU_GAIN)
        # Without the gain, the shortcut stays at the same (un-gained) scale as the residual branch.
        self.skip = EqualConv2d(in_channels, out_channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(downsample2x(x))
        # Downsampling before the second conv does its work at a quarter of the pixels.
        x = self.conv1(downsample2x(self.conv0(x)))
        return (x + y) * (1.0 / math.sqrt(2.0))


class Discriminator(nn.Module):
    """images [batch, C, res, res] in [-1, 1] (and labels) -> realness logits [batch]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.resolution, self.img_channels = config.resolution, config.img_channels
        self.mbstd_group = config.mbstd_group
        self.from_rgb = EqualConv2d(config.img_channels, config.d_channels(config.resolution), kernel_size=1,
                                    activate=True)
        blocks = []
        res = config.resolution
        while res > 4:
            blocks.append(DiscriminatorBlock(config.d_channels(res), config.d_channels(res // 2)))
            res //= 2
        self.blocks = nn.ModuleList(blocks)
        c4 = config.d_channels(4)
        self.conv4 = EqualConv2d(c4 + 1, c4, activate=True, input_gain=LRELU_GAIN)
        self.fc = EqualLinear(c4 * 16, c4, activate=True, input_gain=LRELU_GAIN)
        self.out = EqualLinear(c4, 1, input_gain=LRELU_GAIN)
        self.num_classes = config.num_classes
        # Projection conditioning: the logit gains <embed(c), features>, so labels shape the decision
        # without a separate head per class.
        self.embed = EqualLinear(config.num_classes, c4, input_gain=LRELU_GAIN) if config.num_classes > 0 else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if img.ndim != 4 or img.shape[1:] != (self.img_channels, self.resolution, self.resolution):
            raise ShapeError(
                f"images have shape {tuple(img.shape)}; expected [batch, {self.img_channels}, "
                f"{self.resolution}, {self.resolution}]"
            )
        x = self.from_rgb(img)
        for block in self.blocks:
            x = block(x)
        x = self.conv4(minibatch_stddev(x, group_size=self.mbstd_group))
        h = self.fc(x.flatten(1))
        logits = self.out(h).squeeze(1)
        if self.embed is not None:
            if c is None:
                raise ShapeError(f"this discriminator has {self.num_classes} classes and needs labels c")
            onehot = nn.functional.one_hot(c.long(), self.num_classes).to(h.dtype)
            logits = logits + (self.embed(onehot) * h).sum(dim=1) / math.sqrt(h.shape[1])
        return logits
