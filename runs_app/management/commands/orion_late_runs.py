"""``manage.py orion_late_runs``: mark overdue SCHEDULED runs Late, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from runs_app.background.late_runs import workspace_late_runs_mark
from runs_app.management.workspaces import add_workspace_option, each_workspace


class Command(BaseCommand):
    help = "Give overdue SCHEDULED flow runs a SCHEDULED state named Late (one pass; every workspace or --workspace)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_workspace_option(parser)

    def handle(self, *args: Any, workspace: str | None, **options: Any) -> None:
        now = timezone.now()
        for chosen in each_workspace(self.stdout, workspace, writes="orion_late_runs"):
            marked = workspace_late_runs_mark(workspace_id=chosen.id, now=now)
            self.stdout.write(f"Marked {marked} flow run(s) late.")
