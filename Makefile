# Every routine of the project has one entry point here; CI runs the same targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check lint types layers install install-test system-deps soak bench bench-install bench-memory bench-scale bench-profile bench-dashboard vendor-charts image image-test reference clean

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

## make soak: 90 s of mixed load with bad inputs, upstream resets, SIGTERM and SIGKILL with restarts; checks no row is lost
soak: install-test
	$(BIN)/python scripts/soak.py

## make bench: Switchpoint against the peers on a fixed upstream (bench/README.md; BENCH_DURATION=10 s a cell)
bench: bench-install
	cd bench && .cache/venv/bin/python run.py

bench-install:
	bench/install.sh

## make bench-memory: one worker's RSS holding 5,000 slow streams, and its growth over 500,000 requests
bench-memory: bench-install
	cd bench && .cache/venv/bin/python memory.py

## make bench-scale: p50 latency with a 1,000-model catalogue and with 100,000 keys against a small config
bench-scale: bench-install
	cd bench && .cache/venv/bin/python scale.py

## make bench-profile: a flame graph of one Switchpoint worker under load (BENCH_CASE=chat|stream|...)
bench-profile: bench-install
	cd bench && .cache/venv/bin/python profile.py --case $(or $(BENCH_CASE),chat)

## make bench-dashboard: the dashboard over a 1,000,000-generation ledger (results in test-artifacts/dashboard/)
bench-dashboard: install-test system-deps
	$(BIN)/pytest tests/dashboard/test_scale.py -m scale -s

## make image: the container image with buildah (IMAGE=localhost/switchpoint:latest; BASE_IMAGE=python:3.11-slim,
## or BASE_IMAGE=local for a Debian base made here with debootstrap, where no image registry is reachable)
image:
	@bash scripts/image.sh build

## make image-test: build the image on the local Debian base and run the gateway from it (tests/deploy/test_image.py)
image-test: install-test system-deps
	$(BIN)/pytest tests/deploy/test_image.py

## make reference: regenerate docs/reference.md (every setting and environment variable) from the config schema
reference: install
	$(BIN)/python scripts/config-reference.py > docs/reference.md

## make vendor-charts: refresh the committed Chart.js build from the npm registry
vendor-charts:
	@bash scripts/vendor-charts.sh

## make check: lint (ruff), the layer contract (import-linter, pyproject.toml) and the type check (mypy)
check: lint layers types

lint: install-test
	$(BIN)/ruff check src tests bench scripts

layers: install-test
	$(BIN)/lint-imports

types: install-test
	$(BIN)/mypy

## make clean: remove the virtualenv and caches; never data (switchpoint.db*, the ledger and every key, stays)
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
