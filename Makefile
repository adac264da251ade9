# LMU Book: `make book` builds the book, `make test` runs every test.
# Both first set up .venv with the pinned dependencies (requirements.txt);
# set-up is skipped when nothing it depends on has changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lmu-book-installed

export MPLBACKEND ?= Agg
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup book test clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "LMU Book needs Python 3.11, got " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

book: setup
	$(BIN)/jupyter-book build --all .
	@echo
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

test: setup
	$(BIN)/python -m pytest tests

clean:
	rm -rf _build .pytest_cache
