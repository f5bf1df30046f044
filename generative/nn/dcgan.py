"""A plain DCGAN (Radford et al.) used only as the benchmark's reference point."""

from __future__ import annotations

import torch
from torch import nn


def _dcgan_widths(resolution: int, *, base: int) -> list[int]:
    """Channel widths from 4x4 up to `resolution`, halving at each doubling."""
    steps = resolution.bit_length() - 3
    return [max(base >> i, 32) for i in range(steps + 1)]


class DCGANGenerator(nn.Module):
    def __init__(self, *, resolution: int, z_dim: int = 128, base: int = 512, img_channels: int = 3) -> None:
        super().__init__()
        self.z_dim = z_dim
        widths = _dcgan_widths(resolution, base=base)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(widths[-1], img_channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, *, resolution: int, base: int = 512, img_channels: int = 3) -> None:
        super().__init__()
        widths = list(reversed(_dcgan_widths(resolution, base=base)))
        layers: list[nn.Module] = [nn.Conv2d(img_channels, widths[0], 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
