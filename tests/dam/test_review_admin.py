"""Reviewer screens, the dam_workflow command and delivery links."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from dam.models import Collection, ReviewState, VersionReview
from dam.services.renditions import DELIVERY, rendition_url
from dam.services.workflow import transition
from tests.dam.workflow_helpers import build_team, upload


@pytest.mark.django_db(transaction=True)
def test_queue_shows_my_steps_oldest_first_and_bulk_approves(client):
    team = build_team(legal_mode="any")
    first, second = upload(team, seed=21).version, upload(team, seed=22).version
    for version in (first, second):
        transition(version=version, action="submit", actor=team.librarian)
    client.force_login(team.legal_a)
    assert "Nothing waits on you" in client.get(reverse("admin:dam_review_queue")).content.decode()
    client.force_login(team.brand)
    page = client.get(reverse("admin:dam_review_queue")).content.decode()
    assert page.index("file 21") < page.index("file 22")
    assert page.count('src="/dam/renditions/') == 2
    form = {"action": "approve", "comment": "looks right", "version": [first.pk, second.pk]}
    for version in (first, second):
        form[f"revision-{version.pk}"] = VersionReview.objects.get(version=version).revision
    client.post(reverse("admin:dam_review_queue"), form)
    for version in (first, second):
        review = VersionReview.objects.get(version=version)
        assert review.step.name == "Legal review"
        assert version.transitions.last().comment == "looks right"
    client.force_login(team.legal_a)
    assert "file 21" in client.get(reverse("admin:dam_review_queue")).content.decode()


@pytest.mark.django_db(transaction=True)
def test_bulk_decision_with_a_stale_revision_reports_the_conflict(client):
    team = build_team(legal_mode="any")
    version = upload(team, seed=23).version
    transition(version=version, action="submit", actor=team.librarian)
    stale = VersionReview.objects.get(version=version).revision
    transition(version=version, action="approve", actor=team.brand)
    client.force_login(team.brand)
    response = client.post(
        reverse("admin:dam_review_queue"),
        {"action": "reject", "version": [version.pk], f"revision-{version.pk}": stale},
        follow=True,
    )
    assert "someone else acted first" in response.content.decode()
    assert VersionReview.objects.get(version=version).state == ReviewState.IN_REVIEW


@pytest.mark.django_db(transaction=True)
def test_compare_view_shows_both_versions_and_the_trail(client):
    team = build_team()
    first = upload(team, seed=24)
    second = upload(team, seed=25, asset=first.asset).version
    transition(version=second, action="submit", actor=team.librarian, comment="new colours")
    client.force_login(team.brand)
    page = client.get(reverse("admin:dam_review_compare", args=[second.pk])).content.decode()
    assert "v1 ·" in page and "v2 ·" in page and "new colours" in page
    client.force_login(team.outsider)
    assert client.get(reverse("admin:dam_review_compare", args=[second.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_delivery_links_serve_only_while_published(client):
    team = build_team(legal_mode="any")
    version = upload(team, seed=26).version
    url = rendition_url(version=version, spec="width-50|format-png", audience=DELIVERY)
    assert client.get(url).status_code == 404  # draft: a guessed or early link gets nothing
    for action, actor in (("submit", team.librarian), ("approve", team.brand), ("approve", team.legal_a)):
        transition(version=version, action=action, actor=actor)
    assert client.get(url).status_code == 404  # approved is not published
    transition(version=version, action="publish", actor=team.publisher)
    assert client.get(url).status_code == 200
    transition(version=version, action="archive", actor=team.librarian)
    assert client.get(url).status_code == 404  # a previously issued link dies with the state


@pytest.mark.django_db(transaction=True)
def test_dam_workflow_command(tmp_path):
    build_team()
    good = tmp_path / "wf.yaml"
    good.write_text(
        "collection: Brand/Logos\nname: Logo sign-off\nsteps:\n"
        "  - {name: Legal first, group: Legal, mode: all}\n  - {name: Brand, group: Brand}\n"
    )
    out = io.StringIO()
    call_command("dam_workflow", str(good), stdout=out)
    assert "Logo sign-off" in out.getvalue()
    logos = Collection.objects.get(name="Logos")
    assert [s.name for s in logos.workflow.steps.all()] == ["Legal first", "Brand"]
    cases = {
        "collection: Brand/Logos\nsteps:\n  - {name: X, group: Ghosts}\n": "no group named 'Ghosts'",
        "collection: Brand/Logos\nsteps: []\n": "at least one step",
        "collection: Nowhere\nsteps:\n  - {group: Brand}\n": "no collection named 'Nowhere'",
        "steps: [": "not valid YAML",
    }
    for text, message in cases.items():
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(CommandError, match=message):
            call_command("dam_workflow", str(bad))
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("dam_workflow", str(tmp_path / "missing.yaml"))


@pytest.mark.django_db(transaction=True)
def test_delivered_renditions_carry_a_trusted_manifest_with_the_original_as_parent(client):
    from provenance.c2pa.reading import read_manifest
    from provenance.services.signing import trust_config

    team = build_team(legal_mode="any")
    version = upload(team, seed=27).version
    for action, actor in (
        ("submit", team.librarian), ("approve", team.brand), ("approve", team.legal_a), ("publish", team.publisher)
    ):
        transition(version=version, action=action, actor=actor)
    for spec, mime in (("fill-60x60|format-jpeg", "image/jpeg"), ("width-60|format-webp", "image/webp"),
                       ("width-60|format-png", "image/png"), ("width-60|format-avif", "image/avif")):
        response = client.get(rendition_url(version=version, spec=spec, audience=DELIVERY))
        assert response.status_code == 200 and response["Content-Type"] == mime
        report = read_manifest(data=b"".join(response.streaming_content), mime_type=mime, trust=trust_config())
        assert report.verdict.value == "trusted", (spec, report.summary)
        manifest = report.active_manifest
        assert any(i.get("relationship") == "parentOf" for i in manifest["ingredients"]), manifest
    staff = client.get(rendition_url(version=version, spec="width-60|format-png"))
    assert staff.status_code == 404  # staff previews need a session
