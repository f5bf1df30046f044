"""Webhooks: Standard Webhooks signatures, refused targets, events, and real deliveries to 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from dam.models import WebhookDelivery
from dam.services.workflow import transition
from dam.webhooks import signing
from dam.webhooks.handlers import event_type_for
from dam.webhooks.services import WebhookError, publish_event, redeliver, subscribe
from dam.webhooks.targets import InvalidWebhookTarget, check_target
from tests.dam.workflow_helpers import build_team, upload

# The test vector published with the Standard Webhooks reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_reproduces_the_spec_test_vector():
    assert signing.sign(secret=SPEC_SECRET, message_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY) == SPEC_SIGNATURE
    headers = {"Webhook-Id": SPEC_ID, "Webhook-Timestamp": str(SPEC_TIMESTAMP),
               "Webhook-Signature": f"v1,bm9wZQ== {SPEC_SIGNATURE}"}
    signing.verify(secret=SPEC_SECRET, headers=headers, body=SPEC_BODY, now=SPEC_TIMESTAMP + 10)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"test": 2432232315}'}, "no v1 signature"),
        ({"secret": "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"}, "no v1 signature"),
        ({"now": SPEC_TIMESTAMP + 301}, "more than 300 s"),
        ({"drop": "webhook-id"}, "missing header webhook-id"),
    ],
)
def test_verify_refuses_tampering_wrong_secret_stale_and_missing(change, reason):
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE}
    headers.pop(change.get("drop", ""), None)
    with pytest.raises(signing.InvalidSignature, match=reason):
        signing.verify(
            secret=change.get("secret", SPEC_SECRET), headers=headers, body=change.get("body", SPEC_BODY),
            now=change.get("now", SPEC_TIMESTAMP),
        )


def test_secret_must_be_base64_and_long_enough():
    with pytest.raises(signing.InvalidSecret, match="base64"):
        signing.secret_key("whsec_not base64!")
    with pytest.raises(signing.InvalidSecret, match="too short"):
        signing.secret_key("whsec_c2hvcnQ=")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.5/hook", "private"),
        ("http://192.168.1.20:8080/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://127.0.0.1:9000/", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:10.1.2.3]/hook", "private"),
        ("http://localhost/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://example.com/", "scheme 'gopher'"),
        ("http://user:pw@8.8.8.8/", "credentials"),
        ("https:///nohost", "no host"),
    ],
)
def test_internal_and_non_http_targets_are_refused(url, reason):
    with pytest.raises(InvalidWebhookTarget, match=reason):
        check_target(url=url)


def test_allowing_private_targets_admits_loopback_but_never_multicast(settings):
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    target = check_target(url="http://127.0.0.1:8123/in?x=1")
    assert (target.port, target.path, [str(a) for a in target.addresses]) == (8123, "/in?x=1", ["127.0.0.1"])
    with pytest.raises(InvalidWebhookTarget, match="multicast"):
        check_target(url="http://224.0.0.1/")


@pytest.mark.django_db
def test_subscribe_checks_target_and_event_types(settings):
    with pytest.raises(WebhookError, match="loopback"):
        subscribe(url="http://127.0.0.1:1/", event_types=["asset.published"])
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with pytest.raises(WebhookError, match="asset.exploded"):
        subscribe(url="http://127.0.0.1:1/", event_types=["asset.exploded"])
    subscription = subscribe(url="http://127.0.0.1:1/", event_types=["asset.published", "asset.published"])
    assert subscription.event_types == ["asset.published"]
    assert len(signing.secret_key(subscription.secret)) == 32


@pytest.mark.django_db
def test_events_are_written_with_the_change_and_vanish_with_its_rollback(settings):
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    subscribe(url="http://127.0.0.1:1/", event_types=["asset.created", "asset.published"])
    subscribe(url="http://127.0.0.1:2/", event_types=["asset.published"])
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_event(type="asset.published", data={"n": 1})
        assert WebhookDelivery.objects.count() == 2
        raise RuntimeError("the change failed")
    assert WebhookDelivery.objects.count() == 0
    (delivery,) = publish_event(type="asset.created", data={"n": 2})
    assert delivery.payload["type"] == "asset.created" and delivery.payload["data"] == {"n": 2}


@pytest.mark.parametrize(
    ("action", "to_state", "expected"),
    [
        ("approve", "in_review", "asset.updated"),
        ("approve", "approved", "asset.approved"),
        ("request_changes", "changes_requested", "asset.updated"),
        ("reject", "rejected", "asset.rejected"),
        ("expire", "expired", "asset.expired"),
    ],
)
def test_transition_event_mapping(action, to_state, expected):
    assert event_type_for(action=action, to_state=to_state) == expected


@pytest.mark.django_db
def test_a_review_round_emits_one_event_per_transition(settings):
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    team = build_team(legal_mode="any")
    subscription = subscribe(url="http://127.0.0.1:1/", event_types=sorted(
        ["asset.created", "asset.updated", "asset.submitted", "asset.approved", "asset.published", "asset.archived"]
    ))
    first = upload(team, seed=401).version
    for action, actor in (("submit", team.librarian), ("approve", team.brand), ("approve", team.legal_a),
                          ("publish", team.publisher)):
        transition(version=first, action=action, actor=actor)
    second = upload(team, seed=402, asset=first.asset).version
    for action, actor in (("submit", team.librarian), ("approve", team.brand), ("approve", team.legal_b),
                          ("publish", team.publisher)):
        transition(version=second, action=action, actor=actor)
    events = [(d.event_type, d.payload["data"]["version"]["number"])
              for d in subscription.deliveries.order_by("created_at", "pk")]
    round_of = ["asset.submitted", "asset.updated", "asset.approved", "asset.published"]
    assert events == (
        [("asset.created", 1)] + [(e, 1) for e in round_of]
        + [("asset.updated", 2)] + [(e, 2) for e in round_of[:3]]
        # Publishing v2 archives v1 in the same transaction, after v2's publish is recorded.
        + [("asset.published", 2), ("asset.archived", 1)]
    )
    data = subscription.deliveries.get(event_type="asset.published", payload__data__version__number=2).payload["data"]
    assert data["asset"]["id"] == str(first.asset_id) and data["version"]["sha256"] == second.sha256
    assert data["actor"] == "pub" and "comment" not in data


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what arrives and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures_left = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    failing = receiver.failures_left > 0
                    receiver.failures_left -= failing
                self.send_response(503 if failing else 204)
                self.end_headers()
                if failing:
                    self.wfile.write(b"down for maintenance")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/brandforge"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def _webhook_worker_env() -> Iterator[None]:
    # The worker is its own process: it reads DAM_* from the environment it starts with.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true", "DAM_WEBHOOK_BACKOFF_BASE": "0.2",
                            "DAM_WEBHOOK_MAX_ATTEMPTS": "4", "DAM_WEBHOOK_TIMEOUT": "5"}.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def webhook_worker(_webhook_worker_env, celery_worker_process):
    return celery_worker_process


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert os.environ["DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS"] == "true"
    server = Receiver()
    yield server
    server.close()


def _wait_for_state(worker, delivery_ids, state: str):
    worker.wait_for(
        lambda: set(WebhookDelivery.objects.filter(pk__in=delivery_ids).values_list("state", flat=True)) == {state},
        timeout=60, what=f"deliveries {state}",
    )


@pytest.mark.django_db(transaction=True)
def test_worker_delivers_signed_events_of_a_publication_to_a_loopback_receiver(webhook_worker, receiver):
    team = build_team(legal_mode="any")
    subscription = subscribe(url=receiver.url, event_types=["asset.approved", "asset.published"])
    version = upload(team, seed=411).version
    for action, actor in (("submit", team.librarian), ("approve", team.brand), ("approve", team.legal_a),
                          ("publish", team.publisher)):
        transition(version=version, action=action, actor=actor)
    deliveries = list(subscription.deliveries.all())
    assert len(deliveries) == 2
    _wait_for_state(webhook_worker, [d.pk for d in deliveries], "delivered")
    by_type = {}
    for headers, body in receiver.requests:
        signing.verify(secret=subscription.secret, headers=headers, body=body)
        assert headers["content-type"] == "application/json"
        by_type[json.loads(body)["type"]] = headers["webhook-id"]
    assert by_type == {d.event_type: d.message_id for d in deliveries}
    for delivery in deliveries:
        (attempt,) = delivery.attempt_log.all()
        assert attempt.succeeded and attempt.status_code == 204 and attempt.target_ip == "127.0.0.1"
        assert attempt.response_ms is not None


@pytest.mark.django_db(transaction=True)
def test_receiver_outage_ends_in_delivery_and_redelivery_resends_the_same_id(webhook_worker, receiver):
    receiver.failures_left = 2
    subscription = subscribe(url=receiver.url, event_types=["asset.published"])
    with transaction.atomic():
        (delivery,) = publish_event(type="asset.published", data={"asset": {"id": "outage"}})
    _wait_for_state(webhook_worker, [delivery.pk], "delivered")
    log = list(delivery.attempt_log.all())
    assert [(a.status_code, a.succeeded) for a in log] == [(503, False), (503, False), (204, True)]
    assert log[0].response_excerpt == "down for maintenance" and log[0].error == "HTTP 503"
    # The second wait was longer than the first (exponential backoff from 0.2 s).
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in zip(log, log[1:], strict=False)]
    assert 0.2 <= gaps[0] < gaps[1], gaps
    ids = {headers["webhook-id"] for headers, _ in receiver.requests}
    assert ids == {delivery.message_id}

    redeliver(delivery=WebhookDelivery.objects.get(pk=delivery.pk))
    webhook_worker.wait_for(lambda: delivery.attempt_log.count() == 4, timeout=60, what="the redelivery")
    _wait_for_state(webhook_worker, [delivery.pk], "delivered")
    headers, body = receiver.requests[-1]
    assert headers["webhook-id"] == delivery.message_id
    signing.verify(secret=subscription.secret, headers=headers, body=body)
    assert json.loads(body)["data"] == {"asset": {"id": "outage"}}


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_never_recovers_ends_failed_after_max_attempts(webhook_worker, receiver):
    receiver.failures_left = 100
    subscribe(url=receiver.url, event_types=["asset.expired"])
    with transaction.atomic():
        (delivery,) = publish_event(type="asset.expired", data={})
    _wait_for_state(webhook_worker, [delivery.pk], "failed")
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code, delivery.attempt_log.count()) == (4, 503, 4)
    assert len(receiver.requests) == 4


@pytest.fixture
def admin_client_(client, settings):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-root-123"))
    return client


@pytest.mark.django_db
def test_admin_refuses_a_private_target_and_redelivers_by_hand(admin_client_, settings):
    from django.urls import reverse

    add = reverse("admin:dam_webhooksubscription_add")
    form = {"url": "http://192.168.0.10/hook", "description": "CMS", "event_types": ["asset.published"],
            "is_active": "on", "secret": ""}
    refused = admin_client_.post(add, form)
    assert refused.status_code == 200 and "private address" in refused.content.decode()
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert admin_client_.post(add, form).status_code == 302
    (delivery,) = publish_event(type="asset.published", data={})
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state="failed", attempts=4)
    changelist = reverse("admin:dam_webhookdelivery_changelist")
    response = admin_client_.post(changelist, {"action": "redeliver_selected", "_selected_action": [str(delivery.pk)]})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    assert delivery.message_id in admin_client_.get(reverse("admin:dam_webhookdelivery_change", args=[delivery.pk])).content.decode()


@pytest.mark.django_db
def test_api_creates_lists_and_redelivers(admin_client_, settings):
    refused = admin_client_.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/", "event_types": ["asset.published"]},
                                 content_type="application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_target"
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    created = admin_client_.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/", "event_types": ["asset.published"]},
                                 content_type="application/json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and "secret" not in admin_client_.get(f"/api/v1/webhooks/{body['id']}/").json()
    (delivery,) = publish_event(type="asset.published", data={"x": 1})
    listed = admin_client_.get(f"/api/v1/webhooks/{body['id']}/deliveries/").json()["results"]
    assert [(d["webhook_id"], d["state"]) for d in listed] == [(delivery.message_id, "pending")]
    again = admin_client_.post(f"/api/v1/webhooks/{body['id']}/deliveries/{delivery.pk}/redeliver/")
    assert again.status_code == 202 and again.json()["attempts"] == 0


@pytest.mark.django_db
def test_api_needs_the_subscription_model_permission(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("plain", password="pw-plain-123"))
    assert client.get("/api/v1/webhooks/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_ingest_sends_asset_created_after_commit_for_new_assets_only():
    from dam.signals import asset_created

    team = build_team()
    received = []

    def listener(sender, asset, version, **kwargs):
        received.append((asset.pk, version.number))

    asset_created.connect(listener, dispatch_uid="test_webhooks_asset_created")
    try:
        first = upload(team, seed=421).version
        upload(team, seed=422, asset=first.asset)
    finally:
        asset_created.disconnect(dispatch_uid="test_webhooks_asset_created")
    assert received == [(first.asset_id, 1)]
