"""Verify a file's Content Credentials: ``manage.py provenance_verify FILE [--json]``."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from provenance.conf import provenance_settings
from provenance.services.verify import verify_file


class Command(BaseCommand):
    help = "Verify a file: embedded manifest, else watermark and manifest repository, else resemblance."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true", help="print the full verdict as JSON")

    def handle(self, *args, **options):
        path: Path = options["file"]
        limit = provenance_settings.MAX_VERIFY_BYTES
        try:
            size = path.stat().st_size
            if size > limit:
                raise CommandError(f"{path}: {size} bytes, more than PROVENANCE_MAX_VERIFY_BYTES={limit}")
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: cannot be read ({exc.strerror})") from exc
        verdict = verify_file(data=data)
        if options["json"]:
            self.stdout.write(json.dumps(verdict.as_json(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(f"{path}: {verdict.outcome.value}\n{verdict.summary}")
