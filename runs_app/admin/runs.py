"""Flow-run and task-run admin: changelists that stay fast at a million runs, run pages
made for operators, actions through the orchestration engine, and the runs dashboard."""

from __future__ import annotations

import json
import math
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from access_app.admin_scope import TenantAdmin, WorkspaceRelatedFilter, workspaces_reached
from orion_project.admin_tools import EstimatedCountPaginator, OrionModelAdmin
from runs_app.admin import operations as admin_operations
from runs_app.admin import page_selectors
from runs_app.admin.actions import (
    ACTION_LABELS,
    FLOW_RUN_ACTIONS,
    TASK_RUN_ACTIONS,
    RunAction,
    run_action_apply,
)
from runs_app.admin.filters import ExpectedStartWindowFilter, LateFilter, TagFilter
from runs_app.admin.operations import RunActionForm
from runs_app.models import FlowRun, FlowRunState, TaskRun, TaskRunState
from runs_app.services.runs import flow_run_update, task_run_delete, task_run_update

LOG_LEVELS = ((40, "ERROR", "error"), (30, "WARNING", "warning"), (20, "INFO", "info"), (10, "DEBUG", "debug"))


def state_badge(state_type: str | None, state_name: str | None) -> str:
    """The state as a coloured badge (the colours of ``orion_admin/runs.css``)."""
    if not state_type:
        return "—"
    return format_html(
        '<span class="orion-state orion-state-{}">{}</span>', state_type.lower(), state_name or state_type
    )


def level_of(level: int) -> tuple[str, str]:
    for threshold, name, css in LOG_LEVELS:
        if level >= threshold:
            return name, css
    return f"LEVEL {level}", "debug"


