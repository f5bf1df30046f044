"""Serving renditions by signed URL and originals to permitted users."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe

from dam.models import AssetVersion, CollectionPermission
from dam.renditions import InvalidRenditionSpec, RenditionTooLarge
from dam.selectors import is_deliverable, user_can
from dam.services.renditions import DELIVERY, get_or_create_rendition, read_rendition_token


def file_response(request: HttpRequest, *, fieldfile, mime: str, etag: str, max_age: int) -> HttpResponse:
    """The file, or 304 when If-None-Match holds its ETag; private caching, no MIME sniffing."""
    quoted = quote_etag(etag)
    if quoted in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = FileResponse(fieldfile.open("rb"), content_type=mime)
    response["ETag"] = quoted
    response["Cache-Control"] = f"private, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def rendition(request: HttpRequest, token: str) -> HttpResponse:
    try:
        signed = read_rendition_token(token)
    except signing.SignatureExpired:
        return HttpResponse("This rendition link has expired.", status=410, content_type="text/plain")
    except signing.BadSignature:
        raise Http404("No such rendition.") from None
    version = get_object_or_404(AssetVersion.objects.select_related("asset__collection"), pk=signed.version_id)
    # The state is checked now, not when the URL was made: a link to something since archived,
    # expired or moved out of reach serves nothing.
    if signed.audience == DELIVERY:
        allowed = is_deliverable(version)
    else:
        allowed = user_can(request.user, CollectionPermission.Action.VIEW, version.asset.collection)
    if not allowed:
        raise Http404("No such rendition.")
    try:
        made = get_or_create_rendition(version=version, spec=signed.spec, signed=signed.audience == DELIVERY)
    except (InvalidRenditionSpec, RenditionTooLarge) as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return file_response(request, fieldfile=made.file, mime=made.mime, etag=rendition_etag(version, made), max_age=300)


def rendition_etag(version: AssetVersion, rendition) -> str:
    return f"{version.sha256[:32]}-{rendition.pk}"


@require_safe
@login_required
def original(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(AssetVersion.objects.select_related("asset__collection"), pk=version_id)
    if not user_can(request.user, CollectionPermission.Action.VIEW, version.asset.collection):
        raise Http404("No such asset version.")
    response = file_response(request, fieldfile=version.file, mime=version.mime, etag=version.sha256, max_age=60)
    response["Content-Disposition"] = f'inline; filename="{version.original_filename}"'
    if version.mime == "image/svg+xml":
        # Even sanitised SVG is served as an isolated document.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
