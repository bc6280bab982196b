"""Block schema checksums, computed exactly as the Prefect client computes them.

The client hashes ``json.dumps([[fields], {}], sort_keys=True)`` with SHA-256, where
``fields`` is the block's JSON schema without any ``secret_fields`` key (at any depth), and
looks the schema up by ``"sha256:<hex>"``. If the server computed anything else, the
client would not find the schema and would post it again on every run.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def without_key(value: Any, key: str) -> Any:
    """A deep copy of ``value`` with every ``key`` removed from every nested object."""
    if isinstance(value, dict):
        return {k: without_key(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [without_key(item, key) for item in value]
    return value


def schema_checksum(fields: dict[str, Any]) -> str:
    """The checksum of a block schema's ``fields``."""
    payload = json.dumps([[without_key(fields, "secret_fields")], {}], sort_keys=True)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
