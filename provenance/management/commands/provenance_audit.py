"""Verify the provenance ledger's hash chain; exit non-zero naming the first broken link."""

from __future__ import annotations

import dataclasses
import json

from django.core.management.base import BaseCommand, CommandError

from provenance.ledger import verify_chain


class Command(BaseCommand):
    help = (
        "Recompute every provenance ledger entry's hash and link. Prints OK with the count and the head "
        "hash (record it elsewhere: only an outside record reveals entries cut off the end), or names the "
        "first broken link and why, exiting with status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument("--database", default=None, help="database alias (default: the router's choice)")

    def handle(self, *args, **options):
        report = verify_chain(using=options["database"])
        if options["json"]:
            self.stdout.write(json.dumps(dataclasses.asdict(report), sort_keys=True))
        elif report.ok:
            self.stdout.write(f"OK: {report.checked} ledger entries verified; head {report.head}")
        if not report.ok:
            raise CommandError(
                f"ledger broken at entry #{report.first_broken}: {report.reason} "
                f"({report.checked} entries before it are intact)",
                returncode=1,
            )
