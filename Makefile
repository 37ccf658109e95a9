# Gamify — developer commands. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
# Django 6 needs Python 3.12+: take the first one found (pyenv's shims are tried for real).
PYTHON ?= $(shell for p in python3.12 python3.13 $$HOME/.pyenv/versions/3.12*/bin/python3 $$HOME/.pyenv/versions/3.13*/bin/python3 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; \
	done)
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

# The test suite's services (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gamify
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist); each gets its own database and Redis key prefix.
PYTEST_WORKERS ?= 2

.PHONY: help install run test lint fmt typecheck checks pytest fuzz bench clean

help:
	@echo "make run    install, migrate, seed the demo tenant, serve on http://$(HOST):$(PORT)"
	@echo "make test   install and run lint, type checks, migrations and schema checks, pytest"
	@echo "make fuzz   schemathesis over the live API, longer than in make test (FUZZ_MAX_EXAMPLES)"
	@echo "make lint | fmt | bench | clean"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12+ is required (Django 6)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The demo delivers webhooks to receivers on your own machine (README: Webhooks, SSRF guard).
run: export WEBHOOKS_ALLOW_PRIVATE_NETWORKS ?= true
run: export WEBHOOKS_ALLOW_HTTP ?= true
run: install
	DEBUG=true $(MANAGE) migrate --noinput
	DEBUG=true $(MANAGE) seed_demo --base-url http://$(HOST):$(PORT)
	DEBUG=true $(MANAGE) run_periodic & PERIODIC=$$!; \
	DEBUG=true $(MANAGE) simulate --tenant demo --days 0 --live > /dev/null & LIVE=$$!; \
	trap 'kill $$PERIODIC $$LIVE 2>/dev/null' EXIT INT TERM; \
	DEBUG=true $(MANAGE) runserver --noreload $(HOST):$(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=$(CURDIR) $(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: install
	env -u DATABASE_URL DEBUG=true $(VENV)/bin/mypy .

checks: install
	env -u DATABASE_URL -u REDIS_URL DEBUG=true $(MANAGE) makemigrations --check --dry-run
	env -u DATABASE_URL -u REDIS_URL DEBUG=true $(MANAGE) spectacular --validate --fail-on-warn --file /dev/null

pytest: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SECRET_KEY=test-secret \
	  $(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck checks pytest

# The schemathesis run of `make test` (tests/integration/test_schemathesis.py), longer: more
# cases per operation and the stateful phase, which chains the operations by their links.
FUZZ_MAX_EXAMPLES ?= 80
FUZZ_PHASES ?= examples,coverage,fuzzing,stateful
FUZZ_TIMEOUT_SECONDS ?= 1800
fuzz: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SECRET_KEY=test-secret \
	  FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) FUZZ_PHASES=$(FUZZ_PHASES) \
	  FUZZ_TIMEOUT_SECONDS=$(FUZZ_TIMEOUT_SECONDS) \
	  $(VENV)/bin/pytest -p no:randomly -rP tests/integration/test_schemathesis.py

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache staticfiles
