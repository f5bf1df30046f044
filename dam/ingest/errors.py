"""The one error ingest raises: a file was refused, with a stable code and a sentence a person can read."""

from __future__ import annotations


class RejectedFile(Exception):
    """A file (or archive member) that ingest refuses.

    ``code`` is a stable short identifier for programs and translations ("truncated",
    "too_many_pixels", "mime_not_allowed", "svg_unsafe", ...); ``reason`` is the human sentence.
    """

    def __init__(self, *, name: str, code: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.code = code
        self.reason = reason

    def __reduce__(self):  # keep it picklable for Celery results despite keyword-only __init__
        return (_rebuild, (self.name, self.code, self.reason))


def _rebuild(name: str, code: str, reason: str) -> RejectedFile:
    return RejectedFile(name=name, code=code, reason=reason)
