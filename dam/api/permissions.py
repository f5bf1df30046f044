"""Who the caller is and what they may reach: the one place API scoping is decided.

- A session user sees the assets of the collections they may view (``assets_visible_to``).
- A token acts as its user, narrowed to its collections (with descendants) and its scopes.
  A token whose only scope is ``read`` is a delivery token: it sees exactly what the delivery
  gate (``deliverable_assets``) allows: published, unexpired assets, and only their published
  version. Tokens with ``write`` or ``review`` see work in progress in their collections too.
- Anything outside the caller's reach answers 404, never 403, so its existence does not leak.
  403 is kept for "you can see it but this token's scopes do not allow that".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q, QuerySet
from rest_framework import permissions

from dam.api.errors import InsufficientScope
from dam.models import ApiToken, Asset, AssetVersion, Collection, CollectionPermission, TokenScope
from dam.selectors import collections_for, deliverable_assets

# What an HTTP method needs, unless a view names its own ``required_scope``.
METHOD_SCOPES = {
    "GET": TokenScope.READ,
    "HEAD": TokenScope.READ,
    "OPTIONS": TokenScope.READ,
    "POST": TokenScope.WRITE,
    "PUT": TokenScope.WRITE,
    "PATCH": TokenScope.WRITE,
    "DELETE": TokenScope.WRITE,
}


@dataclass
class Caller:
    user: object
    token: ApiToken | None

    @property
    def owner_key(self) -> str:
        return f"token:{self.token.pk}" if self.token is not None else f"user:{self.user.pk}"

    @property
    def is_delivery(self) -> bool:
        return self.token is not None and self.token.is_delivery_only

    def has_scope(self, scope: str) -> bool:
        return self.token is None or self.token.has_scope(scope)

    @cached_property
    def collections(self) -> QuerySet[Collection]:
        """Collections the caller may view: the user's, narrowed to the token's subtrees."""
        viewable = collections_for(self.user, CollectionPermission.Action.VIEW)
        if self.token is None:
            return viewable
        paths = list(self.token.collections.values_list("path", flat=True))
        if not paths:
            return Collection.objects.none()
        subtree = Q()
        for path in paths:
            subtree |= Q(path__startswith=path)
        return viewable.filter(subtree)

    def assets(self) -> QuerySet[Asset]:
        if self.is_delivery:
            return deliverable_assets(collections=self.collections)
        return Asset.objects.filter(collection__in=self.collections)

    def versions(self, asset: Asset) -> QuerySet[AssetVersion]:
        """The versions of a reachable ``asset`` the caller may see: delivery gets the published one."""
        if self.is_delivery:
            return AssetVersion.objects.filter(pk=asset.published_version_id)
        return asset.versions.all()


def caller_of(request) -> Caller:
    cached = getattr(request, "_brandforge_caller", None)
    if cached is None:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        cached = Caller(user=request.user, token=token)
        request._brandforge_caller = cached
    return cached


class TokenScopePermission(permissions.BasePermission):
    """Authenticated, and a token holds the scope the view or the method needs."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if not hasattr(view, request.method.lower()):
            return True  # the view answers 405; a scope error would hide that
        scope = getattr(view, "required_scope", None) or METHOD_SCOPES.get(request.method, TokenScope.WRITE)
        if not caller_of(request).has_scope(scope):
            raise InsufficientScope(f"This token lacks the {scope!r} scope needed for {request.method} here.")
        return True
