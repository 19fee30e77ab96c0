# Clusterbridge developer entry points. `make run` and `make test` work from a fresh
# clone: they create .venv on first use and reinstall only when pyproject.toml changes.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; newer pyproject.toml means "install again".
STAMP := $(VENV)/.installed-stamp
# PYTHONWARNINGS reaches the build backend too, whose deprecation notices about
# pyproject metadata would otherwise fill the screen on every install.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip --quiet --disable-pip-version-check
# mypy fails on a path that does not exist, and bench/ or tests/ may be empty early on.
LINT_PATHS := $(wildcard shared services deploy tests bench)

.PHONY: help install run lint format test bench clean distclean

help:
	@echo "make install   create .venv and install the project with dev tools"
	@echo "make run       start the whole platform locally (Ctrl-C stops it)"
	@echo "make lint      ruff check, ruff format --check, mypy"
	@echo "make format    apply ruff's fixes and formatting"
	@echo "make test      lint, then the test suite (real PostgreSQL and NATS)"
	@echo "make bench     run the benchmark scripts under bench/"
	@echo "make clean     stop a running local stack, remove var/ and caches"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (first time takes a few minutes)…"
	@$(PIP) install --upgrade pip
	@$(PIP) install -e ".[dev]"
	@touch $@

run: install
	$(BIN)/clusterbridge stack run

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy $(LINT_PATHS)

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

test: install lint
	$(BIN)/pytest

# Every bench/*.py that is a script (has a __main__ block); helpers are skipped.
bench: install
	@found=0; \
	for script in bench/*.py; do \
	  [ -f "$$script" ] || continue; \
	  grep -q '__name__ == "__main__"' "$$script" || continue; \
	  found=1; \
	  echo "== $$script"; \
	  $(BIN)/python "$$script"; \
	done; \
	[ "$$found" = 1 ] || echo "no benchmark scripts in bench/ yet"

clean:
	@if [ -x $(BIN)/clusterbridge ]; then $(BIN)/clusterbridge stack stop || true; fi
	rm -rf var build .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
