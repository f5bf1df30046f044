"""Explicit representations of the API's resources."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dam.api.base import DirectReadModelSerializer, SparseFieldsSerializer
from dam.models import Asset, AssetVersion, Collection, ReviewState, ReviewTransition, Tag


class VersionSerializer(SparseFieldsSerializer, DirectReadModelSerializer):
    state = serializers.CharField(source="review.state", read_only=True)

    class Meta:
        model = AssetVersion
        fields = ["number", "sha256", "size", "mime", "width", "height", "frames", "palette",
                  "original_filename", "state", "created_at"]
        read_only_fields = fields


class TagNamesField(serializers.ListField):
    """An asset's tag names in name order: ``tag_names`` when a list view attached them for its page in
    one query (``dam.selectors.tag_names_of``), else read from the relation (or its prefetch)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(), read_only=True, **kwargs)

    def get_attribute(self, instance: Asset) -> list[str]:
        names = getattr(instance, "tag_names", None)
        return names if names is not None else [tag.name for tag in instance.tags.all()]


class AssetSerializer(SparseFieldsSerializer, DirectReadModelSerializer):
    tags = TagNamesField()
    current_version = VersionSerializer(read_only=True, allow_null=True)
    published_version = VersionSerializer(read_only=True, allow_null=True)
    revision = serializers.SerializerMethodField(help_text="Review revision of the current version (actions).")

    class Meta:
        model = Asset
        fields = ["id", "title", "description", "kind", "status", "source", "collection", "tags", "licence",
                  "usage_terms", "expires_at", "training_allowed", "focal_x", "focal_y", "focal_width",
                  "focal_height", "current_version", "published_version", "revision", "created_at", "updated_at"]
        read_only_fields = fields

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        caller = self.context.get("caller")
        if caller is not None and caller.is_delivery:
            # Delivery sees the published version only: work in progress is not its business.
            for name in ("current_version", "revision"):
                self.fields.pop(name, None)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_revision(self, asset: Asset) -> int | None:
        version = asset.current_version
        review = getattr(version, "review", None) if version is not None else None
        return review.revision if review is not None else None


class AssetUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Asset
        fields = ["title", "description", "licence", "usage_terms", "expires_at", "training_allowed",
                  "focal_x", "focal_y", "focal_width", "focal_height"]
        extra_kwargs = {"title": {"required": False}}

    def update(self, instance: Asset, validated_data: dict) -> Asset:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.full_clean()
        with transaction.atomic():
            instance.save(update_fields=[*validated_data, "updated_at"])
        return instance


class AssetUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    collection = serializers.IntegerField(min_value=1)
    title = serializers.CharField(max_length=255, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    training_allowed = serializers.BooleanField(required=False, default=False)


class CollectionSerializer(SparseFieldsSerializer, serializers.ModelSerializer):
    class Meta:
        model = Collection
        fields = ["id", "name", "parent", "path", "created_at"]
        read_only_fields = fields


class TagSerializer(SparseFieldsSerializer, serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]
        read_only_fields = fields


class TransitionSerializer(SparseFieldsSerializer, serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        model = ReviewTransition
        fields = ["id", "version", "action", "from_state", "to_state", "step_name", "round", "actor_name",
                  "comment", "created_at"]
        read_only_fields = fields


class ActionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    revision = serializers.IntegerField(
        required=False, min_value=0, help_text="The review revision you saw; a different one is a 409."
    )


class TombstoneSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reason = serializers.ChoiceField(choices=[ReviewState.ARCHIVED, ReviewState.EXPIRED, "unpublished", "deleted"])
    updated_at = serializers.DateTimeField()


class SyncEntrySerializer(serializers.Serializer):
    """One change: the asset as it is now, or a tombstone saying the caller should drop it."""

    id = serializers.UUIDField()
    deleted = serializers.BooleanField()
    asset = AssetSerializer(allow_null=True)
    tombstone = TombstoneSerializer(allow_null=True)
