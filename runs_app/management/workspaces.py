"""``--workspace SLUG`` of the runs_app commands: one workspace, or every workspace by default.

A command acts in one workspace at a time (the services take ``workspace_id``); given no
``--workspace`` it serves each workspace in turn, never two together.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.management.base import CommandError, CommandParser, OutputWrapper

from orion_project.models import Workspace
from orion_project.registry import audited_command
from orion_project.workspaces import WorkspaceRef, workspace_by_slug


def add_workspace_option(parser: CommandParser) -> None:
    parser.add_argument(
        "--workspace", metavar="SLUG", default=None, help="Only this workspace (default: every workspace, one by one)."
    )


def chosen_workspaces(slug: str | None) -> list[WorkspaceRef]:
    """The workspace ``--workspace`` names (``CommandError`` if there is none), or every
    workspace in id order."""
    if slug is None:
        return [WorkspaceRef(pk, each) for pk, each in Workspace.objects.order_by("id").values_list("id", "slug")]
    workspace = workspace_by_slug(slug)
    if workspace is None:
        raise CommandError(f"Workspace {slug!r} not found.")
    return [workspace]


def each_workspace(stdout: OutputWrapper, slug: str | None, *, writes: str | None = None) -> Iterator[WorkspaceRef]:
    """The workspaces of :func:`chosen_workspaces`, one by one; when there are several,
    ``Workspace SLUG:`` heads each one's output. ``writes``: the action a command that
    changes data performs (its name and sub-command), recorded in the audit trail once
    per workspace with its outcome; ``None`` for a read or a dry run."""
    workspaces = chosen_workspaces(slug)
    for workspace in workspaces:
        if len(workspaces) > 1:
            stdout.write(f"Workspace {workspace.slug}:")
        if writes is None:
            yield workspace
            continue
        with audited_command(writes, workspace_id=workspace.id):
            yield workspace
