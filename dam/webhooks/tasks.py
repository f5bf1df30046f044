"""Webhook sends. Registered when the dam app is ready (``dam.webhooks.handlers.connect``)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: str, attempts: int) -> str | None:
    """Make the next attempt of a delivery; schedule the one after if it failed and some are left.

    Safe to run twice: only the message whose ``attempts`` matches the row sends (see ``_claim``).
    """
    from dam.webhooks.services import attempt_delivery

    outcome = attempt_delivery(delivery_id=delivery_id, attempts=attempts)
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        deliver_webhook.apply_async((delivery_id, outcome.attempts), countdown=outcome.retry_in)
    return outcome.state


@shared_task(acks_late=True, ignore_result=True)
def send_overdue_webhooks() -> int:
    """Queue pending deliveries whose message was lost (beat, every minute)."""
    from dam.webhooks.services import overdue_deliveries

    overdue = overdue_deliveries()
    for delivery_id, attempts in overdue:
        deliver_webhook.delay(delivery_id, attempts)
    return len(overdue)
