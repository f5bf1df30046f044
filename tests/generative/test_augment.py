"""Differentiable augmentation and its adaptive probability (generative.nn.augment, CPU and CUDA)."""

from __future__ import annotations

import math

import pytest
import torch

from generative.nn.augment import AdaptiveAugment, _translation, augment

pytestmark = pytest.mark.usefixtures("one_thread")


def test_augment_keeps_gradients_and_random_stream():
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x.requires_grad_(True)
    g0, g1 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    y = augment(x, p=1.0, generator=g0)
    assert not torch.allclose(y, x)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    same = augment(x.detach(), p=0.0, generator=g1)
    assert torch.equal(same, x.detach())
    # The draw count does not depend on p, so both streams are in the same place now.
    assert torch.equal(g0.get_state(), g1.get_state())


def test_translation_moves_whole_pixels_and_pads_with_zero():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    u = torch.tensor([1.0, 0.0])  # the largest shift one way for sample 0, the other way for sample 1
    y = _translation(x, u, torch.full((2,), 0.5), ratio=0.125)
    torch.testing.assert_close(y[0, 0, :, 1:], x[0, 0, :, :-1])
    assert (y[0, 0, :, 0] == 0).all()
    torch.testing.assert_close(y[1, 0, :, :-1], x[1, 0, :, 1:])


def test_translation_matches_a_per_image_shift_at_every_offset():
    x = torch.rand(9, 3, 16, 16, generator=torch.Generator().manual_seed(4)).contiguous(
        memory_format=torch.channels_last)
    ux = torch.linspace(0.0, 1.0, 9)
    uy = torch.linspace(1.0, 0.0, 9)
    y = _translation(x, ux, uy, ratio=0.125)
    for i in range(9):
        dx = min(int(ux[i] * 5), 4) - 2
        dy = min(int(uy[i] * 5), 4) - 2
        expected = torch.zeros_like(x[i])
        ys, yd = slice(max(-dy, 0), 16 - max(dy, 0)), slice(max(dy, 0), 16 - max(-dy, 0))
        xs, xd = slice(max(-dx, 0), 16 - max(dx, 0)), slice(max(dx, 0), 16 - max(-dx, 0))
        expected[:, yd, xd] = x[i, :, ys, xs]
        assert torch.equal(y[i], expected), (i, dx, dy)


DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
def test_augmentation_is_twice_differentiable(device):
    # R1 differentiates D's input gradient again, through the augmentation. CUDA's grid_sample
    # backward has no derivative, which crashed GPU training at the first R1 step with p > 0.
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64, device=device, requires_grad=True)

    def fn(t):
        return augment(t, p=1.0, generator=torch.Generator().manual_seed(5))

    assert torch.autograd.gradgradcheck(fn, (x,))


def test_augment_has_no_mirroring_or_hue_by_default():
    # A left-right ramp must never come back reversed: no flips among the default ops.
    ramp = torch.linspace(-1, 1, 32).expand(64, 3, 32, 32).contiguous()
    y = augment(ramp, p=1.0, generator=torch.Generator().manual_seed(0), ops=("translation",))
    rows = y[:, 0, 16, 8:24]
    assert (rows[:, 1:] - rows[:, :-1] >= 0).all()
    # Grey images stay grey: brightness/saturation/contrast move all channels alike.
    grey = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(1)).expand(16, 3, 8, 8) * 2 - 1
    out = augment(grey.contiguous(), p=1.0, generator=torch.Generator().manual_seed(2),
                  ops=("brightness", "saturation", "contrast"))
    torch.testing.assert_close(out[:, 0], out[:, 1])
    torch.testing.assert_close(out[:, 1], out[:, 2])


def test_adaptive_probability_follows_overfitting():
    ada = AdaptiveAugment(p=0.0, target=0.6, speed_kimg=1.0, interval=2)
    for _ in range(10):
        ada.accumulate(torch.ones(8))  # D sure about every real: overfitting
        ada.step(batch_images=8)
    raised = ada.p
    assert raised == pytest.approx(5 * 8 * 2 / 1000)
    for _ in range(4):
        ada.accumulate(-torch.ones(8))
        ada.step(batch_images=8)
    assert ada.p == pytest.approx(raised - 2 * 16 / 1000)
    assert ada.rt == -1.0
    restored = AdaptiveAugment.from_state_dict(ada.state_dict())
    assert restored == ada


def test_fixed_augmentation_keeps_p_and_still_measures_overfitting():
    ada = AdaptiveAugment(p=0.25, target=0.6, speed_kimg=1.0, interval=2, adaptive=False)
    for _ in range(10):
        ada.accumulate(torch.tensor([1.0, 1.0, 1.0, -1.0]))
        ada.step(batch_images=4)
    assert ada.p == 0.25
    assert ada.rt == pytest.approx(0.5)
    restored = AdaptiveAugment.from_state_dict(ada.state_dict())
    assert restored == ada and not restored.adaptive
    # A state saved before the fixed mode existed adapted, and had no r_t yet.
    legacy = {k: v for k, v in ada.state_dict().items() if k not in ("adaptive", "rt")}
    old = AdaptiveAugment.from_state_dict(legacy)
    assert old.adaptive and math.isnan(old.rt)
