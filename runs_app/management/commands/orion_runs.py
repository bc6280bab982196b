"""``manage.py orion_runs cancel|delete|set-state``: bulk actions over matching flow runs.

Without ``--state``, ``--flow`` or ``--older-than`` an action would reach every flow run,
so it is refused unless ``--all`` asks for that (``--dry-run`` previews either way).
Every workspace is served in turn, each by its own runs, or only ``--workspace``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from orion_project.exceptions import InvalidRequestError
from runs_app.background.retention import parse_age
from runs_app.management.workspaces import add_workspace_option, each_workspace
from runs_app.services import bulk
from runs_app.states import TERMINAL_STATE_TYPES, StateName, StateType

# ``--state LATE`` names a state name the server gives, ``--state RUNNING`` a state type.
_STATE_NAMES = {value.upper(): value for key, value in vars(StateName).items() if key.isupper()}


def state_filter(value: str) -> dict[str, Any]:
    """``RUNNING,FAILED`` → a state-type filter; ``LATE`` (a name) → a state-name filter."""
    words = [word.strip().upper() for word in value.split(",") if word.strip()]
    types = [word for word in words if word in StateType.values]
    names = [_STATE_NAMES[word] for word in words if word not in StateType.values and word in _STATE_NAMES]
    unknown = set(words) - set(types) - {name.upper() for name in names}
    if unknown:
        raise CommandError(f"Unknown state(s): {', '.join(sorted(unknown))}.")
    state: dict[str, Any] = {}
    if types:
        state["type"] = {"any_": types}
    if names:
        state["name"] = {"any_": names}
    return state


class Command(BaseCommand):
    help = (
        "Cancel, delete or set the state of the flow runs matching --state/--flow/--older-than "
        "(age by expected start time), through the same services as the bulk API routes. "
        "cancel matches only runs not finished yet: the engine keeps a finished run as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["cancel", "delete", "set-state"])
        parser.add_argument("--state", default="", help="Match runs in these state types or names (LATE, RUNNING,...).")
        parser.add_argument("--flow", action="append", default=[], help="Only runs of this flow (repeatable).")
        parser.add_argument("--older-than", default="", help="Expected start earlier than this long ago (2h, 7d).")
        parser.add_argument("--to", default="", help="set-state: the state type to propose (e.g. CANCELLED).")
        parser.add_argument("--message", default="", help="Message of the proposed state.")
        parser.add_argument("--force", action="store_true", help="set-state: skip the orchestration rules.")
        parser.add_argument("--limit", type=int, default=None, help="At most this many runs.")
        parser.add_argument(
            "--all", action="store_true", dest="all_runs", help="Act on every flow run when no filter option is given."
        )
        parser.add_argument("--dry-run", action="store_true", help="Print the count and the first 20; change nothing.")
        add_workspace_option(parser)

    def filters(self, *, state: str, flow: list[str], older_than: str, unfinished: bool = False) -> dict[str, Any]:
        """The ``/flow_runs/filter`` body the options stand for; with ``unfinished``, only
        runs not in a final state (those a cancel can move), so a count says what it does."""
        runs: dict[str, Any] = {}
        states = state_filter(state) if state else {}
        if unfinished:
            types = states.get("type", {}).get("any_", StateType.values)
            states["type"] = {"any_": [kind for kind in types if kind not in TERMINAL_STATE_TYPES]}
            if not states["type"]["any_"]:
                raise CommandError(f"A finished run cannot be cancelled: --state {state} names only final states.")
        if states:
            runs["state"] = states
        if older_than:
            try:
                age = parse_age(older_than)
            except InvalidRequestError as error:
                raise CommandError(error.message) from None
            runs["expected_start_time"] = {"before_": timezone.now() - age}
        filters: dict[str, Any] = {"flow_runs": runs or None}
        if flow:
            filters["flows"] = {"name": {"any_": flow}}
        return filters

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        filters = self.filters(
            state=options["state"],
            flow=options["flow"],
            older_than=options["older_than"],
            unfinished=action == "cancel",
        )
        target = StateType.CANCELLED.value if action == "cancel" else options["to"].upper()
        if action == "set-state" and target not in StateType.values:
            raise CommandError(f"--to must be one of {', '.join(StateType.values)}.")
        writes = None if options["dry_run"] else f"orion_runs {action}"
        for workspace in each_workspace(self.stdout, options["workspace"], writes=writes):
            self.serve(action, filters=filters, target=target, workspace_id=workspace.id, options=options)

    def serve(
        self, action: str, *, filters: dict[str, Any], target: str, workspace_id: int, options: dict[str, Any]
    ) -> None:
        """Preview, then (unless a dry run) act in one workspace."""
        limit = options["limit"]
        count, sample = bulk.flow_runs_preview(filters=filters, limit=limit, workspace_id=workspace_id)
        self.stdout.write(f"{count} flow run(s) match.")
        for run in sample:
            self.stdout.write(
                f"  {run.id} {run.name} {run.state_type} {run.state_name} {_iso(run.expected_start_time)}"
            )
        if options["dry_run"] or not count:
            return
        # Asked of the options, not of the filter: cancel narrows to unfinished runs by
        # itself, which must not make "every run" implicit.
        chosen = options["state"] or options["flow"] or options["older_than"]
        if not chosen and not options["all_runs"]:
            raise CommandError(f"No --state, --flow or --older-than given: pass --all to {action} every flow run.")
        self.act(
            action,
            filters=filters,
            target=target,
            message=options["message"],
            force=options["force"],
            limit=limit,
            all_runs=options["all_runs"],
            workspace_id=workspace_id,
        )

    def act(
        self,
        action: str,
        *,
        filters: dict[str, Any],
        target: str,
        message: str,
        force: bool,
        limit: int | None,
        all_runs: bool,
        workspace_id: int,
    ) -> None:
        """Carry out ``action`` on the runs ``filters`` match and print what it did."""
        if action == "delete":
            deleted = bulk.flow_runs_bulk_delete(
                filters=filters, limit=limit, all_runs=all_runs, workspace_id=workspace_id
            )
            self.stdout.write(f"Deleted {deleted} flow run(s).")
            return
        state = {"type": target, "message": message or f"Set by manage.py orion_runs {action}."}
        result = bulk.flow_runs_bulk_set_state(
            filters=filters, state=state, force=force, limit=limit, all_runs=all_runs, workspace_id=workspace_id
        )
        self.stdout.write(", ".join(f"{key} {value}" for key, value in result.as_json().items()))


def _iso(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment is not None else "-"
