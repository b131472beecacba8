# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test init-db clean h5-vendor

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The H5 pages' browser code from npm (package.json: the inspector page's QR decoder), served by
# our own routes, never a CDN. Without npm the pages still work: codes are typed instead of scanned.
h5-vendor:
	@if [ ! -f node_modules/jsqr/dist/jsQR.js ]; then \
	  if command -v npm >/dev/null 2>&1; then npm ci --omit=dev --no-audit --no-fund; \
	  else echo "npm not found: the inspector page will take typed codes only (apt-get install npm)"; fi; \
	fi

## run: create .venv, install, migrate the SQLite database under data/, load demo data, serve on 127.0.0.1:$(PORT)
run: $(VENV)/.runtime h5-vendor
	$(PY) server.py --demo --port $(PORT)

## test: install the test requirements and run the whole suite (SQLite, and MariaDB when reachable);
## the tests that time the server's event loop run after the rest, alone on the cores (exit 5: none selected)
test: $(VENV)/.dev h5-vendor
	$(PY) -m pytest -n 2 -q -m "not timing" $(PYTEST_ARGS)
	$(PY) -m pytest -q -p no:xdist -m timing $(PYTEST_ARGS) || [ $$? -eq 5 ]

init-db: $(VENV)/.runtime
	$(PY) server.py init-db --demo

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis node_modules
