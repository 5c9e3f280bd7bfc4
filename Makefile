# featurebeam: the two commands a new user runs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-test

.PHONY: demo test install bench lint clean

$(INSTALLED): setup.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "featurebeam needs $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/featurebeam run configs/rides/job.yaml

test: $(INSTALLED)
	$(PY) -m pytest tests

bench: $(INSTALLED)
	$(PY) bench/run.py --rows 1000000 --runs 3

clean:
	rm -rf $(VENV) configs/rides/out .pytest_cache
