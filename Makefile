# featurebeam: the two commands a new user runs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test

.PHONY: demo test install bench goldens lint clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "featurebeam needs $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# featurebeam and its pinned runtime dependencies
$(INSTALLED): setup.py | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

# plus the test dependencies (tensorflow-transform, the reference implementation, ...)
$(INSTALLED_TEST): $(INSTALLED)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/featurebeam run configs/rides/job.yaml

test: $(INSTALLED_TEST)
	$(PY) -m pytest

# tf.Transform's outputs for the parity tests, regenerated (slow; the results are committed in tests/goldens/)
goldens: $(INSTALLED_TEST)
	$(PY) -m tests.goldens

# ruff (lint and format check), installed into the virtualenv on first use
lint: $(INSTALLED)
	$(PY) -m pip install --quiet ruff==0.17.6
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check featurebeam_base analyzers preprocessing beam_jobs

bench: $(INSTALLED_TEST)
	$(PY) bench/run.py --rows 1000000 --runs 3

clean:
	rm -rf $(VENV) configs/rides/out .pytest_cache
