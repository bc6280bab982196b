"""Every operation of the reference OpenAPI documents is served, slashes exactly as listed."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import Resolver404, resolve

from tests.api.reference_examples import REFERENCE_DIR

REFERENCE = REFERENCE_DIR


def reference_operations(version: str) -> set[tuple[str, str]]:
    document = json.loads((REFERENCE / f"openapi-{version}.json").read_text())
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


def concrete(path: str) -> str:
    """A request path for a templated one: ids become UUIDs, other parameters words."""
    path = re.sub(r"\{(id|[a-z_]*_id)\}", "00000000-0000-4000-8000-000000000000", path)
    return re.sub(r"\{[^}]+\}", "sample", path)


def served(method: str, path: str) -> bool:
    try:
        match = resolve(concrete(path))
    except Resolver404:
        return False
    view = match.func
    actions = getattr(view, "actions", None)
    if actions is not None:  # a viewset route: the method must be mapped
        return method.lower() in actions
    allowed = getattr(getattr(view, "cls", None), "http_method_names", ["get"])
    handler = getattr(getattr(view, "cls", None), method.lower(), None)
    return method.lower() in allowed and handler is not None


def test_every_2_7_12_operation_is_routed() -> None:
    missing = sorted(op for op in reference_operations("2.7.12") if not served(*op))
    assert missing == []


@pytest.mark.parametrize(
    "operation",
    [
        ("GET", "/api/csrf-token"),
        ("GET", "/api/version"),
        ("GET", "/api/ready"),
        ("POST", "/api/concurrency_limits/tag/{tag}/reset"),
    ],
)
def test_2_20_operations_the_client_uses_are_routed(operation: tuple[str, str]) -> None:
    assert served(*operation)


def test_every_2_20_operation_is_routed() -> None:
    operations = set(reference_operations("2.20.27"))
    missing = sorted(op for op in operations if not served(*op))
    assert missing == []
