"""The audit trail in the admin: read-only, filtered by workspace, channel, outcome and date."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from access_app.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes audit events here; retention prunes them."""

    list_display = ("at", "workspace_slug", "channel", "actor", "action", "object_id", "outcome", "status_code")
    list_filter = ("workspace", "channel", "outcome", ("at", admin.DateFieldListFilter))
    search_fields = ("actor", "action", "object_id", "workspace_slug", "source")
    date_hierarchy = "at"
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
