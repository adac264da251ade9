# LMU Book: `make book` builds the book, `make test` runs every test.
# Both first set up .venv with the pinned dependencies (requirements.txt);
# set-up is skipped when nothing it depends on has changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lmu-book-installed
# the site's JavaScript (ipywidgets HTML manager, RequireJS, MathJax), pinned in
# js/package-lock.json, installed from the npm registry into js/static/vendor (served as _static/vendor) so the
# built book loads nothing from a CDN
JS_STAMP := js/static/vendor/.installed
CHAPTERS = $(wildcard book/*.ipynb)

export MPLBACKEND ?= Agg
# the paper's pre-trained psMNIST weights: a path given by the caller wins; else
# the test fixture beside the checkout (../shared/data, never copied into the
# repo) when it exists; else lmu.paper downloads them (online) into its cache
SHARED_WEIGHTS := $(abspath ../shared/data/psMNIST-standard.hdf5)
ifeq ($(origin LMU_PSMNIST_WEIGHTS),undefined)
ifneq ($(wildcard $(SHARED_WEIGHTS)),)
export LMU_PSMNIST_WEIGHTS := $(SHARED_WEIGHTS)
endif
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup book test browser clean

setup: $(STAMP) $(JS_STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "LMU Book needs Python 3.11, got " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

$(JS_STAMP): js/package.json js/package-lock.json
	npm ci --prefix js --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf js/static/vendor && mkdir -p js/static/vendor/html-manager
	cp js/node_modules/requirejs/require.js js/static/vendor/
	cp js/node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js \
	   js/node_modules/@jupyter-widgets/html-manager/dist/*.woff* \
	   js/node_modules/@jupyter-widgets/html-manager/dist/*.ttf \
	   js/node_modules/@jupyter-widgets/html-manager/dist/*.eot \
	   js/node_modules/@jupyter-widgets/html-manager/dist/*.svg js/static/vendor/html-manager/
	cp -r js/node_modules/mathjax/es5 js/static/vendor/mathjax
	touch $@

# MPLBACKEND is unset for the chapters' kernels: with Agg they would show no figures
book: setup
	env -u MPLBACKEND $(BIN)/jupyter-book build --all .
	@echo
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

# one pytest run: the tests, nbval of every chapter and the browser test
# (tests/test_book_browser.py, which needs Chromium: `browser` installs it)
test: setup browser
	$(BIN)/python -m pytest tests $(CHAPTERS) --nbval-lax --nbval-current-env

# Debian's chromium for the real-browser test; installed with apt-get when
# missing and we are root, else the browser test skips (it fails in CI)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "chromium is missing and cannot be installed here (needs root and apt-get)"; fi; }

# speed of our LMU layers against keras-lmu (benchmark-only dependency, installed
# with --no-deps); writes benchmarks/results/lmu_speed.json
.PHONY: bench
bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/lmu_speed.py

clean:
	rm -rf _build .pytest_cache test-artifacts
