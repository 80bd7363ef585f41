# Every target creates .venv on first use, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
# pip -c: every install takes the exact versions of development and CI; pyproject.toml only has ranges.
PIP_INSTALL = $(BIN)/pip install --quiet --constraint $(CONSTRAINTS)
CREATED := $(VENV)/.created
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: help install lint test docs demo demo-script bench bench-quick ui-vendor clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(CREATED):
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	touch $(CREATED)

# The test toolchain (pytest, mypy, ruff, uvicorn for the end-to-end tests) on top of the package,
# and Sphinx: the suite builds the documentation site (tests/docs), so CI fails when the docs do.
$(STAMP): $(CREATED) pyproject.toml $(CONSTRAINTS)
	$(PIP_INSTALL) -e '.[test,docs]'
	touch $(STAMP)

# Only what the demo needs: the package and uvicorn (a venv made by `make test` already has both).
$(DEMO_STAMP): $(CREATED) pyproject.toml $(CONSTRAINTS)
	$(PIP_INSTALL) -e '.[demo]'
	touch $(DEMO_STAMP)

install: $(STAMP) ## Create the virtualenv and install the package with its test extras

lint: $(STAMP) ## ruff + mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite includes the docs: every page's snippets run (tests/examples/test_readme.py) and the site
# is built with warnings as errors and checked (tests/docs/test_site.py).
test: lint ## Lint, type-check and run the whole test suite with coverage (docs build included)
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered --cov-fail-under=90

# -W: a warning (a broken link, a docstring autodoc cannot read) fails the build. Offline: the theme's
# web fonts are switched off, Mermaid is vendored in docs/_static, nothing is fetched.
docs: $(STAMP) ## Build the documentation site into docs/_build/html (warnings are errors, no network)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "Open docs/_build/html/index.html"

demo: $(DEMO_STAMP) ## Run the expense example app (plugin + REST API) with uvicorn on SQLite
	@echo "Expense approval demo on http://127.0.0.1:8000"
	@echo "  OpenAPI docs:  http://127.0.0.1:8000/schema"
	@echo "  API:           http://127.0.0.1:8000/workflows/definitions"
	@echo "  Task inbox:    http://127.0.0.1:8000/workflows/ui/  (choose a demo user at http://127.0.0.1:8000/demo/login)"
	@echo "  Walk-through:  see 'Try the REST API' in README.md (users: alice, bob, carol, dave, admin)"
	$(BIN)/uvicorn examples.expense.app:app --host 127.0.0.1 --port 8000

demo-script: $(DEMO_STAMP) ## Run the engine-only example workflows end to end, printing each step
	$(BIN)/python -m examples.demo

# The bench extra: matplotlib for the charts, uvloop and httptools for W3's second server stack.
BENCH_READY = $(BIN)/python -c 'import matplotlib, uvloop, httptools' 2>/dev/null || $(PIP_INSTALL) -e '.[test,bench]'

bench: $(STAMP) ## Ours vs litestar-workflows 0.3.3 vs DBOS (peers installed into benchmarks/.peers/ on first use)
	$(BENCH_READY)
	$(BIN)/python -m benchmarks.runner

bench-quick: $(STAMP) ## The same with small N and one run (about 3 minutes once the peers are installed)
	$(BENCH_READY)
	$(BIN)/python -m benchmarks.runner --quick

ui-vendor: $(STAMP) ## Refresh the UI's vendored htmx and Mermaid from npm (versions in litestar_workflows/ui/static/VENDORED.json)
	$(BIN)/python tools/vendor_ui.py

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage docs/_build
