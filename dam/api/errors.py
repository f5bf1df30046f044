"""RFC 9457 problem details (``application/problem+json``) for every 4xx/5xx of the API.

Every problem has ``type`` (a stable URN built from ``code``), ``title``, ``status``, ``detail``,
``code`` (stable, machine-readable), ``instance`` (the request path) and, for validation errors,
``errors``: a list of ``{"field": ..., "code": ..., "detail": ...}``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from dam.exceptions import DamError, NotFoundError, PermissionDeniedError
from dam.ingest.errors import RejectedFile
from dam.renditions import InvalidRenditionSpec, RenditionTooLarge
from dam.services.workflow import ConflictError, TransitionNotAllowed, WorkflowError

logger = logging.getLogger(__name__)

PROBLEM_MIME = "application/problem+json"
TYPE_BASE = "urn:brandforge:problem:"


class ApiProblem(exceptions.APIException):
    """A problem with a stable code; subclasses set the status."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request is not valid."


class PreconditionFailed(ApiProblem):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The resource changed since you read it (If-Match does not match its ETag); reload it."


class PreconditionRequired(ApiProblem):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_code = "precondition_required"
    default_detail = "Send If-Match with the ETag you read, so a concurrent change is not overwritten."


class Conflict(ApiProblem):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state of the resource."


class Unprocessable(ApiProblem):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request is well-formed but cannot be processed."


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


def _problem(*, status_code: int, code: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + code,
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
        "instance": instance,
        **extra,
    }


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested validation errors as a flat list naming each field by its dotted path."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else (prefix or name))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            nested = isinstance(value, (dict, list))
            out += _flatten(value, f"{prefix}[{index}]" if nested else prefix)
        return out
    return [{"field": prefix, "code": getattr(detail, "code", "invalid") or "invalid", "detail": str(detail)}]


def _as_api_exception(exc: Exception) -> exceptions.APIException | None:
    # Domain errors become HTTP statuses here, at the edge, and nowhere else.
    if isinstance(exc, (Http404, NotFoundError)):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, (DjangoPermissionDenied, PermissionDeniedError)):
        return exceptions.PermissionDenied(str(exc) or None, code=getattr(exc, "code", None))
    if isinstance(exc, (ConflictError, TransitionNotAllowed)):
        return Conflict(exc.message, code=exc.code)
    if isinstance(exc, WorkflowError):
        return ApiProblem(exc.message, code=exc.code)
    if isinstance(exc, (InvalidRenditionSpec, RenditionTooLarge)):
        return ApiProblem(str(exc), code="invalid_rendition_spec")
    if isinstance(exc, RejectedFile):
        return Unprocessable(str(exc), code=getattr(exc, "code", None) or "rejected_file")
    if isinstance(exc, DamError):
        return ApiProblem(exc.message, code=exc.code)
    if isinstance(exc, exceptions.APIException):
        return exc
    return None


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    # Imported here: rest_framework.views imports the permission classes, which import this module.
    from rest_framework.views import set_rollback

    request = context.get("request")
    instance = request.path if request is not None else ""
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        logger.exception("unhandled error in %s", instance, exc_info=exc)
        set_rollback()
        body = _problem(status_code=500, code="server_error", detail="An unexpected error occurred.",
                        instance=instance)
        return Response(body, status=500, content_type=PROBLEM_MIME)
    extra: dict[str, Any] = {}
    if isinstance(api_exc, exceptions.ValidationError):
        errors = _flatten(api_exc.detail)
        code, detail = "invalid", "; ".join(
            f"{e['field']}: {e['detail']}" if e["field"] else e["detail"] for e in errors
        )
        extra["errors"] = errors
    else:
        codes = api_exc.get_codes()
        code = codes if isinstance(codes, str) else api_exc.default_code
        detail = str(api_exc.detail)
    headers: dict[str, str] = {}
    if getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = api_exc.auth_header
    if getattr(api_exc, "wait", None) is not None:
        headers["Retry-After"] = str(int(api_exc.wait) + 1)
        extra["retry_after"] = int(api_exc.wait) + 1
    set_rollback()
    body = _problem(status_code=api_exc.status_code, code=code, detail=detail, instance=instance, **extra)
    return Response(body, status=api_exc.status_code, headers=headers, content_type=PROBLEM_MIME)


def problem_response(request: HttpRequest, *, status_code: int, code: str, detail: str) -> JsonResponse:
    """A problem outside DRF's views (unknown API paths, Django's own 404/500 under /api/)."""
    body = _problem(status_code=status_code, code=code, detail=detail, instance=request.path)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_MIME)


@csrf_exempt  # a POST to no resource is a 404, not a CSRF page in HTML
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return problem_response(request, status_code=404, code="not_found", detail=f"No API resource at {request.path}.")
