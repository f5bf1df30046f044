"""Subscriptions, events and deliveries.

An event becomes one :class:`WebhookDelivery` row per matching subscription, written in the
transaction that made the change (so an event exists if and only if the change committed); the send
is queued on commit. A delivery is sent by :func:`attempt_delivery` and retried with exponential
backoff until it is delivered or has used ``DAM_WEBHOOK_MAX_ATTEMPTS``; :func:`redeliver` starts it
again by hand.
"""

from __future__ import annotations

import errno
import json
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from dam.conf import dam_settings
from dam.exceptions import DamError
from dam.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from dam.models.webhooks import EVENT_TYPES, new_secret
from dam.webhooks import signing, transport
from dam.webhooks.targets import InvalidWebhookTarget, check_target

USER_AGENT = "BrandForge-Webhooks/1"
# A worker that dies mid-send holds its delivery this long past the request timeout.
LEASE_MARGIN_SECONDS = 30
# Errors after which the next address of the host is worth trying within the same attempt.
_NEXT_ADDRESS_ERRNOS = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}
D = WebhookDelivery.State


class WebhookError(DamError):
    default_code = "webhook_error"


class DeliveryInProgress(WebhookError):
    default_code = "delivery_in_progress"


def clean_subscription_fields(
    *, url: str | None = None, event_types: list[str] | None = None, secret: str | None = None
) -> dict[str, Any]:
    """Check the fields given (target allowed, event types known, secret well formed); return them cleaned.

    Raises :class:`WebhookError` naming the field and the reason.
    """
    cleaned: dict[str, Any] = {}
    if url is not None:
        try:
            check_target(url=url)
        except InvalidWebhookTarget as exc:
            raise WebhookError(str(exc), code="invalid_target") from exc
        cleaned["url"] = url.strip()
    if event_types is not None:
        unknown = sorted(set(event_types) - set(EVENT_TYPES))
        if unknown:
            raise WebhookError(
                f"event types {', '.join(unknown)} are unknown; expected some of {', '.join(EVENT_TYPES)}",
                code="invalid_event_type",
            )
        if not event_types:
            raise WebhookError("event types: choose at least one", code="invalid_event_type")
        cleaned["event_types"] = sorted(set(event_types))
    if secret is not None:
        try:
            signing.secret_key(secret)
        except signing.InvalidSecret as exc:
            raise WebhookError(str(exc), code="invalid_secret") from exc
        cleaned["secret"] = secret
    return cleaned


def subscribe(
    *, url: str, event_types: list[str], secret: str | None = None, description: str = "", is_active: bool = True,
    user=None,
) -> WebhookSubscription:
    """A new subscription; without ``secret`` one is made (read it back from the result)."""
    cleaned = clean_subscription_fields(url=url, event_types=event_types, secret=secret)
    subscription = WebhookSubscription(
        url=cleaned["url"], event_types=cleaned["event_types"], secret=secret or new_secret(),
        description=description, is_active=is_active, created_by=user if getattr(user, "pk", None) else None,
    )
    subscription.full_clean()
    subscription.save()
    return subscription


