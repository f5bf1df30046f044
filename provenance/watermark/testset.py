"""A reproducible, offline set of varied test images for the watermark's tests and benchmark.

Four kinds, each built from a fixed seed: ``photo`` (crops and rescales of the sample photographs
that ship inside the scikit-image wheel, when it is installed; nothing is downloaded), ``scene``
(procedural natural-looking images: fractal noise, gradients, blurred shapes), ``logo`` (a few flat
colours, sharp edges, large flat areas, text in Pillow's default font) and ``texture``; plus the
attacks (re-encodes, resizes, crops, tone changes) a marked image must survive.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

KINDS = ("photo", "scene", "logo", "texture")
_PHOTO_FILES = (
    "astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "hubble_deep_field.jpg",
    "ihc.png", "moon.png", "page.png", "rocket.jpg", "text.png", "brick.png", "grass.png",
    "gravel.png", "motorcycle_left.png", "retina.jpg", "cell.png", "color.png",
)


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str
    image: Image.Image


def _photo_dir() -> Path | None:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data"
    return folder if folder.is_dir() else None


def _size(rng: np.random.Generator) -> tuple[int, int]:
    w = int(rng.integers(256, 1025))
    h = int(np.clip(w * rng.uniform(0.6, 1.6), 256, 1024))
    return w, h


def _fractal(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> np.ndarray:
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    radius = np.maximum(np.hypot(fy, fx), 1.0 / max(shape))
    spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius**beta
    field = np.fft.irfft2(spectrum, s=shape)
    return (field - field.mean()) / (field.std() or 1.0)


def photo(rng: np.random.Generator, source: Image.Image) -> Image.Image:
    """A random crop of a sample photo, rescaled into 256-1024 px."""
    source = source.convert("RGB")
    w, h = source.size
    cw = int(w * rng.uniform(0.5, 1.0))
    ch = int(h * rng.uniform(0.5, 1.0))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = source.crop((x, y, x + cw, y + ch))
    target = rng.uniform(256, 1024) / max(crop.size)
    size = (max(256, int(crop.width * target)), max(256, int(crop.height * target)))
    return crop.resize(size, Image.Resampling.LANCZOS)


def scene(rng: np.random.Generator) -> Image.Image:
    """Sky gradient, fractal terrain and blurred blobs: a crude landscape-like photo."""
    w, h = _size(rng)
    yy = np.linspace(0, 1, h)[:, None, None]
    top, bottom = rng.uniform(60, 230, 3), rng.uniform(20, 200, 3)
    img = top * (1 - yy) + bottom * yy + np.zeros((h, w, 3))
    img += 25 * _fractal(rng, (h, w), rng.uniform(0.9, 1.6))[..., None] * rng.uniform(0.3, 1, 3)
    canvas = Image.fromarray(np.uint8(np.clip(img, 0, 255)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 12))):
        cx, cy, r = rng.integers(0, w), rng.integers(0, h), rng.integers(10, max(w, h) // 4)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 4.0))))


def logo(rng: np.random.Generator) -> Image.Image:
    """Few flat colours, large flat areas, sharp edges and text."""
    w, h = _size(rng)
    palette = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(4)]
    background = (255, 255, 255) if rng.random() < 0.4 else palette[0]
    canvas = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 5))):
        x0, y0 = int(rng.integers(0, w * 3 // 4)), int(rng.integers(0, h * 3 // 4))
        x1, y1 = x0 + int(rng.integers(w // 8, w // 2)), y0 + int(rng.integers(h // 8, h // 2))
        fill = palette[int(rng.integers(1, 4))]
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
    font = ImageFont.load_default(size=int(rng.integers(14, max(15, h // 8))))
    draw.text((int(w * 0.08), int(h * 0.7)), "BrandForge", fill=palette[3], font=font)
    return canvas


def texture(rng: np.random.Generator) -> Image.Image:
    """Stripes, checks, fractal noise or fine grain."""
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w]
    choice = int(rng.integers(0, 4))
    if choice == 0:
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 40)
        grey = 128 + 90 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    elif choice == 1:
        cell = int(rng.integers(6, 48))
        grey = np.where(((xx // cell) + (yy // cell)) % 2 == 0, 60.0, 200.0)
    elif choice == 2:
        grey = 128 + 45 * _fractal(rng, (h, w), rng.uniform(0.5, 1.2))
    else:
        grey = 128 + 30 * rng.normal(size=(h, w))
    tint = rng.uniform(0.6, 1.0, 3)
    return Image.fromarray(np.uint8(np.clip(grey[..., None] * tint, 0, 255)))


def samples(*, count: int = 120, seed: int = 2026) -> Iterator[Sample]:
    """``count`` images cycling through the kinds (photos skipped when no sample photos exist)."""
    rng = np.random.default_rng(seed)
    folder = _photo_dir()
    photos = [folder / f for f in _PHOTO_FILES if folder and (folder / f).is_file()]
    kinds = [k for k in KINDS if k != "photo" or photos]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "photo":
            source = photos[(i // len(kinds)) % len(photos)]
            with Image.open(source) as raw:
                image = photo(rng, raw)
            name = f"{i:03d}-photo-{source.stem}"
        else:
            image = {"scene": scene, "logo": logo, "texture": texture}[kind](rng)
            name = f"{i:03d}-{kind}"
        yield Sample(name=name, kind=kind, image=image)


def _reencode(image: Image.Image, fmt: str, **options: object) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, fmt, **options)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _resize(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BICUBIC)


def _crop(image: Image.Image, side: str, fraction: float = 0.1) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * fraction), int(h * fraction)
    box = {"left": (dx, 0, w, h), "right": (0, 0, w - dx, h),
           "top": (0, dy, w, h), "bottom": (0, 0, w, h - dy)}[side]
    return image.crop(box)


ATTACKS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda im: im,
    "png": lambda im: _reencode(im, "PNG"),
    "jpeg_q50": lambda im: _reencode(im, "JPEG", quality=50),
    "webp_q75": lambda im: _reencode(im, "WEBP", quality=75),
    "resize_50": lambda im: _resize(im, 0.5),
    "resize_150": lambda im: _resize(im, 1.5),
    "crop10_left": lambda im: _crop(im, "left"),
    "crop10_right": lambda im: _crop(im, "right"),
    "crop10_top": lambda im: _crop(im, "top"),
    "crop10_bottom": lambda im: _crop(im, "bottom"),
    "bright_+20": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "bright_-20": lambda im: ImageEnhance.Brightness(im).enhance(0.8),
    "contrast_+20": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
    "contrast_-20": lambda im: ImageEnhance.Contrast(im).enhance(0.8),
    "jpeg_q75+resize_50": lambda im: _reencode(_resize(im, 0.5), "JPEG", quality=75),
}
