# clestudy developer commands. Only Python 3.11+ and the package registries are needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# htmx from the npm registry (package-lock.json), served by the web app from its package; no CDN.
VENDOR_JS  := src/clestudy/web/static/vendor/htmx.min.js

.PHONY: demo test check lint typecheck bench clean browser-deps report-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every extra the README tour uses: FlowKit for `clestudy flow`, the web extra for `clestudy serve`,
# WeasyPrint for `clestudy report --pdf`, pyreadstat/pyarrow/lxml for `clestudy export` (XPT, ODM,
# Define-XML) and `clestudy import`.
$(STAMP_RUN): pyproject.toml | $(BIN)/python $(VENDOR_JS)
	$(BIN)/python -m pip install --quiet -e '.[flow,web,report,interop]'
	$(MAKE) --no-print-directory report-deps
	touch $@

# Real human FCS files for the flow tests ship inside two MIT wheels whose pins (numpy<2,
# flowio<=1.3.0) clash with FlowKit, so they come without their dependencies (tests/immuno/conftest.py).
REAL_FCS_WHEELS := fcsparser==0.2.8 cytonormpy==1.0.2

$(STAMP_TEST): pyproject.toml Makefile | $(BIN)/python $(VENDOR_JS)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps $(REAL_FCS_WHEELS)
	$(MAKE) --no-print-directory browser-deps
	$(MAKE) --no-print-directory report-deps
	touch $@ $(STAMP_RUN)

# Browser tests: Playwright (PyPI) drives Debian's chromium through `executable_path`; never
# `playwright install`, which downloads a browser build. axe-core comes from the npm registry
# (`npm ci` of $(VENDOR_JS) below).
# As root with apt, a missing chromium is installed; otherwise the line to run is printed (the
# browser tests then skip with that reason, and fail in CI).
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@if [ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium; \
	else echo "browser tests need Debian's chromium: apt-get install --no-install-recommends chromium"; fi

# PDF report: Pango for WeasyPrint, and pdftoppm/pdftotext (poppler-utils) for its tests. As root
# with apt, what is missing is installed; otherwise the line to run is printed (the PDF tests then
# skip with that reason outside CI).
report-deps:
	@if ldconfig -p | grep -q libpangoft2-1.0 && command -v pdftoppm >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 poppler-utils; \
	else echo "the PDF report needs: apt-get install libpango-1.0-0 libpangoft2-1.0-0 poppler-utils"; fi

# `npm ci` also installs axe-core (a devDependency) for the browser tests.
$(VENDOR_JS): package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(@D)
	cp node_modules/htmx.org/dist/htmx.min.js $@

demo: $(STAMP_RUN) $(VENDOR_JS)
	$(BIN)/clestudy demo --replace

test: $(STAMP_TEST) $(VENDOR_JS) browser-deps report-deps
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
