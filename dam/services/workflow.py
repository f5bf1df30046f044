"""Review transitions. Every change of a version's review state passes through :func:`transition`.

The rules live here, not in views: who may act on which step, self-approval, that an approval binds
to one file (its sha256), optimistic locking, and that nothing generated is published without a
human approval. Each transition is written to the append-only trail and the provenance ledger in
the same database transaction, and announced (mail, signal) after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from dam.exceptions import DamError, PermissionDeniedError
from dam.models import (
    Asset,
    AssetVersion,
    CollectionPermission,
    ReviewState,
    ReviewTransition,
    StepApproval,
    VersionReview,
    Workflow,
    WorkflowStep,
)
from dam.selectors import user_can, workflow_for

logger = logging.getLogger(__name__)
S = ReviewState


class WorkflowError(DamError):
    default_code = "workflow_error"


class TransitionNotAllowed(WorkflowError):
    default_code = "invalid_transition"


class ConflictError(WorkflowError):
    default_code = "conflict"


@dataclass(frozen=True)
class _Outcome:
    to_state: str
    step: WorkflowStep | None


@dataclass(frozen=True)
class _Action:
    from_states: frozenset[str]
    handler: Callable[..., _Outcome]
    human_only: bool = False


def _actor_name(actor) -> str:
    return actor.get_username() if actor is not None else "system"


def _require(actor, action: str, version: AssetVersion, verb: str) -> None:
    if actor is not None and not user_can(actor, action, version.asset.collection):
        raise PermissionDeniedError(
            f"{version}: you may not {verb} in collection {version.asset.collection} (needs “{action}”)"
        )


def _require_step_member(actor, review: VersionReview, version: AssetVersion) -> None:
    step = review.step
    if step is None:  # no workflow configured: anyone who may approve in the collection
        _require(actor, CollectionPermission.Action.APPROVE, version, "review")
    elif not actor.groups.filter(pk=step.group_id).exists() and not actor.is_superuser:
        raise PermissionDeniedError(f"{version}: step “{step.name}” is assigned to {step.group}, not to you")
    workflow = review.workflow
    if version.created_by_id == actor.pk and not (workflow and workflow.allow_self_approval):
        raise PermissionDeniedError(f"{version}: this workflow does not let you review your own upload")


def _submit(review, version, actor) -> _Outcome:
    _require(actor, CollectionPermission.Action.CHANGE, version, "submit for review")
    workflow = workflow_for(version.asset.collection)
    review.workflow = workflow
    review.round += 1
    review.submitted_at = timezone.now()
    return _Outcome(S.IN_REVIEW, workflow.steps.order_by("order").first() if workflow else None)


def _required_approvers(step: WorkflowStep, review: VersionReview, version: AssetVersion):
    members = step.group.user_set.filter(is_active=True)
    if not (review.workflow and review.workflow.allow_self_approval):
        members = members.exclude(pk=version.created_by_id)
    return members


def _approve(review, version, actor) -> _Outcome:
    _require_step_member(actor, review, version)
    step = review.step
    if step is not None:
        StepApproval.objects.get_or_create(review=review, step=step, round=review.round, user=actor)
        if step.mode == WorkflowStep.Mode.ALL:
            approved = StepApproval.objects.filter(review=review, step=step, round=review.round).values("user")
            if _required_approvers(step, review, version).exclude(pk__in=approved).exists():
                return _Outcome(S.IN_REVIEW, step)  # waiting for the other members
        following = step.workflow.steps.filter(order__gt=step.order).order_by("order").first()
        if following is not None:
            return _Outcome(S.IN_REVIEW, following)
    return _Outcome(S.APPROVED, None)


def _request_changes(review, version, actor) -> _Outcome:
    _require_step_member(actor, review, version)
    return _Outcome(S.CHANGES_REQUESTED, None)


def _reject(review, version, actor) -> _Outcome:
    _require_step_member(actor, review, version)
    return _Outcome(S.REJECTED, None)


def _reopen(review, version, actor) -> _Outcome:
    _require(actor, CollectionPermission.Action.CHANGE, version, "reopen")
    return _Outcome(S.DRAFT, None)


def _publish(review, version, actor) -> _Outcome:
    _require(actor, CollectionPermission.Action.PUBLISH, version, "publish")
    asset = version.asset
    if asset.expires_at is not None and asset.expires_at <= timezone.now():
        raise TransitionNotAllowed(f"{version}: its rights expired on {asset.expires_at:%Y-%m-%d}; it cannot be published")
    human_approval = ReviewTransition.objects.filter(
        version=version, sha256=version.sha256, action="approve", actor__isnull=False
    ).exists()
    if not human_approval:
        kind = "a generated asset" if asset.source == Asset.Source.GENERATED else "this version"
        raise TransitionNotAllowed(f"{version}: {kind} cannot be published without a human approval")
    return _Outcome(S.PUBLISHED, None)


def _archive(review, version, actor) -> _Outcome:
    _require(actor, CollectionPermission.Action.DELETE, version, "archive")
    return _Outcome(S.ARCHIVED, None)


def _expire(review, version, actor) -> _Outcome:
    return _Outcome(S.EXPIRED, None)


ACTIONS: dict[str, _Action] = {
    "submit": _Action(frozenset({S.DRAFT}), _submit),
    "approve": _Action(frozenset({S.IN_REVIEW}), _approve, human_only=True),
    "request_changes": _Action(frozenset({S.IN_REVIEW}), _request_changes, human_only=True),
    "reject": _Action(frozenset({S.IN_REVIEW}), _reject, human_only=True),
    "reopen": _Action(frozenset({S.CHANGES_REQUESTED}), _reopen),
    "publish": _Action(frozenset({S.APPROVED}), _publish, human_only=True),
    "archive": _Action(frozenset(set(S.values) - {S.ARCHIVED}), _archive),
    "expire": _Action(frozenset({S.APPROVED, S.PUBLISHED}), _expire),
}


def review_for(version: AssetVersion) -> VersionReview:
    review, _ = VersionReview.objects.get_or_create(version=version, defaults={"sha256": version.sha256})
    return review


def transition(
    *, version: AssetVersion, action: str, actor, comment: str = "", expected_revision: int | None = None
) -> ReviewTransition:
    """Apply ``action`` to ``version`` as ``actor`` (None: the system, e.g. expiry).

    ``expected_revision`` is the review revision the caller saw; if someone acted in between, the
    call fails with :class:`ConflictError` and changes nothing.
    """
    spec = ACTIONS.get(action)
    if spec is None:
        raise TransitionNotAllowed(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if spec.human_only and actor is None:
        raise PermissionDeniedError(f"{version}: only a person may {action.replace('_', ' ')}")
    if len(comment) > 5000:
        raise WorkflowError("comment: at most 5,000 characters", code="invalid_comment")
    with transaction.atomic():
        review_for(version)
        review = VersionReview.objects.select_for_update(of=("self",)).select_related(
            "workflow", "step__workflow"
        ).get(version=version)
        version = AssetVersion.objects.select_related("asset__collection").get(pk=version.pk)
        if expected_revision is not None and review.revision != expected_revision:
            raise ConflictError(
                f"{version}: someone else acted first (revision {review.revision}, you saw {expected_revision}); "
                "reload and try again"
            )
        if review.state not in spec.from_states:
            allowed = " or ".join(sorted(S(v).label.lower() for v in spec.from_states))
            raise TransitionNotAllowed(
                f"{version}: cannot {action.replace('_', ' ')} a version that is "
                f"{review.get_state_display().lower()} (it must be {allowed})"
            )
        from_state, step_before = review.state, review.step
        outcome = spec.handler(review, version, actor)
        review.state, review.step = outcome.to_state, outcome.step
        review.revision += 1
        review.save()
        record = ReviewTransition.objects.create(
            version=version, sha256=version.sha256, action=action, from_state=from_state,
            to_state=outcome.to_state, step_name=step_before.name if step_before else "",
            round=review.round, actor=actor, actor_name=_actor_name(actor), comment=comment,
        )
        _sync_asset(version=version, action=action, to_state=outcome.to_state, actor=actor)
        _record_in_ledger(record, version)
        transaction.on_commit(lambda: _announce(record, version, outcome.step))
    return record


def _sync_asset(*, version: AssetVersion, action: str, to_state: str, actor) -> None:
    asset = Asset.objects.select_for_update().get(pk=version.asset_id)
    fields = ["updated_at"]
    if asset.current_version_id == version.pk:
        asset.status = to_state
        fields.append("status")
    if to_state == S.PUBLISHED:
        previous = asset.published_version
        asset.published_version = version
        fields.append("published_version")
        if previous is not None and previous.pk != version.pk:
            asset.save(update_fields=fields)
            transition(version=previous, action="archive", actor=None, comment=f"superseded by v{version.number}")
            return
    elif asset.published_version_id == version.pk and to_state in {S.ARCHIVED, S.EXPIRED}:
        asset.published_version = None
        fields.append("published_version")
    asset.save(update_fields=fields)


def _record_in_ledger(record: ReviewTransition, version: AssetVersion) -> None:
    from provenance.ledger import append_event

    append_event(
        kind="dam.workflow.transition",
        subject=f"dam.assetversion:{version.pk}",
        actor=f"user:{record.actor_id}" if record.actor_id else "system",
        payload={
            "transition": record.pk, "action": record.action, "from": record.from_state, "to": record.to_state,
            "step": record.step_name, "round": record.round, "sha256": record.sha256, "comment": record.comment,
        },
    )


def _announce(record: ReviewTransition, version: AssetVersion, next_step: WorkflowStep | None) -> None:
    from dam.notifications import notify_reviewers
    from dam.signals import version_transitioned

    if record.to_state == S.IN_REVIEW:
        notify_reviewers(version=version, step=next_step)
    version_transitioned.send(sender=ReviewTransition, transition=record, version=version, asset=version.asset)


def define_workflow(*, collection, name: str, steps: list[dict], allow_self_approval: bool = False) -> Workflow:
    """Create or replace the workflow of ``collection`` from plain data (the dam_workflow command)."""
    if not steps:
        raise WorkflowError(f"workflow {name!r}: a workflow needs at least one step", code="no_steps")
    resolved = []
    for index, step in enumerate(steps, start=1):
        group_name = step.get("group")
        step_name = step.get("name") or f"Step {index}"
        group = Group.objects.filter(name=group_name).first()
        if group is None:
            raise WorkflowError(f"workflow {name!r}, step {index} ({step_name}): no group named {group_name!r}",
                                code="unknown_group")
        mode = step.get("mode", WorkflowStep.Mode.ANY)
        if mode not in WorkflowStep.Mode.values:
            raise WorkflowError(f"workflow {name!r}, step {index}: mode must be 'any' or 'all', not {mode!r}",
                                code="invalid_mode")
        resolved.append(WorkflowStep(order=index - 1, name=step_name[:200], group=group, mode=mode))
    with transaction.atomic():
        workflow, _ = Workflow.objects.update_or_create(
            collection=collection, defaults={"name": name, "allow_self_approval": allow_self_approval}
        )
        in_flight = list(VersionReview.objects.filter(step__workflow=workflow).values_list("pk", flat=True))
        VersionReview.objects.filter(pk__in=in_flight).update(step=None)
        workflow.steps.all().delete()
        for step in resolved:
            step.workflow = workflow
        WorkflowStep.objects.bulk_create(resolved)
        # Reviews in flight restart at the first step of the new definition.
        VersionReview.objects.filter(pk__in=in_flight).update(step=workflow.steps.order_by("order").first())
    return workflow


def expire_due(*, now=None) -> int:
    """Expire approved/published versions whose asset's rights have passed. Returns the count."""
    now = now or timezone.now()
    due = VersionReview.objects.filter(
        state__in=[S.APPROVED, S.PUBLISHED], version__asset__expires_at__lte=now
    ).values_list("version_id", flat=True)
    count = 0
    for version in AssetVersion.objects.filter(pk__in=list(due)):
        try:
            transition(version=version, action="expire", actor=None, comment="rights expired")
            count += 1
        except (ConflictError, TransitionNotAllowed):
            logger.info("%s changed while expiring; skipped", version)
    return count
