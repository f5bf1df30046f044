"""``manage.py dam_token create|list|revoke``: API tokens for integrations.

    manage.py dam_token create --name "Website CMS" --user cms --scope read --collection Brand/Logos
    manage.py dam_token list
    manage.py dam_token revoke <prefix>
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError
from django.utils import timezone

from dam.models import ApiToken, Collection, TokenScope
from dam.selectors import CollectionPathError, collection_at_path


def _collection(path: str) -> Collection:
    try:
        return collection_at_path(path)
    except CollectionPathError as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = "Create, list or revoke API tokens."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="command", required=True)
        create = sub.add_parser("create")
        create.add_argument("--name", required=True)
        create.add_argument("--user", required=True, help="The username the token acts as.")
        create.add_argument("--scope", action="append", required=True, choices=TokenScope.values)
        create.add_argument("--collection", action="append", required=True, help="Path like Brand/Logos.")
        create.add_argument("--expires-in-days", type=int, default=None)
        sub.add_parser("list")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("prefix")

    def handle(self, *args, command: str, **options) -> None:
        getattr(self, f"_{command}")(**options)

    def _create(self, *, name, user, scope, collection, expires_in_days, **_) -> None:
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"user {user!r}: no such user")
        expires = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        issued = ApiToken.issue(name=name, user=owner, scopes=scope,
                                collections=[_collection(p) for p in collection], expires_at=expires)
        self.stderr.write("Copy this token now; it is not stored and will not be shown again:")
        self.stdout.write(issued.plaintext)

    def _list(self, **_) -> None:
        for token in ApiToken.objects.select_related("user").prefetch_related("collections"):
            state = "active" if token.is_active else ("revoked" if token.revoked_at else "expired")
            where = ", ".join(c.path for c in token.collections.all())
            self.stdout.write(f"{token.prefix}\t{state}\t{token.name}\t{token.user.get_username()}\t"
                              f"{','.join(token.scopes)}\t{where}\tlast used {token.last_used_at or 'never'}")

    def _revoke(self, *, prefix, **_) -> None:
        token = ApiToken.objects.filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"token {prefix!r}: no token with that prefix")
        token.revoke()
        self.stdout.write(f"revoked {token}")
