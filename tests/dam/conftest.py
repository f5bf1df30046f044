from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from dam.models import CollectionPermission
from dam.services.collections import collection_for_path


@pytest.fixture
def collection(db):
    return collection_for_path("Brand/Logos")


@pytest.fixture
def librarian(db, collection):
    """A user whose group may do everything in the "Brand" tree (granted on the root)."""
    user = User.objects.create_user("lib", password="pw-lib-123", is_staff=True)
    group = Group.objects.create(name="Librarians")
    user.groups.add(group)
    root = collection.ancestors()[0]
    for action in CollectionPermission.Action.values:
        CollectionPermission.objects.create(collection=root, group=group, action=action)
    return user


@pytest.fixture
def outsider(db):
    return User.objects.create_user("outsider", password="pw-out-123", is_staff=True)
