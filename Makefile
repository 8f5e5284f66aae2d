# Set-up and everyday commands. `make demo` and `make test` each set up everything they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job on the embedded sample: ingest, cluster, report; then score it against its truth.
demo: $(STAMP)
	rm -rf demo_store
	$(BIN)/forensics ingest sample_logs/events --store demo_store --accounts sample_logs/accounts.csv
	$(BIN)/forensics cluster demo_store
	$(BIN)/forensics report demo_store
	$(BIN)/forensics evaluate demo_store --truth sample_logs/truth.csv

# The tests also cover the Spark engine, so they install the spark extra (pyspark; Java 17 too).
SPARK_STAMP := $(VENV)/.installed-spark

$(SPARK_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	touch $(SPARK_STAMP)

test: $(SPARK_STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf demo_store .pytest_cache .ruff_cache
