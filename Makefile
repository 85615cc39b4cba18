# The two commands: `make run` (bootstrap + nightly job on demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CVW_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(CVW_DATA_DIR)/dagster_home
# dbt and dagster run from the project's environment, activated or not.
export PATH := $(CURDIR)/$(BIN):$(PATH)
DEMO_CUSTOMERS ?= 20000
DEMO_YEARS ?= 3
# pytest-xdist workers: the tests are mostly single-threaded processes (Python, dbt's start)
TEST_WORKERS ?= auto
HISTORY_NIGHTS ?= 7
HISTORY_CUSTOMERS ?= 2000
HISTORY_DIR := $(CVW_DATA_DIR)/history-demo

.PHONY: run test dev demo history docs lint bench clean help

help:
	@echo "make run    - create .venv, generate demo sources (once), run the nightly job, publish, summarise"
	@echo "make test   - create .venv and run the test suite (pytest + dbt unit tests)"
	@echo "make dev    - open the Dagster UI (http://127.0.0.1:3000)"
	@echo "make history - HISTORY_NIGHTS (7) consecutive nights on a demo business in data/history-demo"
	@echo "make docs   - build the dbt docs (models, columns, tests, lineage, exposures) and serve them on :8080"
	@echo "make lint   - sqlfluff over the dbt models"
	@echo "make clean  - remove data/ (sources, warehouse, publication)"

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cvw demo --customers $(DEMO_CUSTOMERS) --years $(DEMO_YEARS) --if-missing
	$(BIN)/cvw run

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# its own data directory (sources, warehouse, serving file, Dagster runs), not make run's
history: $(STAMP)
	CVW_DATA_DIR=$(HISTORY_DIR) DAGSTER_HOME=$(HISTORY_DIR)/dagster_home \
		$(BIN)/cvw nights $(HISTORY_NIGHTS) --customers $(HISTORY_CUSTOMERS)

dev: $(STAMP)
	$(BIN)/cvw prepare
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -m dagster_project.definitions

# the catalog is read from the working database (after make run it has every table)
docs: $(STAMP)
	mkdir -p $(CVW_DATA_DIR)
	CVW_WAREHOUSE_PATH=$(CVW_DATA_DIR)/warehouse.duckdb $(BIN)/dbt docs generate --project-dir dbt --profiles-dir dbt
	CVW_WAREHOUSE_PATH=$(CVW_DATA_DIR)/warehouse.duckdb $(BIN)/dbt docs serve --project-dir dbt --profiles-dir dbt --port 8080

lint: $(STAMP)
	CVW_WAREHOUSE_PATH=$(CVW_DATA_DIR)/lint.duckdb $(BIN)/sqlfluff lint dbt/models

clean:
	rm -rf data dbt/target dbt/logs
