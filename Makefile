# salonbot: `make test` and `make dev` install what they need into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# SAM CLI pins boto3 exactly, so it lives in a virtualenv of its own.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed
# checkov pins many packages of its own: a virtualenv of its own too.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: install pgbouncer chromium test lint unit dev bench eval sam-validate sam-build checkov clean

$(STAMP): requirements-dev.txt layers/common/requirements.txt pyproject.toml
	@echo "==> [1/4] virtualenv $(VENV)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [2/4] pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> [3/4] dependencies and tools: requirements-dev.txt (about a minute the first time)"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@echo "==> [4/4] the project: the salonbot package and command (editable)"
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)
	@echo "==> installed into $(VENV)"

install: $(STAMP) pgbouncer chromium

# PgBouncer in transaction mode stands in for RDS Proxy in the integration tests
# (tests/integration/pooler). Debian's package, installed once; sudo when not root.
pgbouncer:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || { \
	  sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer; }

# Headless Chromium for the console's browser tests (tests/e2e/test_console_browser.py),
# driven by Playwright through executable_path: Debian's package, installed once.
chromium:
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || { \
	  sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: $(STAMP)
	@echo "==> lint: ruff check, ruff format --check, mypy"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint pgbouncer chromium
	@echo "==> tests: pytest (unit, integration, e2e; a few minutes)"
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# `make dev PORT=3100 ARGS="--no-schedules"`: the gateway's port, other `salonbot local` options.
dev: $(STAMP)
	$(strip $(BIN)/salonbot local $(if $(PORT),--port $(PORT)) $(ARGS))

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The evaluation suite (docs/evaluation.md): the guided engine with the scripted customer,
# held to the floor in evals/floor.yaml; with OPENAI_API_KEY, the production router (the
# model) too. `make eval ARGS="--trials 4"` passes other `salonbot eval` options.
EVAL_TASKS ?= evals/tasks
eval: $(STAMP)
	$(BIN)/salonbot eval --tasks $(EVAL_TASKS) --engine guided \
	  --min-pass $$(sed -n 's/^guided_pass_1: *//p' evals/floor.yaml) $(ARGS)
	@if [ -n "$$OPENAI_API_KEY" ]; then \
	  echo "==> the router engine, model $${OPENAI_MODEL:-gpt-4o-mini}"; \
	  $(BIN)/salonbot eval --tasks $(EVAL_TASKS) --engine router $(ARGS); fi

$(SAM_STAMP):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli
	touch $(SAM_STAMP)

sam-validate: $(SAM_STAMP)
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint

# python3.13 from pyenv's build if present (its shim fails unless selected), else PATH's.
# The built layer is then checked: arm64 modules only, and no development code.
sam-build: sam-validate $(STAMP)
	found=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin 2>/dev/null | tail -1); \
	  found=$${found:-$$(dirname "$$(command -v python3.13)")}; \
	  test -x "$$found/python3.13" || { echo "sam build needs python3.13" >&2; exit 1; }; \
	  PATH="$$found:$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build
	$(BIN)/python .ci/check_layer_arch.py .aws-sam/build/CommonLayer arm64
	$(BIN)/python .ci/check_layer_contents.py .aws-sam/build/CommonLayer

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov
	touch $(CHECKOV_STAMP)

# Security review of the template; every skip is justified inline (checkov:skip=ID:reason).
# --skip-download: no call to the vendor's platform, the built-in checks only.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV) -f template.yaml --framework cloudformation --compact --quiet --skip-download

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
