# The two commands of the README: `make run` (the API with demo data) and `make test`.
# Each installs what it needs (virtual environment, packages; Neo4j jars on first start).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench schema-file

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "idgraph needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(VENV)/bin/idgraph serve --demo

# The GraphQL-over-HTTP audit (tests/test_api_http.py) runs graphql-http from npm.
AUDIT := tests/http_audit/node_modules/.package-lock.json
$(AUDIT): tests/http_audit/package.json tests/http_audit/package-lock.json
	cd tests/http_audit && npm ci --no-audit --no-fund --silent

test: $(STAMP) $(AUDIT)
	$(VENV)/bin/pytest

# Benchmarks write reports to bench/results/ (each starts its own managed Neo4j).
bench: $(STAMP)
	$(VENV)/bin/python -m bench.ingest
	$(VENV)/bin/python -m bench.profile_read
	$(VENV)/bin/python -m bench.segments --profiles 20000

schema-file: $(STAMP)
	$(VENV)/bin/idgraph schema export
