"""The ledger in the admin: read-only, for people with the view permission."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from provenance.models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["seq", "kind", "subject", "actor", "created_at", "short_hash"]
    list_filter = ["kind"]
    search_fields = ["subject", "actor", "entry_hash"]
    fields = ["seq", "kind", "subject", "actor", "created_at", "payload_pretty", "prev_hash", "entry_hash"]
    readonly_fields = fields
    ordering = ["-seq"]
    # No bulk actions: the only stock one deletes.
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LedgerEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LedgerEntry | None = None) -> bool:
        return False

    @admin.display(description="Hash", ordering="entry_hash")
    def short_hash(self, obj: LedgerEntry) -> str:
        return f"{obj.entry_hash[:12]}…"

    @admin.display(description="Payload")
    def payload_pretty(self, obj: LedgerEntry):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False))
