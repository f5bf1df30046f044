"""Review actions on an asset's current version, and its audit trail."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from dam.api.base import IDEMPOTENCY_PARAMETER, BrandForgeViewSet
from dam.api.errors import InsufficientScope
from dam.api.pagination import CreatedCursorPagination
from dam.api.serializers import ActionSerializer, TransitionSerializer
from dam.api.views.assets import asset_queryset
from dam.exceptions import NotFoundError
from dam.models import ReviewTransition, TokenScope
from dam.services.workflow import transition

# URL spelling → workflow action. Submitting is the uploader's step; the rest are reviewers'.
ACTIONS = {
    "submit": ("submit", TokenScope.WRITE),
    "approve": ("approve", TokenScope.REVIEW),
    "request-changes": ("request_changes", TokenScope.REVIEW),
    "reject": ("reject", TokenScope.REVIEW),
    "publish": ("publish", TokenScope.REVIEW),
    "archive": ("archive", TokenScope.REVIEW),
}
ACTION_PARAMETER = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(ACTIONS), description="The workflow action."
)
ASSET_PARAMETER = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class AssetActionViewSet(BrandForgeViewSet):
    serializer_class = ActionSerializer

    @property
    def required_scope(self) -> str | None:
        entry = ACTIONS.get(self.kwargs.get("name", ""))
        return entry[1] if entry else TokenScope.REVIEW

    @extend_schema(
        parameters=[ASSET_PARAMETER, ACTION_PARAMETER, IDEMPOTENCY_PARAMETER], request=ActionSerializer,
        responses=TransitionSerializer, summary="Drive the review: 409 when the revision is stale",
    )
    def create(self, request, id=None, name=None) -> Response:
        entry = ACTIONS.get(name or "")
        if entry is None:
            raise NotFoundError(f"no action {name!r}; expected one of {', '.join(ACTIONS)}")
        asset = get_object_or_404(asset_queryset(self.caller), pk=id)
        if self.caller.is_delivery or asset.current_version is None:
            raise NotFoundError("no such asset")
        form = ActionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        record = transition(
            version=asset.current_version, action=entry[0], actor=self.caller.user,
            comment=form.validated_data["comment"], expected_revision=form.validated_data.get("revision"),
        )
        return Response(TransitionSerializer(record).data)


class AssetAuditViewSet(BrandForgeViewSet):
    serializer_class = TransitionSerializer
    pagination_class = CreatedCursorPagination
    queryset = ReviewTransition.objects.none()

    @extend_schema(parameters=[ASSET_PARAMETER], summary="The review trail of every version, oldest first")
    def list(self, request, id=None) -> Response:
        asset = get_object_or_404(asset_queryset(self.caller), pk=id)
        if self.caller.is_delivery:
            raise InsufficientScope("The audit trail needs a token with the 'write' or 'review' scope.")
        trail = ReviewTransition.objects.filter(version__asset=asset).select_related("version")
        page = self.paginate_queryset(trail)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
