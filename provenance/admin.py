"""Provenance in the admin: the ledger and the manifest repository (read-only), and "Verify a file"."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.html import format_html

from provenance.models import LedgerEntry, StoredManifest
from provenance.views import verify_page


class ReadOnlyAdmin(admin.ModelAdmin):
    # No bulk actions: the only stock one deletes.
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _pretty(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "kind", "subject", "actor", "created_at", "short_hash"]
    list_filter = ["kind"]
    search_fields = ["subject", "actor", "entry_hash"]
    fields = ["seq", "kind", "subject", "actor", "created_at", "payload_pretty", "prev_hash", "entry_hash"]
    readonly_fields = fields
    ordering = ["-seq"]

    @admin.display(description="Hash", ordering="entry_hash")
    def short_hash(self, obj: LedgerEntry) -> str:
        return f"{obj.entry_hash[:12]}…"

    @admin.display(description="Payload")
    def payload_pretty(self, obj: LedgerEntry):
        return _pretty(obj.payload)


@admin.register(StoredManifest)
class StoredManifestAdmin(ReadOnlyAdmin):
    list_display = ["manifest_id", "title", "watermark_id", "mime_type", "declares_ai_generation", "created_at"]
    list_filter = ["mime_type", "declares_ai_generation", "algorithm"]
    search_fields = ["manifest_id", "watermark_id", "title", "sha256"]
    fields = [
        "manifest_id", "title", "watermark_id", "algorithm", "mime_type", "width", "height", "sha256",
        "pixel_sha256", "phash", "declares_ai_generation", "training_mining", "created_at", "manifest_pretty",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("manifest_store")

    @admin.display(description="Manifest store")
    def manifest_pretty(self, obj: StoredManifest):
        return _pretty(obj.manifest_json)

    def get_urls(self):
        verify = path("verify/", self.admin_site.admin_view(self.verify_view), name="provenance_storedmanifest_verify")
        return [verify, *super().get_urls()]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        return verify_page(request, base_context=self.admin_site.each_context(request))
