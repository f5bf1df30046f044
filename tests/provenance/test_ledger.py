"""The provenance ledger: hashing, the append-only guards, tamper detection, concurrent writers."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import DataError, IntegrityError, connection, connections, transaction

from provenance import ledger
from provenance.ledger import (
    GENESIS_HASH,
    InvalidEventError,
    LedgerConflictError,
    LedgerImmutableError,
    append_event,
    canonical_json,
    verify_chain,
)
from provenance.models import LedgerEntry
from tests.conftest import ROOT, django_env

TABLE = LedgerEntry._meta.db_table


def append_many(count: int, *, start: int = 0) -> list[LedgerEntry]:
    return [
        append_event(kind="dam.ingest", subject=f"dam.assetversion:{start + i}", payload={"n": start + i}, actor="user:1")
        for i in range(count)
    ]


def raw(sql: str, params: list | None = None) -> None:
    """Write around the ORM guards, as someone with database access could."""
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=TABLE), params or [])


# --- hashing -------------------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8_and_utc():
    moment = datetime(2025, 3, 1, 14, 30, 5, 120, tzinfo=timezone(timedelta(hours=2)))
    text = canonical_json({"b": [1, 2.5], "a": "café ✓", "when": moment, "id": uuid.UUID(int=7), "whole": 3.0})
    assert text == (
        '{"a":"café ✓","b":[1,2.5],"id":"00000000-0000-0000-0000-000000000007",'
        '"when":"2025-03-01T12:30:05.000120Z","whole":3}'
    )


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"x": float("nan")}, "not a JSON number"),
        ({"a": [1, {"b": float("inf")}]}, r"payload\['a'\]\[1\]\['b'\]: inf"),
        ({"x": "é\x00"}, "NUL"),
        ({"x": datetime(2025, 1, 1)}, "naive datetime"),
        ({"x": "a\x00b"}, "NUL"),
        ({1: "int key"}, "not a string"),
        ({"x": {1, 2}}, "set is not JSON-safe"),
        ({"x": "\ud800"}, "not valid Unicode"),
        ({"blob": "x" * (ledger.MAX_PAYLOAD_BYTES + 1)}, "bytes of canonical JSON"),
    ],
)
@pytest.mark.django_db
def test_payloads_that_cannot_round_trip_are_refused(payload, fragment):
    with pytest.raises(InvalidEventError, match=fragment):
        append_event(kind="dam.ingest", subject="dam.asset:1", payload=payload)
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"kind": "Dam Ingest"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"subject": "asset 42"}, "subject"),
        ({"subject": "dam.asset:"}, "subject"),
        ({"actor": "x" * 256}, "actor"),
        ({"payload": ["not", "a", "dict"]}, "payload"),
    ],
)
@pytest.mark.django_db
def test_malformed_events_are_refused(fields, fragment):
    event = {"kind": "dam.ingest", "subject": "dam.asset:1", "payload": {}, "actor": None, **fields}
    with pytest.raises(InvalidEventError, match=fragment):
        append_event(**event)


@pytest.mark.django_db
def test_entries_link_and_the_hash_follows_the_documented_definition():
    first, second, third = append_many(3)
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.entry_hash and third.prev_hash == second.entry_hash

    stored = LedgerEntry.objects.get(seq=2)
    document = {
        "actor": "user:1", "created_at": stored.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": "dam.ingest", "payload": {"n": 1}, "prev_hash": first.entry_hash, "seq": 2,
        "subject": "dam.assetversion:1",
    }
    by_hand = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stored.entry_hash == hashlib.sha256(by_hand.encode()).hexdigest()

    report = verify_chain()
    assert report.ok and report.checked == 3 and report.first_broken is None and report.head == third.entry_hash


@pytest.mark.django_db
def test_payload_survives_the_database_round_trip():
    payload = {
        "name": "Ünïcødé 商标 🎨", "tiny": 1.5e-300, "huge": 1e300, "third": 1 / 3, "negzero": -0.0,
        "big": 2**70, "nested": [{"z": None, "a": True}, []], "at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    entry = append_event(kind="generative.generation", subject="generative.variantjob:9", payload=payload)
    reread = LedgerEntry.objects.get(pk=entry.pk)
    assert canonical_json(reread.payload) == canonical_json(payload)
    assert reread.payload["huge"] == 10**300 and reread.payload["at"] == "2025-01-01T00:00:00.000000Z"
    assert verify_chain().ok


@pytest.mark.django_db
def test_subject_for_names_a_model_instance():
    user = User.objects.create(username="ada")
    assert ledger.subject_for(instance=user) == f"auth.user:{user.pk}"
    with pytest.raises(InvalidEventError, match="no primary key"):
        ledger.subject_for(instance=User(username="unsaved"))


# --- transactions and the append-only guards ------------------------------------------------------


@pytest.mark.django_db
def test_an_event_rolls_back_with_its_transaction_and_leaves_no_gap():
    append_many(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        append_event(kind="dam.workflow", subject="dam.assetversion:5", payload={"to": "approved"})
        raise RuntimeError("the change being recorded failed")
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == [1]
    assert append_many(1, start=1)[0].seq == 2
    assert verify_chain().ok


@pytest.mark.django_db
def test_the_orm_refuses_to_change_or_remove_entries():
    entry = append_many(1)[0]
    entry.payload = {"n": 999}
    with pytest.raises(LedgerImmutableError, match="append-only"):
        entry.save()
    with pytest.raises(LedgerImmutableError):
        entry.delete()
    with pytest.raises(LedgerImmutableError):
        LedgerEntry.objects.filter(seq=1).update(kind="dam.other")
    with pytest.raises(LedgerImmutableError):
        LedgerEntry.objects.all().delete()
    with pytest.raises(LedgerImmutableError):
        LedgerEntry.objects.bulk_update([entry], ["payload"])
    with pytest.raises(LedgerImmutableError):
        LedgerEntry.objects.bulk_create([LedgerEntry(seq=2)])
    assert LedgerEntry.objects.get().payload == {"n": 0}
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_second_entry_after_the_same_predecessor_is_refused(monkeypatch):
    first, _ = append_many(2)
    # A writer that read a stale head (as a REPEATABLE READ snapshot could) must not fork the chain.
    monkeypatch.setattr(ledger, "_chain_head", lambda alias: (1, first.entry_hash))
    with pytest.raises(LedgerConflictError, match="lost a race"):
        append_many(1, start=2)
    # The prev_hash constraint alone also refuses a fork, whatever seq a writer picks.
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry(seq=99, kind="x", subject="a.b:1", created_at=first.created_at,
                    prev_hash=first.entry_hash, entry_hash="f" * 64).save()
    assert LedgerEntry.objects.count() == 2 and verify_chain().ok


# --- tampering below the ORM -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_payload_changed_with_raw_sql_is_named():
    append_many(5)
    raw("UPDATE {table} SET payload = %s WHERE seq = 3", [json.dumps({"n": 666})])
    report = verify_chain()
    assert not report.ok and report.first_broken == 3 and report.checked == 2
    assert "stored hash does not match" in report.reason


@pytest.mark.django_db
def test_a_change_with_a_recomputed_hash_breaks_the_next_link():
    entries = append_many(4)
    forged = entries[1]
    forged_hash = ledger.entry_digest(
        prev_hash=forged.prev_hash, seq=2, kind=forged.kind, subject=forged.subject, actor=forged.actor,
        created_at=forged.created_at, payload={"n": 666},
    )
    raw("UPDATE {table} SET payload = %s, entry_hash = %s WHERE seq = 2", [json.dumps({"n": 666}), forged_hash])
    report = verify_chain()
    assert not report.ok and report.first_broken == 3 and "prev_hash" in report.reason


@pytest.mark.django_db
def test_swapped_entries_are_caught():
    append_many(5)
    raw("UPDATE {table} SET seq = 1000 WHERE seq = 2")
    raw("UPDATE {table} SET seq = 2 WHERE seq = 4")
    raw("UPDATE {table} SET seq = 4 WHERE seq = 1000")
    report = verify_chain()
    assert not report.ok and report.first_broken == 2 and report.checked == 1


@pytest.mark.parametrize("removed, last", [(3, 5), (1, 5)])
@pytest.mark.django_db
def test_a_deleted_entry_is_reported_as_a_gap(removed, last):
    append_many(last)
    raw("DELETE FROM {table} WHERE seq = %s", [removed])
    report = verify_chain()
    assert not report.ok and report.first_broken == removed and "missing" in report.reason


@pytest.mark.django_db
def test_a_truncated_tail_is_caught_only_against_an_anchor():
    append_many(3)
    recorded = verify_chain()
    raw("DELETE FROM {table} WHERE seq = 3")
    assert verify_chain().ok, "a chain alone cannot show that its end is missing"
    report = verify_chain(anchor=(recorded.checked, recorded.head))
    assert not report.ok and report.first_broken == 3 and "cut off the end" in report.reason


@pytest.mark.django_db
def test_an_anchor_catches_a_rewritten_chain():
    entries = append_many(3)
    assert verify_chain(anchor=(2, entries[1].entry_hash)).ok
    report = verify_chain(anchor=(2, "ab" * 32))
    assert not report.ok and report.first_broken == 2 and "rewritten" in report.reason


@pytest.mark.django_db
def test_an_unreadable_payload_is_reported_not_raised():
    append_many(2)
    if connection.vendor != "sqlite":
        # PostgreSQL's jsonb refuses the broken text outright, so it can never be read back broken.
        with pytest.raises(DataError), transaction.atomic():
            raw("UPDATE {table} SET payload = '{{broken' WHERE seq = 2")
        assert verify_chain().ok
        return
    raw("PRAGMA ignore_check_constraints = ON")
    try:
        raw("UPDATE {table} SET payload = '{{broken' WHERE seq = 2")
    finally:
        raw("PRAGMA ignore_check_constraints = OFF")
    report = verify_chain()
    assert not report.ok and report.first_broken == 2 and "cannot be read back" in report.reason


# --- concurrent writers ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_threads_build_one_chain():
    writers, per_writer = 6, 12
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                # Inside the caller's transaction, next to the change it records, as dam does.
                with transaction.atomic():
                    User.objects.create(username=f"w{writer}-{i}")
                    append_event(kind="dam.ingest", subject=f"auth.user:{writer}-{i}", payload={"w": writer, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    total = writers * per_writer
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, total + 1))
    assert {(e["w"], e["i"]) for e in LedgerEntry.objects.values_list("payload", flat=True)} == {
        (w, i) for w in range(writers) for i in range(per_writer)
    }
    report = verify_chain()
    assert report.ok and report.checked == total


APPEND_SCRIPT = """
import pathlib, time
from django.db import connection
from provenance.ledger import append_event
connection.ensure_connection()
pathlib.Path({ready!r}).touch()
while not pathlib.Path({go!r}).exists():
    time.sleep(0.01)
