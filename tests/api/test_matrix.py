"""Who sees what: roles × endpoints. Outside a caller's reach is 404 (lists omit it), never 403."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_problem

SPEC = "max-40x40|format-png"

# Which assets each role reaches.
REACH = {
    "read": {"pub_a", "pub_sub"},  # delivery gate: published, unexpired, in A and below
    "write": {"pub_a", "draft_a", "pub_sub", "expired_a"},
    "review": {"pub_a", "draft_a", "pub_sub", "expired_a"},
    "session:reviewer": {"pub_a", "draft_a", "pub_sub", "expired_a", "pub_b"},
    "session:viewer_b": {"pub_b"},
    "session:nobody": set(),
}
ALL = {"pub_a", "draft_a", "pub_sub", "pub_b", "expired_a"}


def _ids(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("who", sorted(REACH))
def test_lists_and_details_follow_reach(lib, who):
    client = lib.client(who)
    listed = client.get("/api/v1/assets/")
    assert listed.status_code == 200
    expected = {str(lib.assets[name].pk) for name in REACH[who]}
    assert _ids(listed) == expected
    for name in ALL:
        asset = lib.assets[name]
        urls = [f"/api/v1/assets/{asset.pk}/", f"/api/v1/assets/{asset.pk}/versions/",
                f"/api/v1/assets/{asset.pk}/renditions/{SPEC}/"]
        if name in REACH[who] and who != "read":
            urls.append(f"/api/v1/assets/{asset.pk}/audit/")
        for url in urls:
            response = client.get(url)
            if name in REACH[who]:
                assert response.status_code == 200, (who, name, url, response.content[:300])
            else:
                assert_problem(response, 404, "not_found")
        if name in REACH[who]:
            continue
        writes = [
            client.post(f"/api/v1/assets/{asset.pk}/actions/submit/", {}, format="json"),
            client.patch(f"/api/v1/assets/{asset.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH="*"),
            client.delete(f"/api/v1/assets/{asset.pk}/"),
        ]
        for response in writes:
            # A 403 may only say "this token lacks the scope", which is true of any object.
            if response.status_code == 403:
                assert_problem(response, 403, "insufficient_scope")
            else:
                assert_problem(response, 404, "not_found")


def test_delivery_token_never_sees_drafts_or_current_versions(lib):
    client = lib.client("read")
    body = client.get(f"/api/v1/assets/{lib.assets['pub_a'].pk}/").json()
    assert "current_version" not in body and "revision" not in body
    assert body["published_version"]["number"] == 1
    versions = client.get(f"/api/v1/assets/{lib.assets['pub_a'].pk}/versions/").json()["results"]
    assert [v["number"] for v in versions] == [1]
    tags = {t["name"] for t in client.get("/api/v1/tags/").json()["results"]}
    assert tags == {"summer", "beach"}  # "launch" is only on B's asset
    collections = {c["name"] for c in client.get("/api/v1/collections/").json()["results"]}
    assert collections == {"A", "Sub"}
    assert_problem(client.get(f"/api/v1/collections/{lib.b.pk}/"), 404)


def test_delivery_token_cannot_read_the_audit_trail(lib):
    response = lib.client("read").get(f"/api/v1/assets/{lib.assets['pub_a'].pk}/audit/")
    assert_problem(response, 403, "insufficient_scope")


@pytest.mark.parametrize("who, code", [(None, "not_authenticated"), ("revoked", "token_revoked"),
                                       ("expired", "token_expired")])
def test_unauthenticated_callers_get_401_everywhere(lib, who, code):
    client = lib.client(who)
    asset = lib.assets["pub_a"]
    for url in ["/api/v1/assets/", f"/api/v1/assets/{asset.pk}/", "/api/v1/tags/", "/api/v1/collections/",
                f"/api/v1/assets/{asset.pk}/renditions/{SPEC}/", "/api/v1/sync/?updated_since=2000-01-01T00:00Z"]:
        response = client.get(url)
        assert_problem(response, 401, code)
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_forged_token_is_refused(lib):
    real = lib.tokens["read"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    client = lib.client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert_problem(client.get("/api/v1/assets/"), 401, "token_invalid")


def test_scopes_gate_writes(lib):
    asset = lib.assets["draft_a"]
    read = lib.client("read")
    assert_problem(read.patch(f"/api/v1/assets/{lib.assets['pub_a'].pk}/", {"title": "x"}, format="json"),
                   403, "insufficient_scope")
    # The write token may submit but not approve; the review token the reverse.
    write, review = lib.client("write"), lib.client("review")
    assert_problem(write.post(f"/api/v1/assets/{asset.pk}/actions/approve/", {}, format="json"),
                   403, "insufficient_scope")
    assert_problem(review.post(f"/api/v1/assets/{asset.pk}/actions/submit/", {}, format="json"),
                   403, "insufficient_scope")


def test_provenance_verify_is_not_shadowed(lib):
    response = lib.client(None).get("/api/v1/provenance/verify/")
    assert response.status_code != 404 or not response["Content-Type"].startswith("application/problem+json")
