"""Runs and what they record: flow runs, task runs, their state history, logs, limits.

A run's current state is denormalised onto the run row (``state_type``, ``state_name``,
``state_timestamp`` and the timing columns) so that filters and sorts read one table;
the state rows themselves are an append-only history. Only the orchestration services
in ``runs_app.orchestration`` write states and those columns.

PostgreSQL-only GIN indexes on the ``tags`` columns are created by migration
``0002_postgres_indexes`` (they have no SQLite equivalent, so they are not in ``Meta``).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from orion_project.models import OrionModel
from runs_app.states import TERMINAL_STATE_TYPES, StateType


class RunState(OrionModel):
    """Fields shared by flow-run and task-run state rows."""

    type = models.CharField(max_length=16, choices=StateType.choices)
    name = models.TextField()
    timestamp = models.DateTimeField()
    message = models.TextField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True)
    state_details = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} ({self.type}) at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class Run(OrionModel):
    """Fields shared by flow runs and task runs: identity, policy and orchestration output."""

    name = models.TextField()
    empirical_policy = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    state_type = models.CharField(max_length=16, choices=StateType.choices, null=True, blank=True)
    state_name = models.TextField(null=True, blank=True)
    state_timestamp = models.DateTimeField(null=True, blank=True)
    run_count = models.PositiveIntegerField(default=0)
    expected_start_time = models.DateTimeField(null=True, blank=True)
    next_scheduled_start_time = models.DateTimeField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    total_run_time = models.DurationField(default=dt.timedelta(0))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def estimated_run_time_at(self, now: dt.datetime) -> float:
        """Seconds run so far: ``total_run_time`` plus the current RUNNING stretch."""
        total = self.total_run_time.total_seconds()
        if self.state_type == StateType.RUNNING and self.state_timestamp is not None:
            total += max((now - self.state_timestamp).total_seconds(), 0.0)
        return total

    def lateness_at(self, now: dt.datetime) -> float:
        """``estimated_start_time_delta``: seconds between expected and actual start, or,
        for a run not started nor finished, how late it is already."""
        expected = self.expected_start_time
        if expected is None:
            return 0.0
        if self.start_time is not None:
            return max((self.start_time - expected).total_seconds(), 0.0)
        if self.state_type not in TERMINAL_STATE_TYPES and expected < now:
            return (now - expected).total_seconds()
        return 0.0


class FlowRun(Run):
    """One execution of a flow.

    ``(flow, idempotency_key)`` is unique: creating a run with a key that exists returns
    the existing run. A sub-flow run points at the task run that stands for it in its
    parent (``parent_task_run``).
    """

    flow = models.ForeignKey("flows_app.Flow", on_delete=models.CASCADE, related_name="flow_runs")
    deployment = models.ForeignKey(
        "flows_app.Deployment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="flow_runs",
    )
    state = models.ForeignKey("FlowRunState", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    work_queue_name = models.TextField(null=True, blank=True)
    work_queue = models.ForeignKey(
        "flows_app.WorkQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="flow_runs"
    )
    flow_version = models.TextField(null=True, blank=True)
    deployment_version = models.TextField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    idempotency_key = models.TextField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    job_variables = models.JSONField(null=True, blank=True)
    parent_task_run = models.ForeignKey(
        "TaskRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subflow_runs",
    )
    auto_scheduled = models.BooleanField(default=False)
    infrastructure_document_id = models.UUIDField(null=True, blank=True)
    infrastructure_pid = models.TextField(null=True, blank=True)
    created_by = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow", "idempotency_key"], name="uq_flow_run_flow_idempotency")]
        indexes = [
            # Recent-runs pages and the history buckets (sort/filter on expected start).
            models.Index(fields=["-expected_start_time"], name="ix_fr_expected_start"),
            # "Runs by state" lists, counts by state and per-state history.
            models.Index(fields=["state_type", "expected_start_time"], name="ix_fr_state_expected"),
            models.Index(fields=["state_name"], name="ix_fr_state_name"),
            # Runs of one flow, newest first.
            models.Index(fields=["flow", "-expected_start_time"], name="ix_fr_flow_expected"),
            # START_TIME_* sort: COALESCE(start_time, expected_start_time).
            models.Index(
                Coalesce(F("start_time"), F("expected_start_time")).desc(),
                name="ix_fr_start_or_expected",
            ),
            models.Index(fields=["-end_time"], name="ix_fr_end_time"),
            models.Index(fields=["name"], name="ix_fr_name"),
            # Agents poll scheduled runs in next-scheduled order.
            models.Index(
                fields=["next_scheduled_start_time"],
                name="ix_fr_next_scheduled",
                condition=Q(state_type=StateType.SCHEDULED),
            ),
            models.Index(fields=["deployment", "-expected_start_time"], name="ix_fr_deployment"),
            models.Index(fields=["work_queue_name"], name="ix_fr_work_queue_name"),
            # Agent and worker polls: a queue's scheduled runs in next-scheduled order.
            models.Index(
                fields=["work_queue", "next_scheduled_start_time"],
                name="ix_fr_queue_next_scheduled",
                condition=Q(state_type=StateType.SCHEDULED),
            ),
            models.Index(fields=["parent_task_run"], name="ix_fr_parent_task_run"),
        ]


class FlowRunHistoryBucket(models.Model):
    """Flow runs summed per hour of expected start, flow, deployment, work queue and state.

    Kept by ``runs_app.history_rollup`` in the transaction of every state write (and
    of every delete of runs), so ``POST /flow_runs/history`` adds up a few thousand
    rows instead of reading every run in range. The sums are those the history answer
    needs at any ``now``: run time so far, when RUNNING runs entered that state, and the
    lateness of started runs and of runs not started yet. A run without a deployment or
    work queue is filed under the nil UUID (a unique key must not contain NULL). The
    deployment and work queue are those of the run when its state was written.
    """

    bucket = models.DateTimeField()
    flow = models.ForeignKey("flows_app.Flow", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    deployment_id = models.UUIDField()
    work_queue_id = models.UUIDField()
    state_type = models.CharField(max_length=16, choices=StateType.choices)
    state_name = models.TextField()
    count_runs = models.BigIntegerField(default=0)
    run_time_sum = models.FloatField(default=0.0)
    running_since_sum = models.FloatField(default=0.0)
    started_lateness_sum = models.FloatField(default=0.0)
    unstarted_count = models.BigIntegerField(default=0)
    unstarted_expected_sum = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "flow", "deployment_id", "work_queue_id", "state_type", "state_name"],
                name="uq_fr_history_bucket",
            )
        ]

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:00} {self.state_name}: {self.count_runs}"


class FlowRunState(RunState):
    """One state in a flow run's history (append-only)."""

    flow_run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="states")

    class Meta:
        indexes = [models.Index(fields=["flow_run", "timestamp"], name="ix_frs_run_timestamp")]


