"""Stored first responses of POSTs sent with an ``Idempotency-Key``.

A key belongs to one caller (a token, or a session user). The first request claims the key with
a row in state ``in_progress``; a concurrent request with the same key gets 409 rather than waiting
(the client retries after ``Retry-After``). When the first request finishes, its status, headers and
body are stored and every replay returns them. The same key with a different fingerprint (method,
path, body) is a 422.
"""

from __future__ import annotations

from django.db import models


class IdempotencyKey(models.Model):
    # "token:<id>" or "user:<id>": keys of different callers never collide.
    owner = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    in_progress = models.BooleanField(default=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="dam_idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
