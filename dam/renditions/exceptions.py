"""Errors raised while reading a rendition spec or planning a rendition.

Each error carries a stable ``code`` so the view edge can map it to a 400-class response (and a
client can branch on it) without parsing the message.
"""

from __future__ import annotations


class InvalidRenditionSpec(ValueError):
    """A rendition spec that cannot be honoured: bad grammar, bad argument or impossible request."""

    code: str = "invalid_spec"

    def __init__(self, message: str, *, code: str | None = None, part: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        # The offending ``|``-separated part, so a UI can highlight it.
        self.part = part


class RenditionTooLarge(InvalidRenditionSpec):
    """The rendition would exceed the configured width, height or pixel-area limit."""

    code = "too_large"
