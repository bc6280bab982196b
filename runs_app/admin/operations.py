"""The admin's doors to the operations services: one confirmation page for every bulk
action on runs (the count, a sample, then the bulk service), stuck runs and prune."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from access_app.admin_scope import admin_reach, by_workspace, workspaces_reached
from orion_project.exceptions import InvalidRequestError
from orion_project.models import Workspace
from runs_app.admin import actions as run_actions
from runs_app.admin.actions import ACTION_LABELS, RunAction
from runs_app.background import liveness, retention
from runs_app.models import FlowRun, TaskRun
from runs_app.services import bulk
from runs_app.services.runs import task_run_delete
from runs_app.states import TERMINAL_STATE_TYPES, StateType


def id_filter(ids: list[Any]) -> dict[str, Any]:
    """The ``/flow_runs/filter`` body of an admin selection (the one filter engine)."""
    return {"flow_runs": {"id": {"any_": [str(pk) for pk in ids]}}}


class RunActionForm(forms.Form):
    """The confirmation of an action on one run or many: a reason, and for "set state" the
    state to set (a reason is then required: it is forced past the policy rules)."""

    reason = forms.CharField(
        max_length=500, required=False, widget=forms.TextInput(attrs={"class": "vTextField", "size": 60})
    )
    state_type = forms.ChoiceField(choices=StateType.choices, required=False)
    state_name = forms.CharField(
        max_length=100,
        required=False,
        help_text="Defaults to the type's name.",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )

    def __init__(self, *args: Any, action: RunAction | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action = action
        if action is None:
            # Deletes and the stuck-run check propose no state.
            self.fields.clear()
        elif action == RunAction.SET_STATE:
            self.fields["state_type"].required = True
            self.fields["reason"].required = True
        else:
            del self.fields["state_type"], self.fields["state_name"]

    def reason_or_default(self, request: HttpRequest) -> str:
        user = request.user.get_username() if request.user.is_authenticated else "admin"
        label = ACTION_LABELS[self.action] if self.action is not None else "Action"
        return self.cleaned_data.get("reason") or f"{label} from the admin by {user}."


# The runs an admin bulk action acts on: (id, workspace id, state id) of each, as the
# changelist selected them within the workspaces where the user may change.
Selected = list[tuple[Any, int, Any]]


@dataclass(frozen=True)
class BulkOperation:
    """A bulk admin action: its label on the confirmation page, the state action it
    carries out on each run (``None`` for the others), and how it is applied to the
    confirmed runs once confirmed (recording what it changed in the admin's log); it
    answers the message."""

    label: str
    action: RunAction | None
    apply: Callable[[admin.ModelAdmin, HttpRequest, RunActionForm, Selected], tuple[str, bool]]
    permissions: tuple[str, ...] = ()
    description: str = ""


def _apply_run_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, form: RunActionForm, rows: Selected
) -> tuple[str, bool]:
    assert form.action is not None
    label = ACTION_LABELS[form.action]
    accepted = refused = 0
    for workspace_id, ids in by_workspace(rows).items():
        result = run_actions.flow_runs_bulk_action(
            filters=id_filter(ids),
            action=form.action,
            reason=form.reason_or_default(request),
            state_type=form.cleaned_data.get("state_type"),
            state_name=form.cleaned_data.get("state_name"),
            workspace_id=workspace_id,
        )
        accepted += result.accepted
        refused += result.rejected + result.aborted + result.waited + result.missing
    # A run the engine accepted the proposal for has a new current state.
    before = {pk: state_id for pk, _, state_id in rows}
    for run in FlowRun.objects.filter(pk__in=list(before)).select_related("state"):
        if run.state_id != before[run.pk]:
            modeladmin.log_change(request, run, f"{label} from the admin: now {run.state_name} ({run.state_type}).")
    return f"{label}: {accepted} run(s) accepted; {refused} refused by orchestration.", not refused


def delete_runs(modeladmin: admin.ModelAdmin, request: HttpRequest, rows: Iterable[tuple[Any, ...]]) -> int:
    """Delete runs with every row that points at them (Django's own delete leaves the
    logs, which have no foreign key, behind), each recorded in the admin's log first."""
    deleted = 0
    for workspace_id, ids in by_workspace(rows).items():
        modeladmin.log_deletions(request, FlowRun.objects.filter(workspace_id=workspace_id, pk__in=ids))
        deleted += bulk.flow_runs_bulk_delete(filters=id_filter(ids), limit=len(ids), workspace_id=workspace_id)
    return deleted


def _apply_flow_run_delete(
    modeladmin: admin.ModelAdmin, request: HttpRequest, form: RunActionForm, rows: Selected
) -> tuple[str, bool]:
    deleted = delete_runs(modeladmin, request, rows)
    return f"Deleted {deleted} flow run(s) with their task runs, states and logs.", True


def _apply_task_run_delete(
    modeladmin: admin.ModelAdmin, request: HttpRequest, form: RunActionForm, rows: Selected
) -> tuple[str, bool]:
    deleted = 0
    for workspace_id, ids in by_workspace(rows).items():
        modeladmin.log_deletions(request, TaskRun.objects.filter(workspace_id=workspace_id, pk__in=ids))
        deleted += sum(task_run_delete(task_run_id=pk, workspace_id=workspace_id) for pk in ids)
    return f"Deleted {deleted} task run(s).", True


def _apply_finish_stuck(
    modeladmin: admin.ModelAdmin, request: HttpRequest, form: RunActionForm, rows: Selected
) -> tuple[str, bool]:
    done = []
    for workspace_id, ids in by_workspace(rows).items():
        done += liveness.stuck_flow_runs_resolve(
            workspace_id=workspace_id, runs=FlowRun.objects.filter(workspace_id=workspace_id, pk__in=ids)
        )
    reasons = {stuck.flow_run_id: stuck.reason for stuck in done}
    for run in FlowRun.objects.filter(pk__in=list(reasons)):
        modeladmin.log_change(request, run, f"Finished as stuck from the admin: {reasons[run.pk]}")
    return f"{len(done)} stuck flow run(s) finished.", True


BULK_OPERATIONS: dict[str, BulkOperation] = {
    "retry_runs": BulkOperation("Retry", RunAction.RETRY, _apply_run_action),
    "cancel_runs": BulkOperation("Cancel", RunAction.CANCEL, _apply_run_action),
    "mark_crashed": BulkOperation(
        "Mark crashed", RunAction.MARK_CRASHED, _apply_run_action, description="Mark the selected flow runs as crashed"
    ),
    "set_state": BulkOperation(
        "Set the state of",
        RunAction.SET_STATE,
        _apply_run_action,
        description="Set the state of the selected flow runs",
    ),
    "finish_if_stuck": BulkOperation(
        "Finish if stuck", None, _apply_finish_stuck, description="Finish the selected flow runs if they are stuck"
    ),
    "delete_runs": BulkOperation("Delete", None, _apply_flow_run_delete, permissions=("delete",)),
    "delete_task_runs": BulkOperation("Delete", None, _apply_task_run_delete, permissions=("delete",)),
}


def bulk_action(operation: str) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Any]], HttpResponse | None]:
    """The admin action (for a ModelAdmin's ``actions``) of one bulk operation: it opens
    the confirmation page; its name is the operation's (what the changelist posts)."""
    chosen = BULK_OPERATIONS[operation]

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return bulk_confirm(modeladmin, request, queryset, operation=operation)

    action.__name__ = operation
    description = chosen.description or f"{chosen.label} the selected %(verbose_name_plural)s"
    return admin.action(description=f"{description} (asks to confirm)", permissions=list(chosen.permissions) or None)(
        action
    )


