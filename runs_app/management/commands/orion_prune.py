"""``manage.py orion_prune``: delete finished flow runs older than a cut-off (retention)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orion_project.exceptions import InvalidRequestError
from runs_app.background.retention import (
    DEFAULT_BATCH_SECONDS,
    DEFAULT_BATCH_SIZE,
    PrunePolicy,
    PruneResult,
    flow_runs_prune,
    flow_runs_prune_count,
    flow_runs_prune_plan,
    parse_age,
    state_types_from,
)
from runs_app.management.workspaces import add_workspace_option, each_workspace


class Command(BaseCommand):
    help = (
        "Delete finished flow runs (with their task runs, states, logs, cache rows and artifacts) "
        "whose end is older than --older-than, in short batches. Safe to stop and run again. "
        "Every workspace by its own runs, or only --workspace."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="Age by end time: 30d, 12h, 90m; 0d = all finished.")
        parser.add_argument("--state", default="", help="Comma-separated terminal state types (default: all four).")
        parser.add_argument("--flow", action="append", default=[], help="Only runs of this flow (repeatable).")
        parser.add_argument("--dry-run", action="store_true", help="Print the rows per table; delete nothing.")
        parser.add_argument(
            "--batch", type=int, default=DEFAULT_BATCH_SIZE, help="At most this many flow runs per transaction."
        )
        parser.add_argument(
            "--batch-seconds",
            type=float,
            default=DEFAULT_BATCH_SECONDS,
            help="Size each transaction to take about this long (0: always --batch runs).",
        )
        add_workspace_option(parser)

    def handle(
        self,
        *args: Any,
        older_than: str,
        state: str,
        flow: list[str],
        dry_run: bool,
        batch: int,
        batch_seconds: float,
        workspace: str | None,
        **options: Any,
    ) -> None:
        if batch < 1 or batch_seconds < 0:
            raise CommandError("--batch must be at least 1 and --batch-seconds at least 0.")
        try:
            policy = PrunePolicy(
                older_than=parse_age(older_than), state_types=state_types_from(state.split(",")), flow_names=tuple(flow)
            )
        except InvalidRequestError as error:
            raise CommandError(error.message) from None
        for chosen in each_workspace(self.stdout, workspace, writes=None if dry_run else "orion_prune"):
            self.prune(policy, dry_run=dry_run, batch=batch, batch_seconds=batch_seconds, workspace_id=chosen.id)

    def prune(self, policy: PrunePolicy, *, dry_run: bool, batch: int, batch_seconds: float, workspace_id: int) -> None:
        """Prune (or plan to) one workspace's runs, printing the rows per table."""
        if dry_run:
            self.print_counts("Would delete", flow_runs_prune_plan(policy=policy, workspace_id=workspace_id))
            return
        # Only the flow runs are counted first (for the progress bar): counting every
        # table's rows would read them all once more before deleting them.
        total = flow_runs_prune_count(policy=policy, workspace_id=workspace_id)
        self.stdout.write(f"Deleting {total} flow run(s)")
        if not total:
            return
        result = flow_runs_prune(
            policy=policy,
            workspace_id=workspace_id,
            batch_size=batch,
            batch_seconds=batch_seconds or None,
            on_batch=lambda done: self.progress(done, total),
        )
        if self.stdout.isatty():
            self.stdout.write("")
        self.print_counts("Deleted", result)

    def print_counts(self, verb: str, result: PruneResult) -> None:
        self.stdout.write(f"{verb} {result.flow_runs} flow run(s):")
        for table, count in sorted(result.deleted.items()):
            self.stdout.write(f"  {table:<28} {count:>12}")

    def progress(self, done: PruneResult, total: int) -> None:
        """A progress bar on a terminal; one line per batch otherwise (logs, cron mail)."""
        share = min(done.flow_runs / total, 1.0) if total else 1.0
        line = f"[{'#' * int(share * 40):<40}] {done.flow_runs}/{total} flow runs, batch {done.batches}"
        if self.stdout.isatty():
            self.stdout.write("\r" + line, ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)
