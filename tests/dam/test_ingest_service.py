from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage

from dam.conf import dam_settings
from dam.exceptions import PermissionDeniedError
from dam.ingest.errors import RejectedFile
from dam.models import Asset, AssetVersion, PendingFile
from dam.services.ingest import ingest_file
from tests.conftest import make_image, stored_files


def _ingest(data, *, name="logo.png", **kwargs):
    return ingest_file(name=name, fileobj=io.BytesIO(data), **kwargs)


@pytest.mark.django_db(transaction=True)
def test_ingest_creates_asset_version_and_file(collection, librarian):
    data = make_image(120, 80, seed=1)
    result = _ingest(data, collection=collection, user=librarian, tags=["logo", " primary "])
    assert result.outcome == "created"
    version = result.version
    assert (version.width, version.height, version.mime) == (120, 80, "image/png")
    assert len(version.sha256) == 64 and len(version.phash) == 16
    assert version.palette and version.size == len(data)
    assert result.asset.current_version == version
    assert result.asset.title == "logo"
    assert sorted(result.asset.tags.values_list("name", flat=True)) == ["logo", "primary"]
    with default_storage.open(version.file.name) as stored:
        assert stored.read() == data
    assert not PendingFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_exact_duplicate_returns_existing_asset(collection, librarian):
    data = make_image(seed=2)
    first = _ingest(data, collection=collection, user=librarian)
    again = _ingest(data, name="renamed.png", collection=collection, user=librarian)
    assert again.outcome == "duplicate"
    assert again.asset.pk == first.asset.pk
    assert Asset.objects.count() == 1 and AssetVersion.objects.count() == 1
    assert stored_files("originals") == {first.version.file.name}


@pytest.mark.django_db(transaction=True)
def test_near_duplicate_is_imported_and_flagged(collection, librarian):
    original = make_image(400, 300, seed=3)
    resized = make_image(400, 300, seed=3, fmt="JPEG", quality=70)
    first = _ingest(original, collection=collection, user=librarian)
    second = _ingest(resized, name="logo.jpg", collection=collection, user=librarian)
    assert second.outcome == "created"
    assert second.version.near_duplicate_of == first.version
    assert second.version.near_duplicate_distance is not None
    unrelated = _ingest(make_image(400, 300, seed=99), name="other.png", collection=collection, user=librarian)
    assert unrelated.version.near_duplicate_of is None


@pytest.mark.django_db(transaction=True)
def test_new_version_of_an_asset(collection, librarian):
    first = _ingest(make_image(seed=4), collection=collection, user=librarian)
    second = _ingest(make_image(seed=5), collection=collection, user=librarian, asset=first.asset)
    assert second.outcome == "new_version"
    assert second.version.number == 2
    first.asset.refresh_from_db()
    assert first.asset.current_version == second.version
    with pytest.raises(Exception, match="immutable"):
        first.version.save()


@pytest.mark.django_db(transaction=True)
def test_rejected_file_leaves_nothing(collection, librarian):
    with pytest.raises(RejectedFile) as info:
        _ingest(make_image(seed=6)[:200], name="cut.png", collection=collection, user=librarian)
    assert "cut.png" in str(info.value)
    assert not Asset.objects.exists() and not PendingFile.objects.exists()
    assert stored_files() == set()


@pytest.mark.django_db(transaction=True)
def test_permission_is_checked_before_anything_is_read(collection, outsider):
    with pytest.raises(PermissionDeniedError, match="may not add"):
        _ingest(make_image(seed=7), collection=collection, user=outsider)
    assert not Asset.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_failure_after_storing_discards_the_file(collection, librarian, monkeypatch):
    from dam.services import ingest as ingest_module

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ingest_module, "_create_rows", boom)
    with pytest.raises(RuntimeError):
        _ingest(make_image(seed=8), collection=collection, user=librarian)
    assert not PendingFile.objects.exists()
    assert stored_files("originals") == set()


@pytest.mark.django_db(transaction=True)
def test_deleting_an_asset_removes_its_files(collection, librarian):
    from dam.services.renditions import get_or_create_rendition

    result = _ingest(make_image(seed=9), collection=collection, user=librarian)
    extra = get_or_create_rendition(version=result.version, spec="width-10")
    renditions = set(result.version.renditions.values_list("file", flat=True))
    assert extra.file.name in renditions
    assert stored_files() == {result.version.file.name} | renditions
    result.asset.delete()
    assert stored_files() == set()


@pytest.mark.django_db(transaction=True)
def test_non_jpeg_renditions_are_made_from_the_pixels_ingest_decoded(collection, librarian):
    from dam.models import Rendition

    png = _ingest(make_image(300, 200, seed=13), name="p.png", collection=collection, user=librarian)
    made = set(Rendition.objects.filter(version=png.version).values_list("spec", flat=True))
    assert made == set(dam_settings.PREWARM_SPECS)
    jpeg = _ingest(make_image(300, 200, seed=14, fmt="JPEG"), name="j.jpg", collection=collection, user=librarian)
    assert not Rendition.objects.filter(version=jpeg.version).exists()  # queued for a worker instead