def bulk_confirm(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], *, operation: str
) -> HttpResponse | None:
    """The one confirmation of every bulk action on runs: first a page with how many runs
    the selection holds and the first 20 (and the reason and state to give them), then,
    once confirmed, the operation over at most ``MAX_BULK_RUNS`` of them, workspace by
    workspace (the selection holds only runs of workspaces where the user may change)."""
    chosen = BULK_OPERATIONS[operation]
    ordered = queryset.order_by("expected_start_time", "pk")
    rows: Selected = list(ordered.values_list("pk", "workspace_id", "state_id")[: bulk.MAX_BULK_RUNS + 1])
    truncated = len(rows) > bulk.MAX_BULK_RUNS
    rows = rows[: bulk.MAX_BULK_RUNS]
    ids = [row[0] for row in rows]
    confirmed = request.POST.get("confirm") == "yes"
    form = RunActionForm(request.POST if confirmed else None, action=chosen.action)
    if confirmed and form.is_valid():
        message, clean = chosen.apply(modeladmin, request, form, rows)
        modeladmin.message_user(request, message, messages.SUCCESS if clean else messages.WARNING)
        return None
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{chosen.label} {opts.verbose_name_plural}",
        "label": chosen.label,
        "count": queryset.count() if truncated else len(ids),
        "truncated": truncated,
        "max_runs": bulk.MAX_BULK_RUNS,
        "sample": queryset.filter(pk__in=ids[: bulk.SAMPLE_SIZE]).order_by("expected_start_time", "pk"),
        "form": form,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "opts": opts,
    }
    return TemplateResponse(request, "admin/runs_app/bulk_confirm.html", context)


