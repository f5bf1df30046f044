"""Style-based generator: a mapping network (z, label) -> per-layer styles ws, and a synthesis
network ws -> image. Keeping the two apart lets variant tools edit, mix and truncate ws."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from generative.nn.config import GANConfig
from generative.nn.errors import ShapeError
from generative.nn.layers import LRELU_GAIN, EqualLinear, ModulatedConv2d, SkipLayerExcitation, upsample2x


def _normalize_2nd_moment(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class MappingNetwork(nn.Module):
    """z (and an optional class label) -> ws of shape [batch, num_ws, w_dim].

    ``w_avg`` tracks the running mean of w during training; truncation pulls ws toward it.
    """

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws = config.z_dim, config.w_dim, config.num_ws
        self.num_classes = config.num_classes
        self.w_avg_beta = config.w_avg_beta
        in_dim = config.z_dim
        self.embed: EqualLinear | None = None
        if config.num_classes > 0:
            self.embed = EqualLinear(config.num_classes, config.w_dim)
            in_dim += config.w_dim
        layers = []
        for i in range(config.mapping_layers):
            layers.append(EqualLinear(in_dim if i == 0 else config.w_dim, config.w_dim,
                                      lr_multiplier=config.lr_multiplier_mapping, activate=True,
                                      input_gain=1.0 if i == 0 else LRELU_GAIN))
        self.layers = nn.ModuleList(layers)
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                update_w_avg: bool = False) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ShapeError(f"z has shape {tuple(z.shape)}; expected [batch, {self.z_dim}]")
        x = _normalize_2nd_moment(z)
        if self.embed is not None:
            if c is None:
                raise ShapeError(f"this generator has {self.num_classes} classes and needs labels c")
            onehot = F.one_hot(c.long(), self.num_classes).to(z.dtype)
            x = torch.cat([x, _normalize_2nd_moment(self.embed(onehot))], dim=1)
        for layer in self.layers:
            x = layer(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).expand(-1, self.num_ws, -1)
        if truncation_psi != 1.0:
            ws = self.w_avg.lerp(ws, truncation_psi)
        return ws


class SynthesisBlock(nn.Module):
    """Doubles the feature map size (``upsample``: "nearest" or "bilinear") and applies two
    style-modulated 3x3 convolutions; with "transposed" (or "transposed-nearest"), the first convolution does the
    doubling."""

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, upsample: str,
                 noise_resolution: int = 0) -> None:
        super().__init__()
        self.upsample = upsample
        learned = upsample.startswith("transposed")
        self.conv0 = ModulatedConv2d(in_channels, out_channels, w_dim=w_dim, noise_resolution=noise_resolution,
                                     kernel_size=4 if learned else 3, up=learned,
                                     nearest_init=upsample == "transposed-nearest")
        self.conv1 = ModulatedConv2d(out_channels, out_channels, w_dim=w_dim, noise_resolution=noise_resolution)

    def forward(self, x: torch.Tensor, w0: torch.Tensor, w1: torch.Tensor,
                noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        n0, n1 = noise if noise is not None else (None, None)
        if not self.conv0.up:
            x = upsample2x(x, self.upsample)
        return self.conv1(self.conv0(x, w0, n0), w1, n1)


class SynthesisNetwork(nn.Module):
    """ws [batch, num_ws, w_dim] -> images [batch, img_channels, res, res] in about [-1, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.num_ws, self.w_dim = config.num_ws, config.w_dim
        c4 = config.g_channels(4)
        self.const = nn.Parameter(torch.randn(1, c4, 4, 4))
        # With g_input "mapped", the first style also writes a per-image 4x4 map added to the constant.
        self.input_map = EqualLinear(config.w_dim, c4 * 16) if config.g_input == "mapped" else None
        # The learned constant is not an activation: no input gain.
        self.resolutions = list(config.block_resolutions)
        # Feature-map size of every modulated 3x3 conv in order, and the ones with a noise input.
        layer_res = [4] + [r for r in self.resolutions for _ in range(2)]
        def noise_at(res: int) -> int:
            return res if config.noise and res >= config.noise_min_res else 0

        self.noisy = [noise_at(r) > 0 for r in layer_res]
        self._noise_res = [r for r in layer_res if noise_at(r)]

        self.conv4 = ModulatedConv2d(c4, c4, w_dim=config.w_dim, input_gain=1.0, noise_resolution=noise_at(4))
        self.blocks = nn.ModuleList()
        channels = {4: c4}
        for res in config.block_resolutions:
            channels[res] = config.g_channels(res)
            self.blocks.append(SynthesisBlock(channels[res // 2], channels[res], w_dim=config.w_dim,
                                              upsample=config.upsample_at(res), noise_resolution=noise_at(res)))
        self.to_rgb = ModulatedConv2d(channels[config.resolution], config.img_channels, w_dim=config.w_dim,
                                      kernel_size=config.rgb_kernel, demodulate=False, activate=False)
        self.output = config.output
        # Below-top toRGBs for RGB skips, keyed by the feature-map size they read.
        self.rgb_skips = nn.ModuleDict()
        if config.rgb_skips:
            for res in (4, *config.block_resolutions[:-1]):
                if res < config.rgb_skip_min_res:
                    continue
                self.rgb_skips[str(res)] = ModulatedConv2d(channels[res], config.img_channels, w_dim=config.w_dim,
                                                           kernel_size=1, demodulate=False, activate=False)
        # Each excitation gates the block `sle_span` octaves above its source; index by target block.
        self.sle_sources: dict[int, int] = {}
        self.sle = nn.ModuleDict()
        if config.sle:
            for res in config.block_resolutions:
                src = res >> config.sle_span
                if src >= 4:
                    self.sle_sources[res] = src
                    self.sle[str(res)] = SkipLayerExcitation(channels[src], channels[res])

    def noise_shapes(self, batch: int) -> list[tuple[int, ...]]:
        """Shapes of the noise maps `forward(noise=...)` takes, in layer order ([] without noise inputs)."""
        return [(batch, 1, r, r) for r in self._noise_res]

    def random_noise(self, batch: int, *, generator: torch.Generator, device: torch.device) -> list[torch.Tensor] | None:
        """Fresh noise maps for one training batch, drawn on the CPU generator (the same draws on any device)."""
        if not self._noise_res:
            return None
        return [torch.randn(shape, generator=generator).to(device) for shape in self.noise_shapes(batch)]

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """`noise`: per-layer maps from `random_noise` (training); None uses each layer's fixed map."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ShapeError(f"ws has shape {tuple(ws.shape)}; expected [batch, {self.num_ws}, {self.w_dim}]")
        if noise is not None and len(noise) != len(self.noise_shapes(1)):
            raise ShapeError(f"noise has {len(noise)} maps; this synthesis network takes {len(self.noise_shapes(1))}")
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        if self.input_map is not None:
            x = x + self.input_map(ws[:, 0]).view(-1, *self.const.shape[1:])
        x = x.contiguous(memory_format=torch.channels_last)
        # One entry per 3x3 conv: the caller's map where the layer takes noise, else None (its fixed map).
        maps = iter(noise or ())
        per_layer = [next(maps) if on and noise is not None else None for on in self.noisy]
        x = self.conv4(x, ws[:, 0], per_layer[0])
        feats = {4: x}
        # A toRGB reads the w of the layer after it (the last toRGB has its own), as in StyleGAN2.
        rgb = self.rgb_skips["4"](x, ws[:, 1]) if "4" in self.rgb_skips else None
        res = 4
        for i, block in enumerate(self.blocks):
            res *= 2
            x = block(x, ws[:, 1 + 2 * i], ws[:, 2 + 2 * i], (per_layer[1 + 2 * i], per_layer[2 + 2 * i]))
            if res in self.sle_sources:
                x = self.sle[str(res)](feats[self.sle_sources[res]], x)
            feats[res] = x
            if rgb is not None:
                rgb = upsample2x(rgb, "bilinear")
            if str(res) in self.rgb_skips:
                skip = self.rgb_skips[str(res)](x, ws[:, 3 + 2 * i])
                rgb = skip if rgb is None else rgb + skip
        img = self.to_rgb(x, ws[:, -1])
        if rgb is not None:
            img = img + rgb
        return torch.tanh(img) if self.output == "tanh" else img


class Generator(nn.Module):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.num_classes = config.z_dim, config.num_classes
        self.mapping = MappingNetwork(config)
        self.synthesis = SynthesisNetwork(config)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                update_w_avg: bool = False) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, update_w_avg=update_w_avg)
        return self.synthesis(ws)