def duration_text(seconds: float) -> str:
    """Whole seconds rounded up, as the Prefect dashboard shows a run's duration (its
    ``estimated_run_time``), so both pages name the same figure for the same run."""
    seconds = math.ceil(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


class RunAdminBase(TenantAdmin, OrionModelAdmin):
    """What flow-run and task-run admins share: the run page, its actions, fast lists
    (one workspace at a time: every page is read from an index led by the workspace)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    ordering = ("-expected_start_time",)
    search_help_text = "A run name prefix, or an id prefix (hex digits)."
    change_form_template = "admin/runs_app/run_change_form.html"
    run_actions: tuple[RunAction, ...] = ()
    one_workspace_at_a_time = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Runs are created by the Prefect client, deployments and the scheduler.
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Every bulk action asks on one confirmation page (admin_operations.bulk_confirm),
        # deletes included: Django's "delete selected" and its own page are not offered.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        return page_selectors.runs_search(queryset, search_term), False

    @admin.display(description="State", ordering="state_type")
    def state_badge(self, run: FlowRun | TaskRun) -> str:
        return state_badge(run.state_type, run.state_name)

    @admin.display(description="Duration")
    def duration(self, run: FlowRun | TaskRun) -> str:
        return duration_text(run.estimated_run_time_at(timezone.now()))

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "<path:object_id>/action/<str:action>/",
                self.admin_site.admin_view(self.action_view),
                name="{}_{}_run_action".format(*info),
            ),
        ]
        return own + super().get_urls()

    def action_links(self, run: FlowRun | TaskRun) -> list[dict[str, str]]:
        info = self.opts.app_label, self.opts.model_name
        return [
            {
                "label": ACTION_LABELS[action],
                "url": reverse("admin:{}_{}_run_action".format(*info), args=[run.pk, action.value]),
            }
            for action in self.run_actions
        ]

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """GET: the confirmation page; POST: the action, through the engine, then the run page."""
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404("No such run.")
        if not self.has_change_permission(request, run):
            raise PermissionDenied
        try:
            chosen = RunAction(action)
        except ValueError:
            raise Http404("No such action.") from None
        if chosen not in self.run_actions:
            raise Http404("No such action.")
        form = RunActionForm(request.POST if request.method == "POST" else None, action=chosen)
        if request.method == "POST" and form.is_valid():
            outcome = run_action_apply(
                run=run,
                action=chosen,
                reason=form.reason_or_default(request),
                state_type=form.cleaned_data.get("state_type"),
                state_name=form.cleaned_data.get("state_name"),
            )
            if outcome.accepted:
                self.log_change(request, run, f"{ACTION_LABELS[chosen]} from the admin: {outcome.describe()}")
            self.message_user(request, outcome.describe(), messages.SUCCESS if outcome.accepted else messages.WARNING)
            info = self.opts.app_label, self.opts.model_name
            return HttpResponseRedirect(reverse("admin:{}_{}_change".format(*info), args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{ACTION_LABELS[chosen]}: {run.name}",
            "run": run,
            "action_label": ACTION_LABELS[chosen],
            "action": chosen.value,
            "form": form,
            "state": state_badge(run.state_type, run.state_name),
            "change_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[run.pk]),
        }
        return TemplateResponse(request, "admin/runs_app/run_action_confirm.html", context)

    def run_page_context(self, run: Any) -> dict[str, Any]:
        raise NotImplementedError

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if run is not None:
            extra.update(self.run_page_context(run), run=run, run_actions=self.action_links(run))
        return super().change_view(request, object_id, form_url, extra)

    def page_common(self, run: FlowRun | TaskRun, page: page_selectors.RunPage) -> dict[str, Any]:
        now = timezone.now()
        first = page.states[0].timestamp if page.states else None
        return {
            "state": state_badge(run.state_type, run.state_name),
            "duration": duration_text(run.estimated_run_time_at(now)),
            "timeline": [
                {
                    "state": state,
                    "badge": state_badge(state.type, state.name),
                    "offset": duration_text((state.timestamp - first).total_seconds()) if first else "",
                }
                for state in page.states
            ],
            "logs": [{"log": log, "level": level_of(log.level)} for log in page.logs],
            "logs_truncated": page.log_count_capped > page_selectors.LOG_TAIL,
            "log_tail": page_selectors.LOG_TAIL,
            "subflow_runs": [
                {"run": sub, "badge": state_badge(sub.state_type, sub.state_name)} for sub in page.subflow_runs
            ],
            "parameters_json": json.dumps(
                getattr(run, "parameters", None) or {}, indent=2, ensure_ascii=False, default=str
            ),
        }


class FlowRunStateInline(admin.TabularInline):
    """The raw state rows, collapsed below the form (the timeline shows them above)."""

    model = FlowRunState
    fields = ("timestamp", "type", "name", "message")
    readonly_fields = fields
    ordering = ("timestamp",)
    extra = 0
    can_delete = False
    classes = ("collapse",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FlowRun)
class FlowRunAdmin(RunAdminBase):
    """Flow runs: the recent-runs list; a run's page with its history, task runs, logs, actions."""

    list_display = ("name", "flow", "state_badge", "expected_start_time", "start_time", "duration", "run_count")
    list_filter = (
        "state_type",
        ExpectedStartWindowFilter,
        LateFilter,
        ("flow", WorkspaceRelatedFilter),
        ("deployment", WorkspaceRelatedFilter),
        TagFilter,
    )
    list_select_related = ("flow",)
    search_fields = ("name",)
    raw_id_fields = ("work_queue",)
    readonly_fields = (
        "id", "created", "updated", "flow", "deployment", "parent_task_run", "state", "state_type", "state_name",
        "state_timestamp", "run_count", "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
        "total_run_time", "auto_scheduled", "created_by",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("name", "tags", "parameters")}),
        (
            "Details",
            {
                "classes": ("collapse",),
                "fields": (
                    "id", "flow", "deployment", "parent_task_run", "work_queue_name", "work_queue", "flow_version",
                    "deployment_version", "idempotency_key", "context", "empirical_policy", "job_variables",
                    "infrastructure_document_id", "infrastructure_pid", "auto_scheduled", "created_by", "created", "updated",
                ),
            },
        ),
        (
            "Written by orchestration",
            {
                "classes": ("collapse",),
                "fields": (
                    "state", "state_type", "state_name", "state_timestamp", "run_count", "expected_start_time",
                    "next_scheduled_start_time", "start_time", "end_time", "total_run_time",
                ),
            },
        ),
    )  # fmt: skip
    inlines = (FlowRunStateInline,)
    actions = tuple(
        admin_operations.bulk_action(name)
        for name in ("retry_runs", "cancel_runs", "mark_crashed", "set_state", "finish_if_stuck", "delete_runs")
    )
    run_actions = FLOW_RUN_ACTIONS

    def get_urls(self) -> list[URLPattern]:
        dashboard = path(
            "dashboard/", self.admin_site.admin_view(self.dashboard_view), name="runs_app_flowrun_dashboard"
        )
        prune = path(
            "prune/",
            self.admin_site.admin_view(lambda request: admin_operations.prune_view(self, request)),
            name="runs_app_flowrun_prune",
        )
        return [dashboard, prune, *super().get_urls()]

    def save_model(self, request: HttpRequest, obj: FlowRun, form: forms.ModelForm, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        flow_run_update(flow_run_id=obj.pk, changes=changes, workspace_id=obj.workspace_id)

    def delete_model(self, request: HttpRequest, obj: FlowRun) -> None:
        # Django's delete view has recorded the deletion already.
        admin_operations.bulk.flow_runs_bulk_delete(
            filters=admin_operations.id_filter([obj.pk]), limit=1, workspace_id=obj.workspace_id
        )

    def run_page_context(self, run: FlowRun) -> dict[str, Any]:
        page = page_selectors.flow_run_page(flow_run=run, workspace_id=run.workspace_id)
        return {
            **self.page_common(run, page),
            "kind": "flow run",
            "task_runs": [
                {"run": task, "badge": state_badge(task.state_type, task.state_name)} for task in page.task_runs
            ],
            "task_run_count": page.task_run_count,
            "log_filter": f"workspace={run.workspace_id}&flow_run_id={run.pk}",
        }

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Runs by state over 24 hours and 7 days, late runs, queue backlogs, slots used, of
        one workspace (``?workspace=<id>``, the user's first by default)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        workspaces = list(workspaces_reached(request))
        chosen = request.GET.get("workspace", "")
        workspace = next((ws for ws in workspaces if str(ws.pk) == chosen), workspaces[0] if workspaces else None)
        if workspace is None or (chosen and str(workspace.pk) != chosen):
            raise Http404("No such workspace.")
        board = page_selectors.runs_dashboard(now=timezone.now(), workspace_id=workspace.pk)
        changelist = f"{reverse('admin:runs_app_flowrun_changelist')}?workspace={workspace.pk}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Runs dashboard: {workspace.slug}",
            "workspace": workspace,
            "workspaces": workspaces,
            "board": board,
            "state_rows": [
                {**row, "badge": state_badge(row["type"], row["type"].capitalize())}
                for row in page_selectors.state_rows(board)
            ],
            "changelist": changelist,
            "late_runs": [
                {"run": run, "badge": state_badge(run.state_type, run.state_name)} for run in board.late_runs
            ],
            "limits": [
                {
                    "limit": limit,
                    "used": len(limit.active_slots or []),
                    "full": len(limit.active_slots or []) >= limit.concurrency_limit,
                }
                for limit in board.limits
            ],
        }
        return TemplateResponse(request, "admin/runs_app/dashboard.html", context)


class TaskRunStateInline(FlowRunStateInline):
    model = TaskRunState  # type: ignore[assignment]


@admin.register(TaskRun)
class TaskRunAdmin(RunAdminBase):
    """Task runs: the same page as flow runs, linked to their flow run and sub-flow runs."""

    list_display = (
        "name",
        "task_key",
        "flow_run",
        "state_badge",
        "expected_start_time",
        "start_time",
        "duration",
        "run_count",
    )
    list_filter = ("state_type", ExpectedStartWindowFilter, TagFilter)
    list_select_related = ("flow_run",)
    search_fields = ("name",)
    readonly_fields = (
        "id", "created", "updated", "flow_run", "task_key", "dynamic_key", "state", "state_type", "state_name",
        "state_timestamp", "run_count", "flow_run_run_count", "expected_start_time", "next_scheduled_start_time",
        "start_time", "end_time", "total_run_time", "cache_key", "cache_expiration",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("name", "tags", "task_inputs")}),
        (
            "Details",
            {
                "classes": ("collapse",),
                "fields": (
                    "id", "flow_run", "task_key", "dynamic_key", "task_version", "cache_key", "cache_expiration",
                    "empirical_policy", "created", "updated",
                ),
            },
        ),
        (
            "Written by orchestration",
            {
                "classes": ("collapse",),
                "fields": (
                    "state", "state_type", "state_name", "state_timestamp", "run_count", "flow_run_run_count",
                    "expected_start_time", "next_scheduled_start_time", "start_time", "end_time", "total_run_time",
                ),
            },
        ),
    )  # fmt: skip
    inlines = (TaskRunStateInline,)
    actions = (admin_operations.bulk_action("delete_task_runs"),)
    run_actions = TASK_RUN_ACTIONS

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # A flow run's page links to all its task runs (served by the task runs' flow-run index).
        return lookup == "flow_run_id" or super().lookup_allowed(lookup, value, request)

    def save_model(self, request: HttpRequest, obj: TaskRun, form: forms.ModelForm, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        task_run_update(task_run_id=obj.pk, changes=changes, workspace_id=obj.workspace_id)

    def delete_model(self, request: HttpRequest, obj: TaskRun) -> None:
        task_run_delete(task_run_id=obj.pk, workspace_id=obj.workspace_id)

    def run_page_context(self, run: TaskRun) -> dict[str, Any]:
        page = page_selectors.task_run_page(task_run=run, workspace_id=run.workspace_id)
        log_filter = f"workspace={run.workspace_id}&task_run_id={run.pk}"
        return {**self.page_common(run, page), "kind": "task run", "log_filter": log_filter}
