from __future__ import annotations

import io
import threading

import pytest
from django.db import connection
from PIL import Image

from dam.models import Rendition
from dam.renditions import InvalidRenditionSpec
from dam.services.files import read_stored
from dam.services.ingest import ingest_file
from dam.services.renditions import get_or_create_rendition, read_rendition_token, rendition_url
from tests.conftest import make_image, stored_files


@pytest.fixture
def version(collection, librarian):
    data = make_image(640, 480, seed=11, fmt="JPEG", quality=90)
    return ingest_file(name="shot.jpg", fileobj=io.BytesIO(data), collection=collection, user=librarian).version


@pytest.mark.django_db(transaction=True)
def test_rendition_is_made_once_per_canonical_spec(version):
    first = get_or_create_rendition(version=version, spec="format-webp|fill-300x200")
    again = get_or_create_rendition(version=version, spec="fill-300x200|format-webp")
    assert first.pk == again.pk
    with first.file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        assert (image.format, image.size) == ("WEBP", (300, 200))
    assert Rendition.objects.filter(version=version, spec=first.spec).count() == 1


@pytest.mark.django_db(transaction=True)
def test_bad_specs_are_clear_errors_and_store_nothing(version):
    before = stored_files("renditions")
    with pytest.raises(InvalidRenditionSpec, match="frobnicate"):
        get_or_create_rendition(version=version, spec="frobnicate-10")
    with pytest.raises(InvalidRenditionSpec):
        get_or_create_rendition(version=version, spec="width-100000")
    assert stored_files("renditions") == before
    assert not Rendition.objects.filter(spec__startswith="width-100000").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_make_one_rendition_and_no_orphans(version):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL (CI)")
    results, errors = [], []
    barrier = threading.Barrier(4)

    def worker():
        try:
            barrier.wait()
            results.append(get_or_create_rendition(version=version, spec="width-200|format-png").pk)
        except Exception as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    rendition = Rendition.objects.get(spec="width-200|format-png")
    stem = rendition.file.name.rsplit("-", 1)[0]
    assert {name for name in stored_files("renditions") if name.startswith(stem)} == {rendition.file.name}


@pytest.mark.django_db(transaction=True)
def test_rendering_leaves_another_readers_handle_on_the_same_instance_open(version):
    # What two threads rendering from one model instance do to each other, made deterministic:
    # FieldFile.open() hands every caller the instance's one file object, so a service that opened
    # and closed it ("I/O operation on closed file" in the concurrency test) closed this reader's.
    held = version.file.open("rb")
    head = held.read(2)
    get_or_create_rendition(version=version, spec="width-120|format-png")
    assert not held.closed
    assert head + held.read() == read_stored(version.file)
    held.close()


@pytest.mark.django_db(transaction=True)
def test_signed_url_round_trip_and_view(client, version, settings):
    url = rendition_url(version=version, spec="max-100x100|format-png")
    token = url.rstrip("/").rsplit("/", 1)[1]
    signed = read_rendition_token(token)
    assert (signed.version_id, signed.spec, signed.audience) == (version.pk, "max-100x100|format-png", "staff")
    assert client.get(url).status_code == 404  # staff links need a session that may view the collection
    client.force_login(version.asset.created_by)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    body = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(body)).size == (100, 75)
    cached = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert cached.status_code == 304
    tampered = url.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert client.get(tampered).status_code == 404
    settings.DAM_RENDITION_URL_MAX_AGE = -1
    assert client.get(url).status_code == 410


@pytest.mark.django_db(transaction=True)
def test_svg_original_renders(collection, librarian):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="#1B4D3E"/></svg>'
    version = ingest_file(name="mark.svg", fileobj=io.BytesIO(svg), collection=collection, user=librarian).version
    made = get_or_create_rendition(version=version, spec="width-100|format-png")
    with made.file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read())).convert("RGB")
    assert image.size == (100, 50)
    assert image.getpixel((50, 25)) == (0x1B, 0x4D, 0x3E)


@pytest.mark.django_db(transaction=True)
def test_moving_the_focal_point_makes_a_new_crop_but_not_a_new_resize(version):
    asset = version.asset
    crop = get_or_create_rendition(version=version, spec="fill-100x100")
    resize = get_or_create_rendition(version=version, spec="width-100")
    asset.focal_x, asset.focal_y, asset.focal_width, asset.focal_height = 600, 240, 40, 40
    asset.save()
    version.refresh_from_db()
    moved = get_or_create_rendition(version=version, spec="fill-100x100")
    assert moved.pk != crop.pk and moved.focal_key == "600-240-40-40"
    assert get_or_create_rendition(version=version, spec="width-100").pk == resize.pk


@pytest.mark.django_db(transaction=True)
def test_several_renditions_from_one_decode_match_single_renders(collection, librarian):
    from dam.renditions import render
    from dam.services.renditions import get_or_create_renditions

    data = make_image(500, 400, seed=12, mode="RGBA")
    version = ingest_file(name="logo.png", fileobj=io.BytesIO(data), collection=collection, user=librarian).version
    specs = ["max-165x165|format-webp", "fill-300x200|format-png", "width-64|format-jpeg"]
    made = get_or_create_renditions(version=version, specs=specs)
    for spec, rendition in zip(specs, made, strict=True):
        alone = render(image=Image.open(io.BytesIO(data)), spec=spec, source_format="image/png").data
        with rendition.file.open("rb") as handle:
            assert handle.read() == alone, spec
    with pytest.raises(InvalidRenditionSpec):
        get_or_create_renditions(version=version, specs=["width-10", "nonsense-1"])
    assert not Rendition.objects.filter(version=version, spec="width-10").exists()  # nothing half-done
