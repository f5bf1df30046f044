"""Collection writes."""

from __future__ import annotations

from django.db import transaction

from dam.models import Collection


def collection_for_path(path: str) -> Collection:
    """The collection at ``path`` ("Brand/Logos"), creating missing levels."""
    names = [part.strip() for part in path.split("/") if part.strip()]
    if not names:
        raise ValueError(f"collection {path!r}: a collection path needs at least one name")
    for name in names:
        if len(name) > 200:
            raise ValueError(f"collection {path!r}: the name {name[:20]!r}… is longer than 200 characters")
    parent = None
    with transaction.atomic():
        for name in names:
            parent, _ = Collection.objects.get_or_create(name=name, parent=parent)
    return parent
