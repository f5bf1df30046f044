"""A sample brand library, drawn with Pillow and numpy so the demo needs no downloads.

One made-up brand ("Northwind Coffee") with logos, icons, textures and photo-like shots in several
sizes and formats — enough to see thumbnails, filters, duplicates and renditions at work.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PALETTE = ["#1B4D3E", "#C8A165", "#F4EDE1", "#7A3E2B", "#2E2E2E"]


@dataclass(frozen=True)
class SampleFile:
    name: str
    collection: str
    tags: tuple[str, ...]
    data: bytes
    # Left in draft for the visitor to review; the rest is published by the demo.
    draft: bool = False


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _logo(*, size: int, variant: int) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    ring, cup = PALETTE[variant % 2], PALETTE[(variant + 1) % 2]
    pad = size // 10
    draw.ellipse((pad, pad, size - pad, size - pad), fill=ring)
    inner = size // 4
    draw.rounded_rectangle((inner, inner + size // 8, size - inner, size - inner), radius=size // 16, fill=cup)
    draw.text((size / 2, size - pad * 1.6), "NORTHWIND", fill=PALETTE[2], font=_font(size // 12), anchor="mm")
    return image


def _logo_svg(*, variant: int) -> bytes:
    ring, cup = PALETTE[variant % 2], PALETTE[(variant + 1) % 2]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">'
        f'<circle cx="256" cy="256" r="205" fill="{ring}"/>'
        f'<rect x="128" y="192" width="256" height="192" rx="32" fill="{cup}"/>'
        f'<path d="M384 224 q64 0 64 64 q0 64 -64 64" stroke="{cup}" stroke-width="24" fill="none"/>'
        "</svg>"
    ).encode()


def _icon(*, kind: str, size: int, colour: str = PALETTE[0]) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    w = max(2, size // 16)
    m = size // 6
    if kind == "cup":
        draw.rectangle((m, m * 2, size - 2 * m, size - m), outline=colour, width=w)
        draw.arc((size - 3 * m, m * 2.5, size - m // 2, m * 4.5), -90, 90, fill=colour, width=w)
    elif kind == "bean":
        draw.ellipse((m, m // 2, size - m, size - m // 2), outline=colour, width=w)
        draw.arc((m * 2, m, size - m * 2, size - m), 100, 260, fill=colour, width=w)
    elif kind == "leaf":
        draw.chord((m, m, size - m, size - m), 200, 340, fill=colour)
        draw.line((m, size - m, size - m, m), fill=PALETTE[1], width=w)
    elif kind == "pin":
        draw.ellipse((m * 2, m, size - m * 2, m * 4), outline=colour, width=w)
        draw.polygon([(m * 2.2, m * 3), (size - m * 2.2, m * 3), (size / 2, size - m)], fill=colour)
    else:
        draw.regular_polygon((size / 2, size / 2, size / 2 - m), 5, fill=colour)
    return image


def _fractal_noise(*, shape: tuple[int, int], rng: np.random.Generator, octaves: int = 6) -> np.ndarray:
    h, w = shape
    out = np.zeros(shape, dtype=np.float32)
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        layer = Image.fromarray(grid).resize((w, h), Image.BICUBIC)
        out += np.asarray(layer) / (2**octave)
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def _texture(*, size: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    noise = _fractal_noise(shape=(size, size), rng=rng)
    a = np.array(Image.new("RGB", (1, 1), PALETTE[seed % 4]).getpixel((0, 0)), dtype=np.float32)
    b = np.array(Image.new("RGB", (1, 1), PALETTE[(seed + 2) % 4]).getpixel((0, 0)), dtype=np.float32)
    grain = rng.normal(0, 6, (size, size, 1)).astype(np.float32)
    pixels = a * noise[..., None] + b * (1 - noise[..., None]) + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _photo(*, width: int, height: int, seed: int) -> Image.Image:
    """A photo-like scene: sky gradient, fractal hills, a cup, blur and sensor noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky = (1 - y) * np.array([120, 170, 220], np.float32) + y * np.array([235, 220, 200], np.float32)
    ridge = _fractal_noise(shape=(1, width), rng=rng)[0] * 0.25 + 0.45
    rows = np.arange(height, dtype=np.float32)[:, None] / height
    hills = (rows > ridge[None, :])[..., None]
    ground = _fractal_noise(shape=(height, width), rng=rng)[..., None]
    land = ground * np.array([60, 90, 50], np.float32) + (1 - ground) * np.array([30, 50, 30], np.float32)
    pixels = np.where(hills, land, np.broadcast_to(sky, (height, width, 3)))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    cx, cy, r = width * rng.uniform(0.3, 0.7), height * 0.7, min(width, height) * 0.12
    draw.rounded_rectangle((cx - r, cy - r, cx + r, cy + r * 1.2), radius=int(r / 4), fill=PALETTE[2])
    draw.ellipse((cx - r, cy - r * 1.2, cx + r, cy - r * 0.8), fill=PALETTE[3])
    image = image.filter(ImageFilter.GaussianBlur(radius=max(1.0, min(width, height) / 600)))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 3, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def sample_library() -> Iterator[SampleFile]:
    for variant in range(2):
        yield SampleFile(f"northwind-logo-{variant + 1}.png", "Brand/Logos", ("logo",),
                         _encode(_logo(size=1024, variant=variant), "PNG"))
        yield SampleFile(f"northwind-logo-{variant + 1}.svg", "Brand/Logos", ("logo", "vector"),
                         _logo_svg(variant=variant))
    for kind in ("cup", "bean", "leaf", "pin", "star"):
        for shade, colour in (("green", PALETTE[0]), ("brown", PALETTE[3])):
            icon = _icon(kind=kind, size=256, colour=colour)
            yield SampleFile(f"icon-{kind}-{shade}.png", "Brand/Icons", ("icon",), _encode(icon, "PNG"))
    for seed in range(4):
        yield SampleFile(f"texture-{seed + 1}.jpg", "Brand/Textures", ("texture",),
                         _encode(_texture(size=768, seed=seed), "JPEG", quality=90))
    sizes = [(1600, 1067), (2400, 1600), (1200, 1600), (4000, 3000), (800, 600)]
    for seed, (w, h) in enumerate(sizes):
        image = _photo(width=w, height=h, seed=seed + 10)
        fmt, ext = ("WEBP", "webp") if seed == 4 else ("JPEG", "jpg")
        yield SampleFile(f"product-shot-{seed + 1}.{ext}", "Campaigns/Autumn", ("photo", "product"),
                         _encode(image, fmt, quality=88))
    # A re-exported shot: a near duplicate the library flags.
    near = _photo(width=1600, height=1067, seed=10).resize((1200, 800), Image.LANCZOS)
    yield SampleFile("product-shot-1-web.jpg", "Campaigns/Autumn", ("photo",), _encode(near, "JPEG", quality=80),
                     draft=True)
    banner = _photo(width=1920, height=600, seed=42)
    draw = ImageDraw.Draw(banner)
    draw.text((80, 300), "Autumn Roast", fill=PALETTE[2], font=_font(96), anchor="lm")
    yield SampleFile("banner-autumn.png", "Campaigns/Autumn", ("banner",), _encode(banner, "PNG"), draft=True)
