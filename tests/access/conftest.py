"""Fixtures for the access tests: API-key mode and keys of each scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from access_app.models import Scope
from access_app.selectors import clear_key_cache
from access_app.services import api_key_create


@pytest.fixture(autouse=True)
def fresh_key_cache() -> Iterator[None]:
    clear_key_cache()
    yield
    clear_key_cache()


@pytest.fixture
def keyed(settings: Any) -> Any:
    """The server in ``ORION_AUTH=api-key`` mode."""
    settings.ORION_AUTH = "api-key"
    return settings


@pytest.fixture
def make_key(db: None) -> Any:
    """``make_key(scope)`` → the secret of a new key with that scope."""
    counter = iter(range(1000))

    def make(scope: Scope = Scope.WRITE, **kwargs: Any) -> str:
        _, raw = api_key_create(name=f"key-{next(counter)}", scope=scope, **kwargs)
        return raw

    return make


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
