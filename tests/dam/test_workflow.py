from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from dam.exceptions import PermissionDeniedError
from dam.models import Asset, Collection, ReviewState, ReviewTransition, VersionReview
from dam.selectors import deliverable_assets, is_deliverable
from dam.services.workflow import (
    ConflictError,
    TransitionNotAllowed,
    WorkflowError,
    define_workflow,
    expire_due,
    transition,
)
from dam.signals import version_transitioned
from provenance.models import LedgerEntry
from tests.dam.workflow_helpers import build_team, upload

S = ReviewState


def state(version) -> str:
    return VersionReview.objects.get(version=version).state


@pytest.mark.django_db(transaction=True)
def test_upload_brand_legal_publish_then_delivery():
    team = build_team()
    version = upload(team, seed=1).version
    everything = Collection.objects.all()
    assert not is_deliverable(version, collections=everything)

    transition(version=version, action="submit", actor=team.librarian)
    assert [m.to for m in mail.outbox] == [["brand@example.com"]]
    transition(version=version, action="approve", actor=team.brand, comment="on brand")
    assert state(version) == S.IN_REVIEW
    assert sorted(m.to[0] for m in mail.outbox[1:]) == ["legal_a@example.com", "legal_b@example.com"]
    transition(version=version, action="approve", actor=team.legal_a)
    assert state(version) == S.IN_REVIEW  # "all members": legal_b still has to approve
    with pytest.raises(TransitionNotAllowed, match="approved"):
        transition(version=version, action="publish", actor=team.publisher)
    transition(version=version, action="approve", actor=team.legal_b)
    assert state(version) == S.APPROVED
    assert not is_deliverable(version, collections=everything)
    with pytest.raises(PermissionDeniedError, match="may not publish"):
        transition(version=version, action="publish", actor=team.librarian)
    transition(version=version, action="publish", actor=team.publisher)
    assert is_deliverable(version, collections=everything)
    assert not deliverable_assets(collections=Collection.objects.filter(name="Campaigns")).exists()

    trail = list(ReviewTransition.objects.filter(version=version).values_list("action", "step_name", "actor_name"))
    assert trail == [
        ("submit", "", "lib"), ("approve", "Brand review", "brand"), ("approve", "Legal review", "legal_a"),
        ("approve", "Legal review", "legal_b"), ("publish", "", "pub"),
    ]
    assert all(t.sha256 == version.sha256 for t in ReviewTransition.objects.filter(version=version))
    assert LedgerEntry.objects.filter(kind="dam.workflow.transition").count() == 5
    assert Asset.objects.get().status == S.PUBLISHED


@pytest.mark.django_db(transaction=True)
def test_any_one_mode_needs_one_member():
    team = build_team(legal_mode="any")
    version = upload(team, seed=2).version
    for action, actor in (("submit", team.librarian), ("approve", team.brand), ("approve", team.legal_b)):
        transition(version=version, action=action, actor=actor)
    assert state(version) == S.APPROVED


def _approve_fully(team, version):
    for action, actor in (
        ("submit", team.librarian), ("approve", team.brand), ("approve", team.legal_a), ("approve", team.legal_b)
    ):
        transition(version=version, action=action, actor=actor)


@pytest.mark.django_db(transaction=True)
def test_new_version_reviews_again_and_supersedes_on_publish():
    team = build_team()
    first = upload(team, seed=3)
    _approve_fully(team, first.version)
    transition(version=first.version, action="publish", actor=team.publisher)
    second = upload(team, seed=4, asset=first.asset).version
    assert state(second) == S.DRAFT
    asset = Asset.objects.get()
    assert asset.status == S.DRAFT and asset.published_version == first.version  # still delivered
    with pytest.raises(TransitionNotAllowed):
        transition(version=second, action="publish", actor=team.publisher)
    _approve_fully(team, second)
    transition(version=second, action="publish", actor=team.publisher)
    assert Asset.objects.get().published_version == second
    assert state(first.version) == S.ARCHIVED
    assert not is_deliverable(first.version)


@pytest.mark.django_db(transaction=True)
def test_generated_asset_enters_review_and_needs_a_person():
    team = build_team()
    version = upload(team, seed=5, source=Asset.Source.GENERATED).version
    assert state(version) == S.IN_REVIEW
    with pytest.raises(PermissionDeniedError, match="only a person"):
        transition(version=version, action="approve", actor=None)
    with pytest.raises(TransitionNotAllowed):
        transition(version=version, action="publish", actor=team.publisher)
    transition(version=version, action="approve", actor=team.brand)
    transition(version=version, action="approve", actor=team.legal_a)
    transition(version=version, action="approve", actor=team.legal_b)
    transition(version=version, action="publish", actor=team.publisher)
    assert is_deliverable(version)


