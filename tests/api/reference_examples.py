"""Read ``tests/reference/examples.md``: the reference server's recorded requests and answers.

Each example is ``### NN. title``, an ``http`` block (request line, headers, JSON body)
and ``Response: `HTTP/1.1 <status> ...``` followed by an optional ``json`` block.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The reference's documents, kept in the repository (tests/reference/README.md says where
# each came from): a clone needs nothing beside it.
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
EXAMPLES_PATH = REFERENCE_DIR / "examples.md"
HEADING = re.compile(r"^### (\d+)\. (.*)$")
STATUS = re.compile(r"^Response: `HTTP/1\.1 (\d{3})")


@dataclass
class Example:
    """One recorded request and the reference's answer."""

    number: int
    title: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    status: int = 0
    response: Any = None
    has_response_body: bool = False


def _block(lines: list[str], start: int, fence: str) -> tuple[list[str], int]:
    """Lines of the fenced block opening at or after ``start``; and the index after it."""
    index = start
    while index < len(lines) and lines[index].strip() != fence:
        index += 1
    body_start = index + 1
    end = body_start
    while end < len(lines) and lines[end].strip() != "```":
        end += 1
    return lines[body_start:end], end + 1


def load_examples(path: Path = EXAMPLES_PATH) -> list[Example]:
    """Every example in file order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    index = 0
    while index < len(lines):
        heading = HEADING.match(lines[index])
        if not heading:
            index += 1
            continue
        request_lines, index = _block(lines, index, "```http")
        method, request_path = request_lines[0].split(" ", 1)
        headers: dict[str, str] = {}
        body_lines: list[str] = []
        in_body = False
        for line in request_lines[1:]:
            if in_body:
                body_lines.append(line)
            elif not line.strip():
                in_body = True
            else:
                name, value = line.split(":", 1)
                headers[name.strip()] = value.strip()
        example = Example(
            number=int(heading.group(1)),
            title=heading.group(2),
            method=method,
            path=request_path.strip(),
            headers=headers,
            body=json.loads("\n".join(body_lines)) if "".join(body_lines).strip() else None,
        )
        while index < len(lines) and not STATUS.match(lines[index]):
            index += 1
        example.status = int(STATUS.match(lines[index]).group(1))  # type: ignore[union-attr]
        lookahead = index + 1
        while lookahead < len(lines) and not lines[lookahead].strip():
            lookahead += 1
        if lookahead < len(lines) and lines[lookahead].strip() == "```json":
            response_lines, index = _block(lines, lookahead, "```json")
            example.response = json.loads("\n".join(response_lines))
            example.has_response_body = True
        examples.append(example)
    return examples
