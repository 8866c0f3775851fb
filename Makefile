# Two set-up commands work on a fresh machine with only python3 and make:
#   make serve   create .venv, install, start the mock server on 127.0.0.1
#   make test    create .venv, install, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8700

.PHONY: serve test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/resplay serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not node and not compat"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# uvloop is optional: the bench measures the uvloop rows when it can be installed, and skips them if not.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fast]' || echo "uvloop unavailable: uvloop rows will be skipped"
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info
