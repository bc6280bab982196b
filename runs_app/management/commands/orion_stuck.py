"""``manage.py orion_stuck``: finish stuck RUNNING and CANCELLING flow runs (one pass)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from runs_app.background.liveness import stuck_flow_runs_resolve
from runs_app.management.workspaces import add_workspace_option, each_workspace


class Command(BaseCommand):
    help = (
        "Crash RUNNING flow runs silent past their silence and cancel CANCELLING runs nothing "
        "will finish, through the orchestration engine, in every workspace or only --workspace. "
        "--dry-run lists them only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List what would be done; change nothing.")
        add_workspace_option(parser)

    def handle(self, *args: Any, dry_run: bool, workspace: str | None, **options: Any) -> None:
        verb = "would move" if dry_run else "moved"
        for chosen in each_workspace(self.stdout, workspace, writes=None if dry_run else "orion_stuck"):
            found = stuck_flow_runs_resolve(dry_run=dry_run, workspace_id=chosen.id)
            for stuck in found:
                self.stdout.write(
                    f"{stuck.flow_run_id} {stuck.name}: {verb} {stuck.from_type} -> {stuck.to_type}: {stuck.reason}"
                )
            self.stdout.write(f"{len(found)} stuck flow run(s) {'found' if dry_run else 'finished'}.")
