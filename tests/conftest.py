"""Shared fixtures: an API client that talks JSON the way the Prefect client does."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.test import Client


class ApiClient:
    """Sends JSON bodies with the stock client's API-version header to ``/api`` routes."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.headers = {"HTTP_X_PREFECT_API_VERSION": "0.8.4"}

    def request(self, method: str, path: str, body: Any = None, raw: str | None = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {**self.headers, **headers}
        if raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(f"/api{path}", **kwargs)

    def get(self, path: str, **headers: str) -> Any:
        return self.request("get", path, **headers)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("post", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("patch", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("put", path, body, **kwargs)

    def delete(self, path: str, **headers: str) -> Any:
        return self.request("delete", path, **headers)


@pytest.fixture
def api(db: None, client: Client) -> ApiClient:
    """The API client; every test using it gets a clean database."""
    return ApiClient(client)


# The browser suite starts a real server and Chromium: ``make browser-test`` runs it.
collect_ignore = [] if os.environ.get("ORION_BROWSER_TESTS") else ["browser"]
