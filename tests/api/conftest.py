"""A small library for API tests: collections A (with A/Sub) and B, assets in every state, tokens."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from dam.models import ApiToken, Asset, Collection, CollectionPermission
from dam.services.collections import collection_for_path
from dam.services.ingest import ingest_file
from dam.services.workflow import transition
from tests.conftest import make_image

ALL_ACTIONS = ["view", "add", "change", "approve", "publish", "delete"]


@dataclass
class Library:
    a: Collection
    a_sub: Collection
    b: Collection
    uploader: User
    reviewer: User
    viewer_b: User
    nobody: User
    assets: dict[str, Asset] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> APIClient:
        """``who``: a token name, ``session:<username>``, or None for anonymous."""
        client = APIClient()
        if who is None:
            return client
        if who.startswith("session:"):
            client.force_login(User.objects.get(username=who.split(":", 1)[1]))
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        return client


def _grant(group: Group, collection: Collection, actions: list[str]) -> None:
    for action in actions:
        CollectionPermission.objects.create(collection=collection, group=group, action=action)


def add_asset(lib: Library, *, seed: int, collection: Collection, title: str, publish: bool,
              description: str = "", tags: tuple[str, ...] = (), size: tuple[int, int] = (120, 90)) -> Asset:
    result = ingest_file(
        name=f"{title}.png", fileobj=io.BytesIO(make_image(*size, seed=seed)), collection=collection,
        user=lib.uploader, title=title, tags=tags,
    )
    asset = result.asset
    if description:
        Asset.objects.filter(pk=asset.pk).update(description=description)
    if publish:
        version = asset.current_version
        transition(version=version, action="submit", actor=lib.uploader)
        transition(version=version, action="approve", actor=lib.reviewer)
        transition(version=version, action="publish", actor=lib.reviewer)
    return Asset.objects.get(pk=asset.pk)


def issue(lib: Library, name: str, *, scopes: list[str], collections: list[Collection], user: User | None = None,
          **kwargs) -> ApiToken:
    issued = ApiToken.issue(name=name, user=user or lib.reviewer, scopes=scopes, collections=collections, **kwargs)
    lib.tokens[name] = issued.plaintext
    return issued.token


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()


@pytest.fixture
def lib(db) -> Library:
    a = collection_for_path("A")
    a_sub = collection_for_path("A/Sub")
    b = collection_for_path("B")
    editors = Group.objects.create(name="Editors")
    b_viewers = Group.objects.create(name="B viewers")
    for collection in (a, b):
        _grant(editors, collection, ALL_ACTIONS)
    _grant(b_viewers, b, ["view"])
    uploader = User.objects.create_user("uploader")
    reviewer = User.objects.create_user("reviewer")
    uploader.groups.add(editors)
    reviewer.groups.add(editors)
    viewer_b = User.objects.create_user("viewer_b")
    viewer_b.groups.add(b_viewers)
    nobody = User.objects.create_user("nobody")
    lib = Library(a=a, a_sub=a_sub, b=b, uploader=uploader, reviewer=reviewer, viewer_b=viewer_b, nobody=nobody)
    lib.assets["pub_a"] = add_asset(lib, seed=1, collection=a, title="Sunset beach", publish=True,
                                    description="orange sky over the sea", tags=("summer", "beach"))
    lib.assets["draft_a"] = add_asset(lib, seed=2, collection=a, title="Draft poster", publish=False)
    lib.assets["pub_sub"] = add_asset(lib, seed=3, collection=a_sub, title="Mountain lake", publish=True,
                                      tags=("summer",), size=(200, 150))
    lib.assets["pub_b"] = add_asset(lib, seed=4, collection=b, title="Secret launch", publish=True,
                                    tags=("launch",))
    expired = add_asset(lib, seed=5, collection=a, title="Old campaign", publish=True)
    Asset.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    lib.assets["expired_a"] = Asset.objects.get(pk=expired.pk)
    issue(lib, "read", scopes=["read"], collections=[a])
    issue(lib, "write", scopes=["read", "write"], collections=[a], user=uploader)
    issue(lib, "review", scopes=["read", "review"], collections=[a])
    issue(lib, "revoked", scopes=["read"], collections=[a]).revoke()
    issue(lib, "expired", scopes=["read"], collections=[a], expires_at=timezone.now() - timedelta(minutes=1))
    return lib


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "code", "instance"} <= set(body)
    assert body["type"].endswith(body["code"])
    if code is not None:
        assert body["code"] == code, body
    return body
