# FSB-1 benchmark targets. Include from the top-level Makefile:
#     include bench/bench.mk
# Feast lives only in .bench-venv (bench-env), never in the project venv.

BENCH_PY ?= .venv/bin/python

.PHONY: bench-env bench-workload bench-offline bench-offline-small bench-offline-all bench-offline-scale bench-online

bench-env:
	bash bench/setup_env.sh

bench-workload:
	$(BENCH_PY) bench/workload.py

bench-offline: bench-env
	$(BENCH_PY) bench/offline_pit.py

bench-offline-small: bench-env
	$(BENCH_PY) bench/offline_pit.py --small

bench-offline-all: bench-env
	$(BENCH_PY) bench/offline_pit.py --with-feast-file

bench-offline-scale:
	$(BENCH_PY) bench/offline_scale.py --scales 1,5,10

bench-online: bench-env
	$(BENCH_PY) bench/online.py
