"""The audit trail's writes: one row per write through the API, the admin or a management
command, and per refused attempt at the API's door; and its pruning.

What is recorded: when, who (the key's name, the user, the command), the workspace, what
(method and route template, admin action, command), the object when known, and the
outcome. Never a secret, never a body. The API side adds no query to reads and exactly
one INSERT to a write (:func:`audit_api_write`, called by the access middleware after
the view answered). Door refusals are kept to one row per source address and reason a
minute (:func:`audit_refusal`), so a client hammering with a wrong key cannot flood the
table.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from access_app.models import AuditEvent, AuditOutcome
from access_app.principal import Principal
from orion_project.models import TenantModel, Workspace

logger = logging.getLogger("orion.audit")

# One door-refusal row per (source, reason) per this many seconds, in each process.
REFUSAL_INTERVAL_SECONDS = 60.0
# Bound on the rate limiter's memory; when full, it starts over.
REFUSAL_MEMORY = 10_000
ADMIN_ACTIONS = {ADDITION: "add", CHANGE: "change", DELETION: "delete"}
# Route parameters that name the object a request is about, in order of preference.
OBJECT_PARAMETERS = ("id", "id_or_name", "name", "tag", "slug")

_refusals: dict[tuple[str, str], float] = {}
_refusals_lock = threading.Lock()


# Every column but the key, in the order of the one INSERT statement below.
COLUMNS = (
    "at",
    "channel",
    "actor",
    "workspace_id",
    "workspace_slug",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "status_code",
    "source",
    "detail",
)
DEFAULTS: dict[str, Any] = {"actor": "", "workspace_id": None, "workspace_slug": "", "object_type": ""}
DEFAULTS |= {"object_id": "", "status_code": None, "source": "", "detail": ""}


@functools.cache
def _insert_sql(vendor: str) -> str:
    """The one INSERT of an audit event, written once per database kind."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in COLUMNS)
    return f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"


def _insert(**fields: Any) -> None:
    """One INSERT, written as SQL: it follows every API write, and the ORM's ``create``
    costs several times the statement itself. A failure is logged, never raised (the
    request already has its answer)."""
    values = {**DEFAULTS, "at": timezone.now(), **fields}
    values["at"] = connection.ops.adapt_datetimefield_value(values["at"])
    values["channel"], values["outcome"] = str(values["channel"]), str(values["outcome"])
    try:
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(connection.vendor), [values[column] for column in COLUMNS])
    except DatabaseError:
        logger.exception("could not record the audit event %s", fields.get("action"))


def _outcome(status: int) -> str:
    return AuditOutcome.SUCCESS if status < 400 else AuditOutcome.FAILURE


def source_address(request: HttpRequest) -> str:
    """The client's address as the server sees it."""
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def audit_api_write(
    request: HttpRequest, response: HttpResponseBase, *, principal: Principal, workspace_slug: str, template: str
) -> None:
    """Record an API write and its status. ``template`` is the route (``POST
    /flows/{id}/set_state``); the object is the route's id or name, or for a create the
    ``id`` of the answer."""
    match = getattr(request, "resolver_match", None)
    kwargs = match.kwargs if match is not None else {}
    object_id = next((str(kwargs[name]) for name in OBJECT_PARAMETERS if name in kwargs), "")
    if not object_id:
        data = getattr(response, "data", None)
        if isinstance(data, dict) and "id" in data:
            object_id = str(data["id"])
    _insert(
        channel=AuditEvent.Channel.API,
        actor=principal.name,
        workspace_id=principal.workspace_id,
        workspace_slug=workspace_slug,
        action=f"{request.method} {template}",
        object_type=template.strip("/").split("/")[0],
        object_id=object_id[:255],
        outcome=_outcome(response.status_code),
        status_code=response.status_code,
        source=source_address(request),
    )


def audit_refusal(
    request: HttpRequest, *, status: int, reason: str, workspace_id: int | None, workspace_slug: str
) -> bool:
    """Record a refusal at the door (401/403) unless one for the same source address and
    reason was recorded within the last minute; whether a row was written."""
    source = source_address(request)
    now = time.monotonic()
    with _refusals_lock:
        last = _refusals.get((source, reason))
        if last is not None and now - last < REFUSAL_INTERVAL_SECONDS:
            return False
        if len(_refusals) >= REFUSAL_MEMORY:
            _refusals.clear()
        _refusals[(source, reason)] = now
    _insert(
        channel=AuditEvent.Channel.DOOR,
        actor="",
        workspace_id=workspace_id,
        workspace_slug=workspace_slug,
        action=f"{request.method} {getattr(request, 'workspace_path', request.path)}"[:500],
        outcome=AuditOutcome.FAILURE,
        status_code=status,
        source=source,
        detail=reason,
    )
    return True


def forget_refusals() -> None:
    """Start the refusal rate limit afresh (tests)."""
    with _refusals_lock:
        _refusals.clear()


