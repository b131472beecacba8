# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test init-db clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## run: create .venv, install, migrate the SQLite database under data/, load demo data, serve on 127.0.0.1:$(PORT)
run: $(VENV)/.runtime
	$(PY) server.py --demo --port $(PORT)

## test: install the test requirements and run the whole suite (SQLite, and MariaDB when reachable)
test: $(VENV)/.dev
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

init-db: $(VENV)/.runtime
	$(PY) server.py init-db --demo

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
