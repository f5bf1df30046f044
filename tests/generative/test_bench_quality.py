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
