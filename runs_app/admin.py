"""Admin for runs: mostly read-only; state changes go through the orchestration engine."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from runs_app import services
from runs_app.models import ConcurrencyLimit, FlowRun, FlowRunState, Log, TaskRun, TaskRunState
from runs_app.orchestration.context import ProposedState
from runs_app.states import StateType


class ReadOnlyInline(admin.TabularInline):
    """An inline that only shows rows."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FlowRunStateInline(ReadOnlyInline):
    model = FlowRunState
    fields = ("timestamp", "type", "name", "message")
    ordering = ("timestamp",)


class TaskRunInline(ReadOnlyInline):
    model = TaskRun
    fields = ("name", "task_key", "state_type", "state_name", "start_time", "end_time", "run_count")
    ordering = ("expected_start_time",)
    show_change_link = True


def _propose_to_each(
    modeladmin: admin.ModelAdmin, request: HttpRequest, runs: QuerySet[FlowRun], state_type: str, message: str
) -> None:
    """Propose ``state_type`` for each selected run through the engine and report verdicts."""
    accepted = refused = 0
    for run_id in runs.values_list("id", flat=True):
        proposal = ProposedState.make(type=state_type, timestamp=timezone.now(), message=message)
        result = services.flow_run_set_state(flow_run_id=run_id, state=proposal)
        if result.state_written:
            accepted += 1
        else:
            refused += 1
    modeladmin.message_user(
        request,
        f"{accepted} run(s) moved to {state_type}; {refused} refused by orchestration.",
        messages.SUCCESS if not refused else messages.WARNING,
    )


@admin.register(FlowRun)
class FlowRunAdmin(admin.ModelAdmin):
    """Flow runs: the recent-runs list with state and timing; history and task runs inline."""

    list_display = ("name", "flow", "state_type", "state_name", "expected_start_time", "start_time", "total_run_time")
    list_filter = ("state_type", ("expected_start_time", admin.DateFieldListFilter))
    list_select_related = ("flow",)
    search_fields = ("name", "=id")
    ordering = ("-expected_start_time",)
    show_full_result_count = False
    raw_id_fields = ("flow", "deployment", "parent_task_run", "state")
    readonly_fields = (
        "id", "created", "updated", "state", "state_type", "state_name", "state_timestamp", "run_count",
        "expected_start_time", "next_scheduled_start_time", "start_time", "end_time", "total_run_time",
    )  # fmt: skip
    inlines = (FlowRunStateInline, TaskRunInline)
    actions = ("cancel_runs", "mark_crashed")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[FlowRun], search_term: str) -> Any:
        # Searching by id only makes sense with a well-formed UUID.
        try:
            uuid.UUID(search_term)
        except ValueError:
            return super().get_search_results(request, queryset, search_term.replace("=", ""))
        return queryset.filter(pk=search_term), False

    def delete_model(self, request: HttpRequest, obj: FlowRun) -> None:
        services.flow_runs_delete(runs=FlowRun.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> None:
        # Through the service, so the deleted runs leave the history rollup too.
        services.flow_runs_delete(runs=queryset)

    @admin.action(description="Cancel selected flow runs")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> None:
        _propose_to_each(self, request, queryset, StateType.CANCELLED, "Cancelled from the admin.")

    @admin.action(description="Mark selected flow runs as crashed")
    def mark_crashed(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> None:
        _propose_to_each(self, request, queryset, StateType.CRASHED, "Marked as crashed from the admin.")


class TaskRunStateInline(ReadOnlyInline):
    model = TaskRunState
    fields = ("timestamp", "type", "name", "message")
    ordering = ("timestamp",)


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    """Task runs, read-only timing and state; state history inline."""

    list_display = ("name", "task_key", "flow_run", "state_type", "start_time", "end_time", "run_count")
    list_filter = ("state_type",)
    list_select_related = ("flow_run",)
    search_fields = ("name", "task_key")
    show_full_result_count = False
    raw_id_fields = ("flow_run", "state")
    readonly_fields = (
        "id", "created", "updated", "state", "state_type", "state_name", "run_count", "flow_run_run_count",
        "expected_start_time", "start_time", "end_time", "total_run_time",
    )  # fmt: skip
    inlines = (TaskRunStateInline,)


@admin.register(Log)
class LogAdmin(admin.ModelAdmin):
    """Logs are append-only: browse and search, never edit."""

    list_display = ("timestamp", "level", "name", "message", "flow_run_id", "task_run_id")
    list_filter = ("level",)
    search_fields = ("message", "=flow_run_id")
    ordering = ("-timestamp",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConcurrencyLimit)
class ConcurrencyLimitAdmin(admin.ModelAdmin):
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
