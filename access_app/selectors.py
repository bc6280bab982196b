"""Reads of API keys, including the per-request lookup with its short cache."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from access_app.models import ApiKey, AuditEvent, Role
from orion_project.models import Workspace

# last_used is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Bound on the lookup cache, so random wrong keys cannot grow it without end.
CACHE_MAX_ENTRIES = 10_000


def hash_key(raw: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """What the request check needs of a key, safe to keep in process memory."""

    id: UUID
    name: str
    workspace_id: int
    role: Role
    expires: datetime | None
    revoked: datetime | None

    def problem(self, now: datetime) -> str | None:
        """Why the key is refused (403), or ``None`` when it is valid."""
        if self.revoked is not None:
            return f"The API key {self.name!r} has been revoked."
        if self.expires is not None and self.expires <= now:
            return f"The API key {self.name!r} expired at {self.expires.isoformat()}."
        return None


_cache: dict[str, tuple[float, KeyInfo | None]] = {}
_last_used_written: dict[UUID, float] = {}
_lock = threading.Lock()


def clear_key_cache() -> None:
    """Forget every cached lookup (tests, and after a revocation in this process)."""
    with _lock:
        _cache.clear()
        _last_used_written.clear()


def api_key_lookup(*, raw: str) -> KeyInfo | None:
    """The key whose secret is ``raw``, or ``None``.

    One indexed query by hash; its answer (a miss included) is kept for
    ``ORION_API_KEY_CACHE_SECONDS``, so a revocation takes effect within that time in
    every process. Records ``last_used`` at most once a minute per key.
    """
    digest = hash_key(raw)
    ttl = settings.ORION_API_KEY_CACHE_SECONDS
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached[0] > now:
        info = cached[1]
    else:
        row = (
            ApiKey.objects.filter(key_hash=digest)
            .values_list("id", "name", "workspace_id", "role", "expires", "revoked", "last_used")
            .first()
        )
        info = None
        if row is not None:
            info = KeyInfo(
                id=row[0], name=row[1], workspace_id=row[2], role=Role(row[3]), expires=row[4], revoked=row[5]
            )
            if row[6] is not None:
                _last_used_written.setdefault(info.id, now - (timezone.now() - row[6]).total_seconds())
        if ttl > 0:
            with _lock:
                if len(_cache) >= CACHE_MAX_ENTRIES:
                    _cache.clear()
                _cache[digest] = (now + ttl, info)
    if info is not None and info.revoked is None:
        _touch(info.id, now)
    return info


def _touch(key_id: UUID, now: float) -> None:
    """Record use of a key unless this process recorded it within the last minute."""
    last = _last_used_written.get(key_id)
    if last is not None and now - last < LAST_USED_RESOLUTION.total_seconds():
        return
    _last_used_written[key_id] = now
    stamp = timezone.now()
    # Conditional, so several processes write at most about once a minute between them.
    ApiKey.objects.filter(Q(last_used__isnull=True) | Q(last_used__lt=stamp - LAST_USED_RESOLUTION), pk=key_id).update(
        last_used=stamp
    )


def api_key_list(*, workspace_id: int) -> QuerySet[ApiKey]:
    """The workspace's keys, by name (no secrets: only hashes are stored)."""
    return ApiKey.objects.filter(workspace_id=workspace_id).order_by("name")


def audit_event_list(*, workspace_slug: str | None, since: datetime | None) -> QuerySet[AuditEvent]:
    """Audit events, newest first: of one workspace (by slug, so a deleted workspace's
    trail is found too) or of all, and from ``since`` on."""
    events = AuditEvent.objects.all()
    if workspace_slug is not None:
        events = events.filter(workspace_slug=workspace_slug)
    if since is not None:
        events = events.filter(at__gte=since)
    return events.order_by("-at", "-id")


def workspace_find(*, slug: str) -> Workspace | None:
    """The workspace with this slug, or ``None``."""
    return Workspace.objects.filter(slug=slug).first()


def workspace_list() -> QuerySet[Workspace]:
    """Every workspace, by slug."""
    return Workspace.objects.order_by("slug")
