# cnnviz: the two commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
TEST_WORKERS ?= 2                    # pytest-xdist workers (whole test files per worker)
# Browser tests that time responses or wait on training in the server: run alone, after the rest
# (on two workers the server's training and tracing starve and these time out).
TIMED_TESTS := tests/test_browser_sessions.py tests/test_browser_train.py tests/test_browser_pages.py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup setup-dev chromium train-demo bench lint clean docker-check

$(VENV)/.app-installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.app-installed requirements-dev.txt requirements-keras2.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-keras2.txt
	touch $@

setup: $(VENV)/.app-installed        ## create .venv with the app's dependencies

setup-dev: $(VENV)/.dev-installed    ## .venv plus the test tools

chromium:                            ## Debian's chromium for the browser tests (never a downloaded browser)
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

run: setup                           ## start the app on http://localhost:$(PORT)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: setup-dev chromium             ## the whole test suite (what CI runs)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(addprefix --ignore=,$(TIMED_TESTS))
	$(VENV)/bin/pytest $(TIMED_TESTS)

train-demo: setup                    ## retrain the bundled demo model (about 25 minutes on 2 cores)
	$(PY) -m cnnviz.demo.train

bench: setup-dev                     ## speed and quality measurements (not part of the tests)
	$(PY) -m pip install --quiet -r bench/requirements.txt
	for script in bench/*.py; do $(PY) $$script || exit 1; done

docker-check: setup-dev chromium     ## build the Docker image with Podman and run it as a container (docs/docker.md)
	$(SUDO) $(PY) deploy/docker_check.py

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
