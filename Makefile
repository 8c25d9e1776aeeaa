# The handful of commands people type. `make run` and `make test` set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Local copies of the sources when they sit beside the checkout (as ../shared/data does here).
SOURCE_DIR ?= $(wildcard ../shared/data)
export PREFECT_SERVER_ANALYTICS_ENABLED = false
export DO_NOT_TRACK = 1

.PHONY: setup run demo test lint server

$(BIN)/toll: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(BIN)/toll

setup: $(BIN)/toll

# `toll init` remembers the source folder in toll.toml, so the README's next commands
# (backfill, report, workers) read the same sources without any variable set.
run: setup
	$(BIN)/toll init $(if $(SOURCE_DIR),--source-dir $(SOURCE_DIR))
	$(BIN)/toll run

demo: setup
	$(BIN)/toll run --demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

server: setup
	$(BIN)/toll server start
