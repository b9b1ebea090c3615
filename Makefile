# Two commands for a fresh machine: `make demo` and `make test` (both set up first).
# Set-up: Debian's ffmpeg (when root), a .venv, and the exact pins of requirements.lock installed
# from a wheel cache outside the repo ($(WHEELS)), which is filled once per lock file and reused.
# requirements-nodeps.lock holds packages installed without their declared dependencies (resemblyzer
# asks for `webrtcvad`, whose module `webrtcvad-wheels` in requirements.lock provides without pkg_resources).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
WHEELS ?= $(HOME)/.cache/avu-wheels
LOCKHASH := $(shell cat $(LOCK) requirements-nodeps.lock | sha256sum | cut -c1-16)
STAMP := $(VENV)/.avu-installed-$(LOCKHASH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): $(LOCK) requirements-nodeps.lock pyproject.toml
	@if ! command -v ffmpeg >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg libgl1 libglib2.0-0 >/dev/null; \
	  else echo "warning: Debian's ffmpeg is missing; run: sudo apt-get install -y ffmpeg"; fi; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip wheel setuptools $(QUIET)
	mkdir -p $(WHEELS)
	test -f $(WHEELS)/.filled-$(LOCKHASH) || { \
	  $(BIN)/python -m pip wheel -q -w $(WHEELS) -r $(LOCK) $(QUIET) && \
	  $(BIN)/python -m pip wheel -q --no-deps -w $(WHEELS) -r requirements-nodeps.lock $(QUIET) && \
	  touch $(WHEELS)/.filled-$(LOCKHASH); }
	$(BIN)/python -m pip install -q --no-index --find-links $(WHEELS) -r $(LOCK) $(QUIET)
	$(BIN)/python -m pip install -q --no-index --no-deps --find-links $(WHEELS) -r requirements-nodeps.lock $(QUIET)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . $(QUIET)
	rm -f $(VENV)/.avu-installed-*
	touch $@

demo: setup
	$(BIN)/avu demo

lint: setup
	$(BIN)/ruff check .

# The slow tests (Ray, training, browser) and the rest run as two pytest processes at once: the slow
# ones leave a quarter of this 2-core machine idle (waiting on actors and subprocesses), which the
# others fill. Together they are the whole suite; the second one's report follows the first's.
FAST_LOG ?= $(or $(TMPDIR),/tmp)/avu-test-not-slow.log
test: lint
	@$(BIN)/python -m pytest -m "not slow" > $(FAST_LOG) 2>&1 & other=$$!; \
	$(BIN)/python -m pytest -m slow; slow=$$?; \
	wait $$other; rest=$$?; \
	echo "=== the tests not marked slow (run alongside, in a second process) ==="; cat $(FAST_LOG); \
	test $$slow = 0 -a $$rest = 0

test-fast: lint  # everything but the tests marked slow (Ray, training, browser)
	$(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/avu bench decode --json

clean:
	rm -rf $(VENV) .pytest_cache runs
