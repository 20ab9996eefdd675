# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint ui simulator dbt-parse clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: embedded Postgres + local Amazon simulator, the last 7 complete days for all 11 marketplaces
## through Dagster, dbt build, then a summary per marketplace.
demo: $(STAMP)
	$(BIN)/chalkola demo

## make test: the whole test suite (unit, contract, integration, end to end).
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check chalkola_pipelines tests benchmarks
	$(BIN)/ruff format --check chalkola_pipelines tests benchmarks

## make ui: the Dagster UI on the instance and database the demo used.
ui: $(STAMP)
	$(BIN)/chalkola ui

clean:
	rm -rf $(VENV) .chalkola dbt_project/target dbt_project/logs
