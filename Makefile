# Benchmarks (bench/README.md). Knobs via the environment, e.g. `make bench BENCH_DURATION=5`.
BENCH_PY := .cache/venv/bin/python

.PHONY: bench bench-install bench-memory bench-scale

bench-install:
	bench/install.sh

bench: bench-install
	cd bench && $(BENCH_PY) run.py

bench-memory: bench-install
	cd bench && $(BENCH_PY) memory.py

bench-scale: bench-install
	cd bench && $(BENCH_PY) scale.py
