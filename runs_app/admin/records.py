"""Admin for logs (append-only) and tag concurrency limits."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from orion_project.admin_tools import EstimatedCountPaginator, OrionModelAdmin
from runs_app import services
from runs_app.models import ConcurrencyLimit, Log


@admin.register(Log)
class LogAdmin(OrionModelAdmin):
    """Logs are append-only: browse and search, never edit. A run's page links here with
    ``?flow_run_id=`` or ``?task_run_id=`` (served by the log indexes)."""

    list_display = ("timestamp", "level", "name", "message", "flow_run_id", "task_run_id")
    list_filter = ("level",)
    search_fields = ("message",)
    ordering = ("-timestamp",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup in ("flow_run_id", "task_run_id") or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConcurrencyLimit)
class ConcurrencyLimitAdmin(OrionModelAdmin):
    """Tag concurrency limits with the task runs holding their slots."""

    list_display = ("tag", "concurrency_limit", "slots_in_use", "holders")
    search_fields = ("tag",)
    readonly_fields = ("id", "created", "updated", "active_slots")
    actions = ("release_slots",)

    @admin.display(description="Slots in use")
    def slots_in_use(self, limit: ConcurrencyLimit) -> int:
        return len(limit.active_slots or [])

    @admin.display(description="Held by task runs")
    def holders(self, limit: ConcurrencyLimit) -> str:
        return ", ".join(str(slot) for slot in limit.active_slots or []) or "—"

    @admin.action(description="Release every slot of the selected limits")
    def release_slots(self, request: HttpRequest, queryset: QuerySet[ConcurrencyLimit]) -> None:
        released = sum(services.concurrency_limit_reset(tag=tag) for tag in queryset.values_list("tag", flat=True))
        self.message_user(request, f"Released the slots of {released} limit(s).", messages.SUCCESS)
