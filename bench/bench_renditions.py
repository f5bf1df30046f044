"""Rendition cost on this machine: whole render() per spec and source size, and encoder settings.

Run by hand: ``nice -n 10 .venv/bin/python bench/bench_renditions.py``. Sources are synthetic
photo-like JPEGs (smooth random fields plus grain) built in memory with a fixed seed.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from PIL import Image

from dam.renditions import render

SOURCES = {"2MP": (1732, 1155), "12MP": (4240, 2832)}
SPECS = ("fill-300x200|format-webp", "max-165x165|format-webp", "max-800x800|format-webp")


def photo_like_jpeg(size: tuple[int, int], *, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (12, 18, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    grain = rng.normal(0, 8, (size[1], size[0], 3))
    pixels = np.clip(np.asarray(coarse, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def median_ms(action: Callable[[], object], *, repeat: int) -> float:
    """Median wall time; see median_cpu_ms for a figure that other load on the machine barely moves."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def median_cpu_ms(action: Callable[[], object], *, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def render_once(data: bytes, spec: str, *, preload: bool) -> None:
    image = Image.open(io.BytesIO(data))
    if preload:
        image.load()  # a loaded image cannot be drafted: the full-size decode path
    render(image=image, spec=spec, source_format="jpeg")


def encode_once(image: Image.Image, buffer: io.BytesIO, **options: object) -> None:
    buffer.seek(0)
    buffer.truncate()
    image.save(buffer, **options)


def bench_render() -> None:
    print("render(), JPEG source opened from bytes each time (decode included), median wall / CPU ms")
    for label, size in SOURCES.items():
        data = photo_like_jpeg(size)
        repeat = 9 if label == "2MP" else 5
        for spec in SPECS:
            row = []
            for preload in (False, True):
                once = partial(render_once, data, spec, preload=preload)
                row.append(f"{median_ms(once, repeat=repeat):6.1f} / {median_cpu_ms(once, repeat=repeat):6.1f}")
            print(f"  {label:5} {spec:28} draft {row[0]}   full decode {row[1]}")


def psnr(data: bytes, reference: np.ndarray) -> float:
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
    return float(10 * np.log10(255**2 / np.mean((decoded - reference) ** 2)))


def bench_encoders() -> None:
    print("encoders on a photo-like image: median ms, bytes, PSNR against the unencoded image")
    settings = (
        ("WEBP", "method", (0, 2, 4, 6), (75, 80, 85)),
        ("AVIF", "speed", (6, 8, 9, 10), (50, 60)),
    )
    for out_size in ((300, 200), (1200, 800)):
        image = Image.open(io.BytesIO(photo_like_jpeg((1800, 1200), seed=1))).resize(out_size, Image.LANCZOS)
        reference = np.asarray(image, dtype=np.float64)
        for fmt, key, values, qualities in settings:
            for value in values:
                for quality in qualities:
                    buffer = io.BytesIO()
                    options = {"format": fmt, "quality": quality, key: value}
                    ms = median_ms(partial(encode_once, image, buffer, **options), repeat=3)
                    data = buffer.getvalue()
                    print(
                        f"  {out_size[0]}x{out_size[1]} {fmt} {key}={value} q{quality}: "
                        f"{ms:7.1f} ms {len(data):8d} B {psnr(data, reference):6.2f} dB"
                    )


if __name__ == "__main__":
    bench_render()
    bench_encoders()
