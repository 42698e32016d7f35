# Two commands a newcomer needs: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint venv migrate seed serve migration clean bench-load

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)  ## install, migrate, seed the demo company, serve on 127.0.0.1:8050
	$(BIN)/liftoff db upgrade
	$(BIN)/liftoff seed
	$(BIN)/liftoff jobs run refresh-kpis
	$(BIN)/liftoff demo-users
	LIFTOFF_COMPANY_NAME="Northwind Demo" LIFTOFF_SCHEDULER_IN_PROCESS=1 $(BIN)/liftoff serve --host 127.0.0.1 --port 8050

test: $(STAMP)  ## the whole suite (SQLite unless DATABASE_URL / LIFTOFF_TEST_DATABASE say otherwise)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test-fast: $(STAMP)  ## the quick part: no slow, browser, external-server or Node.js tests
	$(BIN)/pytest -n 2 -m "not slow and not browser and not unleash_server and not node" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

migration: $(STAMP)  ## autogenerate a migration: make migration m="what changed"
	cd migrations && ../$(BIN)/alembic -c alembic.ini revision --autogenerate -m "$(m)"

bench-load: $(STAMP)  ## load test: 1,000 SDKs + 50 ingestion clients for 2 min on gunicorn + PostgreSQL
	$(BIN)/python benchmarks/load/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
