# Quick start on a fresh machine with Python 3.11:
#   make build   set up .venv, build every template and lint it (python build.py)
#   make test    set up .venv, .venv-checkov and the external checkers, run every test
#                (CI=true: a checker that is missing fails the run instead of skipping)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov

.PHONY: setup build check lint test tools bench constraints clean mutate

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

# checkov pins boto3 1.35 and packaging 23; in its own virtualenv it cannot
# downgrade the project's pins.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt -c constraints-checkov.txt
	@touch $@

setup: $(VENV)/.installed

build: setup
	$(PY) build.py

check: setup
	$(PY) build.py --check

tools: setup $(CHECKOV_VENV)/.installed
	scripts/install-test-tools.sh $(PY)

lint: setup
	$(VENV)/bin/ruff check wealist_cfn tests benchmarks build.py

# --no-cache: the test run lints every template from scratch, whatever
# .lint-cache/ holds (CI=true does the same).
test: tools lint
	$(PY) build.py --check
	$(PY) build.py --no-cache --params params/prod.json
	CI=true $(PY) -m pytest

# Mutation testing of the modules that hold safety properties (scripts/mutate.py;
# figures and equivalent mutants in docs/mutation.md). Not run in CI: minutes per
# module. One module: make mutate MODULES=health
mutate: setup
	$(PY) scripts/mutate.py run $(MODULES)

# The AWS CDK app the build benchmark compares against; needs node and npm.
CDK_BENCH := benchmarks/cdk
$(CDK_BENCH)/node_modules/.installed: $(CDK_BENCH)/package.json $(CDK_BENCH)/package-lock.json
	cd $(CDK_BENCH) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench: setup $(CDK_BENCH)/node_modules/.installed
	$(PY) benchmarks/build_bench.py

constraints: setup
	{ sed -n '1,3p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.tmp && mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mutate
