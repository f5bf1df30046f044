"""Networks, losses, latent helpers and the DCGAN baseline of generative.nn (tiny configs, CPU)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from generative.nn.config import SUPPORTED_RESOLUTIONS, GANConfig
from generative.nn.dcgan import DCGANDiscriminator, DCGANGenerator
from generative.nn.discriminator import Discriminator
from generative.nn.errors import GANConfigError, ShapeError
from generative.nn.generator import Generator
from generative.nn.latent import lerp, slerp, style_mix, truncate
from generative.nn.losses import discriminator_loss, generator_loss, lecam_penalty, r1_penalty

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(resolution: int = 32, **overrides) -> GANConfig:
    values = {"resolution": resolution, "channel_base": 256, "channel_max": 32, "z_dim": 16, "w_dim": 16,
              "mapping_layers": 2}
    values.update(overrides)
    return GANConfig(**values)


def seeded(cls, config: GANConfig, seed: int = 0):
    torch.manual_seed(seed)
    return cls(config)


@pytest.mark.parametrize("resolution", SUPPORTED_RESOLUTIONS)
def test_shapes_at_each_resolution(resolution):
    cfg = tiny(resolution)
    G, D = seeded(Generator, cfg), seeded(Discriminator, cfg)
    z = torch.randn(2, cfg.z_dim)
    ws = G.mapping(z)
    assert ws.shape == (2, cfg.num_ws, cfg.w_dim)
    img = G.synthesis(ws)
    assert img.shape == (2, 3, resolution, resolution)
    assert D(img).shape == (2,)


@pytest.mark.parametrize("resolution", SUPPORTED_RESOLUTIONS)
def test_default_configs_round_trip(resolution):
    cfg = GANConfig.default(resolution)
    assert cfg.resolution == resolution
    assert GANConfig.from_dict(cfg.to_dict()) == cfg
    assert all(isinstance(v, int | float | bool | str) for v in cfg.to_dict().values())


def test_config_rejects_bad_input():
    with pytest.raises(GANConfigError, match="resolution=48"):
        GANConfig(resolution=48)
    with pytest.raises(GANConfigError, match="num_classes"):
        GANConfig(num_classes=-1)
    with pytest.raises(GANConfigError, match="unknown keys"):
        GANConfig.from_dict({"resolution": 32, "colour": 1})
    with pytest.raises(GANConfigError, match="channel_min=0"):
        GANConfig(channel_min=0)
    for switch in ("rgb_skips", "noise", "sle"):
        with pytest.raises(GANConfigError, match=f"{switch}='no' must be true or false"):
            GANConfig(**{switch: "no"})


def test_channel_min_widens_only_the_narrow_high_resolution_layers():
    narrow, wide = GANConfig.default(64), dataclasses.replace(GANConfig.default(64), channel_min=32)
    assert [narrow.channels(r) for r in (4, 8, 16, 32, 64)] == [128, 64, 32, 16, 16]
    assert [wide.channels(r) for r in (4, 8, 16, 32, 64)] == [128, 64, 32, 32, 32]
    G = Generator(wide)
    assert G.synthesis.to_rgb.weight.shape[1] == 32
    # Stored before the field existed: loads as the 16-channel network it was.
    legacy = {k: v for k, v in narrow.to_dict().items() if k != "channel_min"}
    assert GANConfig.from_dict(legacy).channels(64) == 16


def test_d_channel_min_widens_the_discriminator_only():
    base = GANConfig.default(32)
    wide_d = dataclasses.replace(base, d_channel_min=32)
    assert [wide_d.d_channels(r) for r in (4, 8, 16, 32)] == [128, 64, 32, 32]
    assert [base.d_channels(r) for r in (4, 8, 16, 32)] == [base.channels(r) for r in (4, 8, 16, 32)]
    D, G = Discriminator(wide_d), Generator(wide_d)
    assert D.from_rgb.weight.shape[0] == 32 and D.blocks[0].conv0.weight.shape[:2] == (32, 32)
    assert G.synthesis.to_rgb.weight.shape[1] == base.channels(32) == 16
    assert D(torch.zeros(2, 3, 32, 32)).shape == (2,)
    legacy = {k: v for k, v in wide_d.to_dict().items() if k != "d_channel_min"}
    assert GANConfig.from_dict(legacy).d_channel_min == 0
    with pytest.raises(GANConfigError, match="d_channel_min=-1"):
        dataclasses.replace(base, d_channel_min=-1)


def test_g_channel_min_widens_the_generator_only():
    base = GANConfig.default(32)
    wide_g = dataclasses.replace(base, g_channel_min=32)
    assert [wide_g.g_channels(r) for r in (4, 8, 16, 32)] == [128, 64, 32, 32]
    assert [wide_g.d_channels(r) for r in (4, 8, 16, 32)] == [base.d_channels(r) for r in (4, 8, 16, 32)]
    G, D = Generator(wide_g), Discriminator(wide_g)
    assert G.synthesis.to_rgb.weight.shape[1] == 32
    assert G.synthesis.blocks[-1].conv1.weight.shape[:2] == (32, 32)
    assert D.from_rgb.weight.shape[0] == base.d_channels(32) == 16
    assert G(torch.randn(2, wide_g.z_dim)).shape == (2, 3, 32, 32)
    legacy = {k: v for k, v in wide_g.to_dict().items() if k != "g_channel_min"}
    assert GANConfig.from_dict(legacy).g_channel_min == 0
    with pytest.raises(GANConfigError, match="g_channel_min=-2"):
        dataclasses.replace(base, g_channel_min=-2)


def test_noise_inputs_vary_detail_in_training_and_stay_fixed_for_inference():
    cfg = dataclasses.replace(tiny(), noise=True)
    torch.manual_seed(0)
    G = Generator(cfg)
    synthesis = G.synthesis
    assert synthesis.noise_shapes(2) == [(2, 1, 4, 4)] + [(2, 1, r, r) for r in cfg.block_resolutions for _ in range(2)]
    ws = G.mapping(torch.randn(2, cfg.z_dim))
    draw = [torch.Generator().manual_seed(s) for s in (1, 2)]
    # Strengths start at zero: noise cannot change an untrained generator's output.
    torch.testing.assert_close(synthesis(ws), synthesis(ws, synthesis.random_noise(2, generator=draw[0], device="cpu")))
    with torch.no_grad():
        for module in G.modules():
            if getattr(module, "noise_strength", None) is not None:
                module.noise_strength.fill_(0.5)
    a = synthesis(ws, synthesis.random_noise(2, generator=draw[0], device="cpu"))
    b = synthesis(ws, synthesis.random_noise(2, generator=draw[1], device="cpu"))
    assert (a - b).abs().max() > 1e-3
    torch.testing.assert_close(synthesis(ws), synthesis(ws))  # fixed maps at inference
    assert "synthesis.conv4.noise_const" in G.state_dict()
    with pytest.raises(ShapeError, match="noise has 2 maps"):
        synthesis(ws, [torch.zeros(2, 1, 4, 4)] * 2)
    # Without noise inputs nothing is drawn, so existing training streams are unchanged.
    plain = Generator(tiny()).synthesis
    gen = torch.Generator().manual_seed(3)
    before = gen.get_state()
    assert plain.random_noise(2, generator=gen, device="cpu") is None and torch.equal(gen.get_state(), before)
    assert plain.noise_shapes(2) == []


def test_noise_min_res_puts_noise_on_the_top_layers_only():
    cfg = dataclasses.replace(tiny(), noise=True, noise_min_res=tiny().resolution)
    top = cfg.resolution
    torch.manual_seed(0)
    G = Generator(cfg)
    synthesis = G.synthesis
    assert synthesis.noise_shapes(3) == [(3, 1, top, top)] * 2
    noisy = sorted(name for name, _ in G.named_parameters() if name.endswith("noise_strength"))
    assert noisy == [f"synthesis.blocks.{len(cfg.block_resolutions) - 1}.conv{i}.noise_strength" for i in (0, 1)]
    ws = G.mapping(torch.randn(2, cfg.z_dim))
    with torch.no_grad():
        for name, param in G.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(0.5)
    # The maps reach the top block: fresh draws change the image, the fixed maps do not.
    draws = [synthesis.random_noise(2, generator=torch.Generator().manual_seed(s), device="cpu") for s in (1, 2)]
    assert (synthesis(ws, draws[0]) - synthesis(ws, draws[1])).abs().max() > 1e-3
    torch.testing.assert_close(synthesis(ws), synthesis(ws))
    with pytest.raises(ShapeError, match="noise has 3 maps; this synthesis network takes 2"):
        synthesis(ws, draws[0] + draws[0][:1])
    # All layers by default (what a stored config without the field describes), and only real sizes.
    assert GANConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "noise_min_res"}).noise_min_res == 4
    with pytest.raises(GANConfigError, match="noise_min_res=12 must be 4 or a block resolution"):
        dataclasses.replace(cfg, noise_min_res=12)
    with pytest.raises(GANConfigError, match="noise_min_res=64"):
        dataclasses.replace(cfg, noise_min_res=64)


def test_deterministic_under_seed():
    cfg = tiny()
    z = torch.randn(3, cfg.z_dim, generator=torch.Generator().manual_seed(5))
    a, b, c = seeded(Generator, cfg, 1), seeded(Generator, cfg, 1), seeded(Generator, cfg, 2)
    assert torch.equal(a(z), b(z))
    assert not torch.allclose(a(z), c(z))


def test_channels_last_model_matches_contiguous():
    cfg = tiny()
    G = seeded(Generator, cfg)
    D = seeded(Discriminator, cfg)
    z = torch.randn(2, cfg.z_dim)
    ref_img, ref_logits = G(z), D(G(z))
    G.to(memory_format=torch.channels_last)
    D.to(memory_format=torch.channels_last)
    img = G(z)
    assert img.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(img, ref_img, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(D(img), ref_logits, rtol=1e-4, atol=1e-4)


def test_class_conditioning_changes_output_and_requires_labels():
    cfg = tiny(num_classes=3)
    G, D = seeded(Generator, cfg), seeded(Discriminator, cfg)
    z = torch.randn(2, cfg.z_dim).repeat(2, 1)
    img = G(z, torch.tensor([0, 0, 1, 2]))
    assert not torch.allclose(img[0], img[2])
    assert D(img, torch.tensor([0, 0, 1, 2])).shape == (4,)
    with pytest.raises(ShapeError, match="needs labels"):
        G(z)
    with pytest.raises(ShapeError, match="needs labels"):
        D(img)


def test_shape_errors_name_the_input():
    cfg = tiny()
    G, D = seeded(Generator, cfg), seeded(Discriminator, cfg)
    with pytest.raises(ShapeError, match="z has shape"):
        G(torch.randn(2, cfg.z_dim + 1))
    with pytest.raises(ShapeError, match="ws has shape"):
        G.synthesis(torch.randn(2, cfg.num_ws - 1, cfg.w_dim))
    with pytest.raises(ShapeError, match="images have shape"):
        D(torch.randn(2, 3, 64, 64))


def test_style_mixing_and_truncation():
    cfg = tiny()
    G = seeded(Generator, cfg)
    z = torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(3))
    ws = G.mapping(z)
    ws_a, ws_b = ws[:1], ws[1:]
    assert torch.equal(G.synthesis(style_mix(ws_a, ws_b, crossover=cfg.num_ws)), G.synthesis(ws_a))
    mixed = G.synthesis(style_mix(ws_a, ws_b, crossover=cfg.num_ws // 2))
    assert not torch.allclose(mixed, G.synthesis(ws_a)) and not torch.allclose(mixed, G.synthesis(ws_b))
    # psi = 0 collapses every latent onto the tracked average.
    for _ in range(3):
        G.mapping(torch.randn(8, cfg.z_dim), update_w_avg=True)
    assert G.mapping.w_avg.abs().sum() > 0
    flat = G.synthesis(truncate(ws, G.mapping.w_avg, psi=0.0))
    torch.testing.assert_close(flat[0], flat[1])
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.5), truncate(ws, G.mapping.w_avg, psi=0.5))
    cut = truncate(ws, G.mapping.w_avg, psi=0.0, cutoff=2)
    assert torch.equal(cut[:, 2:], ws[:, 2:])
    with pytest.raises(ShapeError, match="crossover"):
        style_mix(ws_a, ws_b, crossover=cfg.num_ws + 1)


def test_slerp_and_lerp():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 64, generator=gen), torch.randn(4, 64, generator=gen)
    torch.testing.assert_close(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b)
    torch.testing.assert_close(lerp(a, b, 0.25), 0.75 * a + 0.25 * b)
    # Between two equal-norm vectors, slerp keeps the norm where lerp shrinks it.
    b_scaled = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    mid = slerp(a, b_scaled, 0.5)
    torch.testing.assert_close(mid.norm(dim=1), a.norm(dim=1), rtol=1e-4, atol=1e-4)
    assert (lerp(a, b_scaled, 0.5).norm(dim=1) < a.norm(dim=1) - 1e-3).all()
    torch.testing.assert_close(slerp(a, a, 0.3), a)
    with pytest.raises(ShapeError):
        slerp(a, b[:, :10], 0.5)


def test_losses_and_r1_match_closed_form():
    real = torch.randn(4, 3, 8, 8, requires_grad=True)
    a = torch.randn(3, 8, 8)
    logits = (real * a).sum(dim=(1, 2, 3))
    # For a linear D the input gradient is `a` everywhere, so R1 = |a|^2.
    torch.testing.assert_close(r1_penalty(logits, real), a.square().sum())
    zeros = torch.zeros(4)
    torch.testing.assert_close(generator_loss(zeros), torch.log(torch.tensor(2.0)))
    torch.testing.assert_close(discriminator_loss(zeros, zeros), 2 * torch.log(torch.tensor(2.0)))
    assert discriminator_loss(torch.full((4,), 5.0), torch.full((4,), -5.0)) < 0.02
    # LeCam: only scores past the other set's anchor count, squared; reals above the fakes' anchor (-1) and fakes
    # below the reals' anchor (2).
    real_scores, fake_scores = torch.tensor([3.0, -2.0]), torch.tensor([0.0, 4.0])
    # reals: (3 - -1)^2 and 0 -> mean 8; fakes: (2 - 0)^2 and 0 -> mean 2.
    torch.testing.assert_close(lecam_penalty(real_scores, fake_scores, anchor_real=2.0, anchor_fake=-1.0),
                               torch.tensor(10.0))
    assert lecam_penalty(real_scores, fake_scores, anchor_real=-5.0, anchor_fake=5.0) == 0


@pytest.mark.parametrize("resolution", [32, 64])
def test_dcgan_baseline_shapes(resolution):
    G, D = DCGANGenerator(resolution=resolution, base=64), DCGANDiscriminator(resolution=resolution, base=64)
    img = G(torch.randn(2, 128))
    assert img.shape == (2, 3, resolution, resolution)
    assert D(img).shape == (2,)


def test_configs_stored_before_upsample_and_output_existed_load_as_built():
    stored = tiny().to_dict()
    del stored["upsample"], stored["output"]
    old = GANConfig.from_dict(stored)
    assert (old.upsample, old.output) == ("bilinear", "linear")
    assert (tiny().upsample, tiny().output) == ("nearest", "tanh")
    with pytest.raises(GANConfigError, match="upsample='bicubic'"):
        tiny(upsample="bicubic")
    with pytest.raises(GANConfigError, match="output='sigmoid'"):
        tiny(output="sigmoid")


def test_tanh_head_bounds_images_where_the_linear_head_overshoots():
    G = seeded(Generator, tiny())
    with torch.no_grad():
        G.synthesis.to_rgb.weight.mul_(5.0)  # drive the head past +-1
    linear = Generator(tiny(output="linear"))
    linear.load_state_dict(G.state_dict())
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        bounded, raw = G(z), linear(z)
    assert raw.abs().max() > 1.5
    assert bounded.abs().max() <= 1.0
    torch.testing.assert_close(bounded, torch.tanh(raw))


def test_upsampling_modes():
    from generative.nn.layers import upsample2x

    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    near = upsample2x(x, "nearest")
    assert torch.equal(near, x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))
    smooth = upsample2x(x, "bilinear")
    assert smooth.shape == near.shape and not torch.equal(smooth, near)
    a = seeded(Generator, tiny())
    b = Generator(tiny(upsample="bilinear"))
    b.load_state_dict(a.state_dict())
    z = torch.randn(2, 16)
    assert not torch.allclose(a(z), b(z))


def test_rgb_skips_sum_an_rgb_image_from_every_block():
    from generative.nn.layers import upsample2x

    cfg = tiny(rgb_skips=True, output="linear")
    G = seeded(Generator, cfg)
    synthesis = G.synthesis
    assert sorted(synthesis.rgb_skips, key=int) == ["4", "8", "16"]
    plain = Generator(tiny(output="linear"))
    assert not plain.synthesis.rgb_skips
    # Everything but the skips' toRGBs is the same network, so the weights load into the plain one.
    plain.load_state_dict({k: v for k, v in G.state_dict().items() if ".rgb_skips." not in k})
    ws = G.mapping(torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(3)))
    with torch.no_grad():
        # Silence the 4, 8 and 16 px toRGBs but one: the difference to the plain network is that
        # one image, upsampled bilinearly to full size.
        for key, layer in synthesis.rgb_skips.items():
            if key != "8":
                layer.weight.zero_()
                layer.bias.zero_()
        difference = G.synthesis(ws) - plain.synthesis(ws)
        x = synthesis.conv4(synthesis.const.expand(2, -1, -1, -1), ws[:, 0])
        x = synthesis.blocks[0](x, ws[:, 1], ws[:, 2])  # 8 px: no excitation gates it (span 3)
        assert 8 not in synthesis.sle_sources
        expected = upsample2x(upsample2x(synthesis.rgb_skips["8"](x, ws[:, 3]), "bilinear"), "bilinear")
    torch.testing.assert_close(difference, expected, rtol=1e-4, atol=1e-5)
    assert difference.abs().max() > 0.01
    assert not any(GANConfig.default(res).rgb_skips for res in (32, 64, 128, 256))
    # Configs stored before the field existed describe the plain generator.
    stored = cfg.to_dict()
    del stored["rgb_skips"]
    assert GANConfig.from_dict(stored).rgb_skips is False


def test_rgb_skip_min_res_keeps_only_the_upper_skips():
    from generative.nn.layers import upsample2x

    cfg = tiny(rgb_skips=True, rgb_skip_min_res=16, output="linear")
    G = seeded(Generator, cfg)
    synthesis = G.synthesis
    assert list(synthesis.rgb_skips) == ["16"]
    plain = Generator(tiny(output="linear"))
    plain.load_state_dict({k: v for k, v in G.state_dict().items() if ".rgb_skips." not in k})
    ws = G.mapping(torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(5)))
    with torch.no_grad():
        # The one skip reads the 16 px block's output with the w of the next layer; the 4 and 8 px
        # features reach the image only through the blocks above them.
        x = synthesis.conv4(synthesis.const.expand(2, -1, -1, -1), ws[:, 0])
        for i, block in enumerate(synthesis.blocks[:2]):
            x = block(x, ws[:, 1 + 2 * i], ws[:, 2 + 2 * i])
        assert 16 not in synthesis.sle_sources
        expected = upsample2x(synthesis.rgb_skips["16"](x, ws[:, 5]), "bilinear")
        difference = G.synthesis(ws) - plain.synthesis(ws)
    torch.testing.assert_close(difference, expected, rtol=1e-4, atol=1e-5)
    assert difference.abs().max() > 0.01
    # Without `rgb_skips` the setting adds nothing; a size that is not a block below the top is refused.
    assert not Generator(tiny(rgb_skip_min_res=16)).synthesis.rgb_skips
    for bad in (2, 12, 32):
        with pytest.raises(GANConfigError, match=f"rgb_skip_min_res={bad}.*4 or a block resolution below the top"):
            tiny(rgb_skips=True, rgb_skip_min_res=bad)
    stored = cfg.to_dict()
    del stored["rgb_skip_min_res"]
    assert len(Generator(GANConfig.from_dict(stored)).synthesis.rgb_skips) == 3


def test_lowpass_discriminator_blocks_filter_before_subsampling():
    from generative.nn.layers import downsample2x, lowpass_downsample2x

    # Stripes at 3/8 cycles per pixel sit above the half-size grid's Nyquist frequency (1/4): subsampled, they
    # fold back as coarse stripes. A 2x2 box passes cos(3pi/8) = 0.38 of them; the binomial filter cos^3 = 0.06.
    x = torch.cos(2 * math.pi * 3 / 8 * torch.arange(32.0)).expand(1, 2, 32, 32).contiguous()
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert downsample2x(x)[inner].abs().max() > 0.3
    assert lowpass_downsample2x(x)[inner].abs().max() < 0.1
    # Flat areas keep their level; the output is half the size, with channels kept apart.
    flat = torch.stack([torch.full((32, 32), 0.5), torch.full((32, 32), -2.0)])[None]
    out = lowpass_downsample2x(flat)
    assert out.shape == (1, 2, 16, 16)
    torch.testing.assert_close(out[inner], flat[:, :, :12, :12])
    D = seeded(Discriminator, tiny(d_downsample="lowpass"))
    assert all(b.downsample is lowpass_downsample2x for b in D.blocks) and D(torch.randn(3, 3, 32, 32)).shape == (3,)
    assert all(b.downsample is downsample2x for b in Discriminator(tiny()).blocks)


def test_strided_discriminator_blocks_read_the_full_size_grid():
    from torch.nn import functional as F

    from generative.nn.discriminator import DiscriminatorBlock
    from generative.nn.layers import EqualConv2d, downsample2x

    for kernel, stride, size in ((1, 1, 8), (3, 1, 8), (4, 2, 4)):
        assert EqualConv2d(2, 2, kernel_size=kernel, stride=stride)(torch.randn(1, 2, 8, 8)).shape[-1] == size
    torch.manual_seed(0)
    block = DiscriminatorBlock(4, 8, downsample="stride")
    assert block.conv1.weight.shape == (8, 4, 4, 4)
    x = torch.randn(2, 4, 8, 8)
    h = block.conv0(x)
    conv1 = F.leaky_relu(F.conv2d(h, block.conv1.weight * block.conv1.weight_gain, block.conv1.bias, stride=2,
                                  padding=1), 0.2)
    expected = (conv1 + block.skip(downsample2x(x))) / 2**0.5
    torch.testing.assert_close(block(x), expected)
    # A pattern that 2x2 pooling erases (a one-pixel checkerboard) reaches the strided conv's output
    # unchanged in size; the pooled block sees only what conv0 made of it.
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None, :]).remainder(2).float()[None, None] * 2 - 1
    assert downsample2x(checker).abs().max() == 0
    cfg = tiny(d_downsample="stride")
    D = seeded(Discriminator, cfg)
    assert all(b.strided for b in D.blocks) and D(torch.randn(3, 3, 32, 32)).shape == (3,)
    assert not any(b.strided for b in Discriminator(tiny()).blocks)
    with pytest.raises(GANConfigError, match="d_downsample='max'"):
        tiny(d_downsample="max")
    stored = cfg.to_dict()
    del stored["d_downsample"]
    assert GANConfig.from_dict(stored).d_downsample == "pool"


def test_patch_head_scores_each_local_patch_apart_from_the_image():
    cfg = tiny(d_patch_res=16)
    D = seeded(Discriminator, cfg)
    img = torch.randn(3, 3, 32, 32)
    logits, patches = D.score(img)
    assert logits.shape == (3,) and patches.shape == (3, 16, 16)
    torch.testing.assert_close(D(img), logits)
    # Cell (0, 0) of the 16 px map sees pixels 0-4 of each axis (1x1, 3x3 at 32 px, 2x2 pool, 3x3 at 16 px):
    # repainting the bottom half leaves it, and the whole top-left quarter of cells, as they were, while the
    # image-level logit (which sees everything) and the bottom cells move.
    edited = img.clone()
    edited[:, :, 16:, :] = torch.randn(3, 3, 16, 32)
    logits2, patches2 = D.score(edited)
    torch.testing.assert_close(patches2[:, :5, :], patches[:, :5, :])
    assert (patches2[:, 12:, :] - patches[:, 12:, :]).abs().amin(dim=(1, 2)).gt(0).all()
    assert (logits2 - logits).abs().min() > 1e-4
    # Without a patch head, score() has no patch logits and the network has no extra weights.
    plain = seeded(Discriminator, tiny())
    assert plain.score(img)[1] is None and plain.patch_head is None
    assert sum(p.numel() for p in D.parameters()) - sum(p.numel() for p in plain.parameters()) == 16 * 16 + 16 + 16 + 1
    # A patch head at 8 px sees wider patches; 4 px (the image head's own map) and full size are refused.
    assert seeded(Discriminator, tiny(d_patch_res=8)).score(img)[1].shape == (3, 8, 8)
    for bad in (4, 32, 12):
        with pytest.raises(GANConfigError, match=f"d_patch_res={bad}.*\\(8, 16\\)"):
            tiny(d_patch_res=bad)
    stored = cfg.to_dict()
    del stored["d_patch_res"], stored["d_patch_trunk"]
    assert GANConfig.from_dict(stored).d_patch_res == 0
    # The 32 px default has a head at 16 px (run 15); the other sizes have none, and a stored 32 px
    # default from before run 15 still loads without one.
    assert [GANConfig.default(r).d_patch_res for r in (32, 64, 128, 256)] == [16, 0, 0, 0]
    stored = GANConfig.default(32).to_dict()
    del stored["d_patch_res"]
    assert GANConfig.from_dict(stored).d_patch_res == 0


def test_patch_head_on_its_own_trunk_is_a_second_discriminator():
    img = torch.randn(3, 3, 32, 32)
    for trunk, patches_follow_the_image_head in (("shared", True), ("own", False)):
        D = seeded(Discriminator, tiny(d_patch_res=8, d_patch_trunk=trunk))
        logits, patches = D.score(img)
        with torch.no_grad():
            D.blocks[0].conv0.weight.mul_(2.0)
        logits2, patches2 = D.score(img)
        assert (logits2 - logits).abs().min() > 1e-4
        assert torch.equal(patches2, patches) is not patches_follow_the_image_head
    # The own trunk mirrors the image head's layers down to the patch size: fromRGB and two blocks (32 -> 8 px).
    own = seeded(Discriminator, tiny(d_patch_res=8, d_patch_trunk="own"))
    assert [tuple(m.weight.shape) for m in own.patch_trunk.modules() if hasattr(m, "weight")] == \
        [tuple(m.weight.shape) for m in (own.from_rgb, *own.blocks[:2]) for m in m.modules() if hasattr(m, "weight")]
    with pytest.raises(GANConfigError, match="d_patch_trunk='separate'"):
        tiny(d_patch_res=8, d_patch_trunk="separate")


def test_transposed_upsampling_is_a_demodulated_learned_stride2_conv():
    from torch.nn import functional as F

    from generative.nn.layers import ModulatedConv2d

    with pytest.raises(ValueError, match="kernel_size=3"):
        ModulatedConv2d(4, 8, w_dim=16, kernel_size=3, up=True)
    torch.manual_seed(0)
    conv = ModulatedConv2d(32, 32, w_dim=16, kernel_size=4, up=True, activate=False)
    # Features as a leaky ReLU leaves them (the layer's input gain restores their variance).
    x, w = F.leaky_relu(torch.randn(4, 32, 8, 8), 0.2), torch.randn(4, 16)
    out = conv(x, w)
    assert out.shape == (4, 32, 16, 16)
    # The reference: StyleGAN2's per-sample modulated weight, each output channel scaled to unit norm over
    # one 2x2 phase of the 4x4 kernel (a quarter of its taps, hence the factor 2), run one sample at a time.
    styles = conv.affine(w)
    for i in range(4):
        wmod = conv.weight * conv.weight_gain * styles[i][None, :, None, None]
        wmod = wmod * 2 * torch.rsqrt(wmod.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        expected = F.conv_transpose2d(x[i:i + 1] * conv.input_gain, wmod.transpose(0, 1), conv.bias, stride=2,
                                      padding=1)
        torch.testing.assert_close(out[i:i + 1], expected, rtol=1e-4, atol=1e-5)
    # Demodulation keeps unit-variance features at about unit variance after the doubling.
    assert 0.7 < out.std().item() < 1.4
    # In the generator, every block's first conv does the doubling with its own 4x4 kernel.
    cfg = tiny(upsample="transposed")
    G = seeded(Generator, cfg)
    assert all(b.conv0.up and b.conv0.weight.shape[-1] == 4 for b in G.synthesis.blocks)
    assert not any(b.conv0.up for b in Generator(tiny()).synthesis.blocks)
    assert G(torch.randn(2, cfg.z_dim)).shape == (2, 3, 32, 32)
    # `top_upsample` sets the top block's mode alone.
    top = Generator(tiny(top_upsample="transposed"))
    assert [b.conv0.up for b in top.synthesis.blocks] == [False, False, True]
    assert top(torch.randn(2, cfg.z_dim)).shape == (2, 3, 32, 32)
    assert [b.upsample for b in Generator(tiny(upsample="bilinear", top_upsample="nearest")).synthesis.blocks] == [
        "bilinear", "bilinear", "nearest"]
    with pytest.raises(GANConfigError, match="top_upsample='cubic'"):
        tiny(top_upsample="cubic")


def test_transposed_nearest_starts_as_nearest_doubling_then_a_3x3_conv():
    from torch.nn import functional as F

    from generative.nn.layers import NEAREST_TAPS, ModulatedConv2d

    with pytest.raises(ValueError, match="nearest_init"):
        ModulatedConv2d(4, 8, w_dim=16, kernel_size=3, nearest_init=True)
    torch.manual_seed(0)
    conv = ModulatedConv2d(8, 6, w_dim=16, kernel_size=4, up=True, nearest_init=True, demodulate=False,
                           activate=False)
    kernel = conv.weight.detach()
    # The 3x3 kernel it was drawn from: tap 0 is kernel row 3, tap 2 row 0, tap 1 row 1 less row 0 (both axes).
    taps = torch.tensor([[0.0, 0.0, 0.0, 1.0], [-1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    w3 = torch.einsum("tk,oikl,ul->oitu", taps, kernel, taps)
    # Every 4x4 kernel entry is the sum of the 3x3 taps that read the same input pixel, nothing else.
    torch.testing.assert_close(torch.einsum("kt,oitu,lu->oikl", NEAREST_TAPS, w3, NEAREST_TAPS), kernel)
    x, w = torch.randn(2, 8, 5, 5), torch.randn(2, 16)
    styles = conv.affine(w)
    doubled = F.interpolate(x * (styles * conv.input_gain)[:, :, None, None], scale_factor=2.0, mode="nearest")
    expected = F.conv2d(doubled, w3 * conv.weight_gain, conv.bias, padding=1)
    torch.testing.assert_close(conv(x, w), expected, rtol=1e-4, atol=1e-5)
    # Demodulated, as in the generator, features keep about unit variance through the doubling.
    demod = ModulatedConv2d(32, 32, w_dim=16, kernel_size=4, up=True, nearest_init=True, activate=False)
    out = demod(F.leaky_relu(torch.randn(4, 32, 8, 8), 0.2), torch.randn(4, 16))
    assert out.shape == (4, 32, 16, 16) and 0.7 < out.std().item() < 1.4
    # As the top block's mode alone: the lower blocks keep nearest doubling.
    cfg = tiny(top_upsample="transposed-nearest")
    G = seeded(Generator, cfg)
    assert [b.conv0.up for b in G.synthesis.blocks] == [False, False, True]
    assert G(torch.randn(2, cfg.z_dim)).shape == (2, 3, 32, 32)
    assert GANConfig.from_dict(cfg.to_dict()) == cfg


def test_a_3x3_top_torgb_spreads_one_feature_pixel_over_its_neighbours():
    for kernel, reach in ((1, 1), (3, 9)):
        cfg = tiny(rgb_kernel=kernel, output="linear")
        to_rgb = seeded(Generator, cfg).synthesis.to_rgb
        assert to_rgb.weight.shape[-1] == kernel
        w = torch.randn(1, cfg.w_dim)
        x = torch.randn(1, to_rgb.weight.shape[1], 8, 8)
        bumped = x.clone()
        bumped[0, :, 4, 4] += 1.0
        with torch.no_grad():
            changed = (to_rgb(bumped, w) - to_rgb(x, w)).abs().sum(dim=1)[0] > 1e-6
        assert changed.sum().item() == reach and changed[4, 4]
    with pytest.raises(GANConfigError, match="rgb_kernel=2"):
        tiny(rgb_kernel=2)
    stored = tiny().to_dict()
    del stored["rgb_kernel"]
    assert GANConfig.from_dict(stored).rgb_kernel == 1


def test_mapped_input_gives_each_latent_its_own_4x4_layout():
    # What conv4 is given: the learned constant, plus (g_input="mapped") a map projected from the first style.
    def first_inputs(cfg: GANConfig) -> torch.Tensor:
        g = seeded(Generator, cfg)
        seen = []
        g.synthesis.conv4.register_forward_hook(lambda module, args, out: seen.append(args[0]))
        with torch.no_grad():
            g(torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(3)))
        return seen[0]

    const = first_inputs(tiny())
    assert torch.equal(const[0], const[1])
    mapped = first_inputs(tiny(g_input="mapped"))
    assert mapped.shape == const.shape
    # Two latents, two different spatial maps (not a per-channel rescaling of one map).
    diff = mapped[0] - mapped[1]
    assert diff.abs().amax() > 0.1 and diff.flatten(1).std(dim=1).amax() > 0.1
    # The projection is trained like any other layer.
    g = seeded(Generator, tiny(g_input="mapped"))
    ws = g.mapping(torch.randn(2, 16, generator=torch.Generator().manual_seed(4)))
    g.synthesis(ws).square().mean().backward()
    assert g.synthesis.input_map.weight.grad.abs().sum() > 0
    assert tiny().g_input == "const" and GANConfig.default(32).g_input == "const"
    with pytest.raises(GANConfigError, match="g_input='noise'"):
        tiny(g_input="noise")
    stored = tiny().to_dict()
    del stored["g_input"]
    assert GANConfig.from_dict(stored).g_input == "const"


def test_highpass_discriminator_reads_the_metrics_finest_laplacian_band():
    from generative.metrics.swd import laplacian_pyramid
    from generative.nn.discriminator import HIGHPASS_GAIN
    from generative.nn.layers import laplacian_detail

    # The band is the SWD metric's finest pyramid level, computed with two depthwise convolutions; flat areas
    # give exactly zero (border included), and odd sizes are refused.
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(laplacian_detail(x), laplacian_pyramid(x)[0], atol=1e-5, rtol=0)
    assert laplacian_detail(torch.full((2, 3, 8, 8), 0.3)).abs().max() < 1e-6
    with pytest.raises(ValueError, match="even height and width, got 7x8"):
        laplacian_detail(torch.zeros(1, 3, 7, 8))
    captured: list[torch.Tensor] = []
    for trunk in ("shared", "own"):
        cfg = tiny(d_highpass=True, d_patch_res=16, d_patch_trunk=trunk)
        D = seeded(Discriminator, cfg)
        assert D.from_rgb.weight.shape[1] == 6 and cfg.d_input_channels == 6
        if trunk == "own":
            assert D.patch_trunk[0].weight.shape[1] == 6
        # The extra channels carry the band at HIGHPASS_GAIN: fromRGB's output is its weights applied by hand.
        captured.clear()
        hook = D.from_rgb.register_forward_hook(lambda m, args, out: captured.append(args[0]))
        logits, patches = D.score(x)
        hook.remove()
        torch.testing.assert_close(captured[0], torch.cat([x, laplacian_detail(x) * HIGHPASS_GAIN], dim=1))
        assert patches.shape == (4, 16, 16)
        # On a flat-coloured image the band is zero, so its weights change nothing; on a textured one they do.
        flat = torch.full((4, 3, 32, 32), 0.2)
        before_flat, before_x = D(flat), D(x)
        with torch.no_grad():
            D.from_rgb.weight[:, 3:].mul_(3.0)
        torch.testing.assert_close(D(flat), before_flat)
        assert (D(x) - before_x).abs().min() > 1e-5
    # R1 needs gradients w.r.t. the image; they reach it through both the colours and the band.
    img = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(D(img).sum(), img)
    assert grad.abs().sum() > 0 and torch.isfinite(grad).all()
    # On by default at 32 px only (run 33); a plain config reads three channels, and a stored config without the
    # field (a 32 px default from before run 33 included) loads without the band.
    assert [GANConfig.default(r).d_highpass for r in SUPPORTED_RESOLUTIONS] == [True, False, False, False]
    assert Discriminator(tiny()).from_rgb.weight.shape[1] == 3
    for stored in (cfg.to_dict(), GANConfig.default(32).to_dict()):
        del stored["d_highpass"]
        assert GANConfig.from_dict(stored).d_highpass is False
    for bad in ("yes", 1):
        with pytest.raises(GANConfigError, match=f"d_highpass={bad!r} must be true or false"):
            tiny(d_highpass=bad)
