"""Cursor pagination: stable under inserts, O(1) per page however deep the client goes."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination

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


class SyncCursorPagination(AssetCursorPagination):
    # Oldest change first, so a client that stops half-way resumes from where it stopped.
    ordering = ("updated_at", "id")
