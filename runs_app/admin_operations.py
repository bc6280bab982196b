"""The admin's doors to the operations services: bulk state changes with a confirmation
page that shows the count, deletes that take a run's logs too, stuck runs and prune."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from orion_project.exceptions import InvalidRequestError
from runs_app import bulk, liveness, retention, services
from runs_app.models import FlowRun
from runs_app.states import TERMINAL_STATE_TYPES, StateType


def _id_filter(ids: list[Any]) -> dict[str, Any]:
    """The ``/flow_runs/filter`` body of an admin selection (the one filter engine)."""
    return {"flow_runs": {"id": {"any_": [str(pk) for pk in ids]}}}


def confirm_bulk_state(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[FlowRun],
    *,
    title: str,
    state_type: str | None = None,
) -> HttpResponse | None:
    """First the confirmation page (count, first 20, and a state choice when
    ``state_type`` is not fixed), then, once confirmed, the bulk service."""
    ids = list(queryset.order_by("expected_start_time", "pk").values_list("pk", flat=True)[: bulk.MAX_BULK_RUNS + 1])
    truncated = len(ids) > bulk.MAX_BULK_RUNS
    ids = ids[: bulk.MAX_BULK_RUNS]
    if request.POST.get("confirm") == "yes":
        target = state_type or request.POST.get("state_type", "")
        if target not in StateType.values:
            modeladmin.message_user(request, f"Unknown state type {target!r}.", messages.ERROR)
            return None
        result = bulk.flow_runs_bulk_set_state(
            filters=_id_filter(ids), state={"type": target, "message": "Set from the admin."}
        )
        refused = result.rejected + result.aborted + result.waited + result.missing
        modeladmin.message_user(
            request,
            f"{result.accepted} run(s) moved to {target}; {refused} refused by orchestration.",
            messages.SUCCESS if not refused else messages.WARNING,
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "count": queryset.count() if truncated else len(ids),
        "truncated": truncated,
        "max_runs": bulk.MAX_BULK_RUNS,
        "sample": queryset.filter(pk__in=ids[: bulk.SAMPLE_SIZE]).order_by("expected_start_time"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "state_choices": [] if state_type else StateType.choices,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/runs_app/flowrun/bulk_confirm.html", context)


def delete_runs(queryset: QuerySet[FlowRun]) -> int:
    """Delete runs through the one delete path (Django's own delete would leave the logs,
    which have no foreign key, behind); how many flow runs went."""
    return services.flow_runs_delete(runs=queryset)[FlowRun._meta.label]


def finish_stuck(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[FlowRun]) -> None:
    """Apply the liveness check to the selected runs only."""
    done = liveness.stuck_flow_runs_resolve(runs=queryset)
    modeladmin.message_user(request, f"{len(done)} stuck flow run(s) finished.", messages.SUCCESS)


class PruneForm(forms.Form):
    """The prune page's choices (the same as ``manage.py orion_prune``)."""

    older_than = forms.CharField(initial="30d", help_text="Age by end time: 30d, 12h; 0d = every finished run.")
    state_types = forms.MultipleChoiceField(
        choices=[(value, value) for value in sorted(TERMINAL_STATE_TYPES)],
        initial=sorted(TERMINAL_STATE_TYPES),
        widget=forms.CheckboxSelectMultiple,
    )
    flow_name = forms.CharField(required=False, help_text="Only runs of this flow.")

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
    """``/admin/runs_app/flowrun/prune/``: count first, then delete (bounded per click)."""
    form = PruneForm(request.POST or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        try:
            policy = form.policy()
        except forms.ValidationError as error:
            form.add_error("older_than", error)
        else:
            if "prune" in request.POST:
                plan = retention.flow_runs_prune(policy=policy, max_runs=bulk.MAX_BULK_RUNS)
                modeladmin.message_user(request, f"Deleted {plan.flow_runs} flow run(s).", messages.SUCCESS)
            else:
                plan = retention.flow_runs_prune_plan(policy=policy)
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
