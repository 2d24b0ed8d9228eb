# The same targets for people and CI (.ci/run calls `make test`).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
BIN := $(VENV)/bin

.PHONY: install run test test-litellm bench bench-lua profile chaos chaos-smoke chaos-redrive lint format clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/paceline up --demo

# Two pytest workers: most tests wait on Redis, a worker or the simulator, so two processes
# keep both cores busy (each test still has its own namespace; see tests/conftest.py).
test: install
	$(BIN)/pytest -q -n 2

# A real LiteLLM proxy in front of the simulator (a heavy install, so not part of `make test`).
test-litellm: install
	$(PIP) install -q -e '.[litellm]'
	$(BIN)/pytest -q -m litellm tests/workers/agent/test_litellm_proxy.py

bench: install
	$(PY) tests/bench/run_all.py

# Instructions per ledger call inside Redis (valgrind); REV=<git rev> compares with a revision.
bench-lua: install
	$(PY) tests/bench/lua_instructions.py $(if $(REV),--rev $(REV))

# py-spy on `paceline worker` under the overhead benchmark's load: profile-worker.svg (a flame
# graph, git-ignored) and where a ticket's CPU goes, by part. TICKETS=<n> sizes the batch.
profile: install
	$(PIP) install -q -e '.[profile]'
	$(PY) tests/bench/profile_worker.py $(if $(TICKETS),--tickets $(TICKETS))

chaos: install
	$(PY) tests/chaos/run.py

chaos-smoke: install
	$(PY) tests/chaos/run.py --smoke

# A paced dead-letter requeue interrupted by Ctrl-C and SIGKILL, run after run (also in `chaos`).
chaos-redrive: install
	$(PY) tests/chaos/run.py --only redrive

lint: install
	$(BIN)/ruff check shared producers workers tests
	$(BIN)/ruff format --check shared producers workers tests
	$(BIN)/mypy

format: install
	$(BIN)/ruff format shared producers workers tests
	$(BIN)/ruff check --fix shared producers workers tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
