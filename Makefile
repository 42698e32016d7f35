# Two commands a newcomer needs: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two install stamps: the demo gets only what the app needs (`pip install -e .`), the test and lint
# targets the development tools as well (`.[dev]`). Each is redone when pyproject.toml changes.
APP_STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# make demo PORT=8061 (or PORT=8061 make demo) serves the demo on another port.
PORT ?= 8050

.PHONY: demo test test-fast lint venv migrate seed serve migration clean bench-load

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(APP_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(APP_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(APP_STAMP)

venv: $(DEV_STAMP)

demo: $(APP_STAMP)  ## install, migrate, seed the demo company, serve on 127.0.0.1:8050 (PORT= to change)
	$(BIN)/liftoff db upgrade
	$(BIN)/liftoff seed
	$(BIN)/liftoff jobs run refresh-kpis
	$(BIN)/liftoff demo-users
	LIFTOFF_COMPANY_NAME="Northwind Demo" LIFTOFF_SCHEDULER_IN_PROCESS=1 $(BIN)/liftoff serve --host 127.0.0.1 --port $(PORT)

test: lint  ## lint, then the whole suite (SQLite unless DATABASE_URL / LIFTOFF_TEST_DATABASE say otherwise)
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test-fast: $(DEV_STAMP)  ## the quick part: no slow, browser, external-server or Node.js tests
	$(BIN)/pytest -n 2 -m "not slow and not browser and not unleash_server and not node" $(PYTEST_ARGS)

lint: $(DEV_STAMP)  ## ruff, the layer contracts of docs/architecture.md (import-linter), mypy
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

migration: $(APP_STAMP)  ## autogenerate a migration: make migration m="what changed"
	cd migrations && ../$(BIN)/alembic -c alembic.ini revision --autogenerate -m "$(m)"

bench-load: $(DEV_STAMP)  ## load test: 1,000 SDKs + 50 ingestion clients for 2 min on gunicorn + PostgreSQL
	$(BIN)/python benchmarks/load/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
