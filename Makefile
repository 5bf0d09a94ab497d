# cot-proxy developer commands. Everything runs from a python3.12 venv in .venv,
# created (and refreshed when a requirements file changes) on first use.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
DOCS_PORT ?= 8000
# The CLIs the recipes are tried with, outside the repository (tests/e2e/test_docs.py reads it).
NPM_TOOLS ?= $(HOME)/.cache/cot-proxy/npm
export COT_PROXY_NPM := $(NPM_TOOLS)
CODEX_VERSION := 0.171.0
CLAUDE_CODE_VERSION := 2.1.197

# mitmproxy 12 needs Python >= 3.12. Use python3.12 from PATH when it runs;
# otherwise the newest pyenv-installed 3.12 (pyenv shims refuse versions that
# are installed but not selected).
PYTHON312 ?= $(shell if python3.12 -c '' >/dev/null 2>&1; then echo python3.12; \
	else ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -n 1; fi)

.PHONY: run demo web docs test test-fast conformance llama-server lint e2e-tools bench bench-publish clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON312)" || { echo "python3.12 not found: install Python 3.12" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON312) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## Run the proxy on port 5000 (configure with the environment, see docs/configuration.md).
run: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" ./entrypoint.sh

## The proxy on 127.0.0.1:5000 in front of a scripted reasoning model (demo/upstream.py): no LLM server needed.
demo: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" demo/run.sh

## The same proxy under mitmweb, the development UI (proxy on 5000, UI on 8081).
web: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" MITM_TOOL=mitmweb ./entrypoint.sh

## The documentation site on http://127.0.0.1:8000 (DOCS_PORT), rebuilt as pages change.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

## The whole test suite (unit, addon, end-to-end, conformance), after the lints: a lint failure fails it.
## The conformance tests need llama-server: built once per machine (about 11 minutes on 2 cores).
test: lint llama-server e2e-tools
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

## The unit and addon tests only (no process started), after the lints: under a minute.
test-fast: lint
	$(BIN)/python -m pytest -m "not e2e" tests/unit tests/addon $(PYTEST_ARGS)

## The conformance tests only: the proxy in front of a real llama-server (tests/conformance).
conformance: llama-server
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m conformance tests/conformance $(PYTEST_ARGS)

## llama-server for CPU from the pinned llama-cpp-python source package, cached in ~/.cache/cot-proxy.
llama-server: $(VENV)/.installed
	PYTHON=$(BIN)/python tests/conformance/build_llama_server.sh

## ruff (check and format) and mypy over the code and tests; hadolint and shellcheck; the docs
## site built with --strict (a broken link or anchor fails it).
lint: $(VENV)/.installed
	$(BIN)/ruff check --no-cache addon tests bench docker demo
	$(BIN)/ruff format --no-cache --check addon tests bench docker demo
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/shellcheck entrypoint.sh .ci/run demo/run.sh tests/conformance/build_llama_server.sh
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir "$(CURDIR)/site"

## The Codex CLI and Claude Code that the docs' recipes are tried with (tests/e2e/test_docs.py),
## installed once with npm under $(NPM_TOOLS); installed again only when a version here changes.
e2e-tools: $(NPM_TOOLS)/.installed-$(CODEX_VERSION)-$(CLAUDE_CODE_VERSION)

$(NPM_TOOLS)/.installed-$(CODEX_VERSION)-$(CLAUDE_CODE_VERSION):
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 18 or later" >&2; exit 1; }
	mkdir -p $(NPM_TOOLS)
	npm install --prefix $(NPM_TOOLS) --no-audit --no-fund --loglevel=error \
		@openai/codex@$(CODEX_VERSION) @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	touch $@

## Benchmarks (see bench/README.md). They write under bench/results/ only.
bench: $(VENV)/.bench-installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py $(BENCH_ARGS)

## The latest full run to bench/LATEST.md, its pictures and docs/performance.md's table.
bench-publish: $(VENV)/.installed
	$(BIN)/python bench/publish.py $(PUBLISH_ARGS)

# The benchmark's extras (uvloop, matplotlib), not project dependencies.
$(VENV)/.bench-installed: $(VENV)/.installed bench/requirements.txt
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site
