"""Building blocks shared by the generator and the discriminator.

Weights are stored at unit variance and scaled at run time (equalised learning rate), so Adam's
per-parameter step size means the same thing in every layer. Convolutions keep the input's memory
format, so a channels-last model stays channels-last end to end.

The leaky ReLU's variance-restoring gain (sqrt 2) is not applied to the activations; each layer that
reads an activation applies it to its (small) weight instead (`input_gain`). The network computes
the same function, with one full pass over every activation fewer, forward and backward.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LRELU_SLOPE = 0.2
# Restores unit variance after a leaky ReLU with slope 0.2 (He et al. gain); see `input_gain`.
LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU in place: one pass over the activation instead of a new buffer written beside it.

    Only for fresh outputs of a linear op, a convolution or addcmul, whose backward passes read their
    inputs and not their output (the leaky ReLU's own backward reads its output's signs).
    """
    return F.leaky_relu(x, LRELU_SLOPE, inplace=True)


class EqualLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, *, bias_init: float = 0.0,
                 lr_multiplier: float = 1.0, activate: bool = False, input_gain: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier))
        self.weight_gain = input_gain * lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activate else x


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int = 3, bias: bool = True,
                 activate: bool = False, input_gain: float = 1.0, stride: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = input_gain / math.sqrt(in_channels * kernel_size * kernel_size)
        # Odd kernels keep the size; a 4x4 kernel with stride 2 halves it exactly (padding 1).
        self.padding = (kernel_size - stride + 1) // 2
        self.stride = stride
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, stride=self.stride, padding=self.padding)
        return lrelu(x) if self.activate else x


