"""Schema fuzzing: schemathesis against the server's own OpenAPI document, every operation.

    python -m tests.stress.fuzz --db sqlite --max-time 150          # the bounded CI run
    python -m tests.stress.fuzz --db both --database-url URL --max-time 600 --stateful

A finding is any 5xx, a response whose status or body the document does not describe, or
a wrong content type; the run exits non-zero on one, and also when the server logged an
unhandled error. ``/api/admin/database/*`` is left out (it would empty or drop the
database under the fuzzer). The document comes from ``manage.py spectacular`` as JSON.

``negative_data_rejection`` (a request the schema forbids answered 2xx) is not in the
default gate: the reference's pydantic v1 coerces scalars (``"name": 0`` is the name
``"0"``, ``"is_active": 0`` is false, a number is an epoch timestamp) and the stock clients'
behaviour is the contract, so the server does too. ``--checks all`` shows those.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from tests.stress.harness import Server, add_database_arguments, database_targets

GATE_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)


def fuzz_one(
    *, label: str, port: int, database_url: str | None, max_time: int, phases: str, checks: str, seed: int | None
) -> bool:
    """Fuzz one freshly started server; True when nothing was found."""
    server = Server(port=port, database_url=database_url)
    server.prepare()
    document = server.workdir / "openapi.json"
    server.manage("spectacular", "--format", "openapi-json", "--file", str(document))
    server.start("api", services=False)
    try:
        started = time.monotonic()
        command = [
            sys.executable, "-m", "schemathesis.cli", "--no-color", "run", str(document),
            "--url", server.base_url, "--max-time", str(max_time), "--workers", "1",
            "--phases", phases, "--checks", checks, "--exclude-path-regex", "/admin/database",
            "--generation-database", "none", "--output-truncate", "true",
            "--request-timeout", "30",
        ]  # fmt: skip
        if seed is not None:
            command += ["--seed", str(seed)]
        print(f"== fuzz on {label}: {' '.join(command[3:])}", flush=True)
        result = subprocess.run(command, check=False)
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    unhandled = server.log_text().count("Unhandled error in")
    print(
        f"== fuzz on {label}: schemathesis exit {result.returncode}, {unhandled} unhandled server errors, {elapsed:.0f}s"
    )
    return result.returncode == 0 and unhandled == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser, port=4471)
    parser.add_argument("--max-time", type=int, default=150, help="seconds of fuzzing per database")
    parser.add_argument("--stateful", action="store_true", help="add the stateful phase")
    parser.add_argument("--checks", default=GATE_CHECKS)
    parser.add_argument("--seed", type=int, default=None, help="fixed generation seed (CI: reproducible cases)")
    options = parser.parse_args(argv)
    phases = "examples,coverage,fuzzing" + (",stateful" if options.stateful else "")
    targets = database_targets(parser, options)
    clean = True
    for label, url in targets:
        clean &= fuzz_one(
            label=label,
            port=options.port,
            database_url=url,
            max_time=options.max_time,
            phases=phases,
            checks=options.checks,
            seed=options.seed,
        )
    print("== fuzz: clean" if clean else "== fuzz: FINDINGS (see above)")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
