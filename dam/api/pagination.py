"""Cursor pagination: stable under inserts, O(1) per page however deep the client goes."""

from __future__ import annotations

from base64 import b64decode, b64encode
from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.utils.urls import replace_query_param

from dam.api.conf import api_settings


class AssetCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"

    def get_page_size(self, request) -> int:
        self.page_size = api_settings.PAGE_SIZE
        self.max_page_size = api_settings.MAX_PAGE_SIZE
        return super().get_page_size(request)


class NameCursorPagination(AssetCursorPagination):
    ordering = ("name", "id")


class CreatedCursorPagination(AssetCursorPagination):
    ordering = ("created_at", "id")


class MergedStreamPagination(AssetCursorPagination):
    """Keyset pages over several querysets merged into one order by (timestamp, id).

    For feeds that one queryset cannot page: sync (asset rows and deletion records, oldest first,
    so a client that stops half-way resumes from where it stopped) and jobs (one table per kind,
    newest first). The cursor is the (timestamp, id) of the last entry served; ``previous`` is
    always null: these feeds are read forward.
    """

    def paginate_streams(self, streams: list[tuple[QuerySet, str, str]], request, *,
                         descending: bool = False) -> list:
        """``streams``: (queryset, timestamp field, id field); returns the page's objects in order."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        after = self._decode(request.query_params.get(self.cursor_query_param))
        rows: list[tuple[datetime, object, object]] = []
        for queryset, stamp, ident in streams:
            if after is not None:
                queryset = queryset.filter(self._beyond(queryset, stamp, ident, after, descending=descending))
            ordering = (f"-{stamp}", f"-{ident}") if descending else (stamp, ident)
            rows += [(getattr(obj, stamp), getattr(obj, ident), obj)
                     for obj in queryset.order_by(*ordering)[: self.page_size + 1]]
        rows.sort(key=lambda row: (row[0], row[1]), reverse=descending)
        page = rows[: self.page_size]
        self.next_position = page[-1][:2] if len(rows) > self.page_size else None
        return [row[2] for row in page]

    def _beyond(self, queryset: QuerySet, stamp: str, ident: str, after: tuple[datetime, str], *,
                descending: bool) -> Q:
        meta = queryset.model._meta
        try:
            key = (meta.pk if ident == "pk" else meta.get_field(ident)).to_python(after[1])
        except DjangoValidationError as exc:
            raise self._invalid() from exc
        op = "lt" if descending else "gt"
        return Q(**{f"{stamp}__{op}": after[0]}) | Q(**{stamp: after[0], f"{ident}__{op}": key})

    def _decode(self, raw: str | None) -> tuple[datetime, str] | None:
        if raw is None:
            return None
        try:
            stamp, _, ident = b64decode(raw.encode("ascii"), validate=True).decode("ascii").partition("|")
            when = datetime.fromisoformat(stamp)
        except ValueError as exc:  # bad base64, text or date (UnicodeError is a ValueError)
            raise self._invalid() from exc
        if when.tzinfo is None or not ident:
            raise self._invalid()
        return when, ident

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: ["not a cursor this API gave out; follow the next link"]})

    def get_next_link(self) -> str | None:
        if self.next_position is None:
            return None
        stamp, ident = self.next_position
        cursor = b64encode(f"{stamp.isoformat()}|{ident}".encode("ascii")).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    def get_previous_link(self) -> None:
        return None
