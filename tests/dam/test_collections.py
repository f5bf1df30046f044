from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from dam.models import Collection, CollectionPermission
from dam.selectors import collections_for, user_can
from dam.services.collections import collection_for_path


@pytest.mark.django_db
def test_paths_follow_the_tree_and_moves():
    logos = collection_for_path("Brand/Logos/Primary")
    brand = Collection.objects.get(name="Brand", parent=None)
    assert [c.name for c in brand.descendants()] == ["Brand", "Logos", "Primary"]
    other = collection_for_path("Archive")
    logos_parent = logos.parent
    logos_parent.parent = other
    logos_parent.save()
    logos.refresh_from_db()
    assert logos.full_name == "Archive / Logos / Primary"
    assert set(other.descendants().values_list("name", flat=True)) == {"Archive", "Logos", "Primary"}
    assert list(brand.descendants().values_list("name", flat=True)) == ["Brand"]


@pytest.mark.django_db
def test_collection_path_is_idempotent_and_rejects_empty():
    assert collection_for_path("A/B") == collection_for_path(" A / B ")
    with pytest.raises(ValueError, match="at least one name"):
        collection_for_path(" / ")


@pytest.mark.django_db
def test_permissions_inherit_down_the_tree_only():
    leaf = collection_for_path("Brand/Logos")
    sibling = collection_for_path("Campaigns")
    user = User.objects.create_user("u")
    group = Group.objects.create(name="g")
    user.groups.add(group)
    CollectionPermission.objects.create(collection=leaf.parent, group=group, action="view")
    assert user_can(user, "view", leaf)
    assert not user_can(user, "add", leaf)
    assert not user_can(user, "view", sibling)
    assert set(collections_for(user, "view")) == {leaf, leaf.parent}
    user.is_active = False
    assert not user_can(user, "view", leaf)
