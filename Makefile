# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-one test-all test-lowest test-wheel test-peers lint fuzz bench screenshots clean

# Every supported Python that is installed (pyenv here); `make test-all PYTHONS="3.10 3.13"` for some.
PYTHONS ?= 3.10 3.11 3.12 3.13

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The demo's ports, when the defaults are taken: make demo PORT=8001 SAASUS_PORT=8791
PORT ?= 8000
SAASUS_PORT ?= 8790

demo: $(BIN)/.installed
	$(BIN)/saasus-mw demo --app-port $(PORT) --saasus-port $(SAASUS_PORT)

test: lint $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check saasus_mw saasus_mw_pytest.py tests examples bench .ci
	$(BIN)/ruff format --check saasus_mw saasus_mw_pytest.py tests examples bench .ci
	$(BIN)/mypy saasus_mw saasus_mw_pytest.py

test-one: $(BIN)/.installed
	$(BIN)/python -m pytest -q

test-all: lint
	@for v in $(PYTHONS); do \
	    py=$$(PYENV_VERSION=$$(pyenv versions --bare 2>/dev/null | grep "^$$v\." | tail -1) pyenv which python 2>/dev/null \
	          || command -v python$$v); \
	    [ -n "$$py" ] || { echo "Python $$v not found"; exit 1; }; \
	    echo "== Python $$v: $$py"; \
	    $(MAKE) --no-print-directory test-one PYTHON=$$py VENV=.venv-$$v || exit 1; \
	done

# The interpreter of Python $(1): pyenv's newest $(1).x, or python$(1) on the PATH.
python_for = $$(PYENV_VERSION=$$(pyenv versions --bare 2>/dev/null | grep "^$(1)\." | tail -1) pyenv which python 2>/dev/null \
             || command -v python$(1))

LOWEST_PYTHON ?= 3.10
LOWEST := .venv-lowest

# Every runtime dependency at its declared lower bound (.ci/lowest.py) on the oldest
# supported Python, then the journey and check tests: a bound nobody installs is a
# bound nobody knows to work. About a minute.
test-lowest: $(BIN)/.installed
	rm -rf $(LOWEST) build
	py=$(call python_for,$(LOWEST_PYTHON)); [ -n "$$py" ] || { echo "Python $(LOWEST_PYTHON) not found"; exit 1; }; \
	    $$py -m venv $(LOWEST)
	$(BIN)/python .ci/lowest.py $(LOWEST_PYTHON) > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet --constraint $(LOWEST)/constraints.txt . pytest httpx starlette
	$(LOWEST)/bin/python .ci/lowest.py --check $(LOWEST_PYTHON)
	$(LOWEST)/bin/python -m pytest -p no:cacheprovider tests/test_journey.py tests/test_cli.py

WHEEL_VENV := .venv-wheel

# What users install: wheel and sdist built and listed (.ci/check_dist.py); the wheel
# alone in a fresh venv runs the README's fixture journey away from the source tree
# (templates, locales, stand-in, pytest plugin); the unpacked sdist runs the journey tests.
test-wheel: $(BIN)/.installed
	rm -rf dist build $(WHEEL_VENV)
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python .ci/check_dist.py dist
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(WHEEL_VENV)/bin/python -m pip install --quiet dist/*.whl pytest httpx
	away=$$(mktemp -d) && mkdir $$away/tests && cp README.md $$away/ && cp tests/test_pytest_plugin.py $$away/tests/ \
	    && cd $$away && $(CURDIR)/$(WHEEL_VENV)/bin/python -c \
	        "import saasus_mw; assert '/$(WHEEL_VENV)/' in saasus_mw.__file__, saasus_mw.__file__" \
	    && $(CURDIR)/$(WHEEL_VENV)/bin/python -m pytest -p no:cacheprovider -q tests; \
	    status=$$?; rm -rf $$away; exit $$status
	unpacked=$$(mktemp -d) && tar -xzf dist/*.tar.gz -C $$unpacked && cd $$unpacked/saasus_mw-* \
	    && $(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider -q --collect-only tests | tail -1 \
	    && $(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider -q tests/test_journey.py; \
	    status=$$?; rm -rf $$unpacked; exit $$status

# starlette's, Flask's and uvicorn's own test suites (their sdists, at the versions in .venv), run
# plain and with every app their clients build wrapped by the middleware; fails on any test whose
# outcome differs (.ci/peers/run.py; exceptions by name in .ci/peers/exceptions.toml). A few minutes.
test-peers: $(BIN)/.installed
	$(BIN)/python .ci/peers/run.py

bench: $(BIN)/.installed  # every performance target, side by side; about 90 s
	$(BIN)/python -m bench

fuzz: $(BIN)/.installed
	$(BIN)/python -m tests.fuzz --count 100000

screenshots: $(BIN)/.installed  # the page gallery (docs/pages/, the README's picker included), from the browser tests
	SAASUS_MW_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_pages_browser.py

clean:
	rm -rf $(VENV) .venv-3.* .venv-peers $(LOWEST) $(WHEEL_VENV) build dist *.egg-info .pytest_cache
