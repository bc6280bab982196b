"""Fixtures for the access tests: API-key mode, keys of each role, workspaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from access_app.models import Role
from access_app.selectors import clear_key_cache
from access_app.services.audit import forget_refusals
from access_app.services.keys import api_key_create
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace


@pytest.fixture(autouse=True)
def fresh_key_cache() -> Iterator[None]:
    clear_key_cache()
    forget_refusals()
    yield
    clear_key_cache()
    forget_refusals()


@pytest.fixture
def keyed(settings: Any) -> Any:
    """The server in ``ORION_AUTH=api-key`` mode."""
    settings.ORION_AUTH = "api-key"
    return settings


@pytest.fixture
def make_key(db: None) -> Any:
    """``make_key(role, workspace_id=...)`` → the secret of a new key with that role."""
    counter = iter(range(1000))

    def make(role: Role = Role.DEVELOPER, *, workspace_id: int = DEFAULT_WORKSPACE_ID, **kwargs: Any) -> str:
        _, raw = api_key_create(name=f"key-{next(counter)}", workspace_id=workspace_id, role=role, **kwargs)
        return raw

    return make


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def workspace(slug: str) -> Workspace:
    """A workspace for a test."""
    return Workspace.objects.create(slug=slug, name=slug)
