"""Hiding secret values of block documents unless ``include_secrets`` is asked for.

A schema lists its secret fields in ``fields["secret_fields"]`` as dot paths, where ``*``
stands for every key at that level (``"credentials.*"``).
"""

from __future__ import annotations

import copy
from typing import Any

OBFUSCATED = "**********"


def obfuscate(data: dict[str, Any], secret_fields: list[str]) -> dict[str, Any]:
    """``data`` with the values at ``secret_fields`` replaced by ``**********``."""
    hidden = copy.deepcopy(data)
    for path in secret_fields:
        _hide(hidden, path.split("."))
    return hidden


def _hide(node: Any, parts: list[str]) -> None:
    if not isinstance(node, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    keys = list(node) if head == "*" else [head]
    for key in keys:
        if key not in node:
            continue
        if rest:
            _hide(node[key], rest)
        elif node[key] is not None:
            node[key] = OBFUSCATED
