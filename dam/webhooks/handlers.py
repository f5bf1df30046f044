"""Turn DAM changes into webhook events, inside the transaction that makes the change.

The ``dam.signals`` signals are sent after commit, too late to write the deliveries atomically with
the change; so events come from ``post_save`` of the rows that record it: a new AssetVersion (number
1: ``asset.created``; later: ``asset.updated``) and a new ReviewTransition.

Review transitions map to one event each, so a subscriber to every type sees every change:

==========================  ==================================================================
submit                      asset.submitted
approve, last step          asset.approved
approve, earlier step       asset.updated (``state`` stays ``in_review``; ``step`` names the step)
request_changes, reopen     asset.updated
reject                      asset.rejected
publish                     asset.published
archive                     asset.archived (also sent for a version superseded by a publish)
expire                      asset.expired
==========================  ==================================================================

Review comments are left out of the payload: they are internal notes, and a webhook leaves the house.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from dam.models import AssetVersion, ReviewState, ReviewTransition

_BY_ACTION = {
    "submit": "asset.submitted",
    "request_changes": "asset.updated",
    "reopen": "asset.updated",
    "reject": "asset.rejected",
    "publish": "asset.published",
    "archive": "asset.archived",
    "expire": "asset.expired",
}


def event_type_for(*, action: str, to_state: str) -> str | None:
    if action == "approve":
        return "asset.approved" if to_state == ReviewState.APPROVED else "asset.updated"
    return _BY_ACTION.get(action)


def _describe(version: AssetVersion) -> dict[str, Any]:
    asset = version.asset
    return {
        "asset": {"id": str(asset.pk), "title": asset.title, "collection": asset.collection_id, "source": asset.source},
        "version": {
            "id": version.pk, "number": version.number, "sha256": version.sha256, "mime": version.mime,
            "width": version.width, "height": version.height,
        },
    }


def _on_version_saved(sender, instance: AssetVersion, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw:
        return
    from dam.webhooks.services import publish_event

    publish_event(
        type="asset.created" if instance.number == 1 else "asset.updated",
        data={**_describe(instance), "action": "upload", "state": ReviewState.DRAFT},
    )


def _on_transition_saved(sender, instance: ReviewTransition, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw:
        return
    event_type = event_type_for(action=instance.action, to_state=instance.to_state)
    if event_type is None:
        return
    from dam.webhooks.services import publish_event

    publish_event(
        type=event_type,
        data={
            **_describe(instance.version), "action": instance.action, "state": instance.to_state,
            "previous_state": instance.from_state, "step": instance.step_name, "round": instance.round,
            "actor": instance.actor_name, "transition": instance.pk,
        },
    )


def connect() -> None:
    from dam.webhooks import tasks  # noqa: F401  (registers the tasks with Celery in every process)

    post_save.connect(_on_version_saved, sender=AssetVersion, dispatch_uid="dam_webhooks_version_saved")
    post_save.connect(_on_transition_saved, sender=ReviewTransition, dispatch_uid="dam_webhooks_transition_saved")
