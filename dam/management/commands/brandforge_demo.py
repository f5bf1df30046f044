"""Prepare the demo: database, a librarian account and the sample brand library."""

from __future__ import annotations

import io
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import BaseCommand, call_command
from django.test.utils import override_settings

from dam.demo import sample_library
from dam.models import CollectionPermission
from dam.services.collections import collection_for_path
from dam.services.ingest import ingest_file
from dam.services.workflow import transition
from provenance.c2pa.keys import create_dev_credentials, credential_paths
from provenance.conf import key_dir

USERNAME = "librarian"


class Command(BaseCommand):
    help = "Migrate, create the demo librarian and import the sample brand library (idempotent)."

    def handle(self, *args, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        keys = credential_paths(directory=key_dir())
        if not keys.signer_key.exists():
            create_dev_credentials(directory=keys.directory)
            self.stdout.write(f"Development signing key and CA created under {keys.directory}.")
        password = self._librarian()
        librarian = get_user_model().objects.get(username=USERNAME)
        # Review mail would only clutter the terminal here; the visitor sees the queue in the admin.
        quiet_mail = override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
        quiet_mail.enable()
        try:
            imported = self._import_samples(librarian)
        finally:
            quiet_mail.disable()
        self.stdout.write(f"Sample library ready ({imported} new assets; the drafts await review).")
        self.stdout.write(f"Login: {USERNAME} / {password}")

    def _import_samples(self, librarian) -> int:
        imported = 0
        for sample in sample_library():
            collection = collection_for_path(sample.collection)
            result = ingest_file(
                name=sample.name, fileobj=io.BytesIO(sample.data), collection=collection, user=None,
                tags=sample.tags, source="imported", training_allowed=True,
            )
            imported += result.outcome == "created"
            if result.outcome == "created" and not sample.draft:
                # Through the real workflow, so the audit trail and ledger show how it got there.
                for action in ("submit", "approve", "publish"):
                    transition(version=result.version, action=action, actor=librarian, comment="sample library")
        return imported

    def _librarian(self) -> str:
        credentials = settings.VAR_DIR / "demo-login.txt"
        user_model = get_user_model()
        user = user_model.objects.filter(username=USERNAME).first()
        if user is not None and credentials.exists():
            return credentials.read_text().strip()
        password = secrets.token_urlsafe(9)
        user = user or user_model(username=USERNAME, email="librarian@example.com")
        user.is_staff = True
        user.set_password(password)
        user.save()
        group, _ = Group.objects.get_or_create(name="Librarians")
        group.permissions.set(Permission.objects.filter(content_type__app_label="dam"))
        user.groups.add(group)
        for root in ("Brand", "Campaigns"):
            collection = collection_for_path(root)
            for action in CollectionPermission.Action.values:
                CollectionPermission.objects.get_or_create(collection=collection, group=group, action=action)
        credentials.write_text(password + "\n")
        credentials.chmod(0o600)
        return password
