PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test bench clean

## install: create .venv with hotline and its test tools
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

## run: the API on the embedded default (SQLite in ./var, demo data) at http://127.0.0.1:8086/docs
run: install
	$(BIN)/hotline serve

## test: the whole suite (SQLite, and PostgreSQL at 127.0.0.1:5432 when reachable)
test: install
	$(BIN)/python -m pytest -q

## bench: every benchmark, as one table
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
