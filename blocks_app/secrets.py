"""Hiding secret values of block documents, and keeping them when a client saves a mask back.

A schema lists its secret fields in ``fields["secret_fields"]`` as dot paths, where ``*``
stands for everything below that level (``"credentials.*"``). As in the reference (both
client lines), a document's data is read as a flat mapping of key paths to leaf values
(a non-empty dict is not a leaf):

* an exact path hides its leaf when the leaf is not ``null``;
* a wildcard path hides every leaf below the part before the ``*``, ``null`` included.

Every hidden value reads as :data:`MASK` (8 asterisks, ``prefect.utilities.names.obfuscate``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MASK = "*" * 8
# What this server answered for a secret before it matched the reference. A client that
# read a document then may still send it back, so it is recognised as a mask too.
LEGACY_MASK = "*" * 10
MASKS = frozenset({MASK, LEGACY_MASK})

KeyPath = tuple[str, ...]


def obfuscate(data: Mapping[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    """``data`` with every secret leaf replaced by :data:`MASK`."""
    flat = _flatten(data)
    for key in _secret_keys(flat, secret_fields):
        flat[key] = MASK
    return _unflatten(flat)


def keep_masked_secrets(
    update: Mapping[str, Any], current: Mapping[str, Any], secret_fields: Iterable[str]
) -> dict[str, Any]:
    """``update`` with every mask sent for a secret replaced by the stored value.

    A client that reads a document without secrets and saves it back sends the masks; the
    stored secrets must survive that, whether the update merges or replaces the data. A
    mask at a path the document has no value for is kept as sent.
    """
    flat = _flatten(update)
    for key in _secret_keys(flat, secret_fields, include_null=True):
        if flat[key] in MASKS:
            found, stored = _lookup(current, key)
            if found:
                flat[key] = stored
    return _unflatten(flat)


def _secret_keys(flat: Mapping[KeyPath, Any], secret_fields: Iterable[str], include_null: bool = False) -> set[KeyPath]:
    keys: set[KeyPath] = set()
    for field in secret_fields:
        path = tuple(field.split("."))
        if "*" in path:
            prefix = path[: path.index("*")]
            keys.update(key for key in flat if key[: len(prefix)] == prefix)
        elif path in flat and (include_null or flat[path] is not None):
            keys.add(path)
    return keys


def _flatten(data: Mapping[str, Any], prefix: KeyPath = ()) -> dict[KeyPath, Any]:
    flat: dict[KeyPath, Any] = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def _unflatten(flat: Mapping[KeyPath, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for path, value in flat.items():
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return data


def _lookup(data: Any, path: KeyPath) -> tuple[bool, Any]:
    """``(True, value)`` at ``path`` in nested ``data`` (a dict value counts), else ``(False, None)``."""
    node = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node
