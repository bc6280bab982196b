# Orion on Django — every set-up and check step, for people and for CI (.ci/run).
#
#   make run     install into .venv, migrate, install the Prefect UI, serve http://127.0.0.1:4200 (UI /, API /api, admin /admin, docs /docs)
#   make test    the whole test suite on SQLite, then on a throwaway PostgreSQL
#   make check   Django system checks, migrations, OpenAPI validation, ruff, mypy

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3.11
# pip on these machines warns about each unused local index; keep the log readable.
PIP_QUIET := 2>&1 | { grep -v "WARNING: Location" || true; }
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
ORION_HOST ?= 127.0.0.1
ORION_PORT ?= 4200
export ORION_HOST ORION_PORT

# The command that serves the API (and, once they exist, the background services).
SERVE_CMD ?= $(PY) manage.py orion_start

# COMPAT_KEYS_ARGS picks the scenarios run with keys (both clients); empty runs them all.
COMPAT_KEYS_ARGS ?= --only c01,c08,c12,c14
# COMPAT_WORKSPACE_ARGS picks the scenarios run in a workspace with runner/developer keys
# (both clients, SQLite and PostgreSQL); the k* and w* checks always run. Empty (the
# default, and what CI runs) runs them all: the stock clients' whole suite under a runner key.
COMPAT_WORKSPACE_ARGS ?=

.PHONY: venv ui run browser-test serve migrate test test-sqlite test-postgres compat compat-keys compat-workspace compat-ci \
	check check-django check-lint check-types fmt createsuperuser \
	bench bench-compare bench-memory bench-scale bench-prune bench-events bench-triggers bench-ingest clean fuzz fuzz-ci soak crash-test

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: set PYTHON=python3.x (3.11+)"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip $(PIP_QUIET)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt $(PIP_QUIET)
	@touch $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

# The Prefect UI is installed from the package index when missing; without the index the
# server still runs and / says how to install it later.
ui: venv
	$(PY) manage.py orion_ui ensure

run: migrate ui
	$(SERVE_CMD)

test: venv
	@status=0; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	$(MAKE) --no-print-directory test-postgres || status=1; \
	exit $$status

