# Every routine of the project has one entry point here; CI runs the same targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format install install-test system-deps bench bench-dashboard vendor-charts clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## make run: start the gateway on its embedded defaults (SQLite ledger, in-process state)
run: install
	$(BIN)/switchpoint serve

## make test: install what the tests need (Python packages and system services) and run them all
test: install-test system-deps
	$(BIN)/pytest

system-deps:
	@bash scripts/system-deps.sh

## make bench-dashboard: the dashboard over a 1,000,000-generation ledger (results in test-artifacts/dashboard/)
bench-dashboard: install-test system-deps
	$(BIN)/pytest tests/dashboard/test_scale.py -m scale -s

## make vendor-charts: refresh the committed Chart.js build from the npm registry
vendor-charts:
	@bash scripts/vendor-charts.sh

lint: install-test
	$(BIN)/ruff check src tests

format: install-test
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache switchpoint.db*
