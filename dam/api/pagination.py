"""Cursor pagination: stable under inserts, O(1) per page however deep the client goes."""

from __future__ import annotations

import uuid
from base64 import b64decode, b64encode
from datetime import datetime

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


class SyncPagination(AssetCursorPagination):
    """Keyset pages over several change streams, merged oldest first by (timestamp, id).

    Oldest first, so a client that stops half-way resumes from where it stopped. The sync feed
    reads asset rows and deletion records, two tables that one queryset cannot page together.
    The cursor is the (timestamp, id) of the last entry served; ``previous`` is always
    null: a sync client only moves forward.
    """

    def paginate_streams(self, streams: list[tuple[QuerySet, str, str]], request) -> list:
        """``streams``: (queryset, timestamp field, id field); returns the page's objects in order."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        after = self._decode(request.query_params.get(self.cursor_query_param))
        rows: list[tuple[datetime, uuid.UUID, object]] = []
        for queryset, stamp, ident in streams:
            if after is not None:
                queryset = queryset.filter(
                    Q(**{f"{stamp}__gt": after[0]}) | Q(**{stamp: after[0], f"{ident}__gt": after[1]})
                )
            rows += [(getattr(obj, stamp), getattr(obj, ident), obj)
                     for obj in queryset.order_by(stamp, ident)[: self.page_size + 1]]
        rows.sort(key=lambda row: (row[0], row[1]))
        page = rows[: self.page_size]
        self.next_position = page[-1][:2] if len(rows) > self.page_size else None
        return [row[2] for row in page]

    def _decode(self, raw: str | None) -> tuple[datetime, uuid.UUID] | None:
        if raw is None:
            return None
        try:
            stamp, _, ident = b64decode(raw.encode("ascii"), validate=True).decode("ascii").partition("|")
            position = (datetime.fromisoformat(stamp), uuid.UUID(ident))
            if position[0].tzinfo is None:
                raise ValueError("naive timestamp")
        except ValueError as exc:  # bad base64, text, date or uuid (UnicodeError is a ValueError)
            raise ValidationError(
                {self.cursor_query_param: ["not a cursor this API gave out; follow the next link"]}
            ) from exc
        return position

    def get_next_link(self) -> str | None:
        if self.next_position is None:
            return None
        stamp, ident = self.next_position
        cursor = b64encode(f"{stamp.isoformat()}|{ident}".encode("ascii")).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    def get_previous_link(self) -> None:
        return None
