"""Kinds of long work behind /api/v1/jobs/: a small registry the jobs endpoints read.

``dam`` knows no kind: an app that does long work registers one from its ``AppConfig.ready()``
(``generative`` registers ``training``; variant generation will register its own), and the
endpoints, the schema and the ids follow without a change here. A job's id is ``<kind>-<pk>``.

A kind supplies:

- ``model`` and :meth:`JobKind.jobs`: its rows the caller may reach (others answer 404), each with
  ``created_at``;
- ``serializer_class``: a :class:`JobSerializer` whose ``progress``, ``parameters`` and ``result``
  say what this kind reports;
- ``start_serializer_class`` (a :class:`JobStartSerializer`) and :meth:`JobKind.start`, which raise
  DRF validation errors naming the field and the reason and leave nothing behind when refusing;
- :meth:`JobKind.cancel`, and optionally :meth:`JobKind.file` for files a job makes (a sample grid).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# The one status vocabulary of every kind (a kind maps its own states onto it).
JOB_STATUSES = ("queued", "running", "cancelling", "cancelled", "failed", "finished")
_KIND_NAME = r"[a-z][a-z0-9_]*"
# Without groups, for URL patterns and the schema (a group would become a view argument).
JOB_ID_PATTERN = rf"{_KIND_NAME}-[0-9]{{1,18}}"
_JOB_ID = re.compile(rf"(?P<kind>{_KIND_NAME})-(?P<pk>[0-9]{{1,18}})")


class JobSerializer(serializers.Serializer):
    """What every job shows; a kind's subclass sets ``kind_name`` and its own ``progress``/``parameters``/``result``."""

    kind_name: ClassVar[str] = ""

    id = serializers.SerializerMethodField(help_text="<kind>-<number>, as in /api/v1/jobs/{id}/")
    kind = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=JOB_STATUSES, read_only=True)
    progress = serializers.DictField(read_only=True)
    parameters = serializers.DictField(read_only=True, help_text="What the job was asked to do.")
    result = serializers.DictField(read_only=True, allow_null=True, help_text="Set once the job has finished.")
    error = serializers.CharField(read_only=True, allow_null=True, help_text="Set when the job failed.")
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_id(self, job: Model) -> str:
        return job_id(self.kind_name, job.pk)

    @extend_schema_field(serializers.CharField())
    def get_kind(self, job: Model) -> str:
        return self.kind_name


class JobStartSerializer(serializers.Serializer):
    """The body of ``POST /api/v1/jobs/``; a kind's subclass narrows ``kind`` to its name."""

    kind = serializers.ChoiceField(choices=[], help_text="Which kind of job to start.")


class JobKind(ABC):
    name: ClassVar[str]
    model: ClassVar[type[Model]]
    serializer_class: ClassVar[type[JobSerializer]]
    start_serializer_class: ClassVar[type[JobStartSerializer]]

    @abstractmethod
    def jobs(self, caller) -> QuerySet:
        """This kind's jobs within the caller's reach (``dam.api.permissions.Caller``)."""

    @abstractmethod
    def start(self, data: dict[str, Any], *, caller) -> Model:
        """Start a job from the validated body; refuse with DRF errors naming the field and the reason."""

    @abstractmethod
    def cancel(self, job: Model, *, caller) -> Model:
        """Ask the job to stop; a job that is no longer active is a ``dam.api.errors.Conflict``."""

    def file(self, job: Model, name: str) -> tuple[Path, str] | None:
        """(path, media type) of a file the job made, by name; None when there is none."""
        return None


_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: JobKind) -> None:
    if not re.fullmatch(_KIND_NAME, kind.name):
        raise ValueError(f"job kind name {kind.name!r}: lower-case letters, digits and _ only")
    _KINDS[kind.name] = kind


def job_kinds() -> dict[str, JobKind]:
    return dict(_KINDS)


def job_id(kind: str, pk: int) -> str:
    return f"{kind}-{pk}"


def parse_job_id(value: str) -> tuple[JobKind, int] | None:
    """The kind and primary key an id names, or None for an id no registered kind could have made."""
    match = _JOB_ID.fullmatch(value or "")
    if match is None or match["kind"] not in _KINDS:
        return None
    return _KINDS[match["kind"]], int(match["pk"])
