"""Domain errors of the DAM. They become HTTP statuses only at the view edge."""

from __future__ import annotations


class DamError(Exception):
    default_code = "dam_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class PermissionDeniedError(DamError):
    default_code = "permission_denied"


class NotFoundError(DamError):
    default_code = "not_found"
