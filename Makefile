# The two commands: `make reproduce` and `make test`. Both work on a fresh machine that has
# Python >= 3.10 and can reach the package index; everything else is installed into .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: reproduce test test-fast test-jax lint install install-test benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: re-install only when the package metadata changes.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

reproduce: install
	$(BIN)/cellrepro reproduce --quick

# The whole suite, then the contract's model tests again under the JAX backend (the GPU machines have JAX only).
# Two pytest workers (pytest-xdist), each test file on one worker so module fixtures are built once; the 25
# slowest tests are listed, so a slower suite shows where the time went. The JAX leg runs its tests on two workers too.
test: install-test lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25
	$(MAKE) --no-print-directory test-jax

test-jax: install-test
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -n 2 tests/contract/test_models.py

# The development loop: everything but the tests marked slow (tests/slow_tests.txt too): 693 tests in 89 s on 2 cores (AMD EPYC).
test-fast: install-test lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

lint: install-test
	$(BIN)/ruff check .

benchmark: install
	$(BIN)/python benchmarks/bench_common.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
