# Clusterbridge developer entry points. `make run` and `make test` work from a fresh
# clone: they create .venv on first use and reinstall only when pyproject.toml or the
# lock file changes. Every machine installs the same versions: requirements.lock pins
# the whole dependency tree (`make lock` resolves it afresh from pyproject.toml).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; a newer pyproject.toml or lock means "install again".
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
# PYTHONWARNINGS reaches the build backend too, whose deprecation notices about
# pyproject metadata would otherwise fill the screen on every install.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip --quiet --disable-pip-version-check
# mypy fails on a path that does not exist, and bench/ or tests/ may be empty early on.
LINT_PATHS := $(wildcard shared services deploy tests bench)

.PHONY: help install lock run lint format test browser bench clean distclean

help:  ## this list
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## /make \1\t/' | expand -t 16

install: $(STAMP)  ## create .venv and install the locked dependencies and dev tools

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (first time takes a few minutes)…"
	@$(PIP) install -r $(LOCK)
	@$(PIP) install --no-deps -e .
	@touch $@

lock:  ## resolve pyproject.toml's dependencies afresh into requirements.lock
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	PYTHONWARNINGS=ignore build/lock-venv/bin/python -m pip --quiet --disable-pip-version-check install -e ".[dev]"
	{ echo "# The whole dependency tree, pinned: written by 'make lock' from pyproject.toml."; \
	  build/lock-venv/bin/python -m pip freeze --exclude-editable --all | grep -v '^setuptools==\|^wheel=='; } > $(LOCK)
	rm -rf build/lock-venv

run: install  ## start the whole platform locally (Ctrl-C stops it)
	$(BIN)/clusterbridge stack run

lint: install  ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy $(LINT_PATHS)

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

test: install lint browser  ## lint, then every test (real PostgreSQL, NATS, SMTP, browser)
	$(BIN)/pytest

# The page tests drive Debian's chromium through Playwright (no browser download).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:  ## install Debian's chromium for the page tests when it is missing
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "$(CHROMIUM) is missing: installing Debian's chromium for the browser tests ($(strip $(SUDO) apt-get install -y chromium))…"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; \
	fi

# Every bench/*.py that is a script (has a __main__ block); helpers are skipped.
bench: install  ## run the benchmark scripts under bench/
	@found=0; \
	for script in bench/*.py; do \
	  [ -f "$$script" ] || continue; \
	  grep -q '__name__ == "__main__"' "$$script" || continue; \
	  found=1; \
	  echo "== $$script"; \
	  $(BIN)/python "$$script"; \
	done; \
	[ "$$found" = 1 ] || echo "no benchmark scripts in bench/ yet"

clean:  ## stop a running local stack, remove var/ and caches
	@if [ -x $(BIN)/clusterbridge ]; then $(BIN)/clusterbridge stack stop || true; fi
	rm -rf var build .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
