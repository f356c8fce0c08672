# openbms — the two commands a newcomer runs are `make demo` and `make test`.
# Every target creates the virtual environment (.venv) first when it is missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

WEB_STAMP := src/openbms/web_static/index.html
WEB_SRC   := $(shell find web/src web/index.html web/package-lock.json web/vite.config.ts -type f 2>/dev/null)

.PHONY: demo test lint bench venv web wheel clean

venv: $(STAMP)

# The dashboard (Node.js 20 + npm): built into the package's static files, never committed.
web: $(WEB_STAMP)

$(WEB_STAMP): $(WEB_SRC)
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

# Re-install only when the project's dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres,parquet]"
	@touch $(STAMP)

# A wheel with the dashboard built in (dist/openbms-*.whl).
wheel: $(STAMP) $(WEB_STAMP)
	$(BIN)/python -m pip wheel --no-deps --quiet -w dist .

demo: $(STAMP) $(WEB_STAMP)
	$(BIN)/openbms demo

test: $(STAMP) $(WEB_STAMP)
	@test -x /usr/lib/postgresql/15/bin/initdb || echo "note: PostgreSQL 15 is not installed (apt-get install postgresql-15); its tests will be skipped"
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	cd web && npm run typecheck && npm test
	$(BIN)/pytest -q -n auto --dist loadgroup --durations=40

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/openbms bench all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build dist src/*.egg-info demo \
		web/node_modules src/openbms/web_static
