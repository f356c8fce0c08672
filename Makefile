# openbms — the two commands a newcomer runs are `make demo` and `make test`.
# Every target creates the virtual environment (.venv) first when it is missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench venv clean

venv: $(STAMP)

# Re-install only when the project's dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres,parquet]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/openbms demo

test: $(STAMP)
	@test -x /usr/lib/postgresql/15/bin/initdb || echo "note: PostgreSQL 15 is not installed (apt-get install postgresql-15); its tests will be skipped"
	$(BIN)/ruff check src tests
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/openbms bench all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build dist src/*.egg-info demo
