"""The Noto Color Emoji set as a small real-image dataset, rendered offline with Pillow.

Every colour glyph the font can draw is reached either through its cmap (single code points) or
through a GSUB ligature (ZWJ sequences, flags, keycaps, skin tones). Each is drawn at the font's only
bitmap strike (size 109), cropped to its visible pixels, padded to a square, resized with an
antialiasing filter and composited on a flat background. The result is cached as ``.npy`` so a
training run or a benchmark never renders twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

DEFAULT_FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
# Colour bitmap fonts only scale from their strikes; Noto Color Emoji has a single one at 109 px.
RENDER_SIZE = 109
CACHE_FORMAT_VERSION = 2


class EmojiFontMissingError(FileNotFoundError):
    """The emoji font file is not on this machine."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"emoji font not found at {path}: install it with `apt-get install fonts-noto-color-emoji`"
        )


class EmojiDatasetError(ValueError):
    """An argument to the emoji dataset is out of range."""


@dataclass(frozen=True)
class EmojiSet:
    """Rendered emoji: ``images`` is uint8 (N, size, size, 3); ``sequences[i]`` is the text of image i."""

    images: np.ndarray
    sequences: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.sequences)

    def to_tensor(self) -> torch.Tensor:
        """Float (N, 3, H, W) in [-1, 1], the range the generators produce."""
        x = torch.from_numpy(self.images).permute(0, 3, 1, 2).float()
        return x / 127.5 - 1.0

    def split(self, *, holdout_fraction: float, seed: int) -> tuple[EmojiSet, EmojiSet]:
        """A deterministic (train, held-out) split; the held-out part is what metrics compare against."""
        if not 0.0 < holdout_fraction < 1.0:
            raise EmojiDatasetError(f"holdout_fraction={holdout_fraction} must be strictly between 0 and 1")
        order = np.random.default_rng(seed).permutation(len(self))
        n_hold = max(1, round(len(self) * holdout_fraction))
        hold, train = np.sort(order[:n_hold]), np.sort(order[n_hold:])
        return self._take(train), self._take(hold)

    def _take(self, idx: np.ndarray) -> EmojiSet:
        return EmojiSet(images=self.images[idx], sequences=tuple(self.sequences[i] for i in idx))


def _is_private_use(cp: int) -> bool:
    return 0xE000 <= cp <= 0xF8FF or cp >= 0xF0000


def sequences_from_tables(
    *,
    cmap: Mapping[int, str],
    ligatures: Mapping[str, Iterable[Iterable[str]]],
    drawable: set[str],
) -> list[str]:
    """One text per drawable glyph, in a stable order.

    ``cmap`` maps code points to glyph names, ``ligatures`` maps a ligature glyph to the glyph
    sequences that form it, ``drawable`` names glyphs that have a colour bitmap. Private-use code
    points are not emoji and are never used. Several texts can draw the same glyph (with or without
    U+FE0F, a ZWJ sequence and its reverse for right-to-left text, flags that share one picture); the
    shortest, then lowest, text labels the glyph, so each picture appears once.
    """
    glyph_to_cp: dict[str, int] = {}
    for cp in sorted(cmap):
        if not _is_private_use(cp):
            glyph_to_cp.setdefault(cmap[cp], cp)
    best: dict[str, str] = {}

    def offer(glyph: str, text: str) -> None:
        if glyph in drawable and (glyph not in best or (len(text), text) < (len(best[glyph]), best[glyph])):
            best[glyph] = text

    for glyph, cp in glyph_to_cp.items():
        offer(glyph, chr(cp))
    for glyph, sequences in ligatures.items():
        for parts in sequences:
            parts = list(parts)
            if all(p in glyph_to_cp for p in parts):
                offer(glyph, "".join(chr(glyph_to_cp[p]) for p in parts))
    return sorted(best.values(), key=lambda t: tuple(ord(c) for c in t))


def font_sequences(*, font_path: Path = DEFAULT_FONT_PATH) -> list[str]:
    """Every text the font draws as a single colour glyph, read from its cmap, GSUB and CBLC tables."""
    from fontTools.ttLib import TTFont

    font = TTFont(_require_font(font_path), lazy=True)
    drawable: set[str] = set()
    for strike in font["CBLC"].strikes:
        for sub in strike.indexSubTables:
            drawable.update(sub.names)
    ligatures: dict[str, list[list[str]]] = {}
    for lookup in font["GSUB"].table.LookupList.Lookup:
        for sub in lookup.SubTable:
            # Extension lookups (type 7) wrap the real subtable.
            sub = getattr(sub, "ExtSubTable", sub)
            for first, ligs in (getattr(sub, "ligatures", None) or {}).items():
                for lig in ligs:
                    ligatures.setdefault(lig.LigGlyph, []).append([first, *lig.Component])
    return sequences_from_tables(cmap=font.getBestCmap(), ligatures=ligatures, drawable=drawable)


