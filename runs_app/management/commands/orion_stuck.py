"""``manage.py orion_stuck``: finish stuck RUNNING and CANCELLING flow runs (one pass)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from runs_app.background.liveness import stuck_flow_runs_resolve


class Command(BaseCommand):
    help = (
        "Crash RUNNING flow runs silent past their silence and cancel CANCELLING runs nothing "
        "will finish, through the orchestration engine. --dry-run lists them only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List what would be done; change nothing.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        found = stuck_flow_runs_resolve(dry_run=dry_run)
        verb = "would move" if dry_run else "moved"
        for stuck in found:
            self.stdout.write(
                f"{stuck.flow_run_id} {stuck.name}: {verb} {stuck.from_type} -> {stuck.to_type}: {stuck.reason}"
            )
        self.stdout.write(f"{len(found)} stuck flow run(s) {'found' if dry_run else 'finished'}.")
