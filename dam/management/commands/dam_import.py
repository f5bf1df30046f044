"""``manage.py dam_import PATH... [--collection NAME] [--tag T]``: bulk ingest with a summary."""

from __future__ import annotations

from collections import Counter

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError
from tqdm import tqdm

from dam.conf import dam_settings
from dam.exceptions import PermissionDeniedError
from dam.ingest import RejectedFile
from dam.ingest.sources import iter_sources
from dam.models import Asset
from dam.services.collections import collection_for_path
from dam.services.files import reconcile_pending
from dam.services.ingest import ingest_file, ingest_limits


class Command(BaseCommand):
    help = "Import image files, folders (recursively) and zip archives into a collection."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--collection", default="Imported", help='collection path, e.g. "Brand/Logos"')
        parser.add_argument("--tag", action="append", default=[], dest="tags", help="tag (repeatable)")
        parser.add_argument("--user", help="import as this user, with their permissions (default: system)")
        parser.add_argument("--training-allowed", action="store_true", help="mark imported assets as trainable")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, paths, collection, tags, user, training_allowed, no_progress, **options) -> None:
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"--user {user!r}: no active user with that name")
        try:
            target = collection_for_path(collection)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        # Files left by an import that was killed long enough ago are cleaned up first.
        reconcile_pending(grace_seconds=dam_settings.STAGING_GRACE_SECONDS)

        sources = list(iter_sources(paths=paths, limits=ingest_limits()))
        counts: Counter[str] = Counter()
        rejected: list[str] = []
        near: list[str] = []
        bar = tqdm(sources, unit="file", disable=no_progress or None, file=self.stderr._out, dynamic_ncols=True)
        for source in bar:
            bar.set_postfix_str(source.name[-40:], refresh=False)
            try:
                with source.opener() as handle:
                    result = ingest_file(
                        name=source.name, fileobj=handle, collection=target, user=actor, tags=tags,
                        source=Asset.Source.IMPORTED, training_allowed=training_allowed,
                    )
            except (RejectedFile, PermissionDeniedError) as exc:
                counts["rejected"] += 1
                rejected.append(str(exc))
                continue
            counts["imported" if result.outcome != "duplicate" else "duplicates"] += 1
            if result.near_duplicate_of is not None and result.outcome != "duplicate":
                near.append(f"{source.name}: near duplicate of “{result.near_duplicate_of.asset.title}”")
        bar.close()

        self.stdout.write(
            f"Imported {counts['imported']}, duplicates {counts['duplicates']}, rejected {counts['rejected']} "
            f"into {target}."
        )
        for line in near:
            self.stdout.write(f"  flagged  {line}")
        for line in rejected:
            self.stdout.write(self.style.ERROR(f"  rejected {line}"))
