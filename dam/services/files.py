"""Writing files so that no crash leaves a file without a row or a row without a file.

The protocol: (1) commit a PendingFile row naming the file, (2) write the bytes, (3) in the
transaction that creates the rows pointing at the file, delete the PendingFile row. A process killed
anywhere leaves either nothing, or a PendingFile row and maybe a partial file, which
:func:`reconcile_pending` removes once the grace period shows no live process owns it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from dam.models import AssetVersion, PendingFile, Rendition

logger = logging.getLogger(__name__)


def read_stored(field_file) -> bytes:
    """The bytes of a stored file, through a handle of its own.

    ``FieldFile.open()`` reuses and then closes one file object per model instance, so two threads
    reading the same instance (a thread pool, a threaded server) closed each other's reads.
    """
    with field_file.storage.open(field_file.name, "rb") as handle:
        return handle.read()


def write_pending(*, stem: str, ext: str, data: bytes) -> str:
    """Journal a fresh name under ``stem`` then write ``data`` there.

    Returns the stored name; the caller must :func:`adopt` it in the transaction that references
    it, or :func:`discard` it. A random suffix keeps concurrent writers of the same content (two
    requests making one rendition, two imports of one file) from ever touching each other's file.
    """
    return write_pending_many([(stem, ext, data)])[0]


def write_pending_many(items: list[tuple[str, str, bytes]]) -> list[str]:
    """:func:`write_pending` for several (stem, ext, data) at once: one journal commit for all."""
    names = [f"{stem}-{secrets.token_hex(4)}.{ext}" for stem, ext, _ in items]
    # Committed on its own: the journal rows must outlive a rollback of the caller's transaction.
    with transaction.atomic(durable=not transaction.get_connection().in_atomic_block):
        PendingFile.objects.bulk_create([PendingFile(name=name) for name in names])
    written: list[str] = []
    try:
        for name, (_, _, data) in zip(names, items, strict=True):
            saved = default_storage.save(name, ContentFile(data))
            if saved != name:
                default_storage.delete(saved)
                raise FileExistsError(f"storage renamed {name!r} to {saved!r}; refusing an unjournaled name")
            written.append(name)
    except BaseException:
        for name in names:
            discard(name)
        raise
    return names


def adopt(*names: str) -> None:
    """Call inside the transaction that creates the rows pointing at ``names``."""
    PendingFile.objects.filter(name__in=names).delete()


def discard(name: str) -> None:
    """Remove a journaled file that will not be adopted (an error, or a concurrent winner)."""
    default_storage.delete(name)
    PendingFile.objects.filter(name=name).delete()


def _referenced(name: str) -> bool:
    return AssetVersion.objects.filter(file=name).exists() or Rendition.objects.filter(file=name).exists()


def reconcile_pending(*, grace_seconds: int) -> int:
    """Delete files journaled more than ``grace_seconds`` ago that no row adopted. Returns the count."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    removed = 0
    for pending in PendingFile.objects.filter(created_at__lte=cutoff):
        if not _referenced(pending.name):
            default_storage.delete(pending.name)
            removed += 1
            logger.warning("removed %s left behind by an interrupted write", pending.name)
        pending.delete()
    return removed
