"""Conditional requests, idempotent uploads, problem details, pagination, sparse fields, throttling."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dam.models import Asset, IdempotencyKey
from tests.api.conftest import assert_problem
from tests.conftest import make_image


def test_etag_304_and_412(lib):
    client = lib.client("write")
    url = f"/api/v1/assets/{lib.assets['draft_a'].pk}/"
    first = client.get(url)
    etag = first["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert_problem(client.patch(url, {"title": "No precondition"}, format="json"), 428, "precondition_required")
    changed = client.patch(url, {"title": "Renamed"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed"
    assert changed["ETag"] != etag
    # A second writer still holding the old ETag lost the race.
    assert_problem(client.patch(url, {"title": "Stale"}, format="json", HTTP_IF_MATCH=etag), 412,
                   "precondition_failed")
    assert Asset.objects.get(pk=lib.assets["draft_a"].pk).title == "Renamed"
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_patch_validation_is_problem_json_with_field_errors(lib):
    client = lib.client("write")
    url = f"/api/v1/assets/{lib.assets['draft_a'].pk}/"
    etag = client.get(url)["ETag"]
    body = assert_problem(client.patch(url, {"focal_x": -3}, format="json", HTTP_IF_MATCH=etag), 400, "invalid")
    assert body["errors"][0]["field"] == "focal_x"


def _upload(client, *, seed: int, key: str | None, collection: int, title: str = "Upload"):
    data = {"file": SimpleUploadedFile("up.png", make_image(80, 60, seed=seed), content_type="image/png"),
            "collection": collection, "title": title}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/assets/", data, format="multipart", **headers)


def test_upload_is_idempotent(lib):
    client = lib.client("write")
    first = _upload(client, seed=77, key="k-1", collection=lib.a.pk)
    assert first.status_code == 201, first.content
    assert first["Location"].endswith(f"/api/v1/assets/{first.json()['id']}/")
    again = _upload(client, seed=77, key="k-1", collection=lib.a.pk)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Asset.objects.filter(title="Upload").count() == 1
    # Same key, other bytes: a client bug the server must not paper over.
    assert_problem(_upload(client, seed=78, key="k-1", collection=lib.a.pk), 422, "idempotency_key_reused")
    # Keys belong to their caller: another token's k-1 is a new request.
    other = _upload(lib.client("session:uploader"), seed=79, key="k-1", collection=lib.a.pk)
    assert other.status_code == 201


def test_a_claimed_key_still_in_progress_is_a_409(lib):
    from dam.models import ApiToken

    token = ApiToken.objects.get(name="write")
    client = lib.client("write")
    first = _upload(client, seed=80, key="busy", collection=lib.a.pk)
    IdempotencyKey.objects.filter(owner=f"token:{token.pk}", key="busy").update(in_progress=True)
    body = assert_problem(_upload(client, seed=80, key="busy", collection=lib.a.pk), 409, "idempotency_in_progress")
    assert body["retry_after"] >= 1
    assert first.status_code == 201


def test_upload_outside_reach_and_rejected_files(lib):
    client = lib.client("write")
    body = assert_problem(_upload(client, seed=81, key=None, collection=lib.b.pk), 400, "invalid")
    assert body["errors"][0]["field"] == "collection"
    bad = {"file": SimpleUploadedFile("x.png", b"not an image", content_type="image/png"), "collection": lib.a.pk}
    assert_problem(client.post("/api/v1/assets/", bad, format="multipart"), 422)
    assert_problem(client.post("/api/v1/assets/", {"collection": lib.a.pk}, format="json"), 415,
                   "unsupported_media_type")


def test_workflow_actions_conflict_on_stale_revision(lib):
    client = lib.client("review")
    asset = lib.assets["draft_a"]
    submitted = lib.client("write").post(f"/api/v1/assets/{asset.pk}/actions/submit/", {"comment": "ready"},
                                         format="json")
    assert submitted.status_code == 200 and submitted.json()["to_state"] == "in_review"
    revision = client.get(f"/api/v1/assets/{asset.pk}/").json()["revision"]
    assert_problem(client.post(f"/api/v1/assets/{asset.pk}/actions/approve/", {"revision": revision - 1},
                               format="json"), 409, "conflict")
    approved = client.post(f"/api/v1/assets/{asset.pk}/actions/approve/", {"revision": revision}, format="json")
    assert approved.status_code == 200 and approved.json()["to_state"] == "approved"
    assert_problem(client.post(f"/api/v1/assets/{asset.pk}/actions/approve/", {}, format="json"), 409,
                   "invalid_transition")
    assert_problem(client.post(f"/api/v1/assets/{asset.pk}/actions/fly/", {}, format="json"), 404)
    trail = client.get(f"/api/v1/assets/{asset.pk}/audit/").json()["results"]
    assert [t["action"] for t in trail] == ["submit", "approve"]
    assert trail[0]["comment"] == "ready"


def test_delete_archives(lib):
    asset = lib.assets["pub_a"]
    assert lib.client("write").delete(f"/api/v1/assets/{asset.pk}/").status_code == 204
    assert Asset.objects.get(pk=asset.pk).status == "archived"
    assert_problem(lib.client("read").get(f"/api/v1/assets/{asset.pk}/"), 404)


def test_problem_json_for_routing_errors(lib):
    client = lib.client("read")
    assert_problem(client.get("/api/v1/nowhere/"), 404, "not_found")
    assert_problem(client.put(f"/api/v1/assets/{lib.assets['pub_a'].pk}/", {}, format="json"), 405,
                   "method_not_allowed")
    assert_problem(client.get("/api/v1/assets/?status=flying"), 400, "invalid")
    assert_problem(client.get("/api/v1/assets/?fields=title,nope"), 400, "invalid")
    assert_problem(client.get(f"/api/v1/assets/{lib.assets['pub_a'].pk}/renditions/explode-9/"), 400,
                   "invalid_rendition_spec")


def test_pagination_and_sparse_fields(lib):
    client = lib.client("session:reviewer")
    first = client.get("/api/v1/assets/?page_size=2&fields=id,title").json()
    assert len(first["results"]) == 2 and set(first["results"][0]) == {"id", "title"}
    seen = [r["id"] for r in first["results"]]
    url = first["next"]
    while url:
        page = client.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5


def test_rendition_bytes_etag_and_redirect(lib):
    client = lib.client("read")
    url = f"/api/v1/assets/{lib.assets['pub_a'].pk}/renditions/max-40x40|format-png/"
    response = client.get(url, HTTP_ACCEPT="image/*")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "max-age=" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    redirect = client.get(url + "?redirect=1")
    assert redirect.status_code == 302 and "/dam/renditions/" in redirect["Location"]
    assert lib.client(None).get(redirect["Location"]).status_code == 200


@pytest.mark.parametrize("rate", ["3/min"])
def test_throttle_answers_429_problem(lib, settings, rate):
    settings.DAM_API_THROTTLE_RATE = rate
    client = lib.client("read")
    for _ in range(3):
        assert client.get("/api/v1/tags/").status_code == 200
    body = assert_problem(client.get("/api/v1/tags/"), 429, "throttled")
    assert body["retry_after"] >= 1
    # Another token has its own budget.
    assert lib.client("review").get("/api/v1/tags/").status_code == 200


def test_token_last_used_is_recorded(lib):
    from dam.models import ApiToken

    assert ApiToken.objects.get(name="read").last_used_at is None
    lib.client("read").get("/api/v1/tags/")
    assert ApiToken.objects.get(name="read").last_used_at is not None


def test_odd_json_bodies_with_an_idempotency_key_are_400s_not_500s(lib):
    client = lib.client("write")
    url = f"/api/v1/assets/{lib.assets['draft_a'].pk}/actions/submit/"
    for body in ([1, 2], "text"):
        response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"odd-{body!r}")
        assert_problem(response, 400, "invalid")
    malformed = client.generic("POST", url, "{not json", content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY="odd-malformed")
    assert_problem(malformed, 400, "parse_error")


def test_collection_etag_follows_its_representation(lib):
    client = lib.client("read")
    url = f"/api/v1/collections/{lib.a.pk}/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    lib.a.name = "A renamed"
    lib.a.save()
    renamed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert renamed.status_code == 200 and renamed.json()["name"] == "A renamed"


def test_unknown_paths_with_control_characters_are_problem_json(lib):
    assert_problem(lib.client("read").get("/api/v1/assets/a%0Ab%0Dc/versions/"), 404, "not_found")
