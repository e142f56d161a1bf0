# The two commands of the README. Everything else is reachable through `dealer-pipeline`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# The browser test drives Debian's Chromium (no browser download); installed here when missing.
CHROMIUM := /usr/bin/chromium
# The Celery round trip's broker (tests/deploy): Debian's Redis, started by the test itself.
REDIS    := /usr/bin/redis-server
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-dev browser clean

demo: $(VENV)/.installed
	$(BIN)/dealer-pipeline demo

test: $(VENV)/.installed-dev $(CHROMIUM) $(REDIS)
	$(BIN)/python -m tests.support.postgres -- $(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium

$(REDIS):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq -o DPkg::Lock::Timeout=300 redis-server

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) dagster_home/*.sqlite dagster_home/storage dagster_home/history dagster_home/schedules
