"""HTTP: the verify endpoint, the admin page and the C2PA soft-binding resolution API."""
# ruff: noqa: F811  (pytest fixtures imported from services_fixtures are redefined as arguments)

from __future__ import annotations

import io

import c2pa
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from provenance import watermark
from provenance.services import signing
from provenance.services.fingerprints import PHASH_ALGORITHM
from tests.provenance.services_fixtures import (  # noqa: F401 (fixtures)
    LINEAGE,
    creds,
    encode,
    generated_like,
    provenance_keys,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.provenance.urls_with_provenance")]


@pytest.fixture
def signed():
    return signing.sign_generated_image(
        data=encode(generated_like(seed=31, size=288)), mime_type="image/png", title="api", lineage=LINEAGE
    )


@pytest.fixture
def user_client(client):
    user = get_user_model().objects.create_user("viewer", password="pw-viewer-1")
    client.force_login(user)
    return client


def stripped(data: bytes) -> bytes:
    return encode(Image.open(io.BytesIO(data)))


def test_verify_endpoint_json_and_html(user_client, signed):
    upload = SimpleUploadedFile("x.png", stripped(signed.data), content_type="image/png")
    response = user_client.post(
        "/api/v1/provenance/verify/", {"file": upload}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "recovered"
    assert response.json()["recovery"]["manifest_id"] == signed.manifest_id

    upload = SimpleUploadedFile("x.png", signed.data, content_type="image/png")
    page = user_client.post("/api/v1/provenance/verify/", {"file": upload})
    assert page.status_code == 200 and b"valid, trusted, AI-generated" in page.content


def test_verify_endpoint_refuses_anonymous_missing_and_oversized(user_client, settings, signed):
    client = Client()
    assert client.post("/api/v1/provenance/verify/", headers={"accept": "application/json"}).status_code == 401
    assert client.get("/api/v1/provenance/verify/").status_code == 302
    response = user_client.post("/api/v1/provenance/verify/", {}, headers={"accept": "application/json"})
    assert response.status_code == 400 and "'file'" in response.json()["error"]
    settings.PROVENANCE_MAX_VERIFY_BYTES = 1000
    upload = SimpleUploadedFile("big.png", signed.data, content_type="image/png")
    response = user_client.post("/api/v1/provenance/verify/", {"file": upload}, headers={"accept": "application/json"})
    assert response.status_code == 413 and "1000" in response.json()["error"]


def test_verify_endpoint_bad_files_get_verdicts_not_500(user_client, signed):
    for name, data in {"truncated.png": signed.data[:500], "junk.png": b"\x00" * 300}.items():
        upload = SimpleUploadedFile(name, data, content_type="image/png")
        response = user_client.post(
            "/api/v1/provenance/verify/", {"file": upload}, headers={"accept": "application/json"}
        )
        assert response.status_code == 200
        assert response.json()["outcome"] in ("unreadable", "invalid")


def test_admin_verify_page(admin_client, signed):
    assert admin_client.get("/admin/provenance/storedmanifest/").status_code == 200
    assert admin_client.get(f"/admin/provenance/storedmanifest/?q={signed.watermark_id}").status_code == 200
    assert b"Verify a file" in admin_client.get("/admin/provenance/storedmanifest/verify/").content
    upload = SimpleUploadedFile("x.png", stripped(signed.data), content_type="image/png")
    page = admin_client.post("/admin/provenance/storedmanifest/verify/", {"file": upload})
    assert page.status_code == 200 and b"Credential recovered" in page.content


def test_by_binding_get_and_post(user_client, signed):
    response = user_client.get(
        "/c2pa/matches/byBinding", {"alg": watermark.ALGORITHM, "value": signed.watermark_id}
    )
    assert response.status_code == 200
    assert response.json() == {"matches": [{"manifestId": signed.manifest_id}]}
    response = user_client.post(
        "/c2pa/matches/byBinding",
        {"alg": watermark.ALGORITHM, "value": signed.watermark_id.replace("+", "-").replace("/", "_")},
        content_type="application/json",
    )
    assert response.json()["matches"][0]["manifestId"] == signed.manifest_id
    other = user_client.get("/c2pa/matches/byBinding", {"alg": "com.example.other", "value": signed.watermark_id})
    assert other.json() == {"matches": []}
    absent = user_client.get("/c2pa/matches/byBinding", {"alg": watermark.ALGORITHM, "value": "AAAAAAAB"})
    assert absent.json() == {"matches": []}


@pytest.mark.parametrize(
    "query",
    [{}, {"alg": watermark.ALGORITHM}, {"alg": watermark.ALGORITHM, "value": "%%%"},
     {"alg": watermark.ALGORITHM, "value": "AAAAAAAB", "maxResults": "0"}],
)
def test_by_binding_bad_queries_are_400(user_client, query):
    response = user_client.get("/c2pa/matches/byBinding", query)
    assert response.status_code == 400 and response.json()["error"]


def test_by_content_watermark_then_phash(user_client, signed):
    body = stripped(signed.data)
    response = user_client.post("/c2pa/matches/byContent", body, content_type="image/png")
    assert response.status_code == 200
    assert response.json()["matches"] == [{"manifestId": signed.manifest_id, "similarityScore": 100}]
    by_phash = user_client.post(
        f"/c2pa/matches/byContent?alg={PHASH_ALGORITHM}", encode(generated_like(seed=31, size=288), "image/jpeg"),
        content_type="image/jpeg",
    )
    match = by_phash.json()["matches"][0]
    assert match["manifestId"] == signed.manifest_id and 85 <= match["similarityScore"] <= 100
    bad = user_client.post("/c2pa/matches/byContent", b"not an image", content_type="image/png")
    assert bad.status_code == 400 and "request body" in bad.json()["error"]
    wrong_alg = user_client.post("/c2pa/matches/byContent?alg=x.y", body, content_type="image/png")
    assert wrong_alg.status_code == 400


def test_manifest_by_id_returns_the_store_that_validates_the_file(user_client, signed):
    response = user_client.get(f"/c2pa/manifests/{signed.manifest_id}")
    assert response.status_code == 200 and response["Content-Type"] == "application/c2pa"
    with c2pa.Reader("image/png", io.BytesIO(signed.data), response.content) as reader:
        assert reader.get_validation_state() in ("Valid", "Trusted")
    missing = user_client.get("/c2pa/manifests/urn:c2pa:00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404


def test_soft_binding_api_access_and_algorithms(client, settings, signed):
    assert client.get("/c2pa/services/supportedAlgorithms").status_code == 403
    settings.PROVENANCE_SOFT_BINDING_API_PUBLIC = True
    algorithms = client.get("/c2pa/services/supportedAlgorithms").json()
    assert algorithms == {"watermarks": [{"alg": watermark.ALGORITHM}], "fingerprints": [{"alg": PHASH_ALGORITHM}]}
    assert client.get(f"/c2pa/manifests/{signed.manifest_id}").status_code == 200
