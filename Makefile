# DevCapsules API. `make dev` and `make test` install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export WRANGLER_SEND_METRICS := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install dev test test-sqlite test-miniflare test-pyodide lint format check-edge bench clean

install: $(STAMP)

# Re-run when the pinned dependencies change; otherwise a no-op (idempotent).
$(STAMP): pyproject.toml package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

dev: install
	$(BIN)/devcapsules dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The edge toolchain accepts our config and migrations (offline: dry-run and local D1).
check-edge: install
	bash scripts/check_edge.sh

test-sqlite: install
	@echo "=== API suite on the embedded SQLite bindings ==="
	$(BIN)/pytest -q

test: lint test-sqlite check-edge

bench: install
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) node_modules .state .pytest_cache .ruff_cache
