# The two commands: `make run` and `make test`. Each installs what it needs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint format docs

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# `make run` installs the optional extras too (the PostgreSQL driver; importing pages and feeds),
# so any database URL and any article source work; the tests add the dev tools. See pyproject.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[postgres,import]'
	touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[dev,postgres,import]'
	touch $@ $(RUN_STAMP)

# Migrate, load content/ and show the articles, then run the app, the worker and the local
# SendGrid-compatible server (demo mode, 2,000 fictional clients when there are none) until Ctrl-C.
run: $(RUN_STAMP)
	$(BIN)/clinicmail db upgrade
	$(BIN)/clinicmail content sync
	$(BIN)/clinicmail content list
	$(BIN)/clinicmail run --demo-contacts 2000

# The official MJML validator the template tests run (npm's `mjml`, pinned in package-lock.json).
# Without npm those tests skip with the reason, except under CI=true, where they fail.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the MJML validator tests will skip"; fi

test: $(DEV_STAMP) node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	sh tests/e2e/ensure_chromium.sh
	sh tests/ensure_spamassassin.sh
	$(BIN)/pytest

# The CLI reference, docs/cli.md, regenerated from the commands' help (a test fails when it is
# out of date).
docs: $(DEV_STAMP)
	$(BIN)/cog -r docs/cli.md

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
