"""Collections, tags and the incremental sync feed."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.exceptions import ValidationError
from rest_framework.fields import DateTimeField
from rest_framework.response import Response

from dam.api.base import FIELDS_PARAMETER, IF_NONE_MATCH_PARAMETER, BrandForgeViewSet
from dam.api.pagination import MergedStreamPagination, NameCursorPagination
from dam.api.serializers import AssetSerializer, CollectionSerializer, SyncEntrySerializer, TagSerializer
from dam.models import Asset, AssetDeletion, ReviewState, ReviewTransition, Tag
from dam.selectors import asset_deletions


@extend_schema_view(
    list=extend_schema(parameters=[FIELDS_PARAMETER]),
    retrieve=extend_schema(parameters=[FIELDS_PARAMETER, IF_NONE_MATCH_PARAMETER]),
)
class CollectionViewSet(BrandForgeViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = CollectionSerializer
    pagination_class = NameCursorPagination

    def get_queryset(self):
        return self.caller.collections.order_by("name", "id")


@extend_schema_view(list=extend_schema(parameters=[FIELDS_PARAMETER]))
class TagViewSet(BrandForgeViewSet, mixins.ListModelMixin):
    serializer_class = TagSerializer
    pagination_class = NameCursorPagination

    def get_queryset(self):
        # Only tags on assets the caller can reach: a tag name can say more than one would think.
        reachable = self.caller.assets().filter(tags=OuterRef("pk"))
        return Tag.objects.filter(Exists(reachable))


UPDATED_SINCE = OpenApiParameter(
    "updated_since", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, required=True,
    description="ISO 8601; changes strictly after it. Use the updated_at of the last entry you processed.",
)


class SyncViewSet(BrandForgeViewSet):
    """Every asset in the caller's collections changed after ``updated_since``, oldest change first.

    An entry holds the asset as the caller now sees it, or a tombstone (``deleted: true``) when the
    asset left the caller's view: archived, expired, unpublished, or deleted for good (the API only
    archives; the admin can delete, and ``AssetDeletion`` remembers it). A delivery token gets
    tombstones only for assets it could once have seen (published at some point), so drafts never
    show up.
    """

    serializer_class = SyncEntrySerializer
    queryset = Asset.objects.none()
    pagination_class = MergedStreamPagination

    @extend_schema(parameters=[UPDATED_SINCE], summary="Incremental sync with tombstones")
    def list(self, request) -> Response:
        raw = request.query_params.get("updated_since")
        if not raw:
            raise ValidationError({"updated_since": ["required: an ISO 8601 date-time"]})
        since = DateTimeField().to_internal_value(raw)
        caller = self.caller
        reachable = caller.assets().filter(pk=OuterRef("pk")).exclude(status=ReviewState.ARCHIVED)
        changed = (
            Asset.objects.filter(collection__in=caller.collections, updated_at__gt=since)
            .annotate(reachable=Exists(reachable))
            .select_related("current_version__review", "published_version__review")
            .prefetch_related("tags")
        )
        if caller.is_delivery:
            was_published = ReviewTransition.objects.filter(
                version__asset=OuterRef("pk"), to_state=ReviewState.PUBLISHED
            )
            changed = changed.annotate(was_published=Exists(was_published)).exclude(
                reachable=False, was_published=False
            )
        deleted = asset_deletions(collections=caller.collections, delivery=caller.is_delivery).filter(
            deleted_at__gt=since
        )
        page = self.paginator.paginate_streams([(changed, "updated_at", "id"), (deleted, "deleted_at", "asset_id")],
                                               request)
        context = self.get_serializer_context()
        entries = [self._entry(row, context) for row in page]
        return self.get_paginated_response(entries)

    @staticmethod
    def _entry(asset: Asset | AssetDeletion, context: dict) -> dict:
        if isinstance(asset, AssetDeletion):
            return {"id": asset.asset_id, "deleted": True, "asset": None,
                    "tombstone": {"id": asset.asset_id, "reason": "deleted", "updated_at": asset.deleted_at}}
        if asset.reachable:
            return {"id": asset.pk, "deleted": False, "asset": AssetSerializer(asset, context=context).data,
                    "tombstone": None}
        reason = asset.status if asset.status in (ReviewState.ARCHIVED, ReviewState.EXPIRED) else "unpublished"
        return {"id": asset.pk, "deleted": True, "asset": None,
                "tombstone": {"id": asset.pk, "reason": reason, "updated_at": asset.updated_at}}
