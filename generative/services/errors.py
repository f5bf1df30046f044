"""Problems a librarian can fix, raised before any training starts."""

from __future__ import annotations


class GenerativeError(Exception):
    """Base of the generative services' domain errors; ``code`` says which problem, for machines."""

    default_code = "generative_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class DatasetError(GenerativeError, ValueError):
    """A snapshot that cannot train a model: too few images, mixed shapes, images too small."""

    default_code = "invalid_dataset"


class RunStateError(GenerativeError):
    """An action that the run's current state does not allow (resume a running run, ...)."""

    default_code = "invalid_run_state"
