"""Per-token throttling (a session user is throttled per user)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from dam.api.conf import api_settings
from dam.api.permissions import caller_of


class TokenRateThrottle(SimpleRateThrottle):
    """Per token (or per session user) rate, ``DAM_API_THROTTLE_RATE`` (e.g. ``"600/min"``)."""

    scope = "api"

    def get_rate(self) -> str | None:
        return api_settings.THROTTLE_RATE or None

    def allow_request(self, request, view) -> bool:
        # The rate is read per request, so changing the setting takes effect without a restart.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": caller_of(request).owner_key}
