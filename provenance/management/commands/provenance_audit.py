"""Verify the provenance ledger's hash chain; exit non-zero naming the first broken link."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re

from django.core.management.base import BaseCommand, CommandError

from provenance.ledger import verify_chain


def _anchor(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or int(seq) < 1 or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise argparse.ArgumentTypeError(f"{text!r} is not SEQ:HASH (a positive number and 64 hex digits)")
    return int(seq), digest


class Command(BaseCommand):
    help = (
        "Recompute every provenance ledger entry's hash and link. Prints OK with the count and the head "
        "as SEQ:HASH (record it elsewhere and pass it as --anchor later: only an outside record reveals "
        "entries cut off the end), or names the first broken link and why, exiting with status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument("--database", default=None, help="database alias (default: the router's choice)")
        parser.add_argument(
            "--anchor", type=_anchor, metavar="SEQ:HASH",
            help="an entry an earlier audit printed; the chain must still hold it (catches a cut-off end)",
        )

    def handle(self, *args, **options):
        report = verify_chain(using=options["database"], anchor=options["anchor"])
        if options["json"]:
            self.stdout.write(json.dumps(dataclasses.asdict(report), sort_keys=True))
        elif report.ok:
            self.stdout.write(f"OK: {report.checked} ledger entries verified; head {report.checked}:{report.head}")
        if not report.ok:
            raise CommandError(
                f"ledger broken at entry #{report.first_broken}: {report.reason} "
                f"({report.checked} entries before it are intact)",
                returncode=1,
            )