class TaskRun(Run):
    """One execution of a task inside a flow run.

    ``(flow_run, task_key, dynamic_key)`` is unique: creating it again returns the
    existing task run.
    """

    flow_run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, null=True, blank=True, related_name="task_runs")
    state = models.ForeignKey("TaskRunState", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    task_key = models.TextField()
    dynamic_key = models.TextField()
    cache_key = models.TextField(null=True, blank=True)
    cache_expiration = models.DateTimeField(null=True, blank=True)
    task_version = models.TextField(null=True, blank=True)
    task_inputs = models.JSONField(default=dict, blank=True)
    flow_run_run_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow_run", "task_key", "dynamic_key"], name="uq_task_run_key")]
        indexes = [
            models.Index(fields=["-expected_start_time"], name="ix_tr_expected_start"),
            models.Index(fields=["state_type", "expected_start_time"], name="ix_tr_state_expected"),
            models.Index(fields=["-end_time"], name="ix_tr_end_time"),
            models.Index(fields=["name"], name="ix_tr_name"),
            models.Index(
                fields=["next_scheduled_start_time"],
                name="ix_tr_next_scheduled",
                condition=Q(state_type=StateType.SCHEDULED),
            ),
        ]


class TaskRunState(RunState):
    """One state in a task run's history (append-only)."""

    task_run = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="states")

    class Meta:
        indexes = [models.Index(fields=["task_run", "timestamp"], name="ix_trs_run_timestamp")]


class TaskRunStateCache(OrionModel):
    """A cached COMPLETED task state, found again by ``cache_key`` until it expires."""

    cache_key = models.TextField()
    cache_expiration = models.DateTimeField(null=True, blank=True)
    task_run_state = models.ForeignKey(TaskRunState, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["cache_key", "-created"], name="ix_cache_key_created")]

    def __str__(self) -> str:
        return self.cache_key


class Log(OrionModel):
    """A log line sent by a flow or task run. Not linked by foreign key (as the reference)."""

    name = models.TextField()
    level = models.SmallIntegerField()
    message = models.TextField()
    timestamp = models.DateTimeField()
    flow_run_id = models.UUIDField(null=True, blank=True)
    task_run_id = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["flow_run_id", "timestamp"], name="ix_log_flow_run_timestamp"),
            models.Index(fields=["task_run_id", "timestamp"], name="ix_log_task_run_timestamp"),
            models.Index(fields=["timestamp"], name="ix_log_timestamp"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.message[:60]}"


class ConcurrencyLimit(OrionModel):
    """A limit on how many task runs with ``tag`` may be RUNNING at once.

    ``active_slots`` lists the ids of the task runs holding a slot; it is only changed
    with the row locked (see ``runs_app.orchestration``).
    """

    tag = models.TextField()
    concurrency_limit = models.PositiveIntegerField()
    active_slots = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["tag"]
        constraints = [models.UniqueConstraint(fields=["tag"], name="uq_concurrency_limit_tag")]

    def __str__(self) -> str:
        return f"{self.tag} ≤ {self.concurrency_limit}"
