PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
# uv resolves the lock; it runs from a throwaway venv and is no dependency of hotline.
UV_VERSION := 0.13.10
# e.g. make lock LOCK_FLAGS=--upgrade (every pin to its newest), or LOCK_FLAGS="--upgrade-package fastapi"
LOCK_FLAGS ?=

.PHONY: install run test lint bench lock clean

## install: create .venv with hotline and its test tools, every package pinned and hash-checked by requirements.lock
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	PYTHONWARNINGS="ignore:Editable installation:UserWarning" $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check || { echo "make install: pyproject.toml asks for what requirements.lock lacks; run make lock"; exit 1; }
	touch $@

## run: the API on the embedded default (SQLite in ./var, demo data) at http://127.0.0.1:8086/docs
run: install
	$(BIN)/hotline serve

## test: the whole suite (SQLite, and PostgreSQL at 127.0.0.1:5432 when reachable)
test: install
	$(BIN)/python -m pytest -q

## lint: ruff and mypy (configured in pyproject.toml); both always run, any finding fails
lint: install
	status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy || status=1; exit $$status

## bench: every benchmark, as one table
bench: install
	$(BIN)/python -m bench

## lock: resolve requirements.lock again from pyproject.toml (needs PyPI); keeps existing pins unless LOCK_FLAGS says
lock:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q "uv==$(UV_VERSION)"; \
	printf 'pip\nsetuptools>=69\n' | "$$tmp/venv/bin/uv" pip compile pyproject.toml - --extra test --universal \
	  --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock" $(LOCK_FLAGS) -o $(LOCK)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
