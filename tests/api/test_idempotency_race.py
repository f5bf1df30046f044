"""Two requests with one Idempotency-Key at the same time, in real threads on their own connections.

The design (``dam.api.base``): the first request claims the key with a row under a unique
constraint, committed before any work; a request arriving while that claim is in progress gets 409
``idempotency_in_progress`` with Retry-After, and once the first has finished every retry is its
replay. Whatever the interleaving, the upload is done once.
"""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

import dam.api.views.assets as asset_views
from dam.models import Asset, IdempotencyKey
from tests.api.conftest import assert_problem
from tests.conftest import make_image

pytestmark = pytest.mark.django_db(transaction=True)


def _post(lib, *, key: str, seed: int):
    data = {"file": SimpleUploadedFile("race.png", make_image(80, 60, seed=seed), content_type="image/png"),
            "collection": lib.a.pk, "title": f"Race {key}"}
    return lib.client("write").post("/api/v1/assets/", data, format="multipart", HTTP_IDEMPOTENCY_KEY=key)


def _at_once(lib, *, key: str, seed: int, on_answer=lambda response: None) -> list:
    """Both requests leave a barrier together, each in its own thread with its own DB connection."""
    barrier = threading.Barrier(2)
    responses: list = [None, None]
    errors: list[BaseException] = []

    def send(slot: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[slot] = _post(lib, key=key, seed=seed)
            on_answer(responses[slot])
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return responses


def _same(a, b) -> bool:
    return (a.status_code, a.content, a["Location"], a["ETag"]) == (b.status_code, b.content, b["Location"], b["ETag"])


def test_a_request_racing_an_unfinished_one_gets_409_then_the_replay(lib, monkeypatch):
    """The first request to reach ingest is held there until the other has its answer."""
    real_ingest = asset_views.ingest_file
    calls: list[str] = []
    other_answered = threading.Event()

    def held_ingest(**kwargs):
        calls.append(threading.current_thread().name)
        other_answered.wait(timeout=10)  # a racy claim lets both in here, and both wait in vain
        return real_ingest(**kwargs)

    monkeypatch.setattr(asset_views, "ingest_file", held_ingest)
    responses = _at_once(lib, key="race-held", seed=301,
                         on_answer=lambda response: response.status_code == 409 and other_answered.set())

    assert len(calls) == 1, calls
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409], [r.content[:300] for r in responses]
    first = next(r for r in responses if r.status_code == 201)
    busy = next(r for r in responses if r.status_code == 409)
    body = assert_problem(busy, 409, "idempotency_in_progress")
    assert int(busy["Retry-After"]) == body["retry_after"] >= 1

    retry = _post(lib, key="race-held", seed=301)  # after Retry-After: the first answer, replayed
    assert _same(retry, first) and retry["Idempotent-Replayed"] == "true"
    assert Asset.objects.filter(title="Race race-held").count() == 1
    assert IdempotencyKey.objects.filter(key="race-held", in_progress=False).count() == 1


@pytest.mark.parametrize("round_", range(6))
def test_simultaneous_requests_do_the_work_once(lib, round_):
    """No hook: whichever interleaving the scheduler picks, one asset and one answer (or a 409)."""
    key, seed = f"race-{round_}", 310 + round_
    responses = _at_once(lib, key=key, seed=seed)
    assert all(r.status_code < 500 for r in responses), [r.content[:300] for r in responses]
    # Exactly one did the work; the other is told to retry, or (when it came second) gets the replay.
    originals = [r for r in responses if r.status_code == 201 and not r.has_header("Idempotent-Replayed")]
    assert len(originals) == 1, [(r.status_code, r.headers) for r in responses]
    (other,) = [r for r in responses if r is not originals[0]]
    if other.status_code == 409:
        assert_problem(other, 409, "idempotency_in_progress")
    else:
        assert _same(other, originals[0]) and other["Idempotent-Replayed"] == "true"
    assert Asset.objects.filter(title=f"Race {key}").count() == 1
    replay = _post(lib, key=key, seed=seed)
    assert _same(replay, originals[0])
