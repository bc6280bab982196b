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

from access_app.models import ApiKey, Scope

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
    scope: Scope
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
            .values_list("id", "name", "scope", "expires", "revoked", "last_used")
            .first()
        )
        info = None
        if row is not None:
            info = KeyInfo(id=row[0], name=row[1], scope=Scope(row[2]), expires=row[3], revoked=row[4])
            if row[5] is not None:
                _last_used_written.setdefault(info.id, now - (timezone.now() - row[5]).total_seconds())
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


def api_key_list() -> QuerySet[ApiKey]:
    """Every key, by name (no secrets: only hashes are stored)."""
    return ApiKey.objects.order_by("name")
