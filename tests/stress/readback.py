"""Raw HTTP to the server under test, and the read-back check of a create.

Shared by the fuzz run's hostile phase, its schemathesis hooks and the regression tests:
a body is sent as bytes (chunked or not), and a create that succeeded must be readable by
id and listable by ``/filter``, its free-form values unchanged (integers exact).
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.stress import hostile

API_VERSION = {"X-Prefect-API-Version": "0.8.4"}
# Free-form values a create must give back unchanged (others are normalised by design:
# ``empirical_policy`` gets defaults, block ``data`` hides secrets).
ROUND_TRIP_KEYS = ("parameters", "context", "job_variables", "infra_overrides", "data", "value")
# Filter body keys that select rows by id, per collection.
ID_FILTERS = {
    "flows": "flows",
    "flow_runs": "flow_runs",
    "task_runs": "task_runs",
    "deployments": "deployments",
    "work_queues": "work_queues",
}
POSITION = re.compile(r"(line|column|char|position|offset)\D{0,3}\d+", re.IGNORECASE)


@dataclass
class Answer:
    status: int
    body: Any
    text: str


class Client:
    """Raw HTTP/1.1 to the server under test: any body bytes, chunked or not."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        chunked: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = raw if raw is not None else (None if body is None else hostile.encode(body))
        all_headers = {"Content-Type": "application/json", **API_VERSION, **(headers or {})}
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            if chunked:
                all_headers["Transfer-Encoding"] = "chunked"
                pieces = [] if data is None else [data[i : i + 65536] for i in range(0, len(data), 65536)]
                connection.request(method, f"/api{path}", body=iter(pieces), headers=all_headers, encode_chunked=True)
            else:
                connection.request(method, f"/api{path}", body=data, headers=all_headers)
            response = connection.getresponse()
            raw_answer = response.read()
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (413) and close before the whole body is sent.
            response = connection.getresponse()
            raw_answer = response.read()
        finally:
            connection.close()
        text = raw_answer.decode(errors="replace")
        try:
            parsed = hostile.decode(raw_answer) if raw_answer else None
        except ValueError:
            parsed = text
        return Answer(response.status, parsed, text)


def _same_number(sent: float, read: int) -> bool:
    """Whether ``read`` is the decimal number ``sent`` was written as (the float nearest it)."""
    try:
        return float(read) == sent
    except OverflowError:
        return False


def first_difference(sent: Any, read: Any) -> tuple[str, str] | None:
    """How and where two JSON values first differ, integers, floats and booleans kept apart.

    Answers (kind, detail): the kind names the change (``int became float``), the detail
    where it is and the values (iterative: safe on any depth).
    """
    stack: list[tuple[str, Any, Any]] = [("", sent, read)]
    while stack:
        where, a, b = stack.pop()
        at = f"at {where[-80:] or '/'}"
        if type(a) is float and type(b) is int and _same_number(a, b):
            # PostgreSQL's jsonb keeps a number, not its notation: 1e+308 and 1.5e3 come back
            # as the integers they stand for, on the reference's PostgreSQL too.
            continue
        if type(a) is not type(b):
            return f"{type(a).__name__} became {type(b).__name__}", f"{at}: sent {str(a)[:60]}, got {str(b)[:60]}"
        if isinstance(a, dict):
            if a.keys() != b.keys():
                return "object keys changed", f"{at}: sent {sorted(a)[:5]!r}, got {sorted(b)[:5]!r}"
            stack.extend((f"{where}/{key}", a[key], b[key]) for key in a)
        elif isinstance(a, list):
            if len(a) != len(b):
                return "array length changed", f"{at}: sent {len(a)} items, got {len(b)}"
            stack.extend((f"{where}/{index}", x, y) for index, (x, y) in enumerate(zip(a, b, strict=True)))
        elif a != b:
            return f"{type(a).__name__} value changed", f"{at}: sent {str(a)[:60]!r}, got {str(b)[:60]!r}"
    return None


def readback_problems(
    client: Client, paths: dict[str, Any], collection: str, sent: Any, created: Any
) -> Iterator[tuple[str, str]]:
    """What is wrong reading back ``created``, a create's answer, from ``/api{collection}``,
    as (kind, detail) pairs.

    ``paths`` is the OpenAPI document's ``paths``: a read or a list is only tried where the
    document has the route.
    """
    if not isinstance(created, dict) or "id" not in created:
        return
    ident = created["id"]
    if "get" in paths.get(f"/api{collection}/{{id}}", {}):
        read = client.send("GET", f"{collection}/{ident}")
        if read.status != 200:
            yield f"GET {collection}/{{id}} of a created row answered {read.status}", read.text[:200]
        elif isinstance(sent, dict) and isinstance(read.body, dict):
            for key in ROUND_TRIP_KEYS:
                # An object is kept as sent; other values may be coerced as pydantic 1 does.
                if isinstance(sent.get(key), dict) and key in read.body:
                    difference = first_difference(sent[key], read.body[key])
                    if difference is not None:
                        yield f"GET {collection}/{{id}}: {key} came back changed, {difference[0]}", difference[1]
    if "post" in paths.get(f"/api{collection}/filter", {}):
        by_id = ID_FILTERS.get(collection.strip("/"))
        listed = client.send("POST", f"{collection}/filter", {by_id: {"id": {"any_": [ident]}}} if by_id else {})
        if listed.status != 200:
            yield f"POST {collection}/filter after a create answered {listed.status}", listed.text[:200]
        elif by_id and ident not in [row.get("id") for row in listed.body if isinstance(row, dict)]:
            yield f"POST {collection}/filter does not list a created row", str(ident)
