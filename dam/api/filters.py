"""Search and filters for assets.

- ``q``: PostgreSQL full-text search (``websearch_to_tsquery`` over title and description, plus an
  exact tag name); results keep the list's ordering so cursor pagination stays stable. The
  document is the stored, GIN-indexed ``search_vector`` column (migration 0008). On SQLite every
  word must appear in the title, description or a tag (icontains).
- ``colour``: assets whose palette has a colour within ``colour_distance`` (Euclidean, in RGB 0–255)
  of the hex value. Palettes are small JSON lists, so the distance is computed in Python over the
  candidates the other filters leave, at most ``COLOUR_CANDIDATES`` of them (newest first): a
  colour search narrowed by nothing else sees the newest 5,000 assets. Indexed colour buckets
  would lift that bound at the cost of a table kept in step with every version.
- Sizes and MIME filter the version the caller receives (published for delivery, else current).
"""

from __future__ import annotations

import re

import django_filters
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from dam.api.permissions import caller_of
from dam.models import Asset, Collection, ReviewState

COLOUR_CANDIDATES = 5000
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def _rgb(value: str) -> tuple[int, int, int]:
    match = _HEX.match(value.strip())
    if match is None:
        raise ValidationError({"colour": [f"{value!r} is not a hex colour like #1a2b3c"]})
    raw = match.group(1)
    return int(raw[0:2], 16), int(raw[2:4], 16), int(raw[4:6], 16)


def search_assets(queryset: QuerySet[Asset], text: str) -> QuerySet[Asset]:
    words = text.split()
    if not words:
        return queryset
    if connection.vendor == "postgresql":
        # The column is not on the model (migration 0008 says why), hence raw SQL, in a subquery of
        # its own so it does not depend on the alias the outer query gives dam_asset. The text
        # match stays a subquery: one GIN index scan into a hashed set, whatever the outer plan.
        matched = RawSQL(
            f"SELECT id FROM {Asset._meta.db_table} "  # noqa: S608 (a table name, not input)
            "WHERE search_vector @@ websearch_to_tsquery('simple'::regconfig, %s)",
            [text],
        )
        tagged = Asset.objects.filter(tags__name__iexact=text.strip()).values("pk")
        return queryset.filter(Q(pk__in=matched) | Q(pk__in=tagged))
    for word in words:
        queryset = queryset.filter(
            Q(title__icontains=word) | Q(description__icontains=word) | Q(tags__name__icontains=word)
        )
    return queryset.distinct()


class AssetFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Full-text search.")
    tags = django_filters.CharFilter(method="filter_tags", help_text="Comma-separated; all must be present.")
    collection = django_filters.NumberFilter(method="filter_collection", help_text="With its descendants.")
    status = django_filters.ChoiceFilter(choices=ReviewState.choices)
    kind = django_filters.ChoiceFilter(choices=Asset.Kind.choices)
    source = django_filters.ChoiceFilter(choices=Asset.Source.choices)
    mime = django_filters.CharFilter(method="filter_mime", help_text="Exact, or a family like image/*.")
    colour = django_filters.CharFilter(method="filter_noop", help_text="Hex colour, e.g. #1a2b3c.")
    colour_distance = django_filters.NumberFilter(method="filter_noop", help_text="RGB distance (default 40).")
    width_min = django_filters.NumberFilter(method="filter_size")
    width_max = django_filters.NumberFilter(method="filter_size")
    height_min = django_filters.NumberFilter(method="filter_size")
    height_max = django_filters.NumberFilter(method="filter_size")
    bytes_min = django_filters.NumberFilter(method="filter_size")
    bytes_max = django_filters.NumberFilter(method="filter_size")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = Asset
        fields: list[str] = []

    @property
    def _version(self) -> str:
        return "published_version" if caller_of(self.request).is_delivery else "current_version"

    def filter_q(self, queryset, name, value):
        return search_assets(queryset, value)

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_tags(self, queryset, name, value):
        for tag in {t.strip() for t in value.split(",") if t.strip()}:
            queryset = queryset.filter(tags__name=tag)
        return queryset

    def filter_collection(self, queryset, name, value):
        root = Collection.objects.filter(pk=value).values_list("path", flat=True).first()
        if root is None:
            return queryset.none()
        return queryset.filter(collection__path__startswith=root)

    def filter_mime(self, queryset, name, value):
        if value.endswith("/*"):
            return queryset.filter(**{f"{self._version}__mime__startswith": value[:-1]})
        return queryset.filter(**{f"{self._version}__mime": value})

    def filter_size(self, queryset, name, value):
        field, bound = name.rsplit("_", 1)
        column = "size" if field == "bytes" else field
        lookup = "gte" if bound == "min" else "lte"
        return queryset.filter(**{f"{self._version}__{column}__{lookup}": value})

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        colour = self.form.cleaned_data.get("colour")
        if colour:
            distance = self.form.cleaned_data.get("colour_distance")
            queryset = self._near_colour(queryset, _rgb(colour), 40.0 if distance is None else float(distance))
        return queryset

    def _near_colour(self, queryset, target: tuple[int, int, int], distance: float):
        limit = distance * distance
        rows = queryset.order_by("-created_at").values_list("pk", f"{self._version}__palette")[:COLOUR_CANDIDATES]
        hits = []
        for pk, palette in rows:
            for entry in palette or []:
                r, g, b = _rgb(entry.get("hex", "#000000"))
                if (r - target[0]) ** 2 + (g - target[1]) ** 2 + (b - target[2]) ** 2 <= limit:
                    hits.append(pk)
                    break
        return queryset.filter(pk__in=hits)


class AssetFilterBackend(DjangoFilterBackend):
    """django-filter's backend, minus the FilterSet when the request names none of its filters.

    A FilterSet copies its two dozen filters and builds and validates a form on every request,
    the plain list and a retrieve included (DRF filters the detail queryset too); with no filter
    parameters all that leaves the queryset as it was, so it is skipped.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and filterset_class.base_filters.keys().isdisjoint(request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)
