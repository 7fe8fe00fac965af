.DEFAULT_GOAL := test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SOURCES := wfsidecar tests bench

.PHONY: install run test lint typecheck bench chaos proto proto-check docker clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --upgrade "pip>=25.1"
	$(PY) -m pip install -q -e . --group dev
	touch $(STAMP)

install: $(STAMP)

# Starts the daemon on the embedded SQLite default (data/wfsidecar.db); Ctrl-C drains and stops.
run: install
	$(VENV)/bin/wfsidecar run --config config/wfsidecar.yaml

lint: install
	$(VENV)/bin/ruff check $(SOURCES)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

typecheck: install
	$(VENV)/bin/mypy

test: install lint
	$(PY) -m pytest -q

# The store benchmark runs last: its last line is group_commit_speedup_64=<ratio>.
bench: install
	$(PY) bench/seq3_dapr.py
	$(PY) bench/store_commit.py

# 10,000 workflows of mixed load on a real Dapr SDK worker, the daemon SIGKILLed 10 times;
# prints the results table and each restart's recovery times (CHAOS_ARGS to change sizes).
chaos: install
	$(PY) -m tests.chaos $(CHAOS_ARGS)

# Prints protos/ from the SDK wheels' descriptors and regenerates wfsidecar/_proto.
proto: install
	$(PY) scripts/gen_protos.py

proto-check: install
	$(PY) scripts/gen_protos.py --check

docker:
	docker build -t wfsidecar:dev .

clean:
	rm -rf $(VENV) .sdk-venvs tests/js/node_modules .pytest_cache .mypy_cache .ruff_cache data