for i in range({count}):
    append_event(kind="generative.training_run", subject="generative.trainingrun:{proc}", payload={{"p": {proc}, "i": i}})
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_build_one_chain(tmp_path):
    processes, per_process = 2, 40
    env = django_env(connection.settings_dict["NAME"])
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{p}" for p in range(processes)]
    running = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c",
             APPEND_SCRIPT.format(count=per_process, proc=p, ready=str(ready[p]), go=str(go))],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for p in range(processes)
    ]
    # Django takes seconds to start: release every writer at once so their appends overlap.
    deadline = time.monotonic() + 120
    while not all(path.exists() for path in ready) and time.monotonic() < deadline:
        assert all(process.poll() is None for process in running), [p.communicate()[1][-2000:] for p in running]
        time.sleep(0.05)
    go.touch()
    append_many(per_process, start=1000)
    for process in running:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
    total = (processes + 1) * per_process
    report = verify_chain()
    assert report.ok and report.checked == total
    assert LedgerEntry.objects.count() == total


# --- the audit command and the admin ---------------------------------------------------------------


@pytest.mark.django_db
def test_audit_command_reports_ok_and_the_first_broken_link(capsys):
    entries = append_many(4)
    call_command("provenance_audit")
    assert f"OK: 4 ledger entries verified; head 4:{entries[-1].entry_hash}" in capsys.readouterr().out
    call_command("provenance_audit", "--anchor", f"4:{entries[-1].entry_hash}")
    assert "OK: 4" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not SEQ:HASH"):
        call_command("provenance_audit", "--anchor", "4:nothex")

    raw("UPDATE {table} SET actor = %s WHERE seq = 2", ["user:2"])
    with pytest.raises(CommandError, match=r"broken at entry #2: .*stored hash") as caught:
        call_command("provenance_audit")
    assert caught.value.returncode == 1
    with pytest.raises(CommandError):
        call_command("provenance_audit", "--json")
    reported = json.loads(capsys.readouterr().out)
    assert reported["ok"] is False and reported["first_broken"] == 2 and reported["checked"] == 1


@pytest.mark.django_db(transaction=True)
def test_audit_command_exit_status():
    # One run only (Django takes seconds to start): the intact case is covered through call_command.
    append_many(3)
    raw("DELETE FROM {table} WHERE seq = 2")
    broken = subprocess.run(
        [sys.executable, "manage.py", "provenance_audit"], cwd=ROOT, env=django_env(connection.settings_dict["NAME"]),
        capture_output=True, text=True, timeout=120,
    )
    assert broken.returncode == 1 and "entry #2 is missing" in broken.stderr


@pytest.mark.django_db
def test_admin_lists_entries_read_only(client):
    entry = append_many(1)[0]
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    listing = client.get("/admin/provenance/ledgerentry/")
    assert listing.status_code == 200 and entry.entry_hash[:12] in listing.text
    assert client.get("/admin/provenance/ledgerentry/add/").status_code == 403
    assert client.post(f"/admin/provenance/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    detail = client.post(f"/admin/provenance/ledgerentry/{entry.pk}/change/", {"kind": "dam.forged"})
    assert detail.status_code == 403
    assert LedgerEntry.objects.get().kind == "dam.ingest" and verify_chain().ok
