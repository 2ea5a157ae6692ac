# Two commands on a fresh machine with Python 3.11+ and make: `make demo`, `make test`.
# Dependencies come from uv.lock; uv itself is taken from PATH, else installed from PyPI into
# $(TOOLS) on first use. Installs compile the dependencies' bytecode: where Python may not write
# it (PYTHONDONTWRITEBYTECODE, read-only site-packages) every process would compile Dagster's
# modules again at start.
PYTHON ?= python3
VENV ?= .venv
TOOLS ?= .venv-tools
UV_VERSION := 0.13.9
UV ?= $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
BITSO := $(VENV)/bin/bitso
DEMO_DIR := .bitso/snapshots
DEV_PORT ?= 3000

.PHONY: install demo test lint dev stop stack-demo

install: $(VENV)/.installed

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --extra dev --compile-bytecode --python $(PYTHON) && touch $@

demo: install
	$(BITSO) generate --out $(DEMO_DIR) --defects && $(BITSO) load --snapshots $(DEMO_DIR) && $(BITSO) build --to 2021-02-19 && $(BITSO) ask all --day 2021-02-19 && $(BITSO) ticker demo fixtures/real/ticker/spread_observations_2024-07-16_17.csv
	@printf '\nNext: `make dev` opens the Dagster UI at http://127.0.0.1:$(DEV_PORT) on this data;\n`make stop` (or `$(BITSO) stop`) stops the embedded Postgres server.\n'

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# exec: make signals its recipe shell on Ctrl-C/SIGTERM, and a shell waiting on `dagster dev`
# would die and leave it (and its webserver and daemon) running. `dg dev`, which `dagster dev`
# warns it is superseded by, is a separate package. Events are written in batches, as the CLI
# and the compose stack write them (bitso_platform/dagster_storage.py).
dev: install
	DAGSTER_HOME=$$($(VENV)/bin/python -m bitso_platform.cli.runtime) DAGSTER_EVENT_BATCH_SIZE=10000 PYTHONWARNINGS='ignore:Function `dev_command` is superseded' exec $(VENV)/bin/dagster dev -w workspace.yaml -p $(DEV_PORT)

stop: install
	$(BITSO) stop

stack-demo: install  # the demo snapshots into the compose stack's bucket, then load + marts there
	$(BITSO) generate --out $(DEMO_DIR) --defects && $(VENV)/bin/python deploy/stack.py demo --snapshots $(DEMO_DIR)
