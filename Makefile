# The two promises: `make dev` runs the service, `make test` passes the tests. Nothing else needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev migrate test lint bench soak fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

migrate: install
	$(BIN)/python scripts/migrate.py

dev: install
	$(BIN)/python scripts/dev.py

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check inngest_app functions
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

# the load-and-fault suite at full sizes (make test runs it small); ~15-25 min on 2 cores
soak: install
	LOAD_SOAK=1 $(BIN)/python -m pytest -q -s tests/load --timeout 1800 $(PYTEST_ARGS)

# schemathesis over every operation of the OpenAPI document (make test runs it short)
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-150} $(BIN)/python -m pytest -q -s tests/fuzz --timeout 3600 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .data
