"""Assets: list, search, retrieve, upload, edit metadata, archive; and their versions."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import UnsupportedMediaType, ValidationError
from rest_framework.response import Response

from dam.api.base import (
    FIELDS_PARAMETER,
    IDEMPOTENCY_PARAMETER,
    IF_MATCH_PARAMETER,
    IF_NONE_MATCH_PARAMETER,
    BrandForgeViewSet,
    stamp_etag,
)
from dam.api.errors import Conflict
from dam.api.filters import AssetFilter, AssetFilterBackend
from dam.api.pagination import AssetCursorPagination, CreatedCursorPagination
from dam.api.serializers import (
    AssetSerializer,
    AssetUpdateSerializer,
    AssetUploadSerializer,
    VersionSerializer,
)
from dam.exceptions import PermissionDeniedError
from dam.models import Asset, CollectionPermission
from dam.selectors import tag_names_of, user_can
from dam.services.ingest import ingest_file
from dam.services.workflow import transition

# Version columns the API never serialises; EXIF and manifests can be large JSON, decoded per row.
_HEAVY = ("metadata", "manifest_store", "credentials")


def asset_queryset(caller):
    # Join only the versions the caller's representation shows: delivery never sees the current one.
    # Tags are not prefetched: a list attaches a page's tag names in one query (paginate_queryset),
    # one asset reads its own, and renditions and actions need none.
    joined = ["published_version"] if caller.is_delivery else ["current_version", "published_version"]
    deferred = [f"{version}__{name}" for version in joined for name in _HEAVY]
    return caller.assets().select_related(*(f"{version}__review" for version in joined)).defer(*deferred)


@extend_schema_view(
    list=extend_schema(parameters=[FIELDS_PARAMETER], summary="List and search assets"),
    retrieve=extend_schema(parameters=[FIELDS_PARAMETER, IF_NONE_MATCH_PARAMETER], summary="One asset"),
    create=extend_schema(
        request={"multipart/form-data": AssetUploadSerializer},
        responses={201: AssetSerializer, 200: AssetSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary="Upload a file as a new asset (200 when the same bytes are already an asset)",
    ),
    partial_update=extend_schema(
        request=AssetUpdateSerializer, responses=AssetSerializer, parameters=[IF_MATCH_PARAMETER],
        summary="Edit metadata (If-Match required)",
    ),
    destroy=extend_schema(parameters=[IF_MATCH_PARAMETER], summary="Archive (never a hard delete)"),
)
class AssetViewSet(BrandForgeViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = AssetSerializer
    pagination_class = AssetCursorPagination
    filterset_class = AssetFilter
    filter_backends = [AssetFilterBackend]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        return asset_queryset(self.caller)

    def etag_for(self, obj: Asset) -> str:
        # Every write to an asset (metadata, tags, versions, workflow) bumps updated_at.
        return stamp_etag(obj, caller=self.caller)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":
            names = tag_names_of(asset.pk for asset in page)
            for asset in page:
                asset.tag_names = names.get(asset.pk, [])
        return page

    def create(self, request, *args, **kwargs) -> Response:
        # Parsers are chosen before DRF knows the action, so the upload's media type is checked here.
        if not request.content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            raise UnsupportedMediaType(request.content_type)
        upload = AssetUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        collection = self.caller.collections.filter(pk=data["collection"]).first()
        if collection is None:
            raise ValidationError({"collection": [f"no collection {data['collection']} that you can reach"]})
        result = ingest_file(
            name=data["file"].name, fileobj=data["file"], collection=collection, user=self.caller.user,
            tags=data.get("tags", ()), title=data.get("title"), training_allowed=data["training_allowed"],
        )
        asset = self.get_queryset().filter(pk=result.asset.pk).first()
        if asset is None:
            # The same bytes are an asset the caller cannot see; say so without naming it.
            raise Conflict("These bytes are already stored as an asset outside your reach.", code="duplicate")
        created = result.outcome != "duplicate"
        response = Response(
            self.get_serializer(asset).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
        response["Location"] = reverse("dam-api:asset-detail", kwargs={"pk": asset.pk})
        response["ETag"] = self.etag_for(asset)
        return response

    def partial_update(self, request, *args, **kwargs) -> Response:
        self.if_match_required = True
        asset = self.get_object()
        editor = AssetUpdateSerializer(data=request.data, partial=True)
        editor.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = Asset.objects.select_for_update().get(pk=asset.pk)
            self.check_if_match(locked)
            if not user_can(self.caller.user, CollectionPermission.Action.CHANGE, asset.collection):
                raise PermissionDeniedError(f"{asset.title}: you may not change assets in {asset.collection}")
            AssetUpdateSerializer().update(locked, editor.validated_data)
        fresh = self.get_queryset().get(pk=asset.pk)
        return self.conditional_response(fresh, AssetSerializer(fresh, context=self.get_serializer_context()).data)

    def destroy(self, request, *args, **kwargs) -> Response:
        asset = self.get_object()
        with transaction.atomic():
            self.check_if_match(Asset.objects.select_for_update().get(pk=asset.pk))
            if asset.current_version is not None and asset.status != "archived":
                transition(version=asset.current_version, action="archive", actor=self.caller.user,
                           comment="archived over the API")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=VersionSerializer(many=True), summary="Versions the caller may see")
    @action(detail=True, methods=["get"], pagination_class=CreatedCursorPagination, filter_backends=[])
    def versions(self, request, pk=None) -> Response:
        asset = self.get_object()
        versions = self.caller.versions(asset).select_related("review").order_by("created_at", "id")
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(VersionSerializer(page, many=True).data)
