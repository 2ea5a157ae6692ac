# Two commands on a fresh machine with Python 3.11+ and make: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BITSO := $(VENV)/bin/bitso
DEMO_DIR := .bitso/snapshots

.PHONY: install demo test lint dev bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q --upgrade pip && $(VENV)/bin/pip install -q -e '.[dev]' && touch $@

demo: install
	$(BITSO) generate --out $(DEMO_DIR) --defects && $(BITSO) load --snapshots $(DEMO_DIR) && $(BITSO) build --to 2021-02-19 && $(BITSO) ask all --day 2021-02-19 && $(BITSO) ticker demo fixtures/real/ticker/spread_observations_2024-07-16_17.csv

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

dev: install
	DAGSTER_HOME=$$($(VENV)/bin/python -m bitso_platform.cli.runtime) $(VENV)/bin/dagster dev -w workspace.yaml
