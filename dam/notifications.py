"""E-mail to the reviewers of the step a version now waits on (Django's mail framework)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from dam.models import AssetVersion, CollectionPermission, WorkflowStep
from dam.selectors import users_who_can

logger = logging.getLogger(__name__)


def notify_reviewers(*, version: AssetVersion, step: WorkflowStep | None) -> int:
    if step is not None:
        reviewers = step.group.user_set.filter(is_active=True)
        waiting_on = f"step “{step.name}”"
    else:
        reviewers = users_who_can(CollectionPermission.Action.APPROVE, version.asset.collection)
        waiting_on = "approval"
    addresses = sorted({u.email for u in reviewers.exclude(pk=version.created_by_id) if u.email})
    if not addresses:
        return 0
    subject = f"[BrandForge] Review needed: {version.asset.title} (v{version.number})"
    body = (
        f"“{version.asset.title}” version {version.number} in {version.asset.collection} waits on {waiting_on}.\n\n"
        f"Your review queue: {reverse('admin:dam_review_queue')}\n"
    )
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]
    try:
        return send_mass_mail(messages, fail_silently=False)
    except OSError:
        # A mail outage must not undo a committed review; it is logged for the operators.
        logger.exception("could not e-mail reviewers of %s", version)
        return 0
