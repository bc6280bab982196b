"""Record the live 2.20 reference's answers to :mod:`tests.events.reference_cases`:
``python -m tests.events.capture_reference http://127.0.0.1:<port>/api`` (its events
service writes what ``POST /events`` sends a few seconds later, so this waits for it)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from tests.events.reference_cases import ANSWERS, CASES, EVENTS, comparable, walk


def send(base: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, json.loads(text) if text else None


def main(base: str) -> None:
    status, _ = send(base, "POST", "/events", EVENTS)
    assert status == 204, status
    for _ in range(60):
        _, page = send(base, "POST", "/events/filter", CASES["all"]["body"])
        if page["total"] == len(EVENTS) - 1:
            break
        time.sleep(1)
    answers: dict[str, Any] = {}
    for name, case in CASES.items():
        if name.startswith("posted_"):
            time.sleep(8)  # the reference's event persister writes in batches
        status, body = send(base, case["method"], case["path"], case["body"])
        answers[name] = {"status": status, "body": comparable(body)}
    answers["walk"] = walk(lambda path, body: send(base, "GET" if body is None else "POST", path, body), base)
    ANSWERS.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
