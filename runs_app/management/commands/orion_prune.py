"""``manage.py orion_prune``: delete finished flow runs older than a cut-off (retention)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orion_project.exceptions import InvalidRequestError
from runs_app.background.retention import (
    DEFAULT_BATCH_SIZE,
    PrunePolicy,
    PruneResult,
    flow_runs_prune,
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
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_SIZE, help="Flow runs per transaction.")
        add_workspace_option(parser)

    def handle(
        self,
        *args: Any,
        older_than: str,
        state: str,
        flow: list[str],
        dry_run: bool,
        batch: int,
        workspace: str | None,
        **options: Any,
    ) -> None:
        try:
            policy = PrunePolicy(
                older_than=parse_age(older_than), state_types=state_types_from(state.split(",")), flow_names=tuple(flow)
            )
        except InvalidRequestError as error:
            raise CommandError(error.message) from None
        for chosen in each_workspace(self.stdout, workspace, writes=None if dry_run else "orion_prune"):
            self.prune(policy, dry_run=dry_run, batch=batch, workspace_id=chosen.id)

    def prune(self, policy: PrunePolicy, *, dry_run: bool, batch: int, workspace_id: int) -> None:
        """Prune (or plan to) one workspace's runs, printing the rows per table."""
        plan = flow_runs_prune_plan(policy=policy, workspace_id=workspace_id)
        self.print_counts("Would delete" if dry_run else "Deleting", plan)
        if dry_run or not plan.flow_runs:
            return
        result = flow_runs_prune(
            policy=policy,
            workspace_id=workspace_id,
            batch_size=batch,
            on_batch=lambda done: self.progress(done, plan.flow_runs),
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
