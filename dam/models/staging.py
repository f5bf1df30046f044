"""A journal of files being written, so that a killed process never leaves an orphan behind."""

from __future__ import annotations

from django.db import models


class PendingFile(models.Model):
    """Committed *before* bytes go to storage, deleted in the transaction that adopts the file.

    A row still here after its grace period belongs to a process that died between writing the
    file and committing its rows: reconciliation deletes the file and the row.
    """

    name = models.CharField(max_length=500, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.name
