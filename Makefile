# Two commands do all the set-up on a fresh machine with Python >= 3.11:
#   make demo   - embedded broker + worker + bundled fixture, alerts live, /metrics served
#   make test   - the whole test suite (unit + integration on the embedded broker)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

$(BIN)/cdrwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

.PHONY: demo test lint bench
demo: $(BIN)/cdrwatch
	$(BIN)/cdrwatch demo

test: $(BIN)/cdrwatch
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(BIN)/cdrwatch
	$(BIN)/python benchmarks/bench.py
