"""The emoji dataset: pure image and table handling without a font, then the real font.

The real-font tests require fonts-noto-color-emoji (`apt-get install fonts-noto-color-emoji`); they
fail, never skip, when it is missing.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageFont

from generative.datasets import emoji
from generative.datasets.emoji import (
    EmojiDatasetError,
    EmojiFontMissingError,
    EmojiSet,
    crop_to_content,
    font_sequences,
    load_emoji,
    pad_to_square,
    prepare_glyph,
    render_emoji,
    render_text,
    sequences_from_tables,
)


def _glyph(h: int, w: int, *, colour=(200, 30, 30)) -> np.ndarray:
    """A transparent canvas with an opaque rectangle of ``colour`` away from its edges."""
    rgba = np.zeros((h + 20, w + 10, 4), dtype=np.uint8)
    rgba[7 : 7 + h, 3 : 3 + w] = (*colour, 255)
    return rgba


def test_crop_keeps_only_visible_pixels() -> None:
    cropped = crop_to_content(_glyph(30, 12))
    assert cropped.shape == (30, 12, 4)
    assert (cropped[..., 3] == 255).all()


def test_crop_refuses_an_empty_glyph() -> None:
    with pytest.raises(EmojiDatasetError, match="transparent"):
        crop_to_content(np.zeros((8, 8, 4), dtype=np.uint8))


def test_pad_to_square_centres_the_glyph() -> None:
    square = pad_to_square(crop_to_content(_glyph(30, 12)))
    assert square.shape == (30, 30, 4)
    visible_cols = np.nonzero(square[..., 3].any(axis=0))[0]
    assert (visible_cols.min(), visible_cols.max()) == (9, 20)


def test_prepare_glyph_resizes_and_composites_on_the_background() -> None:
    out = prepare_glyph(_glyph(40, 20), size=16, background=(10, 250, 10))
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    # Left and right quarters are padding: pure background. The middle is the glyph's colour.
    # (Lanczos rings by a level or two next to the edge; the outer column is far enough away.)
    assert (out[:, 0] == (10, 250, 10)).all() and (out[:, -1] == (10, 250, 10)).all()
    assert np.abs(out[8, 8].astype(int) - (200, 30, 30)).max() <= 2


def test_premultiplied_resize_does_not_bleed_hidden_colour() -> None:
    rgba = _glyph(40, 40, colour=(255, 255, 255))
    rgba[rgba[..., 3] == 0, :3] = (0, 0, 255)  # invisible blue must not tint the edges
    out = prepare_glyph(rgba, size=8, background=(255, 255, 255))
    assert out.min() >= 250


def test_sequences_from_tables_keeps_drawable_glyphs_once_with_the_shortest_text() -> None:
    cmap = {0x1F600: "grin", 0x1F1EB: "ri_f", 0x1F1F7: "ri_r", 0xFE0F: "vs16", 0x2764: "heart", 0x41: "A",
            0xFE4E7: "flag_fr"}
    ligatures = {
        "flag_fr": [["ri_r", "ri_f"], ["ri_f", "ri_r"]],
        "heart_emoji": [["heart", "vs16"]],
        "ghost": [["grin", "missing_glyph"]],
    }
    drawable = {"grin", "flag_fr", "heart", "heart_emoji", "ri_f"}
    texts = sequences_from_tables(cmap=cmap, ligatures=ligatures, drawable=drawable)
    # The private-use code point U+FE4E7 never labels the flag, though it is shorter.
    assert texts == ["\u2764", "\u2764\ufe0f", "\U0001f1eb", "\U0001f1eb\U0001f1f7", "\U0001f600"]


def test_split_is_deterministic_disjoint_and_complete() -> None:
    images = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3)
    data = EmojiSet(images=images, sequences=tuple(chr(0x1F600 + i) for i in range(10)))
    train, held = data.split(holdout_fraction=0.3, seed=5)
    again, _ = data.split(holdout_fraction=0.3, seed=5)
    assert len(held) == 3 and len(train) == 7
    assert train.sequences == again.sequences
    assert sorted(train.sequences + held.sequences) == sorted(data.sequences)
    assert (held.images[:, 0, 0, 0] == [ord(s) - 0x1F600 for s in held.sequences]).all()
    with pytest.raises(EmojiDatasetError, match="holdout_fraction"):
        data.split(holdout_fraction=1.0, seed=0)


def test_to_tensor_maps_bytes_to_minus_one_one() -> None:
    images = np.stack([np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)])
    x = EmojiSet(images=images, sequences=("a", "b")).to_tensor()
    assert tuple(x.shape) == (2, 3, 4, 4)
    assert x[0].eq(-1).all() and x[1].eq(1).all()


def test_missing_font_names_the_package(tmp_path) -> None:
    with pytest.raises(EmojiFontMissingError, match="apt-get install fonts-noto-color-emoji"):
        load_emoji(size=32, cache_dir=tmp_path, font_path=tmp_path / "nope.ttf")


# The tests below need the real font: CI installs fonts-noto-color-emoji.


def test_font_has_thousands_of_emoji_including_sequences() -> None:
    texts = font_sequences()
    assert len(texts) > 3000
    assert len(set(texts)) == len(texts)
    assert "\U0001f1e9\U0001f1ea" in texts  # a flag: regional-indicator pair
    assert "\U0001f44d\U0001f3fd" in texts  # a skin-tone modifier sequence
    assert sum("\u200d" in t for t in texts) > 500  # ZWJ sequences (families, professions)
    assert not any(0xE000 <= ord(c) <= 0xF8FF or ord(c) >= 0xF0000 for t in texts for c in t)


def test_rendered_emoji_are_coloured_and_distinct() -> None:
    font = ImageFont.truetype(str(emoji.DEFAULT_FONT_PATH), emoji.RENDER_SIZE)
    texts = ["\U0001f600", "\U0001f951", "\U0001f1e9\U0001f1ea", "\U0001f44d\U0001f3fd",
             "\U0001f469\u200d\U0001f692", "\u2764\ufe0f"]
    images = np.stack([prepare_glyph(render_text(t, font=font), size=32, background=(255, 255, 255)) for t in texts])
    saturation = images.max(axis=-1).astype(int) - images.min(axis=-1)
    assert (saturation.max(axis=(1, 2)) > 80).all()  # colour glyphs, not black outlines
    assert len({img.tobytes() for img in images}) == len(texts)
    # A sequence the font cannot shape into one glyph is refused rather than drawn as two pictures.
    assert render_text("\U0001f600\U0001f600", font=font) is None


def test_load_emoji_renders_once_then_reads_the_cache(tmp_path, monkeypatch) -> None:
    calls = []

    def small_render(**kwargs):
        calls.append(kwargs)
        return render_emoji(**kwargs, limit=8)

    monkeypatch.setattr(emoji, "render_emoji", small_render)
    first = load_emoji(size=16, cache_dir=tmp_path, background=(0, 0, 0))
    second = load_emoji(size=16, cache_dir=tmp_path, background=(0, 0, 0))
    assert len(calls) == 1
    assert np.array_equal(first.images, second.images) and first.sequences == second.sequences
    load_emoji(size=16, cache_dir=tmp_path, background=(255, 255, 255))
    assert len(calls) == 2  # a different background is a different cache entry
