# Two commands do all set-up: `make run` (the demo daemon) and `make test`.
# `make test-servers` adds the CalDAV tests on Cyrus and DAViCal, installed with apt (needs root).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_CONFIG := config/demo.yaml

# What `make test-servers` needs from Debian: Cyrus (CalDAV, IMAP to create users, SASL passwords) and DAViCal.
SERVER_PACKAGES := cyrus-caldav cyrus-imapd sasl2-bin libsasl2-modules davical apache2 libapache2-mod-php postgresql
# What the report's browser test needs from Debian: headless Chromium and the driver Selenium talks to.
BROWSER_PACKAGES := chromium chromium-driver
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: run test test-servers browser lint bench sync clean

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

# The CalDAV scenarios on Cyrus and DAViCal (pytest marker `servers`), after installing them when missing.
test-servers: $(VENV)/.installed-test
	@missing=""; for package in $(SERVER_PACKAGES); do \
		dpkg-query -W -f='$${db:Status-Status}' $$package 2>/dev/null | grep -qx installed || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make: installing$$missing"; \
		$(APT) update -q && $(APT) install -y -q --no-install-recommends $$missing; \
	fi
	$(BIN)/python -m pytest -m servers

# Chromium and chromium-driver for the report's browser test, installed when missing (CI sets CI=1: then the test needs them).
browser:
	@missing=""; for package in $(BROWSER_PACKAGES); do \
		dpkg-query -W -f='$${db:Status-Status}' $$package 2>/dev/null | grep -qx installed || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make: installing$$missing"; \
		$(APT) update -q && $(APT) install -y -q --no-install-recommends $$missing; \
	fi

lint: $(VENV)/.installed-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy coachsync plugins

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_sync.py
	$(BIN)/python benchmarks/bench_caldav.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_report.py

clean:
	rm -rf $(VENV) config/state config/outbox
