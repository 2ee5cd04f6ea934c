# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint fuzz clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python examples/demo.py

test: lint $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check saasus_mw tests examples
	$(BIN)/ruff format --check saasus_mw tests examples
	$(BIN)/mypy saasus_mw

fuzz: $(BIN)/.installed
	$(BIN)/python -m tests.fuzz --count 100000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
