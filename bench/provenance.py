"""Provenance services benchmark: sign and verify milliseconds per 512 px image.

Run by hand from the repository root (a minute or two on 2 cores), e.g.::

    nice -n 10 .venv/bin/python bench/provenance.py --count 20 --wm-count 24 \
        --out bench/RESULTS_provenance.md

It uses a throw-away SQLite database and key folder. The watermark robustness table comes from
bench/provenance_watermark.py (imported, not repeated here).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def _setup_django(var_dir: str) -> None:
    os.environ["BRANDFORGE_VAR_DIR"] = var_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("provenance_init", verbosity=0, stdout=io.StringIO())


def _timed(times: dict[str, list[float]], name: str, call: Callable[..., object], **kwargs: object) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call(**kwargs)
    times[f"{name}|cpu"].append(time.process_time() - cpu)
    times[f"{name}|wall"].append(time.perf_counter() - wall)
    return result


def measure(count: int) -> list[str]:
    import numpy as np
    from PIL import Image

    from provenance import watermark
    from provenance.c2pa import manifests
    from provenance.services import signing
    from provenance.services.verify import verify_file

    lineage = signing.Lineage(model_version="bench", snapshot_id="s", snapshot_sha256="ab" * 32)
    times: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, list[str]] = defaultdict(list)
    sizes: list[int] = []
    for seed in range(count + 1):  # the first round warms the per-process signer and contexts
        rng = np.random.default_rng(seed)
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        pixels = np.asarray(Image.fromarray(coarse).resize((512, 512), Image.BICUBIC), np.float32)
        image = Image.fromarray(np.clip(pixels + rng.normal(0, 5, pixels.shape), 0, 255).astype(np.uint8))
        png = io.BytesIO()
        image.save(png, "PNG")
        data = png.getvalue()
        round_times: dict[str, list[float]] = times if seed else defaultdict(list)
        _timed(round_times, "watermark embed only", watermark.embed, image=image, payload=seed + 1)
        options = signing.sign_options()
        wm_lineage = manifests.GenerationLineage(model_version="bench", snapshot_id="s", snapshot_sha256="ab" * 32,
                                                 watermark_id="AAAAAAAB")
        _timed(round_times, "c2pa sign only (PNG)", manifests.sign_generated,
               data=data, mime_type="image/png", title="b", lineage=wm_lineage, options=options)
        signed = _timed(round_times, "sign_generated_image (PNG, all steps)", signing.sign_generated_image,
                        data=data, mime_type="image/png", title=f"bench {seed}", lineage=lineage)
        sizes.append(len(signed.data) - len(data))
        stripped = io.BytesIO()
        Image.open(io.BytesIO(signed.data)).save(stripped, "PNG")
        altered = io.BytesIO()
        Image.open(io.BytesIO(signed.data)).resize((256, 256)).crop((13, 13, 243, 243)).save(altered, "JPEG", quality=75)
        for name, blob in (("verify: embedded manifest", signed.data), ("verify: stripped, recovered", stripped.getvalue()),
                           ("verify: JPEG q75 + resize + crop", altered.getvalue())):
            verdict = _timed(round_times, name, verify_file, data=blob)
            if seed:
                outcomes[name].append(verdict.outcome.value)
    lines = ["| step (512×512) | median wall ms | p90 wall ms | median CPU ms |", "|---|---|---|---|"]
    for key in dict.fromkeys(k.split("|")[0] for k in times):
        wall, cpu = sorted(times[f"{key}|wall"]), times[f"{key}|cpu"]
        lines.append(f"| {key} | {1000 * statistics.median(wall):.1f} | {1000 * wall[int(0.9 * len(wall))]:.1f} "
                     f"| {1000 * statistics.median(cpu):.1f} |")
    lines += ["", "Verdicts: " + "; ".join(
        f"{name}: " + ", ".join(f"{o} {values.count(o)}/{len(values)}" for o in sorted(set(values)))
        for name, values in outcomes.items()),
        f"Manifest overhead in the PNG: median {statistics.median(sizes[1:]) / 1024:.1f} KiB (thumbnail 128 px)."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="images signed and verified")
    parser.add_argument("--wm-count", type=int, default=24, help="images for the watermark robustness table")
    parser.add_argument("--out", help="write the markdown report here too")
    args = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-provenance-") as var_dir:
        _setup_django(var_dir)
        speed = measure(args.count)
    import provenance_watermark

    robustness, _ = provenance_watermark.robustness(args.wm_count, None, 1) if args.wm_count else (["- not run"], {})
    report = [
        "# Provenance services benchmark", "",
        f"{date.today()} on {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.count} images (after one warm-up), SQLite repository.", "",
        "## Sign and verify", "", *speed, "",
        f"## Watermark robustness (bench/provenance_watermark.py, {args.wm_count} images)", "", *robustness, "",
        f"Total run time {time.time() - started:.0f} s.",
    ]
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
