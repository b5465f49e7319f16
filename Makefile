# Set-up is part of the product: `make demo` and `make test` work on a fresh machine.
# The LLM extras are installed too: their tests run against local fake servers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# Every pip call is constrained: an unpinned resolve would swap the CPU torch for CUDA builds.
PIPC   := $(PIP) install --disable-pip-version-check -c constraints.txt
STAMP  := $(VENV)/.installed
DEMO   ?= demo-out

.PHONY: install demo test lint format clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIPC) torch==2.13.0
	$(PIPC) -e '.[dev,postgres,openai,ollama]'
	# An editable install compiles nothing: byte-compile once so every kb command starts
	# fast even where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/python -m compileall -q kb kb_mcp connectors migrations seed ui bot > /dev/null
	touch $(STAMP)

# The dashboard's browser test drives Debian's chromium, headless: a browser is never
# downloaded (no `playwright install`). CI runs as root on a clean machine and gets it here.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends chromium fonts-liberation > /dev/null; \
	else echo "no $(CHROMIUM): install Debian's chromium (as root) for the browser test" >&2; fi

# `kb map --format dot` is checked by rendering it with Graphviz's dot (Debian's graphviz).
DOT := /usr/bin/dot

$(DOT):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends graphviz > /dev/null; \
	else echo "no $(DOT): install Debian's graphviz (as root) for the map rendering test" >&2; fi

# The official Mermaid package, for the test that parses and renders kb's Mermaid maps in
# the headless browser (npm, pinned by tests/js/package-lock.json; no browser download).
MERMAID := tests/js/node_modules/mermaid/dist/mermaid.min.js

$(MERMAID): tests/js/package.json tests/js/package-lock.json
	@if command -v npm > /dev/null; then \
	  npm ci --prefix tests/js --no-audit --no-fund --ignore-scripts && touch $(MERMAID); \
	else echo "no npm: install Node.js (Debian's nodejs and npm) for the Mermaid test" >&2; fi

install: $(STAMP) $(CHROMIUM) $(DOT) $(MERMAID)

KB_DEMO := $(BIN)/kb --home $(DEMO)/kb

demo: install
	rm -rf $(DEMO)
	$(BIN)/kb seed $(DEMO)/org
	$(KB_DEMO) init
	for repo in $(DEMO)/org/repos/*; do $(KB_DEMO) ingest git $$repo || exit 1; done
	$(KB_DEMO) ingest slack-export $(DEMO)/org/slack-export.zip --name shopfast
	$(KB_DEMO) status
	$(KB_DEMO) ask "why is payment to order async?"
	$(KB_DEMO) ask "what must I never touch in inventory?"
	$(KB_DEMO) ask "who knows the user token code now?"
	$(KB_DEMO) bus-factor --without "Alex Morgan" --markdown $(DEMO)/bus-factor.md
	$(KB_DEMO) incident payment-service --symptom "timeouts on POST /payments" -o $(DEMO)/incident-plan.md
	$(KB_DEMO) map > $(DEMO)/map.md
	$(KB_DEMO) map --format dot > $(DEMO)/map.dot
	$(KB_DEMO) coupling
	$(KB_DEMO) contracts
	$(KB_DEMO) onboarding -o $(DEMO)/onboarding.md
	$(KB_DEMO) context --all --write $(DEMO)/context
	@echo "demo organisation: $(DEMO)/org   knowledge base: $(DEMO)/kb"
	@echo "bus-factor report: $(DEMO)/bus-factor.md"
	@echo "service map: $(DEMO)/map.md (Mermaid) and $(DEMO)/map.dot (Graphviz)"
	@echo "onboarding guide: $(DEMO)/onboarding.md   agent context files: $(DEMO)/context/"
	@echo "incident plan: $(DEMO)/incident-plan.md"
	@echo "dashboard:  $(BIN)/kb --home $(DEMO)/kb ui    then open http://127.0.0.1:8501"
	@echo "Slack bot:  create the app from bot/manifest.yml, then"
	@echo "            KB_SLACK_BOT_TOKEN=xoxb-... KB_SLACK_APP_TOKEN=xapp-... $(BIN)/kb --home $(DEMO)/kb bot"
	@echo "MCP server: $(BIN)/kb --home $(DEMO)/kb mcp    (stdio; --http --port 8765 to share it;"
	@echo "            register it with your agent as the README's 'Coding agents' section shows)"

# pytest exits 5 when it collected no test: a run that tests nothing is a failure.
test: install
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(DEMO) .kb .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
