"""The provenance ledger: every provenance event appended to one hash chain.

Each entry's hash is the SHA-256 of the canonical JSON of its own fields and its predecessor's hash
(see ``entry_digest``), so changing, removing or reordering any entry breaks the chain from that
entry on, and ``verify_chain`` names the first broken link.

Transactions: ``append_event`` may (and should) be called inside the caller's
``transaction.atomic()`` block, so the event commits or rolls back together with the change it
records; a rolled-back event leaves no gap. It serialises appends until that transaction ends
(PostgreSQL: a transaction-level advisory lock; SQLite: the database write lock that
``transaction_mode: IMMEDIATE`` takes at BEGIN), so call it late in the transaction. The caller's
transaction must be READ COMMITTED (Django's default on PostgreSQL): a REPEATABLE READ snapshot
taken before the lock could not see the newest entry, and the append would fail with
``LedgerConflictError`` rather than fork. Unique constraints on ``seq`` and ``prev_hash`` are the last
line of defence: whatever goes wrong, a second entry after the same predecessor is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connections, models, router, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from provenance.models import LedgerEntry, LedgerError, LedgerImmutableError

__all__ = [
    "GENESIS_HASH",
    "AuditReport",
    "InvalidEventError",
    "LedgerConflictError",
    "LedgerError",
    "LedgerImmutableError",
    "append_event",
    "canonical_json",
    "entry_digest",
    "subject_for",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
# Events describe files by hash and id; they never carry the files. This bound keeps it so.
MAX_PAYLOAD_BYTES = 64 * 1024
_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_SUBJECT = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*:[^\s\x00]+")
# A fixed 64-bit key, so no other user of pg_advisory_xact_lock takes ours by accident.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"brandforge.provenance.ledger").digest()[:8], "big", signed=True)


class InvalidEventError(LedgerError, ValueError):
    """An event whose kind, subject, actor or payload cannot be recorded faithfully."""


class LedgerConflictError(LedgerError):
    """Another writer appended after the same predecessor; the chain refused the fork."""


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    # Entries verified intact (all of them when ok; those before the first broken link otherwise).
    checked: int
    first_broken: int | None
    reason: str
    # Hash of the last intact entry (GENESIS_HASH for an empty ledger): worth recording elsewhere,
    # because only an outside record of the head reveals entries cut off the end of the chain.
    head: str


def _normalise(value: Any, where: tuple) -> Any:
    """The JSON value that will be stored, so that hashing it again after a database round trip
    gives the same bytes (PostgreSQL's jsonb keeps numbers as decimals and refuses NUL).

    ``where`` is the path to ``value``, formatted only for an error: audits run this on every entry.
    """
    if isinstance(value, str):
        return _checked_string(value, where)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEventError(f"{_path(where)}: {value!r} is not a JSON number")
        # jsonb hands 1.0 and 1e20 back as integers: store them as the integer the decimal denotes.
        return int(Decimal(repr(value))) if value.is_integer() else value
    if isinstance(value, dict | Mapping):
        normalised = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventError(f"{_path(where)}: key {key!r} is not a string")
            normalised[_checked_string(key, where)] = _normalise(item, (*where, key))
        return normalised
    if isinstance(value, list | tuple):
        return [_normalise(item, (*where, index)) for index, item in enumerate(value)]
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidEventError(f"{_path(where)}: naive datetime {value.isoformat()} has no time zone")
        return _iso_utc(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise InvalidEventError(f"{_path(where)}: {type(value).__name__} is not JSON-safe")


def _checked_string(value: str, where: tuple) -> str:
    if "\x00" in value:
        raise InvalidEventError(f"{_path(where)}: strings may not contain NUL characters")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEventError(f"{_path(where)}: string is not valid Unicode ({exc.reason})") from exc
    return value


def _path(where: tuple) -> str:
    return where[0] + "".join(f"[{part!r}]" for part in where[1:])


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept as UTF-8, datetimes as ISO-8601 UTC strings."""
    return json.dumps(
        _normalise(value, ("value",)), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_digest(
    *, prev_hash: str, seq: int, kind: str, subject: str, actor: str | None, created_at: datetime, payload: Any
) -> str:
    """SHA-256 (hex) of the UTF-8 canonical JSON of the entry's fields and its predecessor's hash."""
    document = {
        "actor": actor,
        "created_at": created_at,
        "kind": kind,
        "payload": payload,
        "prev_hash": prev_hash,
        "seq": seq,
        "subject": subject,
    }
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def subject_for(*, instance: models.Model) -> str:
    """The subject string for a model instance, e.g. ``dam.assetversion:42``."""
    if instance.pk is None:
        raise InvalidEventError(f"subject: {instance._meta.label} instance has no primary key yet")
    return f"{instance._meta.label_lower}:{instance.pk}"


def _checked_text(value: Any, *, field: str, pattern: re.Pattern | None, max_length: int) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{field}: expected a non-empty string, got {value!r}")
    if len(value) > max_length:
        raise InvalidEventError(f"{field}: {len(value)} characters is more than the {max_length} allowed")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidEventError(f"{field}: {value!r} does not have the form {pattern.pattern}")
    _checked_string(value, (field,))
    return value


def _serialise_appends(alias: str) -> None:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        # Held until the surrounding transaction ends, so the head read below is the real head.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
    # SQLite: BEGIN IMMEDIATE already took the database write lock. Other databases rely on the
    # unique constraints alone: a race becomes LedgerConflictError, never a fork.


def _chain_head(alias: str) -> tuple[int, str]:
    """The last entry's seq and hash; (0, GENESIS_HASH) for an empty ledger."""
    head = LedgerEntry.objects.using(alias).order_by("-seq").values_list("seq", "entry_hash").first()
    return head if head is not None else (0, GENESIS_HASH)


def append_event(*, kind: str, subject: str, payload: dict, actor: str | None = None) -> LedgerEntry:
    """Append one event to the chain and return its entry.

    ``kind`` is a dotted lower-case name (``dam.ingest``), ``subject`` names what the event is about
    (``dam.assetversion:42``), ``payload`` is a JSON-safe dict (aware datetimes and UUIDs become
    strings), ``actor`` who caused it (``user:7``, ``worker:train``) or None.
    """
    kind = _checked_text(kind, field="kind", pattern=_KIND, max_length=64)
    subject = _checked_text(subject, field="subject", pattern=_SUBJECT, max_length=255)
    if actor is not None:
        actor = _checked_text(actor, field="actor", pattern=None, max_length=255)
    if not isinstance(payload, Mapping):
        raise InvalidEventError(f"payload: expected a dict, got {type(payload).__name__}")
    payload = _normalise(payload, ("payload",))
    size = len(canonical_json(payload).encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidEventError(f"payload: {size} bytes of canonical JSON is more than {MAX_PAYLOAD_BYTES}")

    alias = router.db_for_write(LedgerEntry)
    with transaction.atomic(using=alias):
        _serialise_appends(alias)
        last_seq, prev_hash = _chain_head(alias)
        seq = last_seq + 1
        entry = LedgerEntry(
            seq=seq, kind=kind, subject=subject, actor=actor, payload=payload,
            created_at=timezone.now(), prev_hash=prev_hash,
        )
        entry.entry_hash = entry_digest(
            prev_hash=prev_hash, seq=seq, kind=kind, subject=subject, actor=actor,
            created_at=entry.created_at, payload=payload,
        )
        try:
            entry.save(using=alias)
        except IntegrityError as exc:
            raise LedgerConflictError(
                f"ledger entry #{seq} ({kind} {subject}) lost a race for predecessor {prev_hash[:12]}…: "
                "another writer appended first; retry in a new transaction"
            ) from exc
    return entry


def _rows(alias: str) -> Iterator[tuple]:
    # The payload is read as text and parsed here, so a corrupted row is reported, not raised.
    return (
        LedgerEntry.objects.using(alias)
        .order_by("seq")
        .annotate(payload_text=Cast("payload", models.TextField()))
        .values_list("seq", "kind", "subject", "actor", "created_at", "prev_hash", "entry_hash", "payload_text")
        .iterator(chunk_size=2000)
    )


def _broken_link(row: tuple, *, expected_seq: int, prev_hash: str) -> str | None:
    """Why this row does not continue the chain, or None when it does."""
    seq, kind, subject, actor, created_at, stored_prev, stored_hash, payload_text = row
    if seq > expected_seq:
        return f"entry #{expected_seq} is missing: the chain goes from #{expected_seq - 1} to #{seq}"
    if seq < expected_seq:
        return f"entry #{seq} is out of order (expected #{expected_seq})"
    try:
        payload = json.loads(payload_text)
        digest = entry_digest(
            prev_hash=stored_prev, seq=seq, kind=kind, subject=subject, actor=actor,
            created_at=created_at, payload=payload,
        )
    except (ValueError, TypeError) as exc:
        return f"entry #{seq} cannot be read back: {exc}"
    if digest != stored_hash:
        return f"entry #{seq}'s stored hash does not match its contents: the entry was altered or moved"
    if stored_prev != prev_hash:
        origin = "the genesis hash" if seq == 1 else f"the hash of entry #{seq - 1}"
        return f"entry #{seq}'s prev_hash does not match {origin}: an entry before it was altered, removed or reordered"
    return None


def verify_chain(*, using: str | None = None, anchor: tuple[int, str] | None = None) -> AuditReport:
    """Recompute every entry's hash and link, in order, and stop at the first broken link.

    ``anchor`` is a ``(seq, entry_hash)`` recorded outside the database by an earlier audit: the
    chain must still hold that entry, which reveals entries cut off the end or a rewritten chain.
    """
    alias = using or router.db_for_read(LedgerEntry)
    expected_seq, prev_hash = 1, GENESIS_HASH
    for row in _rows(alias):
        reason = _broken_link(row, expected_seq=expected_seq, prev_hash=prev_hash)
        if reason is None and anchor is not None and row[0] == anchor[0] and row[6] != anchor[1]:
            reason = f"entry #{row[0]}'s hash differs from the anchor {anchor[1][:12]}…: the chain was rewritten"
        if reason is not None:
            return AuditReport(
                ok=False, checked=expected_seq - 1, first_broken=min(row[0], expected_seq), reason=reason, head=prev_hash
            )
        expected_seq, prev_hash = expected_seq + 1, row[6]
    count = expected_seq - 1
    if anchor is not None and anchor[0] > count:
        return AuditReport(
            ok=False, checked=count, first_broken=count + 1, head=prev_hash,
            reason=f"the chain ends at #{count} but the anchor names entry #{anchor[0]}: entries were cut off the end",
        )
    return AuditReport(ok=True, checked=count, first_broken=None, reason=f"{count} entries intact", head=prev_hash)
