"""BrandForge watermark: round trips under attacks, false positives, quality, modes, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from provenance.watermark import (
    ALGORITHM,
    PAYLOAD_BITS,
    Detection,
    ImageTooSmallError,
    InvalidPayloadError,
    InvalidStrengthError,
    UnsupportedModeError,
    WatermarkError,
    coding,
    detect,
    embed,
    masking,
    testset,
)
from provenance.watermark.residual import residuals

PAYLOAD = 0xB7A1_D0C2_5E39


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.resize(size, Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def images() -> dict[str, Image.Image]:
    rng = np.random.default_rng(42)
    return {
        "scene": _fit(testset.scene(rng), (448, 384)),
        "logo": _fit(testset.logo(rng), (512, 400)),
        "flat_white_logo": _flat_logo(),
    }


def _flat_logo() -> Image.Image:
    """White background, two flat shapes and a word: the hardest case for visibility."""
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (512, 512), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 250, 200), fill=(0, 83, 159))
    draw.ellipse((280, 220, 470, 410), fill=(230, 60, 40))
    draw.text((40, 430), "BrandForge", fill=(20, 20, 20), font=ImageFont.load_default(size=40))
    return image


@pytest.fixture(scope="module")
def marked(images: dict[str, Image.Image]) -> dict[str, Image.Image]:
    return {name: embed(image, payload=PAYLOAD) for name, image in images.items()}


def test_public_constants() -> None:
    assert ALGORITHM == "com.brandforge.wm.v1"
    assert PAYLOAD_BITS >= 48


@pytest.mark.parametrize("attack", list(testset.ATTACKS))
@pytest.mark.parametrize("name", ["scene", "logo", "flat_white_logo"])
def test_round_trip_survives_attack(marked: dict[str, Image.Image], name: str, attack: str) -> None:
    result = detect(testset.ATTACKS[attack](marked[name]))
    assert result.found, result.reason
    assert result.payload == PAYLOAD
    assert result.payload_bytes == PAYLOAD.to_bytes(6, "big")


def test_sync_reports_scale_and_offset(marked: dict[str, Image.Image]) -> None:
    half = detect(testset.ATTACKS["resize_50"](marked["scene"]))
    assert half.scale == pytest.approx((0.5, 0.5), abs=0.01)
    cropped = detect(marked["scene"].crop((30, 17, 448, 384)))
    assert cropped.scale == pytest.approx((1.0, 1.0), abs=0.01)
    # The tile origin moves with the crop: 128 - 17 and 128 - 30 (modulo the tile).
    assert np.mod(cropped.offset, 128) == pytest.approx((111, 98), abs=1.5)


def test_unmarked_images_are_not_detected(images: dict[str, Image.Image]) -> None:
    rng = np.random.default_rng(3)
    candidates = list(images.values()) + [testset.texture(rng) for _ in range(3)]
    candidates.append(Image.new("RGB", (300, 300), (128, 128, 128)))
    for image in candidates:
        result = detect(image)
        assert not result.found
        assert result.payload is None


def test_other_payload_is_not_confused(images: dict[str, Image.Image]) -> None:
    other = detect(embed(images["scene"], payload=b"\x00\x00\x00\x00\x00\x01"))
    assert other.payload == 1


def test_quality_psnr_at_least_40_db(images: dict[str, Image.Image], marked: dict[str, Image.Image]) -> None:
    for name, image in images.items():
        a = np.asarray(image, dtype=np.float64)
        b = np.asarray(marked[name], dtype=np.float64)
        psnr = 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))
        assert psnr >= 40.0, name


def _distance_to_detail(image: Image.Image) -> np.ndarray:
    """Pixels from the nearest pixel that differs from a 4-neighbour (an edge or text)."""
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    detail = np.zeros(grey.shape, dtype=bool)
    detail[:, 1:] |= grey[:, 1:] != grey[:, :-1]
    detail[:, :-1] |= grey[:, 1:] != grey[:, :-1]
    detail[1:, :] |= grey[1:, :] != grey[:-1, :]
    detail[:-1, :] |= grey[1:, :] != grey[:-1, :]
    return ndimage.distance_transform_edt(~detail)


def test_flat_colour_away_from_edges_is_left_exactly_as_it_was(marked: dict[str, Image.Image]) -> None:
    original = _flat_logo()
    change = np.abs(np.asarray(marked["flat_white_logo"], np.int16) - np.asarray(original, np.int16))
    far = _distance_to_detail(original) >= 20
    assert far.mean() > 0.5  # most of the logo is flat fill
    assert change[far].max() == 0


def test_white_paper_is_never_touched(marked: dict[str, Image.Image]) -> None:
    original = np.asarray(_flat_logo(), np.int16)
    white = (original == 255).all(axis=2)
    change = np.abs(np.asarray(marked["flat_white_logo"], np.int16) - original)
    assert white.mean() > 0.4
    assert change[white].max() == 0


def test_near_edges_of_flat_colour_the_change_stays_small(marked: dict[str, Image.Image]) -> None:
    # The band inside the blue rectangle's straight sides, corners left out (a corner counts as
    # detail and may take more): a few levels at most, two or three on average.
    original = _flat_logo()
    change = np.abs(np.asarray(marked["flat_white_logo"], np.int16) - np.asarray(original, np.int16))
    sides = np.zeros(change.shape[:2], dtype=bool)
    sides[41:200, 60:230] = sides[60:180, 41:250] = True
    band = sides & (_distance_to_detail(original) < 20)
    assert band.sum() > 5000
    assert change[band].max() <= 2 * masking.EDGE_MAX
    assert change[band].mean() <= masking.EDGE_MAX


def test_smooth_gradients_change_by_at_most_one_level() -> None:
    y, x = np.mgrid[0:384, 0:512].astype(np.float64)
    ramp = np.stack([40 + 0.3 * x, 90 + 0.2 * y, 200 - 0.25 * x], axis=-1)
    image = Image.fromarray(np.uint8(np.rint(ramp)))
    change = np.abs(np.asarray(embed(image, payload=PAYLOAD), np.int16) - np.asarray(image, np.int16))
    assert change.max() <= 1


def test_modes_and_alpha_are_preserved(images: dict[str, Image.Image]) -> None:
    rgb = images["scene"]
    alpha = Image.fromarray(np.random.default_rng(1).integers(0, 256, rgb.size[::-1], np.uint8))
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    out = embed(rgba, payload=PAYLOAD)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))
    assert detect(out).payload == PAYLOAD

    grey = embed(rgb.convert("L"), payload=PAYLOAD)
    assert grey.mode == "L"
    assert detect(grey).payload == PAYLOAD
    assert embed(rgb.convert("LA"), payload=PAYLOAD).mode == "LA"

    palette = embed(images["logo"].convert("P"), payload=PAYLOAD)
    assert palette.mode == "RGB"
    assert detect(palette).payload == PAYLOAD


def test_input_validation_errors() -> None:
    small = Image.new("RGB", (127, 400))
    with pytest.raises(ImageTooSmallError, match="127x400"):
        embed(small, payload=1)
    big = Image.new("RGB", (200, 200))
    with pytest.raises(UnsupportedModeError, match="CMYK"):
        embed(Image.new("CMYK", (200, 200)), payload=1)
    for bad in (-1, 1 << 48, b"12345", True, "abc"):
        with pytest.raises(InvalidPayloadError):
            embed(big, payload=bad)
    for strength in (0, -1.0, float("nan"), 10):
        with pytest.raises(InvalidStrengthError):
            embed(big, payload=1, strength=strength)
    assert issubclass(ImageTooSmallError, WatermarkError)


def test_detect_never_raises_on_small_or_odd_images() -> None:
    tiny = detect(Image.new("RGB", (40, 300)))
    assert not tiny.found and "40x300" in tiny.reason
    assert not detect(Image.new("CMYK", (200, 200))).found
    assert not detect(Image.new("I;16", (200, 200))).found
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny.found = True  # type: ignore[misc]
    assert isinstance(tiny, Detection)


def test_viterbi_corrects_channel_errors() -> None:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, PAYLOAD_BITS).astype(np.int8)
    code = coding.encode(bits)
    soft = 2.0 * code - 1.0
    flipped = rng.choice(code.size, 12, replace=False)
    soft[flipped] *= -1
    assert np.array_equal(coding.split_and_check(coding.viterbi(soft)), bits)


def test_check_rejects_corrupted_and_all_zero_messages() -> None:
    bits = coding.int_to_bits(PAYLOAD)
    message = np.concatenate([bits, coding.check_bits(bits)])
    assert np.array_equal(coding.split_and_check(message), bits)
    message[5] ^= 1
    assert coding.split_and_check(message) is None
    assert coding.split_and_check(np.zeros(coding.MESSAGE_BITS, np.int8)) is None


def test_oriented_residual_cancels_edges_but_not_texture() -> None:
    image = np.full((160, 160), 230.0, dtype=np.float32)
    image[40:120, 30:100] = 40.0  # a rectangle: horizontal and vertical edges
    yy, xx = np.mgrid[0:160, 0:160]
    image[(xx - yy > 60)] = 120.0  # a diagonal edge
    res = residuals(image)
    edge_sides = np.zeros(image.shape, dtype=bool)
    edge_sides[38:42, 45:85] = edge_sides[55:105, 28:32] = True  # away from the corners
    assert np.abs(res.box[edge_sides]).max() > 20
    assert np.abs(res.oriented[edge_sides]).max() < 1e-3
    diagonal = (np.abs(xx - yy - 60) <= 2) & (yy >= 5) & (yy < 30)  # clear of the rectangle
    assert np.abs(res.oriented[diagonal]).max() < 1e-3
    noise = np.random.default_rng(5).normal(128, 20, (160, 160)).astype(np.float32)
    assert np.abs(residuals(noise).oriented).mean() > 5


def test_mask_is_zero_on_flat_colour_and_strong_in_texture() -> None:
    flat = np.full((200, 200), 90.0, dtype=np.float32)
    assert masking.amplitude(flat).max() == 0
    noise = np.random.default_rng(6).normal(128, 25, (200, 200)).astype(np.float32)
    assert np.median(masking.amplitude(noise)) == pytest.approx(masking.TEXTURE_MAX, rel=0.05)
    white = np.full((200, 200), 255.0, dtype=np.float32)
    white[80:120, 80:120] = np.random.default_rng(7).normal(200, 25, (40, 40))
    assert masking.amplitude(white)[white == 255.0].max() == 0
