# clestudy developer commands. Only Python 3.11+ and the package registries are needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# htmx from the npm registry (package-lock.json), served by the web app from its package; no CDN.
VENDOR_JS  := src/clestudy/web/static/vendor/htmx.min.js

.PHONY: demo test check lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every extra the README tour uses: FlowKit for `clestudy flow`, the web extra for `clestudy serve`.
$(STAMP_RUN): pyproject.toml | $(BIN)/python $(VENDOR_JS)
	$(BIN)/python -m pip install --quiet -e '.[flow,web]'
	$(BIN)/python -m pip install --quiet -e '.[report]'
	@# the PDF report (WeasyPrint) needs Pango: installed from Debian when missing and root
	@if ! ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0; then if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; else echo "note: install libpango-1.0-0 libpangoft2-1.0-0 for clestudy report --pdf"; fi; fi
	touch $@

# Real human FCS files for the flow tests ship inside two MIT wheels whose pins (numpy<2,
# flowio<=1.3.0) clash with FlowKit, so they come without their dependencies (tests/immuno/conftest.py).
REAL_FCS_WHEELS := fcsparser==0.2.8 cytonormpy==1.0.2

$(STAMP_TEST): pyproject.toml Makefile | $(BIN)/python $(VENDOR_JS)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps $(REAL_FCS_WHEELS)
	@# PDF report tests: Pango for WeasyPrint, pdftoppm/pdftotext from poppler-utils (when root)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then ldconfig -p | grep -q libpangoft2-1.0 || apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; command -v pdftoppm >/dev/null || apt-get install -y -q poppler-utils >/dev/null; fi
	touch $@ $(STAMP_RUN)

# `npm ci` also installs axe-core (a devDependency) for the browser tests.
$(VENDOR_JS): package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(@D)
	cp node_modules/htmx.org/dist/htmx.min.js $@

demo: $(STAMP_RUN) $(VENDOR_JS)
	$(BIN)/clestudy demo --replace

test: $(STAMP_TEST) $(VENDOR_JS)
	$(BIN)/python -m pytest

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP_TEST)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules $(VENDOR_JS) build dist .pytest_cache .mypy_cache .ruff_cache clestudy-demo