@pytest.mark.django_db(transaction=True)
def test_bad_actions_get_clear_errors():
    team = build_team()
    version = upload(team, seed=6).version
    transition(version=version, action="submit", actor=team.librarian)
    with pytest.raises(PermissionDeniedError, match="assigned to Brand"):
        transition(version=version, action="approve", actor=team.legal_a)
    with pytest.raises(TransitionNotAllowed, match="must be approved"):
        transition(version=version, action="publish", actor=team.publisher)
    with pytest.raises(TransitionNotAllowed, match="unknown action"):
        transition(version=version, action="bless", actor=team.brand)
    team.brand.groups.add(*team.librarian.groups.all())
    own = upload(team, seed=7, user=team.brand).version
    transition(version=own, action="submit", actor=team.brand)
    with pytest.raises(PermissionDeniedError, match="your own upload"):
        transition(version=own, action="approve", actor=team.brand)
    transition(version=version, action="archive", actor=team.librarian)
    with pytest.raises(TransitionNotAllowed, match="archived"):
        transition(version=version, action="approve", actor=team.brand)
    assert ReviewTransition.objects.filter(version=version).count() == 2  # nothing half-done


@pytest.mark.django_db(transaction=True)
def test_expiry_stops_delivery_and_blocks_actions():
    team = build_team()
    version = upload(team, seed=8).version
    _approve_fully(team, version)
    transition(version=version, action="publish", actor=team.publisher)
    Asset.objects.filter(pk=version.asset_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert not is_deliverable(version)  # the gate checks the date, before any task runs
    assert expire_due() == 1
    assert state(version) == S.EXPIRED
    with pytest.raises(TransitionNotAllowed, match="expired"):
        transition(version=version, action="publish", actor=team.publisher)
    assert Asset.objects.get().published_version is None


@pytest.mark.django_db(transaction=True)
def test_stale_revision_is_a_conflict_and_changes_nothing():
    team = build_team(legal_mode="any")
    version = upload(team, seed=9).version
    transition(version=version, action="submit", actor=team.librarian)
    transition(version=version, action="approve", actor=team.brand)
    seen = VersionReview.objects.get(version=version).revision
    transition(version=version, action="approve", actor=team.legal_a, expected_revision=seen)
    with pytest.raises(ConflictError, match="someone else acted first"):
        transition(version=version, action="reject", actor=team.legal_b, expected_revision=seen)
    assert state(version) == S.APPROVED


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_at_once_one_wins():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race runs on PostgreSQL (CI)")
    team = build_team(legal_mode="any")
    version = upload(team, seed=10).version
    transition(version=version, action="submit", actor=team.librarian)
    transition(version=version, action="approve", actor=team.brand)
    seen = VersionReview.objects.get(version=version).revision
    barrier, results = threading.Barrier(2), []

    def act(actor, action):
        try:
            barrier.wait()
            transition(version=version, action=action, actor=actor, expected_revision=seen)
            results.append(("ok", action))
        except ConflictError:
            results.append(("conflict", action))
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=a) for a in ((team.legal_a, "approve"), (team.legal_b, "reject"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0] for r in results) == ["conflict", "ok"]
    winner = next(a for r, a in results if r == "ok")
    assert state(version) == (S.APPROVED if winner == "approve" else S.REJECTED)
    assert ReviewTransition.objects.filter(version=version).count() == 3


@pytest.mark.django_db(transaction=True)
def test_trail_is_append_only():
    team = build_team()
    version = upload(team, seed=11).version
    record = transition(version=version, action="submit", actor=team.librarian)
    with pytest.raises(ValidationError):
        record.save()
    with pytest.raises(ValidationError):
        record.delete()
    with pytest.raises(ValidationError):
        ReviewTransition.objects.all().update(comment="rewritten")
    with pytest.raises(ValidationError):
        ReviewTransition.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_signal_fires_after_commit():
    team = build_team()
    version = upload(team, seed=12).version
    received = []

    def handler(sender, transition, version, asset, **kwargs):
        received.append((transition.action, version.pk, asset.pk))

    version_transitioned.connect(handler, dispatch_uid="test-handler")
    try:
        transition(version=version, action="submit", actor=team.librarian)
    finally:
        version_transitioned.disconnect(dispatch_uid="test-handler")
    assert received == [("submit", version.pk, version.asset_id)]


@pytest.mark.django_db
def test_workflow_definitions_are_checked():
    build_team()
    root = Collection.objects.get(name="Brand")
    with pytest.raises(WorkflowError, match="no group named 'Nobody'"):
        define_workflow(collection=root, name="x", steps=[{"name": "Ghost", "group": "Nobody"}])
    with pytest.raises(WorkflowError, match="at least one step"):
        define_workflow(collection=root, name="x", steps=[])
    with pytest.raises(WorkflowError, match="mode"):
        define_workflow(collection=root, name="x", steps=[{"group": "Brand", "mode": "most"}])
    assert [s.name for s in root.workflow.steps.all()] == ["Brand review", "Legal review"]