def update_subscription(*, subscription: WebhookSubscription, **changes: Any) -> WebhookSubscription:
    """Change url, event_types, description, is_active or secret, with the same checks as :func:`subscribe`."""
    allowed = {"url", "event_types", "description", "is_active", "secret"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise WebhookError(f"cannot change {', '.join(unknown)}", code="invalid_field")
    changes.update(clean_subscription_fields(
        url=changes.get("url"), event_types=changes.get("event_types"), secret=changes.get("secret")
    ))
    for name, value in changes.items():
        setattr(subscription, name, value)
    subscription.full_clean()
    subscription.save()
    return subscription


def unsubscribe(*, subscription: WebhookSubscription) -> None:
    """Delete the subscription and its delivery log; pending deliveries are dropped with it."""
    subscription.delete()


def publish_event(*, type: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Owe ``type`` to every active subscription that asked for it; sends are queued on commit."""
    if type not in EVENT_TYPES:
        raise WebhookError(f"event type {type!r} is unknown", code="invalid_event_type")
    # Subscriptions are few; filtering the list here works the same on every database backend.
    subscriptions = [s for s in WebhookSubscription.objects.filter(is_active=True) if type in s.event_types]
    if not subscriptions:
        return []
    now = timezone.now()
    payload = {"type": type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(subscription=s, event_type=type, payload=payload, next_attempt_at=now) for s in subscriptions]
    )
    for delivery in deliveries:
        _enqueue_on_commit(delivery.pk, attempts=0)
    return deliveries


def _enqueue_on_commit(delivery_id, *, attempts: int) -> None:
    from dam.webhooks.tasks import deliver_webhook

    deliver_webhook.delay_on_commit(str(delivery_id), attempts)


def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery`` again from a fresh round of attempts (same ``webhook-id``, new signature)."""
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.locked_until is not None and locked.locked_until > now:
            raise DeliveryInProgress(f"delivery {locked.message_id} is being sent right now; try again shortly")
        locked.state, locked.attempts, locked.next_attempt_at = D.PENDING, 0, now
        locked.save(update_fields=["state", "attempts", "next_attempt_at"])
        _enqueue_on_commit(locked.pk, attempts=0)
    return locked


def backoff_seconds(*, attempts: int) -> float:
    """Wait before attempt ``attempts + 1``: base·2ⁿ⁻¹ plus up to 20% jitter, capped.

    The jitter keeps deliveries that failed together in an outage from all retrying at the same moment.
    """
    base, cap = dam_settings.WEBHOOK_BACKOFF_BASE, dam_settings.WEBHOOK_BACKOFF_MAX
    delay = base * 2 ** max(attempts - 1, 0)
    return min(cap, delay * (1 + random.uniform(0, 0.2)))


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: str
    attempts: int
    state: str
    retry_in: float | None  # seconds until the next attempt, None when there is none


def _claim(delivery_id: str, *, attempts: int) -> bool:
    # Only the task that expects the current attempt count sends: a duplicate message, or one left
    # from before a redelivery, finds the count moved on and does nothing.
    now = timezone.now()
    lease = timedelta(seconds=dam_settings.WEBHOOK_TIMEOUT + LEASE_MARGIN_SECONDS)
    return bool(
        WebhookDelivery.objects.filter(pk=delivery_id, state=D.PENDING, attempts=attempts)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + lease, attempts=F("attempts") + 1)
    )


def _send(delivery: WebhookDelivery) -> tuple[WebhookAttempt, bool]:
    attempt = WebhookAttempt(delivery=delivery, started_at=timezone.now())
    subscription = delivery.subscription
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {
        **signing.signed_headers(
            secret=subscription.secret, message_id=delivery.message_id, timestamp=int(time.time()), body=body
        ),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        # Checked again at each attempt: the name may resolve elsewhere than when it was subscribed.
        target = check_target(url=subscription.url)
    except InvalidWebhookTarget as exc:
        attempt.error = str(exc)
        return attempt, False
    for address in target.addresses:
        attempt.target_ip = str(address)
        try:
            response = transport.post(
                target=target, address=address, body=body, headers=headers,
                timeout=dam_settings.WEBHOOK_TIMEOUT, excerpt_chars=dam_settings.WEBHOOK_RESPONSE_EXCERPT,
            )
        except OSError as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
            if exc.errno in _NEXT_ADDRESS_ERRNOS:
                continue
            return attempt, False
        except Exception as exc:  # http.client's protocol errors and anything a broken peer provokes
            attempt.error = f"{type(exc).__name__}: {exc}"
            return attempt, False
        attempt.status_code, attempt.response_ms = response.status, response.elapsed_ms
        attempt.response_excerpt = response.body_excerpt
        if not 200 <= response.status < 300:
            attempt.error = f"HTTP {response.status}"
        return attempt, 200 <= response.status < 300
    return attempt, False


def attempt_delivery(*, delivery_id: str, attempts: int) -> AttemptOutcome | None:
    """Make attempt ``attempts + 1`` of a delivery and log it; None if it is not this call's to make."""
    if not _claim(delivery_id, attempts=attempts):
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    if not delivery.subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=D.FAILED, locked_until=None, next_attempt_at=None, last_error="the subscription is inactive"
        )
        return AttemptOutcome(str(delivery_id), delivery.attempts, D.FAILED, None)
    attempt, succeeded = _send(delivery)
    attempt.succeeded = succeeded
    now = timezone.now()
    retry_in = None
    fields: dict[str, Any] = {"locked_until": None, "last_status_code": attempt.status_code, "last_error": attempt.error}
    if succeeded:
        fields.update(state=D.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif delivery.attempts >= dam_settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(state=D.FAILED, next_attempt_at=None)
    else:
        retry_in = backoff_seconds(attempts=delivery.attempts)
        fields.update(next_attempt_at=now + timedelta(seconds=retry_in))
    with transaction.atomic():
        attempt.save()
        WebhookDelivery.objects.filter(pk=delivery_id).update(**fields)
    return AttemptOutcome(str(delivery_id), delivery.attempts, fields.get("state", D.PENDING), retry_in)


def overdue_deliveries(*, grace_seconds: float = 60) -> list[tuple[str, int]]:
    """Pending deliveries whose send was lost (broker down at commit, worker killed): (id, attempts)."""
    now = timezone.now()
    return [
        (str(pk), attempts)
        for pk, attempts in WebhookDelivery.objects.filter(
            state=D.PENDING, next_attempt_at__lte=now - timedelta(seconds=grace_seconds)
        ).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now)).values_list("pk", "attempts")[:1000]
    ]
