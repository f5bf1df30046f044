"""REST API latency and throughput against gunicorn, on a seeded PostgreSQL library.

Run by hand, e.g.::

    nice -n 10 .venv/bin/python bench/api.py --postgres postgres://postgres@127.0.0.1:5432 \\
        --assets 100000 --seconds 10 --clients 1,16

A fresh database is made for the run and dropped after it. Seeding: one real image goes through
``ingest_file`` and the workflow (submit, approve, publish), so the rendition scenario serves a real,
signed, cached file; the other assets are bulk-inserted rows (published, one version each, three
tags, a palette) that share that stored file, because the bench measures the API, not ingest.

Scenarios, each as a delivery token (``read`` scope, bound to the root collection) with throttling
off: list (a page of 50), filtered list (tag + collection subtree + width), search (``q``, one
word of 2,000, each in about 0.5% of the assets), retrieve (a random asset), and a cached rendition (its first request is not counted).
Every request opens its own connection (gunicorn's sync workers close them). The load generator
runs on the same machine as the server, so on a small machine the two compete for CPU.

Server settings are those a deployment uses (docker-compose.yml): persistent database connections
(``DATABASE_CONN_MAX_AGE``; without them every request pays a new PostgreSQL backend and plans its
queries against a cold catalogue cache: bench/RESULTS_api.md has both). Each cell starts after
``--warmup`` seconds of the same scenario at one client per worker, not counted, so that every
worker has imported its code and opened its connection (a fresh worker's first API request takes
a few hundred milliseconds, once).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A vocabulary the size of a real library's, not two dozen words: with 25 words every word is in a
# third of the assets and a "search" is a scan of the table.
_ROOTS = ("sunset beach mountain lake forest city night river logo poster banner summer winter autumn "
          "spring launch product team office portrait studio campaign festival harbour desert").split()
WORDS = [f"{root}{i}" if i else root for i in range(80) for root in _ROOTS]


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    import psycopg

    name = f"brandforge_bench_api_{os.getpid()}"
    with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rstrip('/')}/{name}"
    finally:
        with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(*, assets: int, rng: random.Random) -> dict:
    import io

    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction

    from dam.models import (
        ApiToken,
        Asset,
        AssetVersion,
        CollectionPermission,
        ReviewState,
        Tag,
        VersionReview,
    )
    from dam.services.collections import collection_for_path
    from dam.services.ingest import ingest_file
    from dam.services.workflow import transition
    from tests.conftest import make_image

    root = collection_for_path("Bench")
    children = [collection_for_path(f"Bench/C{i}") for i in range(10)]
    group = Group.objects.create(name="CMS")
    CollectionPermission.objects.create(collection=root, group=group, action="view")
    cms = User.objects.create_user("cms")
    cms.groups.add(group)
    uploader = User.objects.create_superuser("uploader")
    reviewer = User.objects.create_superuser("reviewer")
    real = ingest_file(name="real.png", fileobj=io.BytesIO(make_image(640, 480, seed=1)), collection=root,
                       user=uploader, title="Real image").asset
    for actor, action in ((uploader, "submit"), (reviewer, "approve"), (reviewer, "publish")):
        transition(version=real.current_version, action=action, actor=actor)
    real.refresh_from_db()
    stored = real.current_version.file.name
    tags = Tag.objects.bulk_create([Tag(name=f"tag{i}") for i in range(200)])
    through = Asset.tags.through
    batch = 5000
    for start in range(0, assets, batch):
        count = min(batch, assets - start)
        with transaction.atomic():
            rows = Asset.objects.bulk_create([
                Asset(id=uuid.UUID(int=rng.getrandbits(128), version=4),
                      title=" ".join(rng.choices(WORDS, k=3)), description=" ".join(rng.choices(WORDS, k=8)),
                      collection=rng.choice(children), status=ReviewState.PUBLISHED)
                for _ in range(count)
            ])
            versions = AssetVersion.objects.bulk_create([
                AssetVersion(asset=a, number=1, file=stored, original_filename="bench.png",
                             sha256=f"{rng.getrandbits(256):064x}", size=rng.randint(10_000, 5_000_000),
                             mime="image/png", width=rng.randint(100, 4000), height=rng.randint(100, 3000),
                             mode="RGB", phash=f"{rng.getrandbits(64):016x}",
                             palette=[{"hex": f"#{rng.getrandbits(24):06x}", "weight": 0.3} for _ in range(3)])
                for a in rows
            ])
            VersionReview.objects.bulk_create([
                VersionReview(version=v, sha256=v.sha256, state=ReviewState.PUBLISHED, revision=3, round=1)
                for v in versions
            ])
            for a, v in zip(rows, versions, strict=True):
                a.current_version = v
                a.published_version = v
            Asset.objects.bulk_update(rows, ["current_version", "published_version"])
            through.objects.bulk_create([
                through(asset_id=a.pk, tag_id=t.pk) for a in rows for t in rng.sample(tags, 3)
            ])
        print(f"seeded {start + count}/{assets}", file=sys.stderr, flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    token = ApiToken.issue(name="bench", user=cms, scopes=["read"], collections=[root]).plaintext
    ids = [str(pk) for pk in Asset.objects.values_list("pk", flat=True)[:5000]]
    return {"token": token, "ids": ids, "real": str(real.pk), "child": children[3].pk}


def request(port: int, path: str, token: str) -> tuple[float, int]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        conn.close()
    return time.perf_counter() - started, status


def load(*, port: int, token: str, make_path: Callable[[random.Random], str], clients: int,
         seconds: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine, bad = [], 0
        while time.perf_counter() < deadline:
            elapsed, status = request(port, make_path(rng), token)
            mine.append(elapsed)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"n": len(latencies), "rps": len(latencies) / wall, "p50": cuts[49] * 1000,
            "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "errors": errors[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True, metavar="URL", help="e.g. postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per cell, not counted")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DATABASE_CONN_MAX_AGE of the server")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="bench-api-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        env = {**os.environ, "BRANDFORGE_VAR_DIR": str(work / "var"), "DJANGO_SETTINGS_MODULE": "config.settings",
               "DAM_API_THROTTLE_RATE": "", "DATABASE_URL": stack.enter_context(postgres_database(args.postgres))}
        server_env = {**env, "DATABASE_CONN_MAX_AGE": str(args.conn_max_age)}
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from provenance.c2pa.keys import create_dev_credentials
        from provenance.conf import key_dir

        create_dev_credentials(directory=key_dir())  # delivery renditions are signed
        started = time.perf_counter()
        data = seed(assets=args.assets, rng=random.Random(0))
        print(f"seeded {args.assets} assets in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(args.workers), "-b",
             f"127.0.0.1:{args.port}", "--log-level", "warning"], cwd=ROOT, env=server_env, start_new_session=True)
        stack.callback(lambda: (server.terminate(), server.wait(timeout=30)))
        rendition = f"/api/v1/assets/{data['real']}/renditions/fill-300x200%7Cformat-webp/"
        for _ in range(100):
            if request(args.port, "/api/v1/tags/?page_size=1", data["token"])[1] == 200:
                break
            time.sleep(0.3)
        request(args.port, rendition, data["token"])  # makes the rendition: the cells serve it cached
        ids = data["ids"]
        scenarios = {
            "list": lambda r: "/api/v1/assets/?page_size=50",
            "filtered list": lambda r: f"/api/v1/assets/?page_size=50&tags=tag{r.randrange(200)}"
                                       f"&collection={data['child']}&width_min=1000",
            "search": lambda r: f"/api/v1/assets/?page_size=50&q={r.choice(WORDS)}",
            "retrieve": lambda r: f"/api/v1/assets/{r.choice(ids)}/",
            "cached rendition": lambda r: rendition,
        }
        print(f"\n{args.assets} assets, {args.workers} gunicorn sync workers, DATABASE_CONN_MAX_AGE="
              f"{args.conn_max_age}, {args.seconds:g} s per cell after {args.warmup:g} s of warm-up; "
              f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
        print("| scenario | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, make_path in scenarios.items():
            for clients in (int(c) for c in args.clients.split(",")):
                if args.warmup > 0:
                    load(port=args.port, token=data["token"], make_path=make_path, clients=args.workers,
                         seconds=args.warmup)
                r = load(port=args.port, token=data["token"], make_path=make_path, clients=clients,
                         seconds=args.seconds)
                print(f"| {name} | {clients} | {r['n']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                      f"{r['p99']:.1f} | {r['errors']} |", flush=True)
        print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
