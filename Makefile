# Two commands matter on a fresh clone: `make book` and `make test`.
# Everything runs inside .venv, created on first use from requirements*.txt and
# pinned by constraints.txt so the book rebuilds the same way later.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book

.PHONY: help venv vendor book test pytest book-strict book-check notebooks student lab fixtures bench clean

help:
	@echo "make book       build the book (every cell executed) into _build/html"
	@echo "make test       run the tests, then the strict book build, then check its HTML"
	@echo "make notebooks  .ipynb copies of the chapters in _build/notebooks"
	@echo "make student    the student edition (no solutions): _build/student/html and notebooks"
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

# The pages' JavaScript (require.js, the ipywidgets HTML manager, MathJax 3) comes from
# npm at the versions package-lock.json pins, copied into book/_static/vendor (not
# committed) so the book loads nothing from a CDN. Without npm the build falls back to
# the CDN defaults and says so (book/_ext/offline_assets.py).
VENDOR  := book/_static/vendor
WIDGETS := node_modules/@jupyter-widgets/html-manager/dist
MATHJAX := node_modules/mathjax/es5

vendor:
	@if command -v npm >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(VENDOR)/.stamp || \
	  echo "npm ci failed: the book will load MathJax and the widget scripts from CDNs"; \
	else \
	  echo "npm not found: the book will load MathJax and the widget scripts from CDNs"; \
	fi

$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/html-manager $(VENDOR)/mathjax/output
	cp node_modules/requirejs/require.js $(VENDOR)/
	cp $(WIDGETS)/embed-amd.js $(WIDGETS)/*.woff* $(WIDGETS)/*.ttf $(WIDGETS)/*.eot \
	   $(WIDGETS)/*.svg $(VENDOR)/html-manager/
	cp node_modules/mathjax/LICENSE $(MATHJAX)/tex-chtml.js $(VENDOR)/mathjax/
	cp -r $(MATHJAX)/input $(MATHJAX)/ui $(MATHJAX)/a11y $(MATHJAX)/sre \
	   $(MATHJAX)/adaptors $(VENDOR)/mathjax/
	cp -r $(MATHJAX)/output/chtml $(MATHJAX)/output/chtml.js $(VENDOR)/mathjax/output/
	@touch $@

book: $(STAMP) vendor
	$(JB) build .
	@echo
	@echo "The book is in _build/html: open _build/html/index.html,"
	@echo "or serve it with: $(BIN)/python -m http.server -d _build/html 8000"

test: pytest book-strict book-check

# tests/book checks the built HTML, so it runs after the book build (book-check).
pytest: $(STAMP)
	$(BIN)/python -m pytest --ignore=tests/book

# -W: any Sphinx warning (including a failing cell) fails; -n: missing references
# fail; --all: fresh environment; execution is forced by _config.yml.
book-strict: $(STAMP) vendor
	rm -rf _build/html  # no stale pages for book-check to trip over
	$(JB) build . --all -W -n --keep-going

# The built pages: no off-site or missing assets, alt text, .ipynb downloads, and every
# page loaded in headless Chromium (screenshots in _build/screenshots).
book-check: $(STAMP)
	$(BIN)/python -m pytest tests/book

notebooks: $(STAMP)
	@mkdir -p _build/notebooks
	for f in book/*.md; do \
	  $(BIN)/jupytext --quiet --to ipynb -o _build/notebooks/$$(basename $${f%.md}).ipynb $$f; \
	done
	@echo "Notebooks written to _build/notebooks/"

# The student edition: _config.student.yml merged over _config.yml (hide_solutions, no
# page sources) and the toc without "For teachers", in _build/student/_config.yml and
# _toc.yml; Jupyter Book writes into $(STUDENT)/_build/html, moved to $(STUDENT)/html.
# The notebooks lose their {solution} blocks and outputs (scripts/student_notebooks.py).
STUDENT := _build/student

student: $(STAMP) vendor
	$(BIN)/python scripts/student_config.py -o $(STUDENT)
	$(JB) build . --config $(STUDENT)/_config.yml --toc $(STUDENT)/_toc.yml --path-output $(STUDENT)
	rm -rf $(STUDENT)/html
	mv $(STUDENT)/_build/html $(STUDENT)/html
	rm -rf $(STUDENT)/notebooks
	$(BIN)/python scripts/student_notebooks.py -o $(STUDENT)/notebooks
	@echo
	@echo "Student edition: $(STUDENT)/html/index.html and $(STUDENT)/notebooks/"

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
