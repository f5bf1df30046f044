"""Collections: a tree of folders, each with group permissions inherited by its descendants."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr


class Collection(models.Model):
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # Materialised path of ancestor ids ("/1/4/9/") so "this collection and its descendants" is
    # one indexed prefix query on any database.
    path = models.CharField(max_length=1000, db_index=True, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="dam_collection_unique_name_in_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(parent__isnull=True), name="dam_collection_unique_root_name"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        names = [c.name for c in self.ancestors()] + [self.name]
        return " / ".join(names)

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2 if self.path else 0

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part][:-1]

    def ancestors(self) -> list[Collection]:
        ids = self.ancestor_ids()
        by_id = Collection.objects.in_bulk(ids)
        return [by_id[i] for i in ids if i in by_id]

    def descendants(self, *, include_self: bool = True) -> models.QuerySet[Collection]:
        qs = Collection.objects.filter(path__startswith=self.path)
        return qs if include_self else qs.exclude(pk=self.pk)

    def clean(self) -> None:
        if self.parent_id and self.pk and self.path and self.parent.path.startswith(self.path):
            raise ValidationError({"parent": "A collection cannot be moved inside itself."})

    def save(self, *args, **kwargs) -> None:
        # The path is derived from the parent chain; keep it (and the subtree's) in step on moves.
        with transaction.atomic():
            super().save(*args, **kwargs)
            new_path = (self.parent.path if self.parent_id else "/") + f"{self.pk}/"
            if new_path == self.path:
                return
            old_path, self.path = self.path, new_path
            Collection.objects.filter(pk=self.pk).update(path=new_path)
            if old_path:
                Collection.objects.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                    path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
                )


class CollectionPermission(models.Model):
    class Action(models.TextChoices):
        VIEW = "view", "View"
        ADD = "add", "Add"
        CHANGE = "change", "Change"
        APPROVE = "approve", "Approve"
        PUBLISH = "publish", "Publish"
        DELETE = "delete", "Delete"

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="group_permissions")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="collection_permissions")
    action = models.CharField(max_length=16, choices=Action.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "group", "action"], name="dam_collectionperm_unique")
        ]

    def __str__(self) -> str:
        return f"{self.group} may {self.action} in {self.collection}"
