"""bench/quality.py's scoring: models are scored late in their budget, outside it, on the median of points."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import quality  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeRunner:
    """One step takes ``step_s`` seconds of the fake clock and sees ``batch`` images."""

    def __init__(self, name: str, clock: FakeClock, step_s: float, batch: int) -> None:
        self.name, self.clock, self.step_s, self.batch = name, clock, step_s, batch

    def step(self) -> int:
        self.clock.now += self.step_s
        return self.batch


def test_models_are_scored_at_each_point_with_training_paused(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(quality.time, "perf_counter", clock)
    runners = [FakeRunner("ours", clock, 1.0, 32), FakeRunner("dcgan", clock, 2.0, 64)]
    scored = []

    def score(fraction, kimg):
        scored.append((fraction, dict(kimg)))
        clock.now += 500.0  # a slow evaluation: it must count against neither budget

    budget = quality.train_interleaved(runners, seconds=100, slice_s=20, log=lambda _: None,
                                       score_at=(0.9, 0.95, 1.0), score=score)
    assert [f for f, _ in scored] == [0.9, 0.95, 1.0]
    # Each point comes once both models have trained that share of the budget, and no later.
    assert scored[0][1] == {"ours": 90 * 32 / 1000, "dcgan": 45 * 64 / 1000}
    assert scored[1][1] == {"ours": 95 * 32 / 1000, "dcgan": 48 * 64 / 1000}
    assert budget["seconds"] == {"ours": 100.0, "dcgan": 100.0}
    assert budget["kimg"] == scored[2][1]
    assert [p["fraction"] for p in budget["points"]] == [0.9, 0.95, 1.0]


def test_training_runs_to_the_full_budget_when_no_point_is_at_its_end(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(quality.time, "perf_counter", clock)
    runner = FakeRunner("ours", clock, 1.0, 10)
    budget = quality.train_interleaved([runner], seconds=30, slice_s=20, log=lambda _: None, score_at=(0.5,))
    assert budget["seconds"] == {"ours": 30.0}
    assert [p["kimg"] for p in budget["points"]] == [{"ours": 0.15}]


def test_a_model_scores_each_metrics_median_over_the_points():
    points = [
        {"fraction": 0.9, "kimg": 200.0, "draws": 2, "swd_mean": 40.0, "swd_mean_sd": 4.0, "kid": 0.0030,
         "kid_sd": 0.0001, "encoder": "emoji32-abc"},
        {"fraction": 0.95, "kimg": 210.0, "draws": 2, "swd_mean": 30.0, "swd_mean_sd": 3.0, "kid": 0.0010,
         "kid_sd": 0.0002, "encoder": "emoji32-abc"},
        {"fraction": 1.0, "kimg": 220.0, "draws": 2, "swd_mean": 35.0, "swd_mean_sd": 5.0, "kid": 0.0020,
         "kid_sd": 0.0003, "encoder": "emoji32-abc"},
    ]
    m = quality.median_over_points(points)
    assert m["swd_mean"] == 35.0 and m["swd_mean_sd"] == 5.0  # the sd of the point the median came from
    assert m["kid"] == pytest.approx(0.0020) and m["kid_sd"] == pytest.approx(0.0003)
    assert m["swd_mean_points"] == [40.0, 30.0, 35.0]
    assert m["kimg_points"] == [200.0, 210.0, 220.0]
    assert m["points"] == 3 and m["draws"] == 2 and m["encoder"] == "emoji32-abc"
    # An even count takes the lower median: a value that was measured, not an average of two.
    assert quality.median_over_points(points[:2])["swd_mean"] == 30.0


def test_colour_stats_read_saturation_brightness_background_and_centring_in_plain_units():
    import torch

    white = torch.ones(2, 3, 8, 8)  # [-1, 1] images: 1 is white
    red = torch.full((2, 3, 8, 8), -1.0)
    red[:, 0] = 1.0
    assert quality.colour_stats(white) == {"saturation": 0.0, "brightness": 1.0, "white": 1.0, "off_centre": 0.0}
    assert quality.colour_stats(red) == pytest.approx(
        {"saturation": 1.0, "brightness": 1 / 3, "white": 0.0, "off_centre": 0.0})
    half = torch.cat([white[:, :, :4], red[:, :, 4:]], dim=2)  # top half white, bottom half red
    stats = quality.colour_stats(half)
    assert stats["saturation"] == pytest.approx(0.5) and stats["white"] == pytest.approx(0.5)
    assert stats["off_centre"] == pytest.approx(2.0)  # the red half's centroid is 2 px below the centre
    dot = white.clone()
    dot[:, :, 0, 0] = -1.0  # one black pixel in the top-left corner: centroid (0.5, 0.5), centre (4, 4)
    assert quality.colour_stats(dot)["off_centre"] == pytest.approx(2**0.5 * 3.5)


def test_mixed_samples_are_colourways_made_with_style_mix():
    import torch

    from generative.nn.latent import style_mix

    data = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    runner = quality.OursRunner(data=data, resolution=32, batch_size=4, seed=0)
    plain = runner.sample(6, seed=3)
    mixed = runner.sample(6, seed=3, mixed=True)
    assert torch.equal(mixed, runner.sample(6, seed=3, mixed=True))  # fixed latents and crossovers
    assert torch.equal(plain, runner.sample(6, seed=3))  # the unmixed draw is not disturbed by the option
    # Rebuild image 0 by hand: the same two latents and crossover, through the product's style_mix.
    g = runner.trainer.G_ema
    gen = torch.Generator().manual_seed(3)
    z, z2 = torch.randn(6, g.config.z_dim, generator=gen), torch.randn(6, g.config.z_dim, generator=gen)
    cut = torch.randint(1, g.config.num_ws, (6,), generator=gen)
    with torch.no_grad():
        ws = style_mix(g.mapping(z[:1]), g.mapping(z2[:1]), crossover=int(cut[0]))
        expected = g.synthesis(ws).clamp(-1, 1)
    assert torch.allclose(mixed[:1], expected, atol=1e-5)
    assert not torch.allclose(mixed, plain)
