"""``python -m bench`` (``make bench``): say what the three tools are and how to run them."""

from __future__ import annotations

USAGE = """\
bench: the performance tooling of Orion on Django (see bench/README.md).

  python -m bench.seed    --flows 100 --runs 20000 [--database-url URL]
      deterministic data set of PERFORMANCE.md (tops up to --runs, never duplicates)
  python -m bench.load    --base-url http://127.0.0.1:4200/api --seconds 20 --concurrency 8
      closed-loop load, one row per workload: req/s, p50, p99, errors
  python -m bench.explain [--database-url URL]
      EXPLAIN (ANALYZE, BUFFERS) of the read queries the server runs (PostgreSQL)
  python -m bench.admin_changelists [--database-url URL] [--repeat 5]
      server time (p50) and statements of every runs/flows admin changelist, filtered too
"""


def main() -> None:
    print(USAGE, end="")


if __name__ == "__main__":
    main()
