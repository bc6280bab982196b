"""Schema fuzzing: schemathesis against the server's own OpenAPI document, every operation,
then the hostile phase (``hostile_phase``), on one throwaway server per database.

    python -m tests.stress.fuzz --db sqlite --max-time 150 --seed 1    # the bounded CI run
    python -m tests.stress.fuzz --db both --database-url URL --max-time 600 --stateful

Schemathesis runs twice: its coverage phase (boundary values of every parameter), then
its generated phases, where the hooks of ``fuzz_hooks`` put hostile values in the bodies
(deep JSON, huge integers, NUL, calendar-edge datetimes, extreme numbers, long ``like_``
patterns); every successful create is read back. The hostile phase then sends the known
repros, seeded hostile creates (each read back and listed) and reads, and raw HTTP:
chunked, oversized and malformed bodies. ``--max-time`` is shared out by ``*_SHARE``.

A finding is any 5xx, a response whose status or body the document does not describe, a
wrong content type, a create that cannot be read back intact, or a hostile-phase check that
fails; the run exits non-zero on one, and also when the server logged a 500 (an error in
a view, or one raised while rendering the answer, which the view's handler never sees).
``/api/admin/database/*`` is left out (it would empty or drop the database under the
fuzzer). The document comes from ``manage.py spectacular`` as JSON.

``negative_data_rejection`` (a request the schema forbids answered 2xx) is not in the
default gate: the reference's pydantic v1 coerces scalars (``"name": 0`` is the name
``"0"``, ``"is_active": 0`` is false, a number is an epoch timestamp) and the stock clients'
behaviour is the contract, so the server does too. ``--checks all`` shows those.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from tests.stress.harness import Server, add_database_arguments, database_targets
from tests.stress.hostile_phase import run_hostile_phase

GATE_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance,created_is_readable"
)
HOOKS = "tests.stress.fuzz_hooks"
# Shares of ``--max-time``: schemathesis runs its coverage phase (boundary values, no hooks)
# and its generated phases (where the hooks put hostile values) separately, so the first
# cannot eat the second's time; the hostile phase's case count is fixed, so a seeded run
# repeats, and its share only caps it.
COVERAGE_SHARE = 0.45
GENERATED_SHARE = 0.35
HOSTILE_SHARE = 0.2


def schemathesis_run(
    *, label: str, server: Server, document: Path, phases: str, seconds: int, checks: str, seed: int | None
) -> int:
    """One schemathesis run over every operation; its exit code."""
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": HOOKS,
        "ORION_FUZZ_BASE_URL": server.base_url,
        "ORION_FUZZ_DOCUMENT": str(document),
    }
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "run", str(document),
        "--url", server.base_url, "--max-time", str(seconds), "--workers", "1",
        "--phases", phases, "--checks", checks, "--exclude-path-regex", "/admin/database",
        "--generation-database", "none", "--output-truncate", "true",
        "--request-timeout", "30",
    ]  # fmt: skip
    if seed is not None:
        command += ["--seed", str(seed)]
    print(f"== fuzz on {label}: {' '.join(command[3:])}", flush=True)
    return subprocess.run(command, check=False, env=env).returncode


def fuzz_one(
    *,
    label: str,
    port: int,
    database_url: str | None,
    max_time: int,
    stateful: bool,
    checks: str,
    seed: int | None,
    hostile_examples: int,
) -> bool:
    """Fuzz one freshly started server; True when nothing was found."""
    server = Server(port=port, database_url=database_url)
    server.prepare()
    document = server.workdir / "openapi.json"
    server.manage("spectacular", "--format", "openapi-json", "--file", str(document))
    server.start("api", services=False)
    passes = [
        ("examples,coverage", int(max_time * COVERAGE_SHARE)),
        ("fuzzing" + (",stateful" if stateful else ""), int(max_time * GENERATED_SHARE)),
    ]
    try:
        started = time.monotonic()
        exits = [
            schemathesis_run(
                label=label, server=server, document=document, phases=phases, seconds=seconds, checks=checks, seed=seed
            )
            for phases, seconds in passes
        ]
        elapsed = time.monotonic() - started
        hostile_seed = seed if seed is not None else random.randrange(2**32)
        print(f"== hostile phase on {label}: seed {hostile_seed}, {hostile_examples} generated cases", flush=True)
        cases, findings = run_hostile_phase(
            server.base_url,
            json.loads(document.read_text()),
            seed_value=hostile_seed,
            examples=hostile_examples,
            max_time=max_time * HOSTILE_SHARE,
            limit_bytes=int(server.manage("shell", "-c", SIZE_LIMIT).split()[-1]),
            log=server.workdir / "api.log",
        )
        for finding in findings:
            print(f"  - {finding}")
        total = time.monotonic() - started
    finally:
        server.stop()
    log = server.log_text()
    unhandled = max(log.count("Unhandled error in"), log.count("django.request Internal Server Error"))
    print(
        f"== fuzz on {label}: schemathesis exits {exits} ({elapsed:.0f}s); hostile phase {cases} cases, "
        f"{len(findings)} findings ({total - elapsed:.0f}s); {unhandled} server errors logged"
    )
    return not any(exits) and not findings and unhandled == 0


SIZE_LIMIT = "from django.conf import settings; print(settings.ORION_MAX_REQUEST_BODY_BYTES)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser, port=4471)
    parser.add_argument("--max-time", type=int, default=150, help="seconds of fuzzing per database")
    parser.add_argument("--stateful", action="store_true", help="add the stateful phase")
    parser.add_argument("--checks", default=GATE_CHECKS)
    parser.add_argument("--seed", type=int, default=None, help="fixed generation seed (CI: reproducible cases)")
    parser.add_argument("--hostile-examples", type=int, default=300, help="generated cases of the hostile phase")
    options = parser.parse_args(argv)
    targets = database_targets(parser, options)
    clean = True
    for label, url in targets:
        clean &= fuzz_one(
            label=label,
            port=options.port,
            database_url=url,
            max_time=options.max_time,
            stateful=options.stateful,
            checks=options.checks,
            seed=options.seed,
            hostile_examples=options.hostile_examples,
        )
    print("== fuzz: clean" if clean else "== fuzz: FINDINGS (see above)")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
