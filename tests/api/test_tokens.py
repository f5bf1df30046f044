"""Tokens: stored as a hash, shown once (admin and command), revocable."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from dam.models import ApiToken
from dam.models.tokens import hash_secret
from tests.api.conftest import assert_problem


def test_only_a_hash_is_stored(lib):
    token = ApiToken.objects.get(name="read")
    plaintext = lib.tokens["read"]
    assert plaintext not in {token.secret_hash, token.prefix}
    assert token.secret_hash == hash_secret(plaintext) and len(token.secret_hash) == 64
    with pytest.raises(ValueError, match="scopes"):
        ApiToken.issue(name="x", user=lib.reviewer, scopes=["admin"], collections=[lib.a])


def test_command_creates_lists_and_revokes(lib):
    out, err = io.StringIO(), io.StringIO()
    call_command("dam_token", "create", "--name", "CMS", "--user", "reviewer", "--scope", "read",
                 "--collection", "A/Sub", stdout=out, stderr=err)
    plaintext = out.getvalue().strip()
    assert "not be shown again" in err.getvalue()
    token = ApiToken.objects.get(name="CMS")
    client = lib.client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    titles = {a["title"] for a in client.get("/api/v1/assets/").json()["results"]}
    assert titles == {"Mountain lake"}
    listing = io.StringIO()
    call_command("dam_token", "list", stdout=listing)
    assert token.prefix in listing.getvalue() and plaintext not in listing.getvalue()
    call_command("dam_token", "revoke", token.prefix, stdout=io.StringIO())
    assert_problem(client.get("/api/v1/assets/"), 401, "token_revoked")
    with pytest.raises(CommandError, match="no collection"):
        call_command("dam_token", "create", "--name", "x", "--user", "reviewer", "--scope", "read",
                     "--collection", "Nope", stdout=io.StringIO(), stderr=io.StringIO())


def test_admin_shows_the_secret_once(lib, client):
    admin = User.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    response = client.post("/admin/dam/apitoken/add/", {
        "name": "Shop", "user": lib.reviewer.pk, "scopes": ["read"], "collections": [lib.a.pk],
    }, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"] if "not be shown again" in str(m)]
    assert len(shown) == 1
    plaintext = shown[0].rsplit(" ", 1)[1]
    token = ApiToken.objects.get(name="Shop")
    assert token.matches(plaintext) and list(token.collections.all()) == [lib.a]
    page = client.get(f"/admin/dam/apitoken/{token.pk}/change/")
    assert plaintext.encode() not in page.content
