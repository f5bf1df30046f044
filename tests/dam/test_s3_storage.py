"""Files in S3-compatible object storage (django-storages) against moto's standalone server."""

from __future__ import annotations

import io
import socket

import boto3
import pytest
from django.core.files.storage import storages
from moto.server import ThreadedMotoServer
from PIL import Image

from dam.services.files import reconcile_pending
from dam.services.ingest import ingest_file
from dam.services.renditions import get_or_create_rendition
from tests.conftest import make_image

BUCKET = "brand-assets"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=s3_endpoint, **credentials)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "file_overwrite": False,
            },
        },
    }
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])


def _keys(client) -> set[str]:
    return {obj["Key"] for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


@pytest.mark.django_db(transaction=True)
def test_ingest_and_renditions_live_in_the_bucket(s3_storage, collection, librarian):
    assert type(storages["default"]).__name__ == "S3Storage"
    data = make_image(400, 300, seed=51, fmt="JPEG")
    version = ingest_file(name="s3.jpg", fileobj=io.BytesIO(data), collection=collection, user=librarian).version
    body = s3_storage.get_object(Bucket=BUCKET, Key=version.file.name)["Body"].read()
    assert body == data
    rendition = get_or_create_rendition(version=version, spec="fill-120x120|format-png")
    with rendition.file.open("rb") as handle:
        assert Image.open(io.BytesIO(handle.read())).size == (120, 120)
    assert _keys(s3_storage) == {version.file.name, rendition.file.name}


@pytest.mark.django_db(transaction=True)
def test_reconcile_removes_orphans_from_the_bucket(s3_storage):
    from dam.services import files

    name = files.write_pending(stem="originals/ab/cd/orphan", ext="png", data=b"partial")
    assert name in _keys(s3_storage)
    assert reconcile_pending(grace_seconds=0) == 1
    assert _keys(s3_storage) == set()
