"""The offline metrics measure what they claim: zero for a set against itself, growing with corruption."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from generative.metrics import (
    EncoderConfig,
    EncoderIntegrityError,
    MetricInputError,
    evaluate,
    kid,
    load_encoder,
    precision_recall,
    save_encoder,
    swd,
    train_encoder,
)
from generative.metrics.encoder import nt_xent
from generative.metrics.kid import mmd2_unbiased
from generative.metrics.swd import laplacian_pyramid


def _blobs(n: int, *, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Coloured discs and squares of random size, place and colour on a light background, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(n):
        img = np.full((3, size, size), 0.9, dtype=np.float32)
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(4, size - 4, 2)
            r = rng.uniform(3, size / 3)
            mask = (
                (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
                if rng.random() < 0.5
                else (abs(yy - cy) < r) & (abs(xx - cx) < r)
            )
            img[:, mask] = rng.uniform(0, 1, 3)[:, None]
        out[i] = img
    return torch.from_numpy(out) * 2 - 1


# A 16 px encoder input keeps the encoder tests to seconds on a shared CPU.
SMALL = EncoderConfig(input_size=16, width=8, feature_dim=32, projection_dim=16)


def _blur(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k, k, k, k), mode="replicate"), 2 * k + 1, stride=1)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny convolutions on a busy shared CPU run an order of magnitude faster without intra-op threads.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return _blobs(96, seed=1)


@pytest.fixture(scope="module")
def other_real() -> torch.Tensor:
    return _blobs(96, seed=2)


@pytest.fixture(scope="module")
def encoder(real: torch.Tensor):
    enc, _ = train_encoder(real, config=SMALL, steps=60, batch_size=32)
    return enc


def test_pyramid_levels_add_back_to_the_image(real: torch.Tensor) -> None:
    levels = laplacian_pyramid(real[:4], min_resolution=8)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
    from generative.metrics.swd import _up

    rebuilt = levels[-1]
    for band in reversed(levels[:-1]):
        rebuilt = band + _up(rebuilt)
    assert torch.allclose(rebuilt, real[:4], atol=1e-5)


def test_swd_of_a_set_with_itself_is_zero_and_below_another_sample(real, other_real) -> None:
    assert swd(real, real, patches_per_image=16)["swd_mean"] == 0.0
    sample = swd(real, other_real, patches_per_image=16)["swd_mean"]
    shifted = swd(real, (other_real + 0.1).clamp(-1, 1), patches_per_image=16)["swd_mean"]
    assert 0.0 < sample < shifted


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda x, s: (x + 0.15 * s).clamp(-1, 1),
        lambda x, s: x + 0.1 * s * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)),
        lambda x, s: _blur(x, s),
    ],
    ids=["shift", "noise", "blur"],
)
def test_swd_grows_with_corruption_strength(real: torch.Tensor, corrupt) -> None:
    values = [swd(real, corrupt(real, s), patches_per_image=16)["swd_mean"] for s in (1, 2, 3)]
    assert values[0] < values[1] < values[2], values


def test_swd_rejects_mismatched_shapes(real: torch.Tensor) -> None:
    with pytest.raises(MetricInputError, match="fake is"):
        swd(real, real[:, :, :16, :16])


def test_mmd2_unbiased_matches_a_direct_double_loop() -> None:
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64) + 0.5

    def k(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a @ b / 4 + 1) ** 3)

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(6), 2)) / (6 * 5)
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(5), 2)) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(6) for j in range(5)) / (6 * 5)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift() -> None:
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    same, _ = kid(a, b, subsets=20, subset_size=200)
    shifts = [kid(a, b + s, subsets=20, subset_size=200)[0] for s in (0.25, 0.5, 1.0)]
    assert abs(same) < 0.2 * shifts[0]
    assert shifts[0] < shifts[1] < shifts[2]


def test_precision_recall_identical_and_disjoint_sets() -> None:
    g = torch.Generator().manual_seed(5)
    a = torch.randn(200, 16, generator=g)
    same = precision_recall(a, a.clone())
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    far = precision_recall(a, torch.randn(200, 16, generator=g) + 100.0)
    assert far["precision"] == 0.0 and far["recall"] == 0.0 and far["density"] == 0.0


def test_precision_recall_separate_fidelity_from_diversity() -> None:
    g = torch.Generator().manual_seed(6)
    real = torch.randn(300, 4, generator=g)
    # Mode collapse: all fakes sit near one real sample, so they are faithful but not diverse.
    collapsed = real[0] + 0.01 * torch.randn(300, 4, generator=g)
    result = precision_recall(real, collapsed)
    assert result["precision"] > 0.9 and result["recall"] < 0.1


def test_precision_recall_rejects_too_few_samples() -> None:
    with pytest.raises(MetricInputError, match="at least 4 rows"):
        precision_recall(torch.zeros(3, 2), torch.zeros(10, 2), k=3)


def test_contrastive_loss_is_low_for_matching_views_and_high_for_shuffled() -> None:
    g = torch.Generator().manual_seed(7)
    z = torch.randn(32, 16, generator=g)
    matched = nt_xent(z, z + 0.01 * torch.randn(32, 16, generator=g), temperature=0.2)
    shuffled = nt_xent(z, z[torch.randperm(32, generator=g)], temperature=0.2)
    assert matched < shuffled


def test_encoder_training_reduces_loss_and_is_deterministic(real: torch.Tensor) -> None:
    config = SMALL
    enc_a, losses = train_encoder(real, config=config, steps=30, batch_size=24, seed=11)
    enc_b, losses_b = train_encoder(real, config=config, steps=30, batch_size=24, seed=11)
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])
    assert losses == losses_b
    assert enc_a.weights_sha256 == enc_b.weights_sha256
    enc_c, _ = train_encoder(real, config=config, steps=2, batch_size=24, seed=12)
    assert enc_c.weights_sha256 != enc_a.weights_sha256


def test_encoder_round_trips_and_refuses_tampered_weights(encoder, real: torch.Tensor, tmp_path) -> None:
    path = tmp_path / "enc.pt"
    version = save_encoder(encoder, path)
    loaded = load_encoder(path)
    assert loaded.version == version == encoder.version
    assert torch.equal(loaded.features(real[:8]), encoder.features(real[:8]))

    payload = torch.load(path, weights_only=True)
    key = next(iter(payload["state_dict"]))
    payload["state_dict"][key] = payload["state_dict"][key] + 1e-3
    torch.save(payload, path)
    with pytest.raises(EncoderIntegrityError, match="does not match"):
        load_encoder(path)


def test_evaluate_ranks_a_clean_set_above_a_blurred_one(encoder, real: torch.Tensor, other_real: torch.Tensor) -> None:
    clean = evaluate(real, other_real, encoder=encoder, kid_subsets=10)
    blurred = evaluate(real, _blur(other_real, 3), encoder=encoder, kid_subsets=10)
    assert clean["encoder_version"] == encoder.version
    assert clean["swd_mean"] < blurred["swd_mean"]
    assert clean["kid"] < blurred["kid"]
    assert clean["precision"] > blurred["precision"]
