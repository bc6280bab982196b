"""``manage.py orion_limits [--free-stale]``: who holds which tag concurrency slot, since when."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from runs_app.background.slots import sweep_stale_slots
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

    def handle(self, *args: Any, free_stale: bool, **options: Any) -> None:
        if free_stale:
            self.stdout.write(f"Freed {sweep_stale_slots()} stale slot(s).")
        now = timezone.now()
        limits = list(ConcurrencyLimit.objects.order_by("tag"))
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
