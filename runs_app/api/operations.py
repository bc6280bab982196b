"""Operations routes over many flow runs: bulk state changes and deletes with a preview,
retention (prune) and stuck-run detection. Each calls one service of ``runs_app``, in the
request's workspace: an operation never reads nor changes another workspace's runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from orion_project.api.actions import route
from orion_project.api.errors import DetailError
from orion_project.api.fields import BoolField, IntField, ListField, StrField
from orion_project.api.filtering import request_serializer
from orion_project.api.viewsets import OrionViewSet
from runs_app.api.serializers import FlowRunSerializer, StateCreateSerializer
from runs_app.background import liveness, retention
from runs_app.filters import RELATED_RUN_AND_WORK_FILTERS
from runs_app.models import FlowRun
from runs_app.services import bulk


def _limit() -> IntField:
    return IntField(required=False, allow_null=True, default=None, min_value=1, max_value=bulk.MAX_BULK_RUNS)


def _all_runs() -> BoolField:
    return BoolField(
        default=False,
        help_text="Act on every flow run when no filter key narrows them; without it such a body is refused.",
    )


# How the bulk routes' descriptions say which runs they act on.
_WHICH_RUNS = (
    'A body whose filter keys narrow nothing is refused (422) unless it says `"all": true`; '
    "`dry_run` previews any body."
)


FlowRunsBulkSetStateRequest = request_serializer(
    "FlowRunsBulkSetStateRequest",
    RELATED_RUN_AND_WORK_FILTERS,
    extra={
        "state": StateCreateSerializer(required=True, allow_null=False),
        "force": BoolField(default=False),
        "dry_run": BoolField(default=False),
        "limit": _limit(),
        "all": _all_runs(),
    },
)
FlowRunsBulkDeleteRequest = request_serializer(
    "FlowRunsBulkDeleteRequest",
    RELATED_RUN_AND_WORK_FILTERS,
    extra={"dry_run": BoolField(default=False), "limit": _limit(), "all": _all_runs()},
)
FlowRunsPruneRequest = request_serializer(
    "FlowRunsPruneRequest",
    {},
    extra={
        "older_than": StrField(required=True, allow_null=False),
        "state_types": ListField(child=StrField(allow_null=False), required=False, allow_null=True, default=None),
        "flow_names": ListField(child=StrField(allow_null=False), required=False, allow_null=True, default=None),
        "dry_run": BoolField(default=False),
        "batch_size": IntField(default=retention.DEFAULT_BATCH_SIZE, min_value=1, max_value=50_000),
        "limit": IntField(default=bulk.MAX_BULK_RUNS, min_value=1, max_value=1_000_000),
    },
)
FlowRunsStuckRequest = request_serializer("FlowRunsStuckRequest", {}, extra={"dry_run": BoolField(default=True)})


@contextmanager
def _refused_unfiltered() -> Iterator[None]:
    """A bulk action refused for want of a filter: 422 ``{"detail": ...}``."""
    try:
        yield
    except bulk.UnfilteredBulkActionError as error:
        raise DetailError(error.message, status.HTTP_422_UNPROCESSABLE_ENTITY) from None


class FlowRunOperationsViewSet(OrionViewSet):
    """``/flow_runs/bulk_set_state``, ``/bulk_delete``, ``/prune`` and ``/stuck``
    (operations routes of this server, not part of the Prefect API)."""

    queryset = FlowRun.objects.all()
    schema_tags = ("Operations",)

    def _preview(self, data: dict[str, Any]) -> Response:
        count, sample = bulk.flow_runs_preview(filters=data, limit=data["limit"], workspace_id=self.workspace_id)
        return Response({"count": count, "sample": FlowRunSerializer(sample, many=True).data})

    @route(
        "bulk_set_flow_run_state",
        "Propose `state` to every flow run the filter keys match (at most `limit`, "
        f"{bulk.MAX_BULK_RUNS} by default), each through the orchestration rules in its own "
        "transaction. Answers the verdict counts; with `dry_run` the count and the first 20 "
        f"matches, changing nothing. {_WHICH_RUNS}",
        post="bulk_set_state",
        request=FlowRunsBulkSetStateRequest,
        responses={200: OpenApiTypes.OBJECT},
    )
    def bulk_set_state(self, request: Request) -> Response:
        data = self.body(FlowRunsBulkSetStateRequest)
        if data["dry_run"]:
            return self._preview(data)
        with _refused_unfiltered():
            result = bulk.flow_runs_bulk_set_state(
                filters=data,
                state=data["state"],
                force=data["force"],
                limit=data["limit"],
                all_runs=data["all"],
                workspace_id=self.workspace_id,
            )
        return Response(result.as_json())

    @route(
        "bulk_delete_flow_runs",
        "Delete every flow run the filter keys match (at most `limit`) with its task runs, "
        "states and logs, in short batches. With `dry_run` the count and the first 20 matches. "
        f"{_WHICH_RUNS}",
        post="bulk_delete",
        request=FlowRunsBulkDeleteRequest,
        responses={200: OpenApiTypes.OBJECT},
    )
    def bulk_delete(self, request: Request) -> Response:
        """Delete every flow run the filter keys match (at most `limit`) with its task runs,
        states and logs, in short batches. With `dry_run` the count and the first 20 matches."""
        data = self.body(FlowRunsBulkDeleteRequest)
        if data["dry_run"]:
            return self._preview(data)
        with _refused_unfiltered():
            deleted = bulk.flow_runs_bulk_delete(
                filters=data, limit=data["limit"], all_runs=data["all"], workspace_id=self.workspace_id
            )
        return Response({"deleted": deleted})

    @route("prune_flow_runs", post="prune", request=FlowRunsPruneRequest, responses={200: OpenApiTypes.OBJECT})
    def prune(self, request: Request) -> Response:
        """Retention: delete finished flow runs whose end is older than `older_than` (`30d`,
        `12h`; `0d` = every finished run) with everything that points at them, `batch_size` runs
        per transaction, at most `limit` runs per request (call again to continue). With
        `dry_run` the rows per table it would delete."""
        data = self.body(FlowRunsPruneRequest)
        policy = retention.PrunePolicy(
            older_than=retention.parse_age(data["older_than"]),
            state_types=retention.state_types_from(data["state_types"] or ()),
            flow_names=tuple(data["flow_names"] or ()),
        )
        if data["dry_run"]:
            return Response(retention.flow_runs_prune_plan(policy=policy, workspace_id=self.workspace_id).as_json())
        result = retention.flow_runs_prune(
            policy=policy, batch_size=data["batch_size"], max_runs=data["limit"], workspace_id=self.workspace_id
        )
        return Response(result.as_json())

    @route("resolve_stuck_flow_runs", post="stuck", request=FlowRunsStuckRequest, responses={200: OpenApiTypes.OBJECT})
    def stuck(self, request: Request) -> Response:
        """The liveness check: RUNNING runs silent past their deployment's silence become
        CRASHED, CANCELLING runs nothing will finish become CANCELLED. `dry_run` (the default)
        only lists them."""
        data = self.body(FlowRunsStuckRequest)
        found = liveness.stuck_flow_runs_resolve(dry_run=data["dry_run"], workspace_id=self.workspace_id)
        return Response({"dry_run": data["dry_run"], "flow_runs": [stuck.as_json() for stuck in found]})
