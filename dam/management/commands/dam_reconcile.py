from django.core.management import BaseCommand

from dam.conf import dam_settings
from dam.services.files import reconcile_pending


class Command(BaseCommand):
    help = "Remove files that an interrupted import or rendition left without a row."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--grace", type=int, default=None,
            help="only files journaled at least this many seconds ago (default DAM_STAGING_GRACE_SECONDS)",
        )

    def handle(self, *args, grace, **options) -> None:
        removed = reconcile_pending(grace_seconds=dam_settings.STAGING_GRACE_SECONDS if grace is None else grace)
        self.stdout.write(f"Removed {removed} orphaned files.")