def crop_to_content(rgba: np.ndarray) -> np.ndarray:
    """The smallest box holding every pixel with non-zero alpha; raises if there is none."""
    ys, xs = np.nonzero(rgba[..., 3])
    if ys.size == 0:
        raise EmojiDatasetError("glyph image is fully transparent")
    return rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def pad_to_square(rgba: np.ndarray) -> np.ndarray:
    """Centre the image on a transparent square so resizing keeps its aspect ratio."""
    h, w = rgba.shape[:2]
    side = max(h, w)
    out = np.zeros((side, side, 4), dtype=rgba.dtype)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = rgba
    return out


def prepare_glyph(rgba: np.ndarray, *, size: int, background: tuple[int, int, int]) -> np.ndarray:
    """Crop, square, resize (Lanczos, in premultiplied alpha) and flatten onto ``background``."""
    square = pad_to_square(crop_to_content(rgba))
    # Premultiply before resampling so transparent pixels' colours do not bleed into the edge.
    alpha = square[..., 3:4].astype(np.float32) / 255.0
    premul = np.concatenate([square[..., :3].astype(np.float32) * alpha, alpha * 255.0], axis=-1)
    channels = [
        np.asarray(Image.fromarray(premul[..., c]).resize((size, size), Image.Resampling.LANCZOS))
        for c in range(4)
    ]
    small = np.clip(np.stack(channels, axis=-1), 0.0, 255.0)
    a = small[..., 3:4] / 255.0
    bg = np.asarray(background, dtype=np.float32)
    out = small[..., :3] + bg * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def render_text(text: str, *, font: ImageFont.FreeTypeFont) -> np.ndarray | None:
    """RGBA pixels of ``text`` drawn with colour glyphs, or None when it does not shape to one glyph."""
    single = font.getlength("\U0001f600")
    # Without a shaping engine a sequence falls apart into several glyphs; such a picture is not the emoji.
    if font.getlength(text) > 1.5 * single:
        return None
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("RGBA", (right - left + 8, bottom - top + 8), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), text, font=font, embedded_color=True)
    pixels = np.asarray(canvas)
    return pixels if pixels[..., 3].any() else None


def render_emoji(
    *,
    size: int,
    background: tuple[int, int, int] = (255, 255, 255),
    font_path: Path = DEFAULT_FONT_PATH,
    limit: int | None = None,
) -> EmojiSet:
    """Render the font's emoji to (N, size, size, 3) uint8, with no caching."""
    if size < 4:
        raise EmojiDatasetError(f"size={size} is too small; use at least 4 px")
    font = ImageFont.truetype(str(_require_font(font_path)), RENDER_SIZE)
    images, texts = [], []
    for text in font_sequences(font_path=font_path):
        rgba = render_text(text, font=font)
        if rgba is None:
            continue
        images.append(prepare_glyph(rgba, size=size, background=background))
        texts.append(text)
        if limit is not None and len(texts) >= limit:
            break
    return EmojiSet(images=np.stack(images), sequences=tuple(texts))


def load_emoji(
    *,
    size: int,
    cache_dir: Path | str,
    background: tuple[int, int, int] = (255, 255, 255),
    font_path: Path = DEFAULT_FONT_PATH,
) -> EmojiSet:
    """The emoji set at ``size`` px, read from ``cache_dir`` or rendered once and written there."""
    font_path = _require_font(font_path)
    cache_dir = Path(cache_dir)
    key = _cache_key(size=size, background=background, font_path=font_path)
    images_path, meta_path = cache_dir / f"emoji-{key}.npy", cache_dir / f"emoji-{key}.json"
    if images_path.exists() and meta_path.exists():
        sequences = tuple(json.loads(meta_path.read_text(encoding="utf-8"))["sequences"])
        images = np.load(images_path, allow_pickle=False)
        if images.shape == (len(sequences), size, size, 3):
            return EmojiSet(images=images, sequences=sequences)
    data = render_emoji(size=size, background=background, font_path=font_path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(images_path, lambda f: np.save(f, data.images, allow_pickle=False))
    meta = {"size": size, "background": list(background), "sequences": list(data.sequences)}
    _atomic_write(meta_path, lambda f: f.write(json.dumps(meta, ensure_ascii=False).encode("utf-8")))
    return data


def _require_font(font_path: Path | str) -> Path:
    path = Path(font_path)
    if not path.is_file():
        raise EmojiFontMissingError(path)
    return path


def _cache_key(*, size: int, background: tuple[int, int, int], font_path: Path) -> str:
    digest = hashlib.sha256()
    with font_path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(f"{CACHE_FORMAT_VERSION}|{size}|{tuple(background)}".encode())
    return f"{size}px-{digest.hexdigest()[:16]}"


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
