"""What the apps register for the shared base to run: background services, resets, the
purge of one workspace's records, and the audit record of a management command.

The base (the services loop, ``/api/admin/database/clear``) must not import the apps; each
app registers its pieces from its ``AppConfig.ready()``, as it registers its routes in its
``api/routes.py``. Registration is per process and happens at start-up, so every process
sees the same list.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Service:
    """A named pass that does one short unit of work and returns how much it did, and how
    often to run it; ``wakes`` names the services that may have work as soon as a pass of
    this one did some (the trigger evaluator wakes the actions runner), which the loop then
    runs without waiting for their interval."""

    name: str
    run: Callable[[], int]
    interval_seconds: float
    wakes: tuple[str, ...] = ()


# Service factories: called when the loop starts, so intervals come from current settings.
_service_factories: list[Callable[[], list[Service]]] = []
# (order, reset): lower orders run first; apps whose rows others point at reset later.
_resets: list[tuple[int, Callable[[], None]]] = []
# The one delete path of a workspace's records (access_app registers it).
_workspace_purge: list[Callable[[int], object]] = []
# Websocket handlers by path (without the workspace prefix), served by orion_project.serving.
_websockets: dict[str, Any] = {}
# What records a writing management command in the audit trail (access_app registers it).
_command_auditor: list[Callable[[str, int | None], AbstractContextManager[object]]] = []


def register_services(factory: Callable[[], list[Service]]) -> None:
    """Add an app's background services (``factory`` builds them from settings)."""
    if factory not in _service_factories:
        _service_factories.append(factory)


def registered_services() -> list[Service]:
    """Every registered service, in registration order."""
    return [service for factory in _service_factories for service in factory()]


def register_reset(reset: Callable[[], None], *, order: int) -> None:
    """Add an app's "delete my rows and re-seed what a new server starts with" step."""
    if all(existing is not reset for _, existing in _resets):
        _resets.append((order, reset))


def registered_resets() -> list[Callable[[], None]]:
    """The registered resets, in the order they must run."""
    return [reset for _, reset in sorted(_resets, key=lambda pair: pair[0])]


def register_workspace_purge(purge: Callable[[int], object]) -> None:
    """Set the function that deletes every record of a workspace (given its id)."""
    _workspace_purge[:] = [purge]


def registered_workspace_purge() -> Callable[[int], object]:
    """The registered workspace purge (``/api/.../admin/database/clear`` calls it)."""
    if not _workspace_purge:
        raise RuntimeError("No app registered a workspace purge.")
    return _workspace_purge[0]


def register_command_auditor(auditor: Callable[[str, int | None], AbstractContextManager[object]]) -> None:
    """Set what records a management command that writes: ``auditor(action, workspace_id)``
    is a context manager around the command's work in one workspace."""
    _command_auditor[:] = [auditor]


def audited_command(action: str, *, workspace_id: int | None) -> AbstractContextManager[object]:
    """The registered command auditor around ``action`` in the workspace (nothing when no
    app registered one)."""
    if not _command_auditor:
        return contextlib.nullcontext()
    return _command_auditor[0](action, workspace_id)


def register_websocket(path: str, handler: str) -> None:
    """Serve the websocket ``path`` (under ``/api``, declared once: it is served per
    workspace too) with ``handler``, the dotted path of an ``async`` function of one
    :class:`orion_project.serving.Websocket` (imported when first used, so an app's
    ``ready()`` need not import its ``api`` package)."""
    _websockets[path] = handler


def registered_websocket(path: str) -> Callable[..., Any] | None:
    """The handler of a websocket path, with or without a ``/api/workspaces/<slug>`` prefix."""
    if path.startswith("/api/workspaces/"):
        path = "/api/" + path[len("/api/workspaces/") :].partition("/")[2]
    handler = _websockets.get(path)
    if handler is None:
        return None
    if isinstance(handler, str):
        handler = _websockets[path] = import_string(handler)
    return handler
