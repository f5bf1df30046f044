"""The provenance ledger's rows: append-only, hash-chained entries.

Rows are written only by ``provenance.ledger.append_event``, which computes the hashes. The model
refuses every ORM path that would change or remove a row; raw SQL can still do it, which is why
``provenance.ledger.verify_chain`` exists.
"""

from __future__ import annotations

from typing import NoReturn

from django.db import models


class LedgerError(Exception):
    """Base of the ledger's domain errors."""


class LedgerImmutableError(LedgerError):
    """Raised on any attempt to change or delete a ledger entry through the ORM."""


def _refuse(action: str) -> NoReturn:
    raise LedgerImmutableError(
        f"The provenance ledger is append-only: {action} is refused; record a new event instead."
    )


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs) -> NoReturn:
        _refuse("QuerySet.update() on ledger entries")

    def delete(self) -> NoReturn:
        _refuse("QuerySet.delete() on ledger entries")

    def bulk_update(self, objs, fields, batch_size=None) -> NoReturn:
        _refuse("bulk_update() on ledger entries")

    def bulk_create(self, objs, *args, **kwargs) -> NoReturn:
        # A batch would bypass the chain head lookup that append_event serialises.
        _refuse("bulk_create() on ledger entries (use provenance.ledger.append_event)")


class LedgerEntry(models.Model):
    seq = models.PositiveBigIntegerField(unique=True, help_text="Position in the chain: 1, 2, 3… with no gaps.")
    kind = models.CharField(max_length=64, db_index=True)
    subject = models.CharField(max_length=255, db_index=True, help_text='What the event is about, e.g. "dam.assetversion:42".')
    actor = models.CharField(max_length=255, null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    # Unique: two entries claiming the same predecessor would be a fork.
    prev_hash = models.CharField(max_length=64, unique=True)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "ledger entries"
        # Related lookups and Model.save()'s update path use the base manager: keep it guarded too.
        base_manager_name = "objects"
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="provenance_ledger_seq_positive")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.subject}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            _refuse(f"changing ledger entry #{self.seq}")
        # An insert only: never let Django try an UPDATE first.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs) -> NoReturn:
        _refuse(f"deleting ledger entry #{self.seq}")


from provenance.models_repository import StoredManifest  # noqa: E402,F401  (Django finds models here)