def _entry_workspace(entry: LogEntry) -> Workspace | None:
    """The workspace of the object an admin log entry is about (read before a delete
    happens, as the admin logs deletions first), or ``None`` for shared records."""
    model = entry.content_type.model_class() if entry.content_type_id else None
    if model is None or entry.object_id is None:
        return None
    if model is Workspace:
        return Workspace.objects.filter(pk=entry.object_id).first()
    if not issubclass(model, TenantModel):
        return None
    workspace_id = model._base_manager.filter(pk=entry.object_id).values_list("workspace_id", flat=True).first()
    return None if workspace_id is None else Workspace.objects.filter(pk=workspace_id).first()


def audit_admin_entry(entry: LogEntry) -> None:
    """Record what the admin logged (add, change, delete, and the custom actions that log
    a change): the user, the object and its workspace."""
    workspace = _entry_workspace(entry)
    content_type = entry.content_type
    _insert(
        at=entry.action_time,
        channel=AuditEvent.Channel.ADMIN,
        actor=entry.user.get_username() if entry.user_id else "",
        workspace_id=workspace.pk if workspace is not None else None,
        workspace_slug=workspace.slug if workspace is not None else "",
        action=f"admin {ADMIN_ACTIONS.get(entry.action_flag, entry.action_flag)} {content_type.app_label}.{content_type.model}"
        if content_type is not None
        else f"admin {ADMIN_ACTIONS.get(entry.action_flag, entry.action_flag)}",
        object_type=content_type.model if content_type is not None else "",
        object_id=str(entry.object_id or "")[:255],
        outcome=AuditOutcome.SUCCESS,
        detail=entry.get_change_message()[:1000] if entry.action_flag == CHANGE else "",
    )


def record_bulk_admin_entries(manager_class: Any) -> None:
    """The admin logs one object with ``save()`` (a ``post_save`` the app connects to
    :func:`audit_admin_entry`), several at once (a delete action) with ``bulk_create``,
    which sends no signal: wrap ``log_actions`` so those are recorded too."""
    original = manager_class.log_actions
    if getattr(original, "orion_audited", False):
        return

    @functools.wraps(original)
    def log_actions(self: Any, *args: Any, **kwargs: Any) -> Any:
        entries = original(self, *args, **kwargs)
        if isinstance(entries, list) and len(entries) > 1:
            for entry in entries:
                audit_admin_entry(entry)
        return entries

    log_actions.orion_audited = True  # type: ignore[attr-defined]
    manager_class.log_actions = log_actions


@dataclass
class CommandEvent:
    """What a management command fills in while it runs; recorded when it ends."""

    action: str
    workspace: Workspace | None = None
    object_type: str = ""
    object_id: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def audit_command(action: str, *, workspace: Workspace | None = None) -> Iterator[CommandEvent]:
    """Record a writing management command (``action``: its name and sub-command, never
    its secrets) with success, or failure when the block raises.

    Every command that writes wraps its work in this::

        with audit_command("orion_workspace delete", workspace=ws) as event:
            event.object_id = ws.slug
            ...
    """
    event = CommandEvent(action=action, workspace=workspace)
    try:
        yield event
    except BaseException as error:
        _record_command(event, AuditOutcome.FAILURE, detail=str(error)[:1000])
        raise
    _record_command(event, AuditOutcome.SUCCESS, detail=event.detail)


def audit_command_in(action: str, workspace_id: int | None) -> AbstractContextManager[CommandEvent]:
    """:func:`audit_command` for a command of another app, which knows the workspace by id
    (``orion_project.registry.audited_command``)."""
    workspace = None if workspace_id is None else Workspace.objects.filter(pk=workspace_id).first()
    return audit_command(action, workspace=workspace)


def _record_command(event: CommandEvent, outcome: str, *, detail: str) -> None:
    workspace = event.workspace
    # A workspace the command deleted is kept by slug only.
    exists = workspace is not None and Workspace.objects.filter(pk=workspace.pk).exists()
    _insert(
        channel=AuditEvent.Channel.COMMAND,
        actor=event.action.split()[0],
        workspace_id=workspace.pk if exists and workspace is not None else None,
        workspace_slug=workspace.slug if workspace is not None else "",
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id[:255],
        outcome=outcome,
        detail=detail,
    )


def audit_prune(*, before: datetime) -> int:
    """Delete the audit events recorded before ``before`` (the retention service calls it
    with now minus ``ORION_AUDIT_RETENTION_DAYS``); how many were deleted."""
    deleted, _ = AuditEvent.objects.filter(at__lt=before).delete()
    return deleted


def audit_retention_service() -> int:
    """The services loop's pass over the audit trail: events older than
    ``ORION_AUDIT_RETENTION_DAYS`` are deleted (0 keeps them all), on the retention
    pass's interval."""
    days = settings.ORION_AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    return audit_prune(before=timezone.now() - timedelta(days=days))
