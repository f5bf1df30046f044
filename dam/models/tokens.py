"""API tokens for integrations: shown once, stored as a hash, scoped and bound to collections."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "bf"


class TokenScope(models.TextChoices):
    READ = "read", "Read (delivery: published assets only)"
    WRITE = "write", "Write (upload, edit metadata, archive)"
    REVIEW = "review", "Review (workflow actions, audit trail)"
    GENERATE = "generate", "Generate (training and variant jobs)"


def hash_secret(secret: str) -> str:
    # The secret carries 256 bits of entropy, so a plain sha256 is enough; no slow KDF is needed.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    # The only time the full secret exists outside the caller's hands.
    plaintext: str


class ApiToken(models.Model):
    """A bearer token ``bf_<prefix>_<secret>``. The prefix finds the row; only the hash is stored.

    The token acts as ``user``: it can never do more than that user, within ``collections`` (and
    their descendants) and its ``scopes``.
    """

    name = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    collections = models.ManyToManyField("dam.Collection", related_name="api_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}_{self.prefix}_…)"

    @classmethod
    def issue(
        cls, *, name: str, user, scopes: list[str], collections, expires_at=None
    ) -> IssuedToken:
        unknown = sorted(set(scopes) - set(TokenScope.values))
        if unknown or not scopes:
            raise ValueError(f"scopes {scopes!r}: expected one or more of {', '.join(TokenScope.values)}")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        plaintext = f"{TOKEN_PREFIX}_{prefix}_{secret}"
        token = cls.objects.create(
            name=name, user=user, prefix=prefix, secret_hash=hash_secret(plaintext),
            scopes=sorted(set(scopes)), expires_at=expires_at,
        )
        token.collections.set(collections)
        return IssuedToken(token=token, plaintext=plaintext)

    def matches(self, plaintext: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(plaintext))

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_delivery_only(self) -> bool:
        """A token that can only read sees what the delivery gate allows, never work in progress."""
        return not ({TokenScope.WRITE, TokenScope.REVIEW} & set(self.scopes))

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
