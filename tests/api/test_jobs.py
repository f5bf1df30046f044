"""The jobs resource with training runs: start (202 + Location), poll, result, cancel, reach, refusals.

Most tests run the API in process with the run left queued (nothing is enqueued inside a test's
transaction); one runs a real Celery worker to train a tiny model end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from django.contrib.auth.models import Group, Permission, User
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from dam.models import ApiToken, CollectionPermission, WebhookDelivery
from dam.services.collections import collection_for_path
from dam.webhooks.services import subscribe
from generative.models import DatasetSnapshot, ModelVersion, TrainingRun
from generative.services import runner
from generative.tasks import train_gan
from provenance.models import LedgerEntry
from tests.api.conftest import assert_problem
from tests.api.test_contract import _keep_test_connection, bounded_contract, call_as, raw  # noqa: F401
from tests.conftest import WorkerProcess, start_worker, stop_process
from tests.dam.workflow_helpers import Team, build_team
from tests.generative.test_snapshots import add_image
from tests.generative.test_training_runs import CHEAP_METRICS, CHECKPOINT_KIMG, tiny_config

JOBS = "/api/v1/jobs/"
jobs_schema = schemathesis.openapi.from_dict(raw).include(path_regex=r"^/api/v1/jobs/")
jobs_schema.app = get_wsgi_application()


@dataclass
class Studio:
    team: Team
    tokens: dict[str, str]

    @property
    def root(self):
        return self.team.collection.parent

    def client(self, who: str) -> APIClient:
        client = APIClient()
        if who.startswith("session:"):
            client.force_login(User.objects.get(username=who.split(":", 1)[1]))
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        return client

    def body(self, **changes) -> dict:
        return {"kind": "training", "collection": self.root.pk, "resolution": 32, "kimg": 3 * CHECKPOINT_KIMG,
                "config": tiny_config().to_dict(), **changes}


@pytest.fixture
def studio(db, settings) -> Studio:
    for name, value in CHEAP_METRICS.items():
        setattr(settings, name, value)
    team = build_team(legal_mode="any")
    for seed in range(8):
        add_image(team, seed=seed, size=(48, 40))
    other = collection_for_path("Other")
    outsiders = Group.objects.create(name="Other viewers")
    CollectionPermission.objects.create(collection=other, group=outsiders, action="view")
    team.librarian.groups.add(outsiders)
    team.outsider.groups.add(outsiders)
    team.librarian.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="generative", codename__in=["add_trainingrun", "change_trainingrun"]))
    team.outsider.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="generative", codename__in=["add_trainingrun", "change_trainingrun"]))
    tokens = {}
    for name, scopes, collections, user in (
        ("gen", ["read", "generate"], [team.collection.parent], team.librarian),
        ("gen_other", ["read", "generate"], [other], team.librarian),
        ("write", ["read", "write", "review"], [team.collection.parent], team.librarian),
        ("gen_noperm", ["read", "generate"], [team.collection.parent], team.brand),
    ):
        tokens[name] = ApiToken.issue(name=name, user=user, scopes=scopes, collections=collections).plaintext
    return Studio(team=team, tokens=tokens)


def _nothing_created() -> bool:
    return (not TrainingRun.objects.exists() and not DatasetSnapshot.objects.exists()
            and not LedgerEntry.objects.filter(kind="generative.training").exists())


def test_post_answers_202_with_location_and_the_job_shows_its_parameters(studio):
    client = studio.client("gen")
    response = client.post(JOBS, studio.body(tags=[]), format="json")
    assert response.status_code == 202, response.content[:500]
    run = TrainingRun.objects.get()
    assert response["Location"] == f"/api/v1/jobs/training-{run.pk}/"
    job = response.json()
    assert job["id"] == f"training-{run.pk}" and job["kind"] == "training" and job["status"] == "queued"
    assert job["result"] is None and job["error"] is None and job["started_at"] is None
    assert job["parameters"]["collection"] == studio.root.pk and job["parameters"]["resolution"] == 32
    assert job["parameters"]["snapshot"] == run.snapshot.content_hash
    assert job["progress"]["fraction"] == 0.0 and job["progress"]["target_kimg"] == pytest.approx(0.06)
    assert run.config == tiny_config().to_dict() and run.created_by == studio.team.librarian

    polled = client.get(response["Location"])
    assert polled.status_code == 200 and polled.json() == job
    assert client.get(response["Location"], HTTP_IF_NONE_MATCH=polled["ETag"]).status_code == 304
    listed = client.get(JOBS).json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]
    assert client.get(JOBS, {"kind": "training"}).json()["results"] == listed["results"]
    assert_problem(client.get(JOBS, {"kind": "painting"}), 400)


def test_a_config_override_merges_into_the_tuned_defaults(studio):
    response = studio.client("gen").post(JOBS, studio.body(config={"batch_size": 8, "gan": {"z_dim": 32}}),
                                         format="json")
    assert response.status_code == 202, response.content[:500]
    config = TrainingRun.objects.get().config
    assert config["batch_size"] == 8 and config["gan"]["z_dim"] == 32 and config["gan"]["resolution"] == 32


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"kind": "painting"}, "kind", None),
    ({"kimg": 0}, "kimg", None),
    ({"kimg": "lots"}, "kimg", None),
    ({"resolution": 48}, "resolution", None),
    ({"collection": "Brand"}, "collection", None),
    ({"tags": ["no-such-tag"]}, "collection", "too_few_images"),
    ({"resolution": 64, "config": {}}, "resolution", "images_too_small"),
    ({"resolution": 64}, "config", "invalid_config"),  # the tiny config's network is 32 px
    ({"config": {"batch_size": "big"}}, "config", "invalid_config"),
    ({"config": {"learning_rate": 1}}, "config", "invalid_config"),
    ({"config": {"gan": {"resolution": 64}}}, "config", "invalid_config"),
    ({"config": {"augment_ops": [{"x": 1}]}}, "config", "invalid_config"),
    ({"config": {"batch_size": 0}}, "config", "invalid_config"),
    ({"config": {"style_mixing_prob": 1.5}}, "config", "invalid_config"),
    ({"config": {"lr_g": -0.002}}, "config", "invalid_config"),
])
def test_bad_input_is_a_problem_naming_the_field_and_leaves_nothing(studio, changes, field, code):
    response = studio.client("gen").post(JOBS, studio.body(**changes), format="json")
    body = assert_problem(response, 400, "invalid")
    assert body["errors"][0]["field"] == field, body
    if code is not None:
        assert body["errors"][0]["code"] == code, body
    assert _nothing_created()


def test_unreachable_collections_and_odd_bodies_are_refused(studio):
    other = collection_for_path("Other")
    client = studio.client("gen")
    # Other exists and the user sees it, but the token is bound to Brand: not reachable.
    body = assert_problem(client.post(JOBS, studio.body(collection=other.pk), format="json"), 400)
    assert body["errors"][0]["field"] == "collection" and "reach" in body["errors"][0]["detail"]
    for odd in ([], "training", {"collection": studio.root.pk}):
        assert assert_problem(client.post(JOBS, odd, format="json"), 400)["errors"][0]["field"] == "kind"
    assert_problem(client.post(JOBS, {"kind": "training"}, format="multipart"), 415)
    assert _nothing_created()


def test_scope_and_permission(studio):
    assert_problem(studio.client("write").get(JOBS), 403, "insufficient_scope")
    assert_problem(studio.client("write").post(JOBS, studio.body(), format="json"), 403, "insufficient_scope")
    # The scope is the token's; the right to train is still its user's.
    assert_problem(studio.client("gen_noperm").post(JOBS, studio.body(), format="json"), 403, "permission_denied")
    assert _nothing_created()


def test_jobs_out_of_reach_are_404_in_list_and_detail(studio):
    created = studio.client("gen").post(JOBS, studio.body(), format="json")
    location = created["Location"]
    for who in ("gen_other", "session:outsider"):
        client = studio.client(who)
        assert client.get(JOBS).json()["results"] == [], who
        for response in (client.get(location), client.post(location + "cancel/"),
                         client.get(location + "files/samples.png")):
            assert_problem(response, 404, "not_found")
    client = studio.client("gen")
    for missing in ("/api/v1/jobs/training-999999/", "/api/v1/jobs/painting-1/", "/api/v1/jobs/nothing/"):
        assert_problem(client.get(missing), 404, "not_found")
    assert_problem(client.get(location + "files/samples.png"), 404)  # nothing trained yet
    assert TrainingRun.objects.get().status == "queued"  # the outsider's cancel did nothing


def test_cancel_answers_202_then_409(studio):
    client = studio.client("gen")
    location = client.post(JOBS, studio.body(), format="json")["Location"]
    cancelled = client.post(location + "cancel/")
    assert cancelled.status_code == 202 and cancelled["Location"] == location
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"] is not None
    assert_problem(client.post(location + "cancel/"), 409, "job_not_active")


def test_start_is_idempotent_with_a_key(studio):
    client = studio.client("gen")
    first = client.post(JOBS, studio.body(), format="json", HTTP_IDEMPOTENCY_KEY="train-1")
    again = client.post(JOBS, studio.body(), format="json", HTTP_IDEMPOTENCY_KEY="train-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again["Location"] == first["Location"]
    assert TrainingRun.objects.count() == 1


def test_list_pages_newest_first_in_queries_that_do_not_grow(studio):
    client = studio.client("gen")
    ids = [client.post(JOBS, studio.body(), format="json").json()["id"]]
    with CaptureQueriesContext(connection) as one:
        assert client.get(JOBS).status_code == 200
    ids += [client.post(JOBS, studio.body(), format="json").json()["id"] for _ in range(2)]
    with CaptureQueriesContext(connection) as three:
        assert len(client.get(JOBS).json()["results"]) == 3
    assert len(three) == len(one), [q["sql"] for q in three.captured_queries]
    seen, url = [], JOBS + "?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [j["id"] for j in page["results"]]
        url = page["next"]
    assert seen == ids[::-1]


def test_a_finished_run_shows_its_result_and_emits_webhooks(studio, monkeypatch, settings):
    settings.DAM_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    subscribe(url="http://127.0.0.1:9/hook", event_types=["training.started", "training.finished",
                                                         "training.failed"])
    client = studio.client("gen")
    location = client.post(JOBS, studio.body(), format="json")["Location"]
    run = TrainingRun.objects.get()
    assert train_gan(run.pk) == "finished"  # the task, in process: the worker test below runs it for real
    job = client.get(location).json()
    version = ModelVersion.objects.get(run=run)
    assert job["status"] == "finished" and job["error"] is None and job["progress"]["fraction"] == 1.0
    assert job["result"]["model_version"] == version.pk and job["result"]["metrics"] == version.metrics
    grid = client.get(job["result"]["sample_grid"])
    assert grid.status_code == 200 and grid["Content-Type"] == "image/png"
    assert b"".join(grid.streaming_content)[:4] == b"\x89PNG"
    events = {d.event_type: d.payload["data"] for d in WebhookDelivery.objects.all()}
    assert set(events) == {"training.started", "training.finished"}
    assert events["training.finished"]["model_version"] == version.pk
    assert events["training.started"]["job"] == job["id"]

    def broken(*args, **kwargs):
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(runner.run_metrics, "checkpoint_metrics", broken)
    failing = client.post(JOBS, studio.body(), format="json").json()
    assert train_gan(int(failing["id"].split("-")[1])) == "failed"
    failed = client.get(f"{JOBS}{failing['id']}/").json()
    assert failed["status"] == "failed" and "encoder exploded" in failed["error"] and failed["result"] is None
    assert WebhookDelivery.objects.filter(event_type="training.failed", payload__data__job=failing["id"]).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_trains_a_job_to_its_result_and_cancels_another(studio, monkeypatch, tmp_path):
    for name, value in CHEAP_METRICS.items():
        monkeypatch.setenv(name, str(value))
    worker = start_worker(db_name=connection.settings_dict["NAME"], queues="train", log=tmp_path / "worker.log")
    follower = WorkerProcess(worker, tmp_path / "worker.log")
    client = studio.client("gen")
    try:
        started = client.post(JOBS, studio.body(), format="json")
        assert started.status_code == 202, started.content[:500]
        location = started["Location"]

        def job_when(url: str, *statuses: str):
            job = client.get(url).json()
            return job if job["status"] in statuses else None

        job = follower.wait_for(lambda: job_when(location, "finished", "failed", "cancelled"), timeout=240,
                                what="the job to finish")
        assert job["status"] == "finished", job
        version = ModelVersion.objects.get(run__pk=int(job["id"].split("-")[1]))
        assert job["result"]["model_version"] == version.pk and job["result"]["metrics"]["swd_mean"] > 0
        assert job["progress"]["kimg"] == pytest.approx(3 * CHECKPOINT_KIMG) and job["started_at"]
        assert client.get(job["result"]["sample_grid"]).status_code == 200

        long = client.post(JOBS, studio.body(kimg=500 * CHECKPOINT_KIMG), format="json")["Location"]
        follower.wait_for(lambda: client.get(long).json()["progress"]["kimg"] > 0, timeout=120,
                          what="the second job to train")
        cancel = client.post(long + "cancel/")
        assert cancel.status_code == 202 and cancel.json()["status"] == "cancelling"
        stopped = follower.wait_for(lambda: job_when(long, "cancelled"), timeout=120, what="the cancel")
        assert stopped["progress"]["kimg"] < 500 * CHECKPOINT_KIMG and stopped["result"] is None
        assert_problem(studio.client("gen_other").get(location), 404)
    finally:
        stop_process(worker)


@bounded_contract(jobs_schema)
def test_jobs_conform_to_the_schema_with_a_generate_token(case, studio):
    """The contract test's checks on the jobs endpoints as a caller who may use them (it runs as review)."""
    call_as(case, studio.tokens["gen"])
