"""The reference documents the tests read are in the repository, unchanged since copied.

A clone must pass the suite with nothing beside it; tests/reference/README.md records where
each file came from and its SHA-256, and this test holds the copies to that record.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROVENANCE = ROOT / "tests" / "reference" / "README.md"
ROW = re.compile(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|", re.MULTILINE)


def recorded() -> dict[str, str]:
    return dict(ROW.findall(PROVENANCE.read_text()))


def test_every_recorded_file_is_present_and_unchanged() -> None:
    files = recorded()
    assert len(files) == 5
    actual = {path: hashlib.sha256((ROOT / path).read_bytes()).hexdigest() for path in files}
    assert actual == files


def test_every_file_in_tests_reference_is_recorded() -> None:
    kept = {str(path.relative_to(ROOT)) for path in (ROOT / "tests" / "reference").iterdir()}
    assert kept - {"tests/reference/README.md"} == {path for path in recorded() if path.startswith("tests/reference/")}
