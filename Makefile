# Two commands matter on a fresh clone: `make book` and `make test`.
# Everything runs inside .venv, created on first use from requirements*.txt and
# pinned by constraints.txt so the book rebuilds the same way later.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book

.PHONY: help venv book test pytest book-strict notebooks lab fixtures bench clean

help:
	@echo "make book       build the book (every cell executed) into _build/html"
	@echo "make test       run the tests, then the strict book build"
	@echo "make notebooks  .ipynb copies of the chapters in _build/notebooks"
	@echo "make lab        JupyterLab with the chapters openable as notebooks"
	@echo "make fixtures   rebuild ppcftrace/data with the PowerPC cross toolchains"
	@echo "make bench      speed benchmarks (ratios against in-run baselines)"
	@echo "make clean      remove _build and caches (keeps .venv)"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements-test.txt
	@touch $(STAMP)

book: $(STAMP)
	$(JB) build .
	@echo
	@echo "The book is in _build/html: open _build/html/index.html,"
	@echo "or serve it with: $(BIN)/python -m http.server -d _build/html 8000"

test: pytest book-strict

pytest: $(STAMP)
	$(BIN)/python -m pytest

# -W: any Sphinx warning (including a failing cell) fails; -n: missing references
# fail; --all: fresh environment; execution is forced by _config.yml.
book-strict: $(STAMP)
	$(JB) build . --all -W -n --keep-going

notebooks: $(STAMP)
	@mkdir -p _build/notebooks
	for f in book/*.md; do \
	  $(BIN)/jupytext --quiet --to ipynb -o _build/notebooks/$$(basename $${f%.md}).ipynb $$f; \
	done
	@echo "Notebooks written to _build/notebooks/"

lab: $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt jupyterlab
	$(BIN)/jupyter lab book/

fixtures: $(STAMP)
	$(BIN)/python fixtures/build.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
