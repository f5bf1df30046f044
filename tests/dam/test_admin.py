"""The librarian's admin: list with thumbnails, filters, search, bulk actions, upload, detail."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dam.models import Asset, Collection
from dam.services.collections import collection_for_path
from dam.services.ingest import ingest_file
from tests.conftest import make_image


@pytest.fixture
def staff_client(client, librarian):
    librarian.user_permissions.set(Permission.objects.filter(content_type__app_label="dam"))
    client.force_login(librarian)
    return client


def _asset(collection, user, *, seed, name="a.png", tags=()):
    data = make_image(90, 60, seed=seed)
    return ingest_file(name=name, fileobj=io.BytesIO(data), collection=collection, user=user, tags=tags).asset


@pytest.mark.django_db(transaction=True)
def test_changelist_shows_thumbnails_filters_and_search(staff_client, collection, librarian):
    _asset(collection, librarian, seed=61, name="sunrise.png", tags=["hero"])
    _asset(collection, librarian, seed=62, name="icon-cup.png")
    url = reverse("admin:dam_asset_changelist")
    page = staff_client.get(url).content.decode()
    assert page.count('src="/dam/renditions/') == 2
    assert "Upload files" in page
    assert "sunrise" in staff_client.get(url, {"q": "hero"}).content.decode()
    searched = staff_client.get(url, {"q": "cup"}).content.decode()
    assert "icon cup" in searched and "sunrise" not in searched
    filtered = staff_client.get(url, {"current_version__mime": "image/png"})
    assert filtered.status_code == 200
    thumb_url = page.split('src="/dam/renditions/', 1)[1].split('"')[0]
    thumb_url = "/dam/renditions/" + thumb_url
    thumb = staff_client.get(thumb_url)
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"


@pytest.mark.django_db(transaction=True)
def test_outsider_sees_nothing_of_collections_they_cannot_view(client, outsider, collection, librarian):
    _asset(collection, librarian, seed=63, name="secret-logo.png")
    outsider.user_permissions.set(Permission.objects.filter(content_type__app_label="dam"))
    client.force_login(outsider)
    page = client.get(reverse("admin:dam_asset_changelist")).content.decode()
    assert "secret logo" not in page
    asset = Asset.objects.get()
    assert client.get(reverse("admin:dam_asset_change", args=[asset.pk])).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_bulk_tag_and_move(staff_client, collection, librarian):
    a = _asset(collection, librarian, seed=64)
    b = _asset(collection, librarian, seed=65)
    url = reverse("admin:dam_asset_changelist")
    staff_client.post(url, {"action": "add_tag", "_selected_action": [a.pk, b.pk], "tag": "autumn"})
    assert set(Asset.objects.filter(tags__name="autumn").values_list("pk", flat=True)) == {a.pk, b.pk}
    target = collection_for_path("Brand/Icons")
    staff_client.post(url, {"action": "move_to_collection", "_selected_action": [a.pk], "target_collection": target.pk})
    a.refresh_from_db()
    assert a.collection == target
    outside = Collection.objects.create(name="Elsewhere")
    response = staff_client.post(
        url, {"action": "move_to_collection", "_selected_action": [b.pk], "target_collection": outside.pk}, follow=True
    )
    b.refresh_from_db()
    assert b.collection == collection
    assert "may not add" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_upload_view_imports_several_files_and_names_rejects(staff_client, collection):
    files = [
        SimpleUploadedFile("one.png", make_image(seed=66), content_type="image/png"),
        SimpleUploadedFile("two.jpg", make_image(seed=67, fmt="JPEG"), content_type="image/jpeg"),
        SimpleUploadedFile("evil.png", b"MZ\x90\x00" + b"\x00" * 100, content_type="image/png"),
    ]
    response = staff_client.post(
        reverse("admin:dam_asset_upload"), {"files": files, "collection": collection.pk, "tags": "upload"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "evil.png" in body and "Imported 2, duplicates 0, rejected 1" in body
    assert Asset.objects.filter(tags__name="upload").count() == 2


@pytest.mark.django_db(transaction=True)
def test_detail_page_lists_versions_and_renditions(staff_client, collection, librarian):
    from dam.services.renditions import get_or_create_rendition

    asset = _asset(collection, librarian, seed=68)
    get_or_create_rendition(version=asset.current_version, spec="width-40|format-png")
    page = staff_client.get(reverse("admin:dam_asset_change", args=[asset.pk])).content.decode()
    assert "width-40|format-png" in page
    assert asset.current_version.sha256 in page
