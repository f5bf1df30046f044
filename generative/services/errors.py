"""Problems a librarian can fix, raised before any training starts."""

from __future__ import annotations


class GenerativeError(Exception):
    """Base of the generative services' domain errors."""


class DatasetError(GenerativeError, ValueError):
    """A snapshot that cannot train a model: too few images, mixed shapes, images too small."""


class RunStateError(GenerativeError):
    """An action that the run's current state does not allow (resume a running run, ...)."""
