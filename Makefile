.DEFAULT_GOAL := test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SOURCES := wfsidecar tests bench

.PHONY: install run test test-fast test-slow test-image lint typecheck bench chaos proto proto-check docker clean

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

# Test tiers. The fast one needs no SDK virtualenv, node or network (about 70 s on 2 cores,
# keep it under 90): unit, engine, store, workflow, actors, in-process server, hazards,
# fuzz, the operator CLI against an in-process daemon, metrics scraped from in-process and
# real daemons with a raw worker. The slow one is every other test,
# so none can fall between the two: real SDK workers (scenarios, e2e suites, wire
# conformance), chaos, JS, differential, process. The container image tier (tests/image)
# is in neither: it needs root and podman, so it runs on its own (make test-image).
FAST_TESTS := tests/unit tests/engine tests/store tests/workflow tests/actors tests/server \
	tests/hazards tests/fuzz tests/cli tests/telemetry tests/security tests/test_app.py tests/test_cli_version.py

PYTEST_FAST := $(PY) -m pytest -q $(FAST_TESTS)
IMAGE_TESTS := tests/image
PYTEST_SLOW := $(PY) -m pytest -q $(addprefix --ignore=,$(FAST_TESTS) $(IMAGE_TESTS))

test-fast: install
	$(PYTEST_FAST)

test-slow: install
	$(PYTEST_SLOW)

# The container image built with podman and run for real (tests/image): refusal without a
# token, SDK workflows, non-root, SIGTERM, the volume across a restart, the HEALTHCHECK.
# prepare.sh installs podman, debootstrap and runc when missing (root) and debootstraps the
# Debian base image once (cached in .image-cache/ and podman's store). .ci/run runs it.
test-image: install
	bash tests/image/prepare.sh
	$(PY) -m pytest -q $(IMAGE_TESTS)

# Every tier, lint first; the fast tier runs before the slow one so its failures stop early.
test: install lint
	$(PYTEST_FAST)
	$(PYTEST_SLOW)

# The daemon alone first: bench/scale.py (start-burst, idle, recovery; about 2 min), the Dapr
# SDK's seq3, long-seq, the list query, telemetry's cost and the store's group commit.
# The comparison with the reference sidecar runs last (about 10 min on 2 cores) because its
# last line is the headline issue #14 asks for as the last line of make bench:
# ratio_seq3_c50=... ratio_fan10_c50=... cpu_ratio_seq3=...
bench: install
	$(PY) bench/scale.py
	$(PY) bench/seq3_dapr.py
	$(PY) bench/long_seq.py
	$(PY) bench/list_query.py
	$(PY) bench/telemetry_cost.py
	$(PY) bench/multinode.py
	$(PY) bench/store_commit.py
	$(PY) bench/compare.py

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
	rm -rf $(VENV) .sdk-venvs .image-cache tests/js/node_modules .pytest_cache .mypy_cache .ruff_cache data
