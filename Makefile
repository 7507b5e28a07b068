# DevCapsules API. `make dev` and `make test` install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SWAGGER_UI := public/vendor/swagger-ui
export WRANGLER_SEND_METRICS := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install dev test test-sqlite test-miniflare test-pyodide test-browser lint format check-edge fuzz bench clean

install: $(STAMP) $(SWAGGER_UI)/swagger-ui-bundle.js

# Re-run when the pinned dependencies change; otherwise a no-op (idempotent).
$(STAMP): pyproject.toml package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

# The /docs page's Swagger UI, copied from the pinned npm package into the static assets
# directory (git-ignored: built here, never committed). Only what the page loads, plus
# the licence files.
$(SWAGGER_UI)/swagger-ui-bundle.js: $(STAMP)
	rm -rf $(SWAGGER_UI) && mkdir -p $(SWAGGER_UI)
	cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,LICENSE,NOTICE} $(SWAGGER_UI)/

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

# Rung 1: everything on the embedded SQLite bindings (incl. the sandbox attack suites).
test-sqlite: install
	@echo "=== rung 1: the suite on the embedded SQLite bindings ==="
	$(BIN)/pytest -q --ignore=tests/edge --ignore=tests/browser

# Rung 2: the API suite again, on Miniflare's D1/KV/Queues, plus the Miniflare client and
# parity tests. (The sandbox and SQLite-implementation tests touch no binding: skipped.)
test-miniflare: install
	@echo "=== rung 2: the API suite on Miniflare's D1/KV/Queues ==="
	DEVCAPSULES_BINDINGS=miniflare $(BIN)/pytest -q --ignore=tests/executor \
		--ignore=tests/bindings --ignore=tests/local \
		--ignore=tests/edge/test_pyodide_boundary.py --ignore=tests/browser

# Rung 3: the Workers boundary code inside Pyodide 0.28 against Miniflare's bindings.
test-pyodide: install
	@echo "=== rung 3: the edge adapter inside Pyodide 0.28 ==="
	$(BIN)/pytest -q tests/edge/test_pyodide_boundary.py

# Real-browser tests: /docs and the embed widget (cross-origin, CORS) in headless Chromium
# (Debian's `chromium`, driven by the pinned playwright-core; no browser is downloaded).
# Screenshots go to artifacts/screenshots/.
test-browser: install
	@echo "=== browser: /docs and the embed widget in headless Chromium ==="
	$(BIN)/pytest -q tests/browser

# Schemathesis fuzzes every operation of /api/v1/openapi.json over HTTP against the local
# host with a real token (about 2.5 min; FUZZ_MAX_TIME=<seconds> changes the budget).
fuzz: install
	@echo "=== fuzzing: schemathesis over every operation of the OpenAPI document ==="
	$(BIN)/python -m tests.fuzz.run_schemathesis

test: lint test-sqlite test-browser test-miniflare test-pyodide check-edge fuzz

bench: install
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) node_modules .state .pytest_cache .ruff_cache $(SWAGGER_UI) artifacts
