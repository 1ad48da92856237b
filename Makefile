# Two commands do all set-up: `make run` (the demo daemon) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_CONFIG := config/demo.yaml

.PHONY: run test lint bench sync clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-lint: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/coachsync --config $(DEMO_CONFIG) run

sync: $(VENV)/.installed
	$(BIN)/coachsync --config $(DEMO_CONFIG) sync

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy coachsync plugins

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_sync.py
	$(BIN)/python benchmarks/bench_caldav.py
	$(BIN)/python benchmarks/bench_startup.py

clean:
	rm -rf $(VENV) config/state config/outbox
