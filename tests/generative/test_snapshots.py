"""Dataset snapshots: what a DAM query lets in, immutability, the pre-training checks, the pixel cache."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from dam.models import Asset, AssetVersion
from dam.services.collections import collection_for_path
from dam.services.ingest import ingest_file
from dam.services.workflow import transition
from generative.models import DatasetSnapshot, content_hash
from generative.services.errors import DatasetError
from generative.services.preprocess import cache_path, prepared_images, to_square
from generative.services.snapshots import check_snapshot, create_snapshot, held_out_split
from provenance.models import LedgerEntry
from tests.conftest import make_image
from tests.dam.workflow_helpers import Team, build_team


def add_image(team: Team, *, seed: int, size: tuple[int, int] = (48, 40), path: str | None = None,
              training_allowed: bool = True, tags: tuple[str, ...] = (), approve: bool = True) -> AssetVersion:
    """Ingest a generated image as the system and, unless told not to, take it through the team's review."""
    collection = collection_for_path(path) if path else team.collection
    version = ingest_file(name=f"img-{seed}.png", fileobj=io.BytesIO(make_image(*size, seed=seed)),
                          collection=collection, user=None, training_allowed=training_allowed, tags=tags).version
    if approve:
        transition(version=version, action="submit", actor=team.librarian)
        transition(version=version, action="approve", actor=team.brand)
        transition(version=version, action="approve", actor=team.legal_a)
    return version


@pytest.fixture
def team(db, settings) -> Team:
    settings.GENERATIVE_MIN_IMAGES = 4
    return build_team(legal_mode="any")


def test_snapshot_takes_only_approved_training_allowed_versions_of_the_tree(team):
    root = team.collection.parent
    wanted = [add_image(team, seed=s) for s in range(3)]
    wanted.append(add_image(team, seed=3, path="Brand/Logos/Old"))  # a descendant
    add_image(team, seed=10, training_allowed=False)
    add_image(team, seed=11, approve=False)
    rejected = add_image(team, seed=12, approve=False)
    transition(version=rejected, action="submit", actor=team.librarian)
    transition(version=rejected, action="reject", actor=team.brand)
    forbidden = add_image(team, seed=13)
    # What ingest records when a file's own manifest says "notAllowed" for AI training (here after
    # approval, so only the credentials and not the asset's rights shut it out).
    credentials = {**forbidden.credentials, "training_mining_allowed": False}
    AssetVersion.objects.filter(pk=forbidden.pk).update(credentials=credentials)
    AssetVersion.objects.filter(pk=wanted[0].pk).update(credentials={})  # ingested before credentials were read

    snapshot = create_snapshot(collection=root, user=team.librarian)

    assert sorted(snapshot.sha256s) == sorted(v.sha256 for v in wanted)
    assert snapshot.sha256s == sorted(snapshot.sha256s)
    assert snapshot.content_hash == content_hash([v.sha256 for v in reversed(wanted)])
    entry = LedgerEntry.objects.filter(subject=f"generative.datasetsnapshot:{snapshot.pk}").get()
    assert entry.payload["content_hash"] == snapshot.content_hash
    assert entry.actor == f"user:{team.librarian.pk}"

    with pytest.raises(DatasetError, match=r"Brand / Logos has 3 approved, training-allowed.*at least 4"):
        create_snapshot(collection=team.collection, include_descendants=False)


def test_tag_filter_and_too_few_images_message(team):
    for s in range(4):
        add_image(team, seed=s, tags=("hero",) if s < 2 else ())
    assert len(create_snapshot(collection=team.collection).items) == 4
    with pytest.raises(DatasetError, match=r"with tags hero has 2 .* at least 4"):
        create_snapshot(collection=team.collection, tags=["hero"])


def test_snapshot_is_immutable(team):
    for s in range(4):
        add_image(team, seed=s)
    snapshot = create_snapshot(collection=team.collection)
    snapshot.items = snapshot.items[:2]
    with pytest.raises(ValidationError, match="immutable"):
        snapshot.save()
    forged = DatasetSnapshot(collection=team.collection, items=snapshot.items[:2], content_hash=snapshot.content_hash)
    with pytest.raises(ValidationError, match="content_hash"):
        forged.save()


def test_pre_training_checks_name_the_offending_images(team):
    for s in range(3):
        add_image(team, seed=s, size=(80, 70))
    add_image(team, seed=9, size=(120, 36))
    snapshot = create_snapshot(collection=team.collection)
    with pytest.raises(DatasetError, match=r"mixes aspect ratios .*img-9\.png"):
        check_snapshot(snapshot, resolution=32)
    with pytest.raises(DatasetError, match=r"1 image\(s\) are smaller than 64px.*img-9\.png \(120x36\)"):
        check_snapshot(snapshot, resolution=64)


def test_held_out_split_is_stable_and_disjoint(team):
    for s in range(6):
        add_image(team, seed=s)
    snapshot = create_snapshot(collection=team.collection)
    train, held = held_out_split(snapshot, fraction=0.2)
    assert len(held) == 2 and not set(train) & set(held) and sorted(train + held) == list(range(6))
    assert held_out_split(DatasetSnapshot.objects.get(pk=snapshot.pk), fraction=0.2) == (train, held)


def test_to_square_composites_alpha_and_crops_or_pads():
    rgba = np.zeros((20, 40, 4), dtype=np.uint8)
    rgba[:, 10:30] = (255, 0, 0, 255)  # an opaque red square in the middle of a transparent strip
    image = Image.fromarray(rgba, "RGBA")
    cropped = to_square(image, resolution=8, background=(0, 0, 255), fit="crop")
    assert cropped.shape == (8, 8, 3) and (np.abs(cropped.astype(int) - [255, 0, 0]).max() <= 2)
    padded = to_square(image, resolution=8, background=(0, 0, 255), fit="pad")
    assert tuple(padded[0, 4]) == (0, 0, 255)  # padding above the strip
    assert tuple(padded[4, 0]) == (0, 0, 255)  # transparent pixels became background
    assert padded[4, 4, 0] > 200  # the red centre survives


def test_preprocessing_is_cached_per_snapshot_and_resolution(team, settings):
    for s in range(4):
        add_image(team, seed=s)
    snapshot = create_snapshot(collection=team.collection)
    first = prepared_images(snapshot, resolution=32)
    assert first.shape == (4, 3, 32, 32) and first.dtype == np.uint8
    path = cache_path(snapshot, resolution=32)
    assert path.exists() and snapshot.content_hash in str(path)
    # The cache is what is served next time: mark it and read it back.
    marked = first.copy()
    marked[0, 0, 0, 0] = 7
    np.save(path, marked)
    assert prepared_images(snapshot, resolution=32)[0, 0, 0, 0] == 7
    settings.GENERATIVE_FIT = "pad"
    assert cache_path(snapshot, resolution=32) != path
    assert prepared_images(snapshot, resolution=32).shape == (4, 3, 32, 32)
    assert Asset.objects.count() == 4
