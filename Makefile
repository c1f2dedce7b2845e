# The two commands of the README: `make run` (the API with demo data) and `make test`.
# Each installs what it needs (virtual environment, packages; Neo4j jars on first start).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench bench-growth schema-file assets browser

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "idgraph needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

# Browser libraries (GraphiQL, React, cytoscape) from npm, by package-lock.json, copied into
# the package: idgraph serves them itself, so its pages work offline (frontend/vendor.mjs).
ASSETS := src/idgraph/api/http/static/vendor/manifest.json
$(ASSETS): frontend/package.json frontend/package-lock.json frontend/vendor.mjs
	cd frontend && npm ci --no-audit --no-fund --silent && node vendor.mjs

assets: $(ASSETS)

# Open loopback mode: no API key needed from this machine (docs/api.md, "Access control").
run: $(STAMP) $(ASSETS)
	IDGRAPH_OPEN_LOOPBACK=true IDGRAPH_NEO4J_BROWSER=$${IDGRAPH_NEO4J_BROWSER:-true} $(VENV)/bin/idgraph serve --demo

# The GraphQL-over-HTTP audit (tests/test_api_http.py) runs graphql-http from npm.
AUDIT := tests/http_audit/node_modules/.package-lock.json
$(AUDIT): tests/http_audit/package.json tests/http_audit/package-lock.json
	cd tests/http_audit && npm ci --no-audit --no-fund --silent

# The browser tests drive Debian's Chromium (Playwright's own download cannot be used): installed
# here when missing and we are root (CI); otherwise those tests skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && apt-get install -y -q chromium; \
	  else echo "Chromium not installed (apt-get install chromium): the browser tests will skip"; fi; }

# The type checker first (mypy strict over src/, pyproject.toml [tool.mypy]), then the tests.
test: $(STAMP) $(AUDIT) $(ASSETS) browser
	$(VENV)/bin/mypy src
	$(VENV)/bin/pytest

# Benchmarks write reports to bench/results/ (each starts its own managed Neo4j), then the
# performance page gathers their figures: bench/results/<date>.json and docs/performance.md.
bench: $(STAMP)
	$(VENV)/bin/python -m bench.ingest
	$(VENV)/bin/python -m bench.profile_read
	$(VENV)/bin/python -m bench.segments --profiles 20000
	$(VENV)/bin/python -m bench.performance

# Growth (issue #18): read, resolve, ingest and a segment evaluation at 10,000, 100,000 and
# 1,000,000 profiles beside their floors, plotted into docs/growth-*.png. Its stores are kept
# (.idgraph/bench-scale-1774x); the first run builds the 1,000,000 one (minutes).
bench-growth: $(STAMP)
	$(VENV)/bin/python -m bench.growth
	$(VENV)/bin/python -m bench.performance

schema-file: $(STAMP)
	$(VENV)/bin/idgraph schema export
