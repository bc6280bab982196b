"""``manage.py orion_limits [--free-stale] [--workspace SLUG]``: who holds which tag concurrency slot, since when
(each workspace's limits, or one workspace's)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from runs_app.background.slots import workspace_stale_slots_sweep
from runs_app.management.workspaces import add_workspace_option, each_workspace
from runs_app.models import ConcurrencyLimit
from runs_app.selectors.concurrency_limits import concurrency_limit_holders


class Command(BaseCommand):
    help = "List tag concurrency limits and the task runs holding their slots since when; optionally free stale ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--free-stale",
            action="store_true",
            help="First free slots whose holder is gone, finished or over the maximum hold time.",
        )
        add_workspace_option(parser)

    def handle(self, *args: Any, free_stale: bool, workspace: str | None, **options: Any) -> None:
        writes = "orion_limits --free-stale" if free_stale else None
        for chosen in each_workspace(self.stdout, workspace, writes=writes):
            self.report(free_stale=free_stale, workspace_id=chosen.id)

    def report(self, *, free_stale: bool, workspace_id: int) -> None:
        """One workspace's limits and their holders (after freeing stale slots, if asked)."""
        if free_stale:
            self.stdout.write(f"Freed {workspace_stale_slots_sweep(workspace_id=workspace_id)} stale slot(s).")
        now = timezone.now()
        limits = list(ConcurrencyLimit.objects.filter(workspace_id=workspace_id).order_by("tag"))
        if not limits:
            self.stdout.write("No tag concurrency limits are set.")
        for limit in limits:
            hold = f", max hold {limit.max_hold_seconds} s" if limit.max_hold_seconds is not None else ""
            used = len(limit.active_slots or [])
            self.stdout.write(f"{limit.tag}: {used}/{limit.concurrency_limit} slots in use{hold}")
            for holder in concurrency_limit_holders(limit=limit):
                since = holder.since.isoformat(timespec="seconds") if holder.since else "unknown"
                held = f" ({(now - holder.since).total_seconds():.0f} s)" if holder.since else ""
                stale = f"  STALE: {holder.stale}" if holder.stale else ""
                self.stdout.write(
                    f"  {holder.task_run_id}  {holder.name or '-'}  {holder.state or 'deleted'}  "
                    f"flow run {holder.flow_run_state or '-'}  since {since}{held}{stale}"
                )
