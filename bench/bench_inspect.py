"""inspect_file cost per stage on this machine, for a 2 MP and a 12 MP photo-like JPEG, a PNG and an SVG.

Run by hand: ``nice -n 10 .venv/bin/python bench/bench_inspect.py``. Sources are synthetic (smooth
random fields plus grain, fixed seed) and built in memory; each figure is the fastest of the runs
(other processes only ever add time, and this machine is shared).
"""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image

from dam.ingest import IngestLimits, inspect_file

RUNS = 15


def photo_like(size: tuple[int, int], *, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (12, 18, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    grain = rng.normal(0, 8, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(coarse, dtype=np.float32) + grain, 0, 255).astype(np.uint8))


def encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def svg_logo() -> bytes:
    shapes = "".join(f'<circle cx="{20 + i * 9}" cy="{60 + (i % 5) * 10}" r="{8 + i % 7}" fill="#{i * 40 % 256:02x}3c{255 - i * 9:02x}"/>'
                     for i in range(20))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="120">{shapes}'
            '<text x="10" y="20" font-size="14">Brand</text></svg>').encode()


def measure(name: str, data: bytes) -> None:
    limits = IngestLimits()
    runs = []
    for _ in range(RUNS):
        stages: dict[str, float] = {}
        start = time.perf_counter()
        inspect_file(name=name, fileobj=io.BytesIO(data), limits=limits, timings=stages)
        stages["TOTAL"] = time.perf_counter() - start
        runs.append(stages)
    fastest = {stage: min(run[stage] for run in runs) * 1000 for stage in runs[0]}
    cells = "  ".join(f"{stage} {ms:.2f}" for stage, ms in fastest.items())
    print(f"{name:<16} {len(data) / 1e6:6.2f} MB  ms: {cells}")


def main() -> None:
    two_mp = photo_like((1732, 1155))
    measure("2MP.jpg q90", encoded(two_mp, "JPEG", quality=90))
    measure("12MP.jpg q90", encoded(photo_like((4240, 2832), seed=1), "JPEG", quality=90))
    measure("2MP.png", encoded(two_mp, "PNG"))
    measure("logo.svg", svg_logo())


if __name__ == "__main__":
    main()
