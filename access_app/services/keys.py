"""Writes to API keys: create (the only time the secret exists), revoke. A key belongs to
one workspace and acts there with its role."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from access_app.models import ApiKey, Role
from access_app.selectors import clear_key_cache, hash_key

KEY_PREFIX = "orion_"
SHOWN_PREFIX_LENGTH = 12
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ApiKeyError(ValueError):
    """A key request that cannot be carried out; the message says why."""


def parse_duration(text: str) -> timedelta:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"45s"`` → a positive ``timedelta``."""
    match = DURATION.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise ApiKeyError(f"{text!r} is not a duration such as 90d, 12h, 30m or 2w.")
    return timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


def api_key_create(
    *, name: str, workspace_id: int, role: Role = Role.DEVELOPER, expires: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key named ``name`` (unique within its workspace) acting as ``role`` in
    ``workspace_id``; returns the stored row and the secret, which is not kept."""
    name = name.strip()
    if not name:
        raise ApiKeyError("A key needs a name.")
    if expires is not None and expires <= timezone.now():
        raise ApiKeyError("The expiry must be in the future.")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            key = ApiKey.objects.create(
                name=name,
                workspace_id=workspace_id,
                prefix=raw[:SHOWN_PREFIX_LENGTH],
                key_hash=hash_key(raw),
                role=role,
                expires=expires,
            )
    except IntegrityError:
        raise ApiKeyError(f"A key named {name!r} already exists in this workspace.") from None
    return key, raw


def api_key_revoke(*, workspace_id: int, name: str) -> ApiKey:
    """Revoke the workspace's key ``name``; other processes stop accepting it within the
    cache TTL."""
    now = timezone.now()
    keys = ApiKey.objects.filter(workspace_id=workspace_id, name=name)
    updated = keys.filter(revoked__isnull=True).update(revoked=now, updated=now)
    key = keys.first()
    if key is None:
        raise ApiKeyError(f"No key named {name!r}.")
    if not updated:
        raise ApiKeyError(f"The key {name!r} was already revoked.")
    clear_key_cache()
    return key
