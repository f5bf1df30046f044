"""Builders for workflow tests: a collection with Brand → Legal steps and the people in them."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission, User

from dam.models import Asset, Collection, CollectionPermission
from dam.services.collections import collection_for_path
from dam.services.ingest import ingest_file
from dam.services.workflow import define_workflow
from tests.conftest import make_image


@dataclass
class Team:
    collection: Collection
    librarian: User
    brand: User
    legal_a: User
    legal_b: User
    publisher: User
    outsider: User


def _user(name: str, *groups: Group) -> User:
    user = User.objects.create_user(name, email=f"{name}@example.com", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="dam"))
    user.groups.add(*groups)
    return user


def build_team(*, legal_mode: str = "all") -> Team:
    collection = collection_for_path("Brand/Logos")
    root = collection.parent
    librarians, brand, legal, publishers = (Group.objects.create(name=n) for n in ("Librarians", "Brand", "Legal", "Publishers"))
    for group, actions in (
        (librarians, ["view", "add", "change", "delete"]),
        (brand, ["view"]),
        (legal, ["view"]),
        (publishers, ["view", "publish"]),
    ):
        for action in actions:
            CollectionPermission.objects.create(collection=root, group=group, action=action)
    define_workflow(
        collection=root, name="Brand sign-off",
        steps=[{"name": "Brand review", "group": "Brand"}, {"name": "Legal review", "group": "Legal", "mode": legal_mode}],
    )
    return Team(
        collection=collection,
        librarian=_user("lib", librarians),
        brand=_user("brand", brand),
        legal_a=_user("legal_a", legal),
        legal_b=_user("legal_b", legal),
        publisher=_user("pub", publishers),
        outsider=_user("outsider"),
    )


def upload(team: Team, *, seed: int, asset: Asset | None = None, source: str = Asset.Source.UPLOADED, user=None):
    data = make_image(120, 90, seed=seed)
    return ingest_file(
        name=f"file-{seed}.png", fileobj=io.BytesIO(data), collection=team.collection,
        user=user if user is not None else (team.librarian if source != Asset.Source.GENERATED else None),
        asset=asset, source=source,
    )
