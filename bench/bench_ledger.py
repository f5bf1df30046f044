"""Ledger append and audit throughput, in a throwaway test database (the ledger cannot be emptied).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test nice -n 10 .venv/bin/python bench/bench_ledger.py
Without DATABASE_URL it measures SQLite under var/.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import django


def appends(*, count: int, start: int) -> None:
    from provenance.ledger import append_event

    for i in range(start, start + count):
        append_event(
            kind="dam.ingest", subject=f"dam.assetversion:{i}", actor="user:1",
            payload={"sha256": f"{i:064x}", "width": 1024, "height": 768, "filename": f"asset-{i}.png"},
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serial", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--per-thread", type=int, default=500)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection, connections

    from provenance.ledger import verify_chain

    old_name = connection.settings_dict["NAME"]
    # Its own database name: the shared "test_…" one may belong to someone's test run right now.
    bench_name = f"bench_ledger_{os.getpid()}"
    if connection.vendor == "sqlite":
        bench_name = str(Path(settings.VAR_DIR) / f"{bench_name}.sqlite3")
    connection.settings_dict["TEST"]["NAME"] = bench_name
    connection.creation.create_test_db(verbosity=0)
    try:
        print(f"database: {connection.vendor}")
        began = time.perf_counter()
        appends(count=args.serial, start=0)
        elapsed = time.perf_counter() - began
        print(f"serial append:   {args.serial / elapsed:8.0f} entries/s ({elapsed / args.serial * 1000:.2f} ms each)")

        def worker(n: int) -> None:
            try:
                appends(count=args.per_thread, start=args.serial + n * args.per_thread)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        total = args.threads * args.per_thread
        print(f"{args.threads} threads append: {total / elapsed:8.0f} entries/s")

        began = time.perf_counter()
        report = verify_chain()
        elapsed = time.perf_counter() - began
        print(f"verify_chain:    {report.checked / elapsed:8.0f} entries/s ({report.checked} entries, ok={report.ok})")
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
