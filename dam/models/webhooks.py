"""Webhook subscriptions of a CMS, the deliveries owed to them, and the log of every attempt."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models

# Events a subscription may ask for: assets from dam, training runs from generative (variant.* will
# join when generative sends them).
EVENT_TYPES: dict[str, str] = {
    "asset.created": "An asset was ingested",
    "asset.updated": "A new version was uploaded, or a review step moved without deciding",
    "asset.submitted": "A version was submitted for review",
    "asset.approved": "A version passed the last review step",
    "asset.published": "A version was published",
    "asset.rejected": "A version was rejected",
    "asset.archived": "A version was archived",
    "asset.expired": "A version's rights expired",
    "training.started": "A training run started (again, after a resume or a worker's death)",
    "training.finished": "A training run finished and registered its model version",
    "training.failed": "A training run failed (its checkpoints are kept for a resume)",
}


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class WebhookSubscription(models.Model):
    url = models.URLField(max_length=2000, help_text="http(s) endpoint of the receiver")
    secret = models.CharField(max_length=200, default=new_secret, help_text="whsec_ followed by base64")
    event_types = models.JSONField(default=list, help_text="Event types to send, e.g. asset.published")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["url", "id"]

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDelivery(models.Model):
    """One event owed to one subscription. Its id is the ``webhook-id``, the same on every attempt."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64, db_index=True)
    # The JSON body, fixed when the event happened, so a redelivery sends what was true then.
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    # Attempts in the current round; a redelivery by hand starts a new round at 0.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set while a worker sends; a worker that dies leaves it to lapse, then the delivery is free again.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription} ({self.get_state_display()})"

    @property
    def message_id(self) -> str:
        return f"msg_{self.pk.hex}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    target_ip = models.GenericIPAddressField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        outcome = self.status_code or self.error[:40] or "no response"
        return f"{self.delivery_id} at {self.started_at:%Y-%m-%d %H:%M:%S}: {outcome}"