test-sqlite: venv
	@echo "== test suite on SQLite"
	env -u DATABASE_URL $(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-postgres: venv
	@echo "== test suite on PostgreSQL (throwaway cluster)"
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	env $$url $(PY) -m pytest -n 2 $(PYTEST_ARGS)

# The stock Prefect clients (2.7.12 and 2.20.26) run real flows against a live server,
# on SQLite and on a throwaway PostgreSQL at once (tests/compat/; client venvs in .compat-venvs/).
compat: venv
	@echo "== compatibility suite: stock Prefect clients on SQLite and PostgreSQL"
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	$(PY) -m tests.compat.run --db both --database-url "$${url#DATABASE_URL=}" $(COMPAT_ARGS)

# The same clients with ORION_AUTH=api-key and a key in PREFECT_API_KEY, on SQLite, plus a
# client without a key that must get 401 (a subset by default, to keep CI short).
compat-keys: venv
	@echo "== compatibility suite with API keys (ORION_AUTH=api-key)"
	$(PY) -m tests.compat.run --db sqlite --auth api-key $(COMPAT_KEYS_ARGS)

# The same clients in the workspace team-a of a shared server (PREFECT_API_URL=.../api/workspaces/team-a,
# ORION_AUTH=api-key): flows, agents and workers with a runner key, deployments and limits made
# with a developer key; a runner's delete and another workspace's key must get 403.
compat-workspace: venv
	@echo "== compatibility suite in a workspace with runner and developer keys"
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	$(PY) -m tests.compat.run --db both --database-url "$${url#DATABASE_URL=}" --workspace team-a $(COMPAT_WORKSPACE_ARGS)

# What CI runs of the three above, as one invocation over one PostgreSQL cluster: every
# leg's server starts at once and one pool runs all their scenarios, longest first (the
# scenarios mostly wait on agents' polls and on their clients' start-up, so the legs' waits
# overlap). Each leg keeps what only it proves:
#   sqlite                      every scenario, both clients, the default set-up (no keys)
#   postgres:api-key:only=...   a whole-API key (ORION_AUTH=api-key) on the plain /api, on
#                               PostgreSQL: flows and tasks, logs, the client's CRUD, filters,
#                               sorts and counts, a cancel under an agent; k01 without a key gets 401
#   sqlite/postgres:workspace   every scenario again in workspace team-a under runner and
#                               developer keys, on both databases (#21), k01 and w01's 403s
# Every scenario thus runs on both databases and both URL shapes; make compat, compat-keys
# and compat-workspace still run each configuration whole.
COMPAT_CI_LEGS ?= --leg sqlite --leg postgres:api-key:only=c01,c08,c12,c14 \
	--leg sqlite:workspace=team-a --leg postgres:workspace=team-a
# Six at once: a scenario costs about 8 s of CPU (mostly its client's start-up), so more than
# six would keep two cores saturated and push the CPU-heaviest (c05, c13, c17) towards their timeouts.
COMPAT_CI_JOBS ?= 6
compat-ci: venv
	@echo "== compatibility suite (CI): $(COMPAT_CI_LEGS)"
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	$(PY) -m tests.compat.run $(COMPAT_CI_LEGS) --jobs $(COMPAT_CI_JOBS) --database-url "$${url#DATABASE_URL=}"

# Schema fuzzing (tests/stress/fuzz.py): schemathesis against the server's own OpenAPI
# document on a throwaway server (loopback, port 4471), with hostile values, then the
# hostile phase (known repros, creates read back, chunked/oversized/malformed bodies).
# fuzz-ci: bounded, SQLite, for CI.
FUZZ_CI_SECONDS ?= 150
FUZZ_SECONDS ?= 600
FUZZ_CI_HOSTILE_EXAMPLES ?= 300
FUZZ_HOSTILE_EXAMPLES ?= 3000
# CI fuzzes with a fixed seed so a red gate can be replayed; `make fuzz` draws new cases.
FUZZ_CI_SEED ?= 20261129
fuzz-ci: venv
	$(PY) -m tests.stress.fuzz --db sqlite --max-time $(FUZZ_CI_SECONDS) --seed $(FUZZ_CI_SEED) \
		--hostile-examples $(FUZZ_CI_HOSTILE_EXAMPLES)

fuzz: venv
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	$(PY) -m tests.stress.fuzz --db both --database-url "$${url#DATABASE_URL=}" --max-time $(FUZZ_SECONDS) --stateful \
		--hostile-examples $(FUZZ_HOSTILE_EXAMPLES)

# Concurrency soak and crash safety (tests/stress/), on SQLite and a throwaway PostgreSQL.
SOAK_SECONDS ?= 120
soak: venv
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	$(PY) -m tests.stress.soak --db both --database-url "$${url#DATABASE_URL=}" --seconds $(SOAK_SECONDS)

crash-test: venv
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	$(PY) -m tests.stress.crash --db both --database-url "$${url#DATABASE_URL=}"

# The browser suite (tests/browser): the real server and the stock Prefect UI driven by
# headless Chromium from the distribution (Playwright drives that browser; it downloads
# none). Installs Chromium and the UI when missing; screenshots go to docs/screenshots.
SCREENSHOTS ?= docs/screenshots
browser-test: venv
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: sudo apt-get install chromium"; exit 1; fi; }
	$(PY) manage.py orion_ui ensure
	ORION_BROWSER_TESTS=1 ORION_SCREENSHOTS=$(SCREENSHOTS) $(PY) -m pytest tests/browser -p no:xdist $(PYTEST_ARGS)

# Three independent groups: CI runs them side by side (make -j2 -O check).
check: check-django check-lint check-types

check-django: venv
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

check-lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check-types: venv
	$(VENV)/bin/mypy .

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

createsuperuser: migrate
	$(PY) manage.py createsuperuser

# Benchmarks (bench/; never run by .ci/run). Each writes its section of docs/performance.md.
#   make bench           this server alone on a throwaway PostgreSQL, 20,000 runs, a table
#   make bench-compare   side by side with Prefect 2.7.12, one core each, A B A B (~12 min)
#   make bench-memory    RSS of orion_start's processes over a 10-minute load
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--seconds 20 --rounds 3" (python -m bench.compare -h).
BENCH_ARGS ?=
bench: venv
	$(PY) -m bench.compare $(BENCH_ARGS)

bench-compare: venv
	$(PY) -m bench.compare --reference $(BENCH_ARGS)

bench-memory: venv
	$(PY) -m bench.memory $(BENCH_ARGS)

# Issue #23's read budgets through HTTP against already seeded databases (never seeds; seed
# first with e.g. `manage.py orion_seed --runs 10000000 --task-runs 1000000 --production`,
# rows generated inside PostgreSQL: about 2 GB and 2 minutes per million runs on 2 idle
# cores, docs/performance.md "Seeding millions of runs"). Several URLs (smallest first, space
# separated) give the curve of cost against size, e.g.
# BENCH_SCALE_URL="postgresql://postgres@127.0.0.1:55440/orion_1m postgresql://postgres@127.0.0.1:55440/orion" make bench-scale
BENCH_SCALE_URL ?= $(DATABASE_URL)
bench-scale: venv
	$(PY) -m bench.scale $(foreach url,$(BENCH_SCALE_URL),--database-url "$(url)") $(BENCH_ARGS)

# A retention pass over a COPY of that database while a client reads (it deletes runs):
# BENCH_ARGS="--before 2026-11-22T12:00:00Z" fixes the cut-off (half of a 30-day seed), so
# trials hours apart delete the same runs; it prints the wall time and the CPU of the prune,
# its PostgreSQL backend and the server, and the reads' p50/p99.
bench-prune: venv
	$(PY) -m bench.prune --database-url "$(BENCH_SCALE_URL)" $(BENCH_ARGS)

# The events routes (filter shapes, count-by) through HTTP over events seeded by COPY:
# BENCH_ARGS="--events 1000000" (default 100,000); --reference URL measures a 2.20 server too.
bench-events: venv
	$(PY) -m bench.events --database-url "$(BENCH_SCALE_URL)" $(BENCH_ARGS)

# Event ingest at one core through POST /events and the /events/in websocket, on PostgreSQL
# and SQLite (BENCH_ARGS="--reference start" adds the 2.20 reference beside it).
bench-ingest: venv
	$(PY) -m bench.ingest $(BENCH_ARGS)

# Trigger evaluation under a steady event rate (1,000/s through POST /events from a producer
# process): lag from occurrence to action (p50/p99) and the evaluator's CPU and events/s at
# one core, on a throwaway PostgreSQL cluster and a SQLite file (or --database-url URL).
bench-triggers: venv
	$(PY) -m bench.triggers $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
