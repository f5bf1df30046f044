"""Ingest throughput: the whole pipeline next to a floor of Pillow decode + the same resizes alone.

Run by hand, e.g. ``nice -n 10 .venv/bin/python bench/ingest.py --n 100 --mp 2 --format jpeg``
(add ``--postgres postgres://postgres@127.0.0.1:5432`` to run against a fresh PostgreSQL database
made for the run and dropped after it). Results and the commands used are in bench/RESULTS_ingest.md.

What is measured, on the same N generated photo-like files (procedural scenes with grain, fixed
seeds, written once to a folder; ``--photos DIR`` keeps them between runs):

* floor: per file, read the bytes, Pillow open + full decode, then for each prewarm spec the same
  geometry (the rendition planner's box and size), Lanczos resize, WebP encode at the renditions'
  quality and method. No hashing, validation, metadata, database or storage.
* pipeline: per file, ``ingest_file`` (the one ingest path) then the prewarm task's body called in
  this process, ``prewarm_renditions.run(version_id)``, so its renditions are timed on the same CPU
  as the floor. For a JPEG, ``ingest_file`` enqueues the real task on commit (Celery's filesystem
  broker in the run's temp folder; no worker consumes it) and the task body makes the renditions;
  for other formats ``ingest_file`` renders them itself from the pixels it decoded, and the task
  finds them made.

Stage times come from ``inspect_file(timings=...)`` and from timing the service's collaborators
(near-duplicate scan, ingest's prewarm step, rendition source read, render) by patching them in their modules;
"store" is what is left of ``ingest_file``: the exact-duplicate lookup, the journaled file write and
the rows. Peak RSS is sampled from /proc/self/statm every 5 ms, per phase; the photos are made in
child processes so their memory never counts. One extra file warms both phases up and is not counted.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EXTS = {"jpeg": "jpg", "png": "png"}
# Scenes are drawn at 1/SCENE_SCALE of the target size and enlarged: the demo's scene generator
# takes ~2 s per 2 MP otherwise, and grain added at full size keeps files as large as real photos'.
SCENE_SCALE = 4
_PAGE = os.sysconf("SC_PAGE_SIZE")


def photo_size(mp: float) -> tuple[int, int]:
    """A 3:2 landscape frame of about ``mp`` megapixels."""
    width = round(math.sqrt(mp * 1e6 * 1.5))
    return width, round(width / 1.5)


def make_photo(*, index: int, size: tuple[int, int], fmt: str) -> bytes:
    from dam.demo import _photo

    width, height = size
    scene = _photo(width=max(8, width // SCENE_SCALE), height=max(8, height // SCENE_SCALE), seed=1000 + index)
    scene = scene.resize(size, Image.Resampling.BICUBIC)
    rng = np.random.default_rng(index)
    grain = rng.standard_normal((height, width, 3), dtype=np.float32) * 4
    pixels = np.clip(np.asarray(scene, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    else:
        # Level 1: PNG decode cost barely depends on the level, and level 6 takes ~2 s per 2 MP here.
        Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _write_photo(path: Path, index: int, size: tuple[int, int], fmt: str) -> None:
    partial = path.with_suffix(".part")
    partial.write_bytes(make_photo(index=index, size=size, fmt=fmt))
    partial.replace(path)


def photos(*, folder: Path, count: int, size: tuple[int, int], fmt: str) -> list[Path]:
    """``count`` files under ``folder`` (made by child processes; existing ones are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo-{size[0]}x{size[1]}-{i:05d}.{EXTS[fmt]}" for i in range(count)]
    missing = [(p, i) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        print(f"making {len(missing)} photos in {folder} ...", file=sys.stderr)
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(_write_photo, *zip(*[(p, i, size, fmt) for p, i in missing], strict=True)))
    return paths


class RssSampler:
    """Peak resident set size of this process, sampled by a thread (Pillow releases the GIL)."""

    def __init__(self, *, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> RssSampler:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


@dataclass
class Phase:
    name: str
    images: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    rss_start: int = 0
    rss_peak: int = 0
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def per_second(self) -> float:
        return self.images / self.wall if self.wall else 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.images / self.cpu if self.cpu else 0.0


@contextmanager
def measured(phase: Phase) -> Iterator[None]:
    phase.rss_start = RssSampler.current()
    with RssSampler() as rss:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        phase.wall += time.perf_counter() - wall
        phase.cpu += time.process_time() - cpu
    phase.rss_peak = rss.peak


def floor_one(path: Path, *, plans: list[tuple[tuple[int, int], tuple[float, ...]]], quality: int,
              method: int) -> None:
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        image.load()
        pixels = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGB")
        for size, box in plans:
            small = pixels.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
            small.save(io.BytesIO(), "WEBP", quality=quality, method=method)


def run_floor(paths: list[Path], *, warmup: Path) -> Phase:
    from dam.conf import dam_settings
    from dam.renditions import parse_spec
    from dam.renditions.operations import OUTPUT_FORMATS
    from dam.renditions.render import WEBP_METHOD

    with Image.open(warmup) as probe:
        source_size = probe.size
    plans = []
    for text in dam_settings.PREWARM_SPECS:
        spec = parse_spec(text)
        plan = spec.geometry.plan(size=source_size, focal=None)
        plans.append((plan.size, plan.box))
    options = {"plans": plans, "quality": OUTPUT_FORMATS["webp"].default_quality, "method": WEBP_METHOD}
    floor_one(warmup, **options)
    phase = Phase("floor")
    with measured(phase):
        for path in paths:
            floor_one(path, **options)
    phase.images = len(paths)
    return phase


class Stages:
    """Wall and main-thread CPU seconds per stage; inspect_file's own laps are wall time only."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.laps: dict[str, float] = defaultdict(float)

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.wall[stage] += time.perf_counter() - wall
            self.cpu[stage] += time.thread_time() - cpu

    def timed(self, stage: str, func: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            with self.timing(stage):
                return func(*args, **kwargs)
        return wrapper


def instrumented(stages: Stages) -> ExitStack:
    """Patch the ingest and rendition services' collaborators, in their modules, to time each call."""
    from dam.services import ingest, renditions

    inspect_file = ingest.inspect_file

    def inspect_with_laps(**kwargs):
        laps: dict[str, float] = {}
        try:
            with stages.timing("inspect_file"):
                return inspect_file(**kwargs, timings=laps)
        finally:
            for lap, seconds in laps.items():
                stages.laps[lap] += seconds

    stack = ExitStack()
    for module, attr, stage in (
        (ingest, "near_duplicate_of", "near-duplicate scan"),
        (ingest, "_prewarm", "prewarm in ingest"),
        (renditions, "_open_source", "rendition: read source"),
        (renditions, "render", "rendition: render"),
    ):
        stack.enter_context(mock.patch.object(module, attr, stages.timed(stage, getattr(module, attr))))
    stack.enter_context(mock.patch.object(ingest, "inspect_file", inspect_with_laps))
    return stack


def run_pipeline(paths: list[Path], *, warmup: Path) -> tuple[Phase, Stages]:
    from dam.services.collections import collection_for_path
    from dam.services.ingest import ingest_file
    from dam.tasks import prewarm_renditions

    collection = collection_for_path("Bench/Ingest")

    def one(path: Path, stages: Stages) -> None:
        with stages.timing("ingest_file"), open(path, "rb") as handle:
            result = ingest_file(name=path.name, fileobj=handle, collection=collection, user=None)
        if result.outcome != "created":
            raise SystemExit(f"{path.name}: expected a new asset, got {result.outcome!r}")
        with stages.timing("prewarm"):
            prewarm_renditions.run(result.version.pk)

    warm = Stages()
    with instrumented(warm):
        one(warmup, warm)
    phase, stages = Phase("pipeline"), Stages()
    with instrumented(stages), measured(phase):
        for path in paths:
            one(path, stages)
    phase.images = len(paths)
    return phase, stages


def stage_rows(stages: Stages) -> list[tuple[str, float, float]]:
    """(stage, wall s, CPU s), exclusive: the residues of ingest_file and prewarm named explicitly."""
    rows = []
    for clock in (stages.wall, stages.cpu):
        left = dict(clock)
        ingest, prewarm, in_ingest = left.pop("ingest_file"), left.pop("prewarm"), left.pop("prewarm in ingest")
        for nested in ("rendition: read source", "rendition: render"):
            left.setdefault(nested, 0.0)
        # Renditions are made in ingest's _prewarm (non-JPEG: from the pixels it decoded) or by the
        # task (JPEG); read/render are counted wherever they ran, the rest is queueing and storing.
        left["store (dup lookup, file, rows)"] = ingest - left["inspect_file"] - left["near-duplicate scan"] - in_ingest
        left["rendition: queue + store (lookup, file, row)"] = (
            in_ingest + prewarm - left["rendition: read source"] - left["rendition: render"])
        rows.append(left)
    wall, cpu = rows
    return [(stage, wall[stage], cpu[stage]) for stage in wall]


def report(*, args: argparse.Namespace, size: tuple[int, int], paths: list[Path], floor: Phase | None,
           pipeline: Phase, stages: Stages, db: str) -> None:
    mb = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
    print(f"\n{len(paths)} x {args.format.upper()} {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.1f} MP, "
          f"{mb:.2f} MB mean), database: {db}")
    print(f"{'phase':<10} {'images/s':>9} {'ms/image':>9} {'img/CPU-s':>10} {'RSS start':>10} {'RSS peak':>9}")
    for phase in (floor, pipeline) if floor else (pipeline,):
        print(f"{phase.name:<10} {phase.per_second:9.2f} {phase.wall / phase.images * 1000:9.1f} "
              f"{phase.per_cpu_second:10.2f} {phase.rss_start / 2**20:8.0f}MB {phase.rss_peak / 2**20:7.0f}MB")
    if floor:
        print(f"pipeline / floor throughput: wall {pipeline.per_second / floor.per_second:.0%}, "
              f"CPU {pipeline.per_cpu_second / floor.per_cpu_second:.0%}")
    print(f"ru_maxrss (whole process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    per_image = 1000 / pipeline.images
    print(f"\npipeline stages, per image{'wall ms':>19} {'share':>6} {'CPU ms':>7}")
    for stage, wall, cpu in stage_rows(stages):
        print(f"  {stage:<36} {wall * per_image:8.2f} {wall / pipeline.wall:6.1%} {cpu * per_image:7.2f}")
        if stage == "inspect_file":
            for lap, seconds in stages.laps.items():
                print(f"    {lap:<34} {seconds * per_image:8.2f} {seconds / pipeline.wall:6.1%}")
    unaccounted = pipeline.wall - stages.wall["ingest_file"] - stages.wall["prewarm"]
    print(f"  {'(loop, outside both calls)':<36} {unaccounted * per_image:8.2f}")


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A fresh database on ``server`` (postgres://user@host:port) for this run, dropped after it."""
    import psycopg

    name = f"brandforge_bench_{os.getpid()}"
    with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rstrip('/')}/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="photos to import (default 100)")
    parser.add_argument("--mp", type=float, default=2.0, help="megapixels per photo, 3:2 (default 2)")
    parser.add_argument("--format", choices=sorted(EXTS), default="jpeg")
    parser.add_argument("--photos", type=Path, help="keep the generated photos in this folder (reused)")
    parser.add_argument("--postgres", metavar="URL", help="server URL, e.g. postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--skip-floor", action="store_true", help="pipeline only (e.g. for RSS at large N)")
    parser.add_argument(
        "--processes", type=int, default=1,
        help="P > 1: throughput only, floor and pipeline each run by P processes over the files at once",
    )
    return parser.parse_args()


def _parallel(paths: list[Path], *, processes: int, work) -> float:
    """Wall seconds for ``processes`` forked processes to run ``work(share)`` over ``paths``."""
    from django.db import connections

    connections.close_all()  # each child opens its own
    shares = [paths[i::processes] for i in range(processes)]
    started = time.perf_counter()
    children = []
    for share in shares:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                work(share)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
    if failed:
        raise SystemExit(f"{len(failed)} of {processes} processes failed")
    return time.perf_counter() - started


def run_parallel(paths: list[Path], *, warmup: Path, processes: int) -> None:
    from dam.services.collections import collection_for_path
    from dam.services.ingest import ingest_file
    from dam.tasks import prewarm_renditions

    collection = collection_for_path("Bench/Ingest")

    def floor_share(share: list[Path]) -> None:
        phase = run_floor(share, warmup=warmup)
        del phase

    def pipeline_share(share: list[Path]) -> None:
        for path in share:
            with open(path, "rb") as handle:
                result = ingest_file(name=path.name, fileobj=handle, collection=collection, user=None)
            prewarm_renditions.run(result.version.pk)

    floor_s = _parallel(paths, processes=processes, work=floor_share)
    pipeline_s = _parallel(paths, processes=processes, work=pipeline_share)
    n = len(paths)
    print(f"\n{n} files, {processes} processes at once (wall clock, whole phase):")
    print(f"  floor     {n / floor_s:7.2f} images/s")
    print(f"  pipeline  {n / pipeline_s:7.2f} images/s   ({floor_s / pipeline_s:.0%} of the floor)")


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(ROOT))
    size = photo_size(args.mp)
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="brandforge-bench-ingest-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        folder = args.photos or work / "photos"
        paths = photos(folder=folder / f"{args.format}-{size[0]}x{size[1]}", count=args.n + 1, size=size,
                       fmt=args.format)
        warmup, paths = paths[0], paths[1:]
        for path in paths:  # the page cache serves both phases alike
            path.read_bytes()
        os.environ["BRANDFORGE_VAR_DIR"] = str(work / "var")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        # Never the shell's DATABASE_URL: the bench migrates and fills the database it is given.
        os.environ.pop("DATABASE_URL", None)
        if args.postgres:
            os.environ["DATABASE_URL"] = stack.enter_context(postgres_database(args.postgres))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        if args.processes > 1:
            run_parallel(paths, warmup=warmup, processes=args.processes)
            return
        floor = None if args.skip_floor else run_floor(paths, warmup=warmup)
        pipeline, stages = run_pipeline(paths, warmup=warmup)
        report(args=args, size=size, paths=paths, floor=floor, pipeline=pipeline, stages=stages,
               db="PostgreSQL" if args.postgres else "SQLite")


if __name__ == "__main__":
    main()
