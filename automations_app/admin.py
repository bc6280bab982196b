"""Admin for automations: their documents shown read-only (they are written through the
API, whose validation the admin does not repeat)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html

from access_app.admin_scope import TenantAdmin
from automations_app.models import Automation


def _json_display(field: str, description: str) -> Any:
    """A read-only admin column showing a JSON field indented."""

    @admin.display(description=description)
    def shown(self: Any, automation: Automation) -> str:
        return format_html("<pre>{}</pre>", json.dumps(getattr(automation, field), indent=2))

    return shown


@admin.register(Automation)
class AutomationAdmin(TenantAdmin):
    """Automations: list, search, and each one's trigger and actions as JSON."""

    list_display = ("name", "enabled", "trigger_type", "updated")
    list_filter = ("enabled",)
    search_fields = ("name", "description")
    fields = (
        "id",
        "name",
        "description",
        "enabled",
        "created",
        "updated",
        "trigger_json",
        "actions_json",
        "actions_on_trigger_json",
        "actions_on_resolve_json",
    )
    readonly_fields = fields

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.display(description="Trigger")
    def trigger_type(self, automation: Automation) -> str:
        return str((automation.trigger or {}).get("type", ""))

    trigger_json = _json_display("trigger", "Trigger (JSON)")
    actions_json = _json_display("actions", "Actions")
    actions_on_trigger_json = _json_display("actions_on_trigger", "Actions on trigger")
    actions_on_resolve_json = _json_display("actions_on_resolve", "Actions on resolve")
