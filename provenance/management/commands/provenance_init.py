"""Create the development CA and ES256 signing certificate under PROVENANCE_KEY_DIR."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from provenance.c2pa.keys import KeyMaterialExistsError, create_dev_credentials
from provenance.conf import key_dir


class Command(BaseCommand):
    help = "Create a local CA and an ES256 C2PA signing certificate for development (never for production)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="replace existing key material")
        parser.add_argument("--directory", type=Path, help="write here instead of PROVENANCE_KEY_DIR")
        parser.add_argument("--organization", default="BrandForge Development")

    def handle(self, *args, **options):
        directory = options["directory"] or key_dir()
        try:
            paths = create_dev_credentials(
                directory=directory, force=options["force"], organization=options["organization"]
            )
        except KeyMaterialExistsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"signing key:   {paths.signer_key} (mode 0600)")
        self.stdout.write(f"chain:         {paths.chain}")
        self.stdout.write(f"trust anchor:  {paths.ca_cert}")
