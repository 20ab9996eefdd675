# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser demo test lint ui stop docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# dagster-dbt reads dbt's manifest; it is produced here (never at import time). No database needed.
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o -path dbt_project/logs -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' -o -name '*.md' \) -print)
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project

install: $(STAMP) $(MANIFEST)

## make demo: embedded Postgres + local Amazon simulator, the last 7 complete days for all 11 marketplaces
## through Dagster, dbt build, then a summary per marketplace.
demo: $(STAMP) $(MANIFEST)
	$(BIN)/chalkola demo

# The browser test (tests/ui) drives Debian's chromium with Playwright (the pip package, dev extra); Playwright
# never downloads a browser of its own. Installed once, only when missing (root, or a user with sudo).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "make: installing Debian's chromium for the browser test (tests/ui)"
	@if [ "$$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else \
	  echo "make: $(CHROMIUM) is missing; install it as root: apt-get install -y chromium" >&2; exit 1; fi; \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

browser: $(CHROMIUM)

## make test: the whole test suite (unit, contract, integration, end to end, the UI in headless chromium).
test: $(STAMP) $(MANIFEST) $(CHROMIUM)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check chalkola_pipelines tests benchmarks
	$(BIN)/ruff format --check chalkola_pipelines tests benchmarks

## make ui: the Dagster UI on the instance and database the demo used.
ui: $(STAMP) $(MANIFEST)
	$(BIN)/chalkola ui

## make docs: the dbt docs of the marts as static HTML in .chalkola/dbt-docs (`chalkola docs`).
docs: $(STAMP) $(MANIFEST)
	$(BIN)/chalkola docs

## make stop: stop the embedded PostgreSQL server the demo / ui / tests started (`chalkola db stop`).
stop: $(STAMP)
	$(BIN)/chalkola db stop

clean:
	rm -rf $(VENV) .chalkola dbt_project/target dbt_project/logs
