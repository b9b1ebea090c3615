# Two commands for a fresh machine: `make demo` and `make test` (both set up first).
# Set-up: Debian's ffmpeg (when root), a .venv, and the exact pins of requirements.lock installed
# from a wheel cache outside the repo ($(WHEELS)), which is filled once per lock file and reused.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
WHEELS ?= $(HOME)/.cache/avu-wheels
LOCKHASH := $(shell sha256sum $(LOCK) | cut -c1-16)
STAMP := $(VENV)/.avu-installed-$(LOCKHASH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@if ! command -v ffmpeg >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else echo "warning: Debian's ffmpeg is missing; run: sudo apt-get install -y ffmpeg"; fi; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip wheel setuptools $(QUIET)
	mkdir -p $(WHEELS)
	test -f $(WHEELS)/.filled-$(LOCKHASH) || { \
	  $(BIN)/python -m pip wheel -q -w $(WHEELS) -r $(LOCK) $(QUIET) && touch $(WHEELS)/.filled-$(LOCKHASH); }
	$(BIN)/python -m pip install -q --no-index --find-links $(WHEELS) -r $(LOCK) $(QUIET)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . $(QUIET)
	rm -f $(VENV)/.avu-installed-*
	touch $@

demo: setup
	$(BIN)/avu demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/avu bench decode --json

clean:
	rm -rf $(VENV) .pytest_cache runs