# Row k of the 4x4 transposed kernel (stride 2, padding 1) as a sum of 3x3 taps t: output 2j reads input j - 1
# through taps 3 and j through 1; output 2j + 1 reads j through 2 and j + 1 through 0. After nearest doubling a
# 3x3 conv's taps (0, 1, 2) read j - 1, j, j at 2j and j, j, j + 1 at 2j + 1.
NEAREST_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class ModulatedConv2d(nn.Module):
    """A convolution whose input channels are scaled by a per-sample style.

    Modulating the activations instead of the weights keeps one shared weight for the whole batch,
    so the convolution runs as a single dense conv2d (fast on CPU and GPU alike); demodulation then
    divides each output channel by the norm the modulated weight would have had.
    """

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, kernel_size: int = 3,
                 demodulate: bool = True, activate: bool = True, input_gain: float = LRELU_GAIN,
                 noise_resolution: int = 0, up: bool = False, nearest_init: bool = False) -> None:
        super().__init__()
        if up and kernel_size != 4:
            raise ValueError(f"kernel_size={kernel_size}: an upsampling (transposed, stride-2) conv takes a 4x4 kernel")
        if nearest_init and not up:
            raise ValueError("nearest_init starts an upsampling (up=True) conv's kernel as nearest doubling + 3x3")
        # w comes out of the mapping network's last leaky ReLU.
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0, input_gain=LRELU_GAIN)
        self.input_gain = input_gain
        if nearest_init:
            # Nearest doubling then a 3x3 conv is itself a 4x4 stride-2 transposed conv: each output phase sums
            # the 3x3 taps that land on the same input pixel (NEAREST_TAPS), so the kernel can start there.
            weight = torch.einsum("kt,oitu,lu->oikl", NEAREST_TAPS, torch.randn(out_channels, in_channels, 3, 3),
                                  NEAREST_TAPS)
        else:
            weight = torch.randn(out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = 1 if up else kernel_size // 2
        # `up`: a learned 2x upsampling, a 4x4 stride-2 transposed convolution (as a DCGAN's generator has).
        self.up = up
        self.demodulate = demodulate
        self.activate = activate
        # Noise input (`noise_resolution` > 0): a fixed map for inference, and a strength learned from zero.
        self.noise_strength: nn.Parameter | None = None
        if noise_resolution:
            self.noise_strength = nn.Parameter(torch.zeros([]))
            self.register_buffer("noise_const", torch.randn(1, 1, noise_resolution, noise_resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """`noise` [batch or 1, 1, H, W] replaces the fixed map of a layer with noise inputs."""
        styles = self.affine(w)
        weight = self.weight * self.weight_gain
        # The input's activation gain rides on the per-sample styles: a [batch, C] multiply, not a full pass.
        x = x * (styles * self.input_gain)[:, :, None, None]
        if self.demodulate:
            x = self._conv(x, weight, None)
            # Sum over kernel taps of w^2, contracted with s^2 over input channels: |W * s| per output.
            wsq = weight.square().sum(dim=(2, 3))
            dcoefs = torch.rsqrt(styles.square() @ wsq.t() + 1e-8)
            if self.up:
                # Each output pixel reads one 2x2 phase of the 4x4 kernel, a quarter of the taps the norm
                # summed: twice the coefficient restores unit variance.
                dcoefs = dcoefs * 2.0
            x = torch.addcmul(self.bias[None, :, None, None], x, dcoefs[:, :, None, None])
        else:
            x = self._conv(x, weight, self.bias)
        if self.noise_strength is not None:
            # In place on the fresh sum: its backward needs neither its output nor the old value.
            x.add_((self.noise_const if noise is None else noise) * self.noise_strength)
        return lrelu(x) if self.activate else x

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.up:
            return F.conv_transpose2d(x, weight.transpose(0, 1), bias, stride=2, padding=self.padding)
        return F.conv2d(x, weight, bias, padding=self.padding)


class SkipLayerExcitation(nn.Module):
    """Channel gates for a high-resolution feature map computed from a low-resolution one."""

    def __init__(self, low_channels: int, high_channels: int) -> None:
        super().__init__()
        self.squeeze = EqualConv2d(low_channels, low_channels, kernel_size=1, activate=True, input_gain=LRELU_GAIN)
        self.excite = EqualConv2d(low_channels, high_channels, kernel_size=1, input_gain=LRELU_GAIN)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        gate = F.adaptive_avg_pool2d(low, 1)
        gate = torch.sigmoid(self.excite(self.squeeze(gate)))
        return high * gate


def upsample2x(x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    return F.interpolate(x, scale_factor=2.0, mode=mode, align_corners=False)


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=2)


# Binomial [1, 3, 3, 1] taps: a low-pass that keeps the 2x subsampling from folding fine detail back as
# coarse patterns (aliasing); a 2x2 box lets much of the band above the new Nyquist frequency through.
_BINOMIAL4 = (1.0, 3.0, 3.0, 1.0)


def _depthwise_blur_kernel(taps: tuple[float, ...], x: torch.Tensor) -> torch.Tensor:
    """The separable 2-D filter of `taps`, normalised to sum 1, as a depthwise kernel [C, 1, k, k] for x."""
    t = torch.tensor(taps, dtype=x.dtype, device=x.device)
    return (torch.outer(t, t) / t.sum() ** 2).expand(x.shape[1], 1, len(taps), len(taps))


def lowpass_downsample2x(x: torch.Tensor) -> torch.Tensor:
    """Blur with the separable binomial filter, then keep every second pixel (one depthwise conv)."""
    return F.conv2d(x, _depthwise_blur_kernel(_BINOMIAL4, x), stride=2, padding=1, groups=x.shape[1])


# Binomial [1, 4, 6, 4, 1] taps: the 5-tap blur of a Burt-Adelson Laplacian pyramid (the one the SWD metric uses).
_BINOMIAL5 = (1.0, 4.0, 6.0, 4.0, 1.0)


def laplacian_detail(x: torch.Tensor) -> torch.Tensor:
    """The finest band of x's Laplacian pyramid: x minus its blurred, halved and re-doubled copy.

    Flat areas give zero (smooth gradients nearly so); edges and fine texture are what remain. Two depthwise
    convolutions (a strided blur down, a blur of the zero-filled doubled grid up), differentiable in x.
    """
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"laplacian_detail needs even height and width, got {h}x{w}")
    kernel = _depthwise_blur_kernel(_BINOMIAL5, x)
    low = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, stride=2, groups=c)
    # Zero-insertion doubling and the same blur (reflected at the border, so a flat image gives zero
    # everywhere): four times the kernel keeps the mean level.
    up = low.new_zeros(n, c, h, w)
    up[:, :, ::2, ::2] = low
    return x - F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), kernel * 4.0, groups=c)


def minibatch_stddev(x: torch.Tensor, *, group_size: int) -> torch.Tensor:
    """Append one feature map holding the spread of features across a group of samples.

    The discriminator can then see a batch's lack of variety (mode collapse) directly.
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.reshape(g, n // g, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()
    y = y.mean(dim=(1, 2, 3)).reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)