class PruneForm(forms.Form):
    """The prune page's choices (the same as ``manage.py orion_prune``), in one workspace."""

    workspace = forms.ModelChoiceField(queryset=Workspace.objects.none(), empty_label=None)
    older_than = forms.CharField(initial="30d", help_text="Age by end time: 30d, 12h; 0d = every finished run.")
    state_types = forms.MultipleChoiceField(
        choices=[(value, value) for value in sorted(TERMINAL_STATE_TYPES)],
        initial=sorted(TERMINAL_STATE_TYPES),
        widget=forms.CheckboxSelectMultiple,
    )
    flow_name = forms.CharField(required=False, help_text="Only runs of this flow.")

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A count only reads; the same page deletes, so it offers where the user may change.
        self.fields["workspace"].queryset = workspaces_reached(request, changing=True)  # type: ignore[attr-defined]

    def policy(self) -> retention.PrunePolicy:
        data = self.cleaned_data
        try:
            return retention.PrunePolicy(
                older_than=retention.parse_age(data["older_than"]),
                state_types=frozenset(data["state_types"]),
                flow_names=(data["flow_name"],) if data["flow_name"] else (),
            )
        except InvalidRequestError as error:
            raise forms.ValidationError(error.message) from None


def prune_view(modeladmin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """``/admin/runs_app/flowrun/prune/``: count first, then delete (bounded per click),
    in one workspace where the user may change; each deleted run is recorded first."""
    if not admin_reach(request).changes_any:
        raise PermissionDenied
    form = PruneForm(request.POST or None, request=request)
    plan = None
    if request.method == "POST" and form.is_valid():
        workspace_id = form.cleaned_data["workspace"].pk
        try:
            policy = form.policy()
        except forms.ValidationError as error:
            form.add_error("older_than", error)
        else:
            if "prune" in request.POST:
                # One cut-off for the record and the delete: the runs recorded are the ones deleted.
                now = timezone.now()
                doomed = retention.prunable_flow_runs(policy, now=now, workspace_id=workspace_id)
                modeladmin.log_deletions(request, doomed.order_by("end_time", "pk")[: bulk.MAX_BULK_RUNS])
                plan = retention.flow_runs_prune(
                    policy=policy, max_runs=bulk.MAX_BULK_RUNS, now=now, workspace_id=workspace_id
                )
                modeladmin.message_user(request, f"Deleted {plan.flow_runs} flow run(s).", messages.SUCCESS)
            else:
                plan = retention.flow_runs_prune_plan(policy=policy, workspace_id=workspace_id)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Prune old flow runs",
        "form": form,
        "plan": plan,
        "tables": sorted(plan.deleted.items()) if plan is not None else [],
        "batch_size": retention.DEFAULT_BATCH_SIZE,
        "max_runs": bulk.MAX_BULK_RUNS,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/runs_app/flowrun/prune.html", context)
