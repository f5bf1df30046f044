"""HTTP faces of provenance: the verify page/endpoint and the C2PA soft-binding resolution API.

Views only parse, bound and answer; the work is in provenance.services. Every bad input gets a
JSON 4xx with a message naming the input, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from provenance import watermark
from provenance.conf import provenance_settings
from provenance.services import repository
from provenance.services.fingerprints import (
    PHASH_ALGORITHM,
    ImageDecodeError,
    decode_image,
    payload_from_watermark_id,
    watermark_id_from_payload,
)
from provenance.services.verify import verify_file

DEFAULT_MAX_RESULTS = 10
MAX_MAX_RESULTS = 100
# Multipart framing around the file: boundaries and part headers, generously.
_MULTIPART_SLACK = 64 * 1024


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _too_large(request: HttpRequest, slack: int = 0) -> JsonResponse | None:
    limit = provenance_settings.MAX_VERIFY_BYTES
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _error(400, "Content-Length is not a number")
    if length > limit + slack:
        return _error(413, f"upload of {length} bytes exceeds the limit of {limit} bytes")
    return None


def read_upload(request: HttpRequest) -> tuple[bytes | None, JsonResponse | None]:
    """The `file` of a multipart POST, within the size limit, or the 4xx that says why not."""
    if (problem := _too_large(request, _MULTIPART_SLACK)) is not None:
        return None, problem
    upload = request.FILES.get("file")
    if upload is None:
        return None, _error(400, "send the file to verify as multipart/form-data field 'file'")
    if upload.size > provenance_settings.MAX_VERIFY_BYTES:
        return None, _error(413, f"{upload.name}: {upload.size} bytes exceeds the limit")
    return upload.read(), None


def verify_page(request: HttpRequest, *, base_context: dict) -> HttpResponse:
    """The HTML form and its verdict; shared by the plain view and the admin page."""
    context = {**base_context, "title": "Verify a file", "max_bytes": provenance_settings.MAX_VERIFY_BYTES}
    if request.method != "POST":
        return render(request, "provenance/verify.html", context)
    data, problem = read_upload(request)
    if problem is not None:
        context["error"] = json.loads(problem.content)["error"]
        return render(request, "provenance/verify.html", context, status=problem.status_code)
    verdict = verify_file(data=data)
    context.update(verdict=verdict, verdict_json=json.dumps(verdict.as_json(), indent=2, ensure_ascii=False))
    return render(request, "provenance/verify.html", context)


@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    """GET: the upload form. POST multipart `file`: the verdict, as JSON when Accept asks for it."""
    if not request.user.is_authenticated:
        if _wants_json(request):
            return _error(401, "log in to verify files")
        return redirect_to_login(request.get_full_path())
    if request.method == "POST" and _wants_json(request):
        data, problem = read_upload(request)
        if problem is not None:
            return problem
        return JsonResponse(verify_file(data=data).as_json())
    return verify_page(request, base_context=admin.site.each_context(request))


# --- C2PA Soft Binding Resolution API ---------------------------------------------------------


def _sbr_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # Queries only read; a cross-site POST can neither change anything nor read the answer, so
    # CSRF protection would only stop non-browser clients the specification is written for.
    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not (provenance_settings.SOFT_BINDING_API_PUBLIC or request.user.is_authenticated):
            return _error(403, "client not allowed to perform this operation")
        return view(request, *args, **kwargs)

    return wrapped


def _max_results(request: HttpRequest) -> int:
    raw = request.GET.get("maxResults", str(DEFAULT_MAX_RESULTS))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"maxResults={raw!r}: not an integer") from None
    if not 1 <= value <= MAX_MAX_RESULTS:
        raise ValueError(f"maxResults={value}: must be 1..{MAX_MAX_RESULTS}")
    return value


def _binding_matches(*, alg: str, value: str) -> list[dict]:
    if alg != watermark.ALGORITHM:
        return []
    # Normalise (URL-safe or unpadded base64) to the stored form.
    stored = repository.by_watermark(watermark_id=watermark_id_from_payload(payload_from_watermark_id(value)))
    return [{"manifestId": stored.manifest_id}] if stored else []


@_sbr_access
@require_http_methods(["GET", "POST"])
def matches_by_binding(request: HttpRequest) -> JsonResponse:
    try:
        max_results = _max_results(request)
        if request.method == "POST":
            try:
                query = json.loads(request.body or b"null")
            except (ValueError, UnicodeDecodeError):
                raise ValueError("request body is not JSON") from None
            if not isinstance(query, dict):
                raise ValueError('request body must be a JSON object {"alg": ..., "value": ...}')
        else:
            query = request.GET
        alg, value = query.get("alg"), query.get("value")
        if not isinstance(alg, str) or not alg or not isinstance(value, str) or not value:
            raise ValueError("alg and value are required strings")
        matches = _binding_matches(alg=alg, value=value)
    except ValueError as exc:
        return _error(400, str(exc))
    return JsonResponse({"matches": matches[:max_results]})


@_sbr_access
@require_http_methods(["POST"])
def matches_by_content(request: HttpRequest) -> JsonResponse:
    """The asset is the request body (or a multipart `file`); `alg` picks watermark or phash."""
    try:
        max_results = _max_results(request)
    except ValueError as exc:
        return _error(400, str(exc))
    alg = request.GET.get("alg")
    if alg not in (None, watermark.ALGORITHM, PHASH_ALGORITHM):
        return _error(400, f"alg={alg!r}: supported here are {watermark.ALGORITHM} and {PHASH_ALGORITHM}")
    if request.content_type == "multipart/form-data":
        data, problem = read_upload(request)
        if problem is not None:
            return problem
    else:
        if (problem := _too_large(request)) is not None:
            return problem
        # Read the stream directly: request.body would refuse anything over
        # DATA_UPLOAD_MAX_MEMORY_SIZE, a limit meant for form fields, not assets.
        data = request.read(provenance_settings.MAX_VERIFY_BYTES + 1)
        if len(data) > provenance_settings.MAX_VERIFY_BYTES:
            return _error(413, "asset exceeds the upload limit")
    try:
        decoded = decode_image(data=data, max_pixels=provenance_settings.MAX_VERIFY_PIXELS)
    except ImageDecodeError as exc:
        return _error(400, f"request body: {exc}")
    matches: list[dict] = []
    if alg in (None, watermark.ALGORITHM):
        found = watermark.detect(decoded.image)
        if found.found and found.payload is not None:
            stored = repository.by_watermark(watermark_id=watermark_id_from_payload(found.payload))
            if stored:
                matches.append({"manifestId": stored.manifest_id, "similarityScore": 100})
    if alg == PHASH_ALGORITHM or (alg is None and not matches):
        near = repository.near_matches(
            phash=decoded.phash, max_distance=provenance_settings.NEAR_MATCH_DISTANCE, limit=max_results
        )
        matches.extend({"manifestId": m.manifest.manifest_id, "similarityScore": m.similarity} for m in near)
    return JsonResponse({"matches": matches[:max_results]})


@_sbr_access
@require_http_methods(["GET"])
def manifest_by_id(request: HttpRequest, manifest_id: str) -> HttpResponse:
    """The stored manifest store as signed (application/c2pa). We keep whole stores only, so
    returnActiveManifest=true gets the store too, whose active manifest is the requested one."""
    stored = repository.by_manifest_id(manifest_id=manifest_id)
    if stored is None:
        return _error(404, f"manifest {manifest_id!r}: not in this repository")
    return HttpResponse(bytes(stored.manifest_store), content_type="application/c2pa")


@_sbr_access
@require_http_methods(["GET"])
def supported_algorithms(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"watermarks": [{"alg": watermark.ALGORITHM}], "fingerprints": [{"alg": PHASH_ALGORITHM}]})
