# Orion on Django — every set-up and check step, for people and for CI (.ci/run).
#
#   make run     install into .venv, migrate, serve http://127.0.0.1:4200 (API /api, admin /admin, docs /docs)
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

.PHONY: venv run serve migrate test test-sqlite test-postgres compat check fmt createsuperuser bench bench-compare bench-memory clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: set PYTHON=python3.x (3.11+)"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip $(PIP_QUIET)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt $(PIP_QUIET)
	@touch $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

run: migrate
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
# on SQLite and on a throwaway PostgreSQL (tests/compat/; client venvs in .compat-venvs/).
compat: venv
	@echo "== compatibility suite: stock Prefect clients on SQLite and PostgreSQL"
	@set -e; \
	url=$$(scripts/pg_throwaway.sh start); \
	trap 'scripts/pg_throwaway.sh stop' EXIT INT TERM; \
	$(PY) -m tests.compat.run --db both --database-url "$${url#DATABASE_URL=}" $(COMPAT_ARGS)

check: venv
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
