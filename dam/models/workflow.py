"""Review workflows: per-collection steps, the review state of each version, and its audit trail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models


class ReviewState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    REJECTED = "rejected", "Rejected"
    ARCHIVED = "archived", "Archived"
    EXPIRED = "expired", "Expired"


class Workflow(models.Model):
    """The review steps for a collection and, unless they have their own, its descendants."""

    collection = models.OneToOneField("dam.Collection", on_delete=models.CASCADE, related_name="workflow")
    name = models.CharField(max_length=200)
    allow_self_approval = models.BooleanField(
        default=False, help_text="May the uploader of a version approve it?"
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.collection})"


class WorkflowStep(models.Model):
    class Mode(models.TextChoices):
        ANY = "any", "Any one member"
        ALL = "all", "All members"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.ANY)

    class Meta:
        ordering = ["workflow", "order"]
        constraints = [models.UniqueConstraint(fields=["workflow", "order"], name="dam_step_unique_order")]

    def __str__(self) -> str:
        return f"{self.order + 1}. {self.name} ({self.group})"


class VersionReview(models.Model):
    """Where one version stands. Bound to the version's sha256: approving one file approves no other."""

    version = models.OneToOneField("dam.AssetVersion", on_delete=models.CASCADE, related_name="review")
    sha256 = models.CharField(max_length=64)
    state = models.CharField(max_length=24, choices=ReviewState.choices, default=ReviewState.DRAFT, db_index=True)
    workflow = models.ForeignKey(Workflow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    step = models.ForeignKey(WorkflowStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Bumped by every transition; a caller that read revision N and acts with it loses to whoever
    # committed N+1 first (optimistic locking).
    revision = models.PositiveIntegerField(default=0)
    # Which submission this is; approvals of earlier rounds do not count.
    round = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.version}: {self.get_state_display()}"


class StepApproval(models.Model):
    """An approval given on a step in one review round; "all members" steps count these."""

    review = models.ForeignKey(VersionReview, on_delete=models.CASCADE, related_name="approvals")
    step = models.ForeignKey(WorkflowStep, on_delete=models.CASCADE, related_name="+")
    round = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "step", "round", "user"], name="dam_stepapproval_unique")
        ]


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValidationError("The review trail is append-only.")

    def delete(self):
        raise ValidationError("The review trail is append-only.")


class ReviewTransition(models.Model):
    """One step of the audit trail. Written only by ``dam.services.workflow.transition``."""

    version = models.ForeignKey("dam.AssetVersion", on_delete=models.PROTECT, related_name="transitions")
    sha256 = models.CharField(max_length=64)
    action = models.CharField(max_length=32)
    from_state = models.CharField(max_length=24, choices=ReviewState.choices)
    to_state = models.CharField(max_length=24, choices=ReviewState.choices)
    step_name = models.CharField(max_length=200, blank=True)
    round = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # "system" for beat tasks; otherwise the actor's username at the time.
    actor_name = models.CharField(max_length=150)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.version}: {self.from_state} → {self.to_state} by {self.actor_name}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("The review trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The review trail is append-only.")
