# `make run` and `make test` are all a fresh clone needs (Python 3.11+ and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: install run test lint check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo "Beacon: http://localhost:$(PORT)/  (admin: /admin/, API docs: /api/docs/)"
	DEBUG=$${DEBUG:-1} PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho --procfile Procfile start --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint check
	$(BIN)/python -m pytest

# Alert ingestion under a burst against gunicorn, then the escalation engine over a backlog
# of due escalations (not tests; they print numbers and checks).
# Needs PostgreSQL: make bench DATABASE_URL=postgres://postgres@127.0.0.1:5432/beacon_bench
# Options: BENCH_ARGS="--alerts 2000 --clients 8 --per-request 10 --workers 5"
#          ESCALATION_ARGS="--escalations 10000"
bench: $(STAMP)
	@test -n "$(DATABASE_URL)" || { echo "make bench: set DATABASE_URL to PostgreSQL"; exit 2; }
	DATABASE_URL="$(DATABASE_URL)" $(BIN)/python -m benchmarks.alert_ingest $(BENCH_ARGS)
	DATABASE_URL="$(DATABASE_URL)" $(BIN)/python -m benchmarks.escalation $(ESCALATION_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
