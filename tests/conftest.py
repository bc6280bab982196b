"""Shared fixtures: an API client that talks JSON the way the Prefect client does."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.helpers import ApiClient


@pytest.fixture
def api(db: None, client: Client) -> ApiClient:
    """The API client; every test using it gets a clean database."""
    return ApiClient(client)
