"""Network configuration: one dataclass sizes the generator and the discriminator.

The config travels inside checkpoints as a plain dict (``to_dict``) so that checkpoints load with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from generative.nn.errors import GANConfigError

SUPPORTED_RESOLUTIONS = (32, 64, 128, 256)
UPSAMPLE_MODES = ("nearest", "bilinear", "transposed", "transposed-nearest")
D_DOWNSAMPLE_MODES = ("pool", "stride", "lowpass")
PATCH_TRUNKS = ("shared", "own")
G_INPUTS = ("const", "mapped")
# Output size -> the feature-map size of the default discriminator's patch-level head (run 15); none elsewhere.
PATCH_RES_BY_DEFAULT = {32: 16}
# Output sizes whose default discriminator also reads the finest Laplacian band (`d_highpass`, run 33).
HIGHPASS_BY_DEFAULT = (32,)
OUTPUT_HEADS = ("tanh", "linear")
# Fields added after the first release, with the value that release behaved as: a stored config
# without them describes a network built that way, so it must load as one.
_FIRST_RELEASE = {"upsample": "bilinear", "output": "linear"}


@dataclass(frozen=True)
class GANConfig:
    resolution: int = 64
    img_channels: int = 3
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    # Channel width per feature-map resolution is min(channel_base // res, channel_max): wide at
    # low resolution where pixels are few, narrow at high resolution where they are many.
    channel_base: int = 2048
    channel_max: int = 128
    # The narrowest layer: the highest-resolution blocks are never thinner than this.
    channel_min: int = 16
    # The discriminator's narrowest layer, when it should be wider than the generator's (0: channel_min).
    d_channel_min: int = 0
    # The generator's narrowest layer, when it should be wider than the discriminator's (0: channel_min).
    g_channel_min: int = 0
    # How a discriminator block halves its feature map. "pool": 2x2 average, then the block's second
    # 3x3 convolution at half size (cheap, but only one convolution ever sees the full-size grid).
    # "stride": the second convolution is a learned 4x4, stride-2 one that reads the full-size grid.
    # "lowpass": as "pool", with a [1, 3, 3, 1] binomial blur before every subsampling (anti-aliased).
    d_downsample: str = "pool"
    # A second, patch-level discriminator head (PatchGAN-style): on D's feature map of this size a
    # two-layer 1x1 head scores every cell, whose receptive field is a local patch, as real or fake, so
    # fine texture is judged apart from global shape (0: no patch head; else 8 up to resolution / 2).
    d_patch_res: int = 0
    # What the patch head reads: "shared", the image head's own blocks (one trunk learns both judgements),
    # or "own", a separate fromRGB and blocks of the same widths down to d_patch_res (two discriminators).
    d_patch_trunk: str = "shared"
    # The discriminator also reads the image's finest Laplacian band (the image minus its blurred, halved and
    # re-doubled copy: edges and fine texture, zero on flat areas) as extra input channels beside the colours, so
    # its first layer sees fine detail directly rather than having to separate it from colour and layout first.
    # This band is the finest level of the SWD metric's pyramid, where at 32 px the default lost to the DCGAN.
    d_highpass: bool = False
    num_classes: int = 0
    # Skip-layer excitation: a low-resolution block gates the channels of the block `sle_span`
    # octaves above it, giving the generator a short gradient path (FastGAN-style).
    sle: bool = True
    sle_span: int = 3
    # How synthesis blocks double their feature maps before the first 3x3 convolution. "nearest"
    # keeps edges sharp; "bilinear" (the first release) blurs every octave, and its samples stay soft.
    # "transposed": the first convolution is a learned 4x4 stride-2 transposed one that does the doubling.
    # "transposed-nearest": the same learned doubling, its kernel drawn so that it starts as nearest doubling
    # followed by a random 3x3 conv (the "nearest" block's start, up to each output channel's demodulation scale),
    # from which training may learn sharper detail.
    upsample: str = "nearest"
    # The top block's mode when it should differ from the others' ("": as `upsample`).
    top_upsample: str = ""
    # "tanh" bounds the image to (-1, 1): flat white backgrounds, the commonest pixel in brand assets,
    # come out exactly flat. A linear head ("linear", the first release) leaves a faint ripple there
    # that the discriminator hardly penalises and sample statistics do (measured: bench/RESULTS_quality.md).
    output: str = "tanh"
    # RGB skips (StyleGAN2's "skip" generator): every block below the top also has a toRGB, and the
    # image is the sum of all of them, each upsampled (bilinear) to full size. Low octaves then come
    # from low-resolution blocks, and the top block only adds detail.
    rgb_skips: bool = False
    # With `rgb_skips`, only blocks whose feature maps are at least this size get a skip toRGB (4: every block
    # below the top). The top octave's size over two (16 at 32 px) keeps one skip: the image is the top block's
    # toRGB plus the block below's, upsampled, while the lower blocks reach the image only through the features.
    rgb_skip_min_res: int = 4
    # Kernel size of the top toRGB: 1 (a per-pixel colour mix) or 3 (it also shapes the finest detail).
    rgb_kernel: int = 1
    # Per-pixel noise inputs (StyleGAN's stochastic variation): every modulated 3x3 conv adds a
    # single-channel noise map, scaled by a learned per-layer strength that starts at zero. Training
    # draws fresh noise; inference and exports use one fixed map per layer, so a latent gives one image.
    noise: bool = False
    # With `noise`, only layers whose feature maps are at least this size get a noise input (4: all of
    # them). Noise at 4-16 px moves whole shapes; at the top block it can only add fine detail.
    noise_min_res: int = 4
    # The synthesis network's 4x4 input. "const": one learned tensor for every image (StyleGAN2), so the
    # styles can only rescale its channels and the 4x4 layout is the same for all images until the
    # convolutions bend it. "mapped": that constant plus a learned linear projection of the first style
    # w to a c x 4 x 4 map, so each latent also places its own coarse layout (a small figure on white or a
    # full-frame flag), as a DCGAN's z -> 4x4 projection does. Not a default: at 32 px (run 17, seeds 9 and 10)
    # it brought the share of white background closer to the real set's and raised KID 1.4x and 2.1x.
    g_input: str = "const"
    mbstd_group: int = 4
    lr_multiplier_mapping: float = 0.01
    w_avg_beta: float = 0.995

    def __post_init__(self) -> None:
        if self.resolution not in SUPPORTED_RESOLUTIONS:
            raise GANConfigError(
                f"resolution={self.resolution!r} is not supported; choose one of {SUPPORTED_RESOLUTIONS}"
            )
        for name in ("img_channels", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "channel_min"):
            if getattr(self, name) < 1:
                raise GANConfigError(f"{name}={getattr(self, name)!r} must be a positive integer")
        for name in ("d_channel_min", "g_channel_min"):
            if getattr(self, name) < 0:
                raise GANConfigError(f"{name}={getattr(self, name)!r} must be 0 (as channel_min) or more")
        if self.d_downsample not in D_DOWNSAMPLE_MODES:
            raise GANConfigError(f"d_downsample={self.d_downsample!r} is unknown; choose one of {D_DOWNSAMPLE_MODES}")
        if self.d_patch_res not in (0, *self.d_patch_resolutions):
            raise GANConfigError(f"d_patch_res={self.d_patch_res!r} must be 0 (no patch head) or one of the "
                                 f"discriminator's feature-map sizes {tuple(self.d_patch_resolutions)}")
        if self.d_patch_trunk not in PATCH_TRUNKS:
            raise GANConfigError(f"d_patch_trunk={self.d_patch_trunk!r} is unknown; choose one of {PATCH_TRUNKS}")
        for name in ("d_highpass", "rgb_skips", "noise", "sle"):
            if not isinstance(getattr(self, name), bool):
                raise GANConfigError(f"{name}={getattr(self, name)!r} must be true or false")
        if self.num_classes < 0:
            raise GANConfigError(f"num_classes={self.num_classes!r} must be 0 (unconditional) or more")
        if self.upsample not in UPSAMPLE_MODES:
            raise GANConfigError(f"upsample={self.upsample!r} is unknown; choose one of {UPSAMPLE_MODES}")
        if self.top_upsample not in ("", *UPSAMPLE_MODES):
            raise GANConfigError(f"top_upsample={self.top_upsample!r} is unknown; choose \"\" (as upsample) or one "
                                 f"of {UPSAMPLE_MODES}")
        if self.rgb_kernel not in (1, 3):
            raise GANConfigError(f"rgb_kernel={self.rgb_kernel!r} must be 1 or 3")
        if self.output not in OUTPUT_HEADS:
            raise GANConfigError(f"output={self.output!r} is unknown; choose one of {OUTPUT_HEADS}")
        if self.noise_min_res not in (4, *self.block_resolutions):
            raise GANConfigError(f"noise_min_res={self.noise_min_res!r} must be 4 or a block resolution "
                                 f"{tuple(self.block_resolutions)} of this {self.resolution} px network")
        if self.rgb_skip_min_res not in (4, *self.block_resolutions[:-1]):
            raise GANConfigError(f"rgb_skip_min_res={self.rgb_skip_min_res!r} must be 4 or a block resolution below "
                                 f"the top {tuple(self.block_resolutions[:-1])} of this {self.resolution} px network")
        if self.g_input not in G_INPUTS:
            raise GANConfigError(f"g_input={self.g_input!r} is unknown; choose one of {G_INPUTS}")
        if self.mbstd_group < 1:
            raise GANConfigError(f"mbstd_group={self.mbstd_group!r} must be at least 1")

    @classmethod
    def default(cls, resolution: int) -> GANConfig:
        """The tuned defaults for one output size (32, 64, 128 or 256 px)."""
        # Sized for CPU training on a few cores; wider configs (channel_max 256-512) suit GPUs.
        # 32 and 64 px: 128 channels at 4 px, 64 at 8, 32 at 16, 16 at 32 (and 64). Each halving of the
        # 8-64 px widths bought 1.6-3x the images/s on a CPU, and in 20-minute runs side by side the
        # narrower network scored better on SWD and KID (bench/RESULTS_quality.md, run 5). Narrow
        # convolutions use less of the CPU's FLOP peak (bench/RESULTS_train.md); images/s is what counts.
        widths = {32: (512, 128), 64: (512, 128), 128: (4096, 128), 256: (8192, 256)}
        if resolution not in widths:
            raise GANConfigError(
                f"resolution={resolution!r} has no default; choose one of {SUPPORTED_RESOLUTIONS}"
            )
        base, cmax = widths[resolution]
        # No size sums RGB skips (the field's False). At 32 px they halved the finest SWD level in 20-minute
        # runs side by side (run 7), before the patch head; with it (runs 27-28) the network without them scored
        # lower SWD in 5 of 6 seed-runs and the smooth blobs left the samples. At 64 px they were worse (one seed),
        # and 128/256 px are not measured.
        # A patch head at 16 px brought the 32 px finest SWD level into the DCGAN's range (runs 14-15);
        # At 64 px a head at 32 px did the same trade on one seed (run 16) and still lost SWD to the DCGAN.
        # The finest-band input to D (run 33, 32 px seeds 5-8 beside the network without it): SWD lower in three of
        # four seeds (mean 33.9 against 38.0), the finest level in the same three; 64 px and up are not measured.
        return cls(resolution=resolution, channel_base=base, channel_max=cmax,
                   d_patch_res=PATCH_RES_BY_DEFAULT.get(resolution, 0),
                   d_highpass=resolution in HIGHPASS_BY_DEFAULT)

    @property
    def log2_res(self) -> int:
        return self.resolution.bit_length() - 1

    @property
    def block_resolutions(self) -> list[int]:
        """Feature-map sizes of the synthesis blocks after the 4x4 input: 8, 16, ..., resolution."""
        return [2**i for i in range(3, self.log2_res + 1)]

    @property
    def d_input_channels(self) -> int:
        """Channels the discriminator's first layer reads: the image's, twice over with `d_highpass`."""
        return self.img_channels * (2 if self.d_highpass else 1)

    @property
    def d_patch_resolutions(self) -> list[int]:
        """Feature-map sizes a patch head can read: each discriminator block's output above 4x4."""
        return [r for r in self.block_resolutions if r < self.resolution]

    def channels(self, res: int) -> int:
        return max(min(self.channel_base // res, self.channel_max), self.channel_min)

    def g_channels(self, res: int) -> int:
        """The generator's width at feature-map size `res`."""
        return max(self.channels(res), self.g_channel_min)

    def d_channels(self, res: int) -> int:
        """The discriminator's width at feature-map size `res`."""
        return max(self.channels(res), self.d_channel_min)

    def upsample_at(self, res: int) -> str:
        """How the synthesis block that outputs `res` px doubles its input."""
        return self.top_upsample if res == self.resolution and self.top_upsample else self.upsample

    @property
    def num_ws(self) -> int:
        """Per-layer styles: one for the 4x4 conv, two per block, one for the final toRGB."""
        return 1 + 2 * len(self.block_resolutions) + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GANConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GANConfigError(f"GANConfig.from_dict got unknown keys {unknown}")
        return cls(**{**_FIRST_RELEASE, **data})
