"""``Authorization: Bearer bf_<prefix>_<secret>`` authentication for integrations."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from dam.models import ApiToken
from dam.models.tokens import TOKEN_PREFIX

# last_used_at is written at most this often per token: a busy CMS must not turn every read
# into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        token = self._lookup(value.strip())
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This token's user is inactive.", code="token_inactive")
        self._touch(token)
        return token.user, token

    def _lookup(self, value: str) -> ApiToken:
        parts = value.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise exceptions.AuthenticationFailed("Malformed bearer token.", code="token_invalid")
        token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
        if token is None or not token.matches(value):
            raise exceptions.AuthenticationFailed("Unknown bearer token.", code="token_invalid")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.", code="token_revoked")
        if not token.is_active:
            raise exceptions.AuthenticationFailed("This token has expired.", code="token_expired")
        return token

    @staticmethod
    def _touch(token: ApiToken) -> None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            token.last_used_at = now
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
