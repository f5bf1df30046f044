"""Rendition bytes (or a short-lived signed URL) of the version the caller receives.

The client chooses with ``?redirect=1`` or, without changing the URL, with ``Prefer: redirect``
(RFC 7240); the query parameter wins when both are given. Either way the answer varies on
``Prefer`` and names an honoured preference in ``Preference-Applied``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation

from dam.api.base import IF_NONE_MATCH_PARAMETER, BrandForgeViewSet
from dam.api.conf import api_settings
from dam.api.prefer import preferences
from dam.api.views.assets import asset_queryset
from dam.exceptions import NotFoundError
from dam.services.renditions import DELIVERY, STAFF, canonical_spec, get_or_create_rendition, rendition_url
from dam.views.renditions import file_response, rendition_etag


class FirstRendererNegotiation(BaseContentNegotiation):
    """Errors are always problem+json; the bytes bypass renderers, so ``Accept: image/*`` is fine."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_YES, _NO = ("", "1", "true"), ("0", "false")  # a bare "redirect" means yes


def wants_redirect(request: HttpRequest) -> tuple[bool, str | None]:
    """(redirect?, the preference honoured for ``Preference-Applied``, if a ``Prefer`` decided it)."""
    if "redirect" in request.GET:
        return request.GET["redirect"] in ("1", "true"), None
    value = preferences(request.headers.get("Prefer", "")).get("redirect")
    if value is not None and value.lower() in _YES:
        return True, "redirect"
    if value is not None and value.lower() in _NO:
        return False, "redirect=false"
    return False, None  # absent, or a value this API does not know: ignored (RFC 7240 section 2)


class RenditionViewSet(BrandForgeViewSet):
    content_negotiation_class = FirstRendererNegotiation
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            OpenApiParameter("spec", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="A rendition spec such as fill-300x200|format-webp."),
            OpenApiParameter("redirect", OpenApiTypes.BOOL, OpenApiParameter.QUERY,
                             description="Answer 302 to a short-lived signed URL instead of the bytes "
                                         "(wins over Prefer)."),
            OpenApiParameter("Prefer", OpenApiTypes.STR, OpenApiParameter.HEADER,
                             description="RFC 7240. `redirect` (or `redirect=true`): a 302 to a short-lived "
                                         "signed URL; `redirect=false`: the bytes. Other preferences are "
                                         "ignored."),
            OpenApiParameter("Preference-Applied", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 302],
                             description="`redirect` or `redirect=false` when a Prefer header chose the answer."),
            OpenApiParameter("Vary", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 302],
                             description="Includes Prefer: the answer depends on it."),
            IF_NONE_MATCH_PARAMETER,
        ],
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The rendition's bytes."),
            302: OpenApiResponse(description="Location: a signed URL valid for DAM_RENDITION_URL_MAX_AGE."),
        },
        summary="A rendition of the version you receive (published for delivery tokens)",
    )
    def retrieve(self, request, id=None, spec=None):
        asset = get_object_or_404(asset_queryset(self.caller), pk=id)
        version = asset.published_version if self.caller.is_delivery else asset.current_version
        if version is None:
            raise NotFoundError("this asset has no version to render")
        parsed = canonical_spec(spec or "")
        redirect, applied = wants_redirect(request)
        if redirect:
            audience = DELIVERY if version.pk == asset.published_version_id else STAFF
            url = request.build_absolute_uri(rendition_url(version=version, spec=parsed, audience=audience))
            response = HttpResponseRedirect(url)
            response["Cache-Control"] = "private, no-store"
        else:
            made = get_or_create_rendition(version=version, spec=parsed, signed=self.caller.is_delivery)
            response = file_response(request, fieldfile=made.file, mime=made.mime,
                                     etag=rendition_etag(version, made), max_age=api_settings.RENDITION_MAX_AGE)
        if applied is not None:
            response["Preference-Applied"] = applied
        patch_vary_headers(response, ["Prefer"])
        return response
