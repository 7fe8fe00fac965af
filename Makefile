.DEFAULT_GOAL := test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench proto clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --upgrade "pip>=25.1"
	$(PY) -m pip install -q -e . --group dev
	touch $(STAMP)

install: $(STAMP)

run: install
	@echo "wfsidecar run is not implemented yet (issue #2); printing version"
	$(VENV)/bin/wfsidecar version

lint: install
	$(VENV)/bin/ruff check wfsidecar tests
	$(VENV)/bin/mypy

test: install lint
	$(PY) -m pytest -q

bench: install
	@echo "no benchmarks yet (issue #2)"

proto:
	@echo "no protos yet (issue #3)"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
