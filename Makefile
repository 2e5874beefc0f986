# Quick start on a fresh machine with Python 3.11:
#   make build   set up .venv, build every template and lint it (python build.py)
#   make test    set up .venv, .venv-checkov and the external checkers, run every test
#                (CI=true: a checker that is missing fails the run instead of skipping)
#   make lock    regenerate requirements.lock (hashed runtime pins for the jobs with AWS credentials)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov

.PHONY: setup build check lint test tools bench constraints lock clean mutate iam-trace

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
	$(VENV)/bin/ruff check wealist_cfn tests benchmarks build.py scripts
	$(VENV)/bin/ruff format --check wealist_cfn tests benchmarks build.py scripts

# --no-cache: the test run lints every template from scratch, whatever
# .lint-cache/ holds (CI=true does the same).
test: tools lint
	$(PY) build.py --check
	$(PY) build.py --no-cache --params params/prod.json
	CI=true $(PY) -m pytest

# The production story on the local endpoint, every call checked under the
# principal that runs it; rewrites docs/iam-trace.md (the test fails when it is stale).
iam-trace: setup
	WEALIST_CFN_WRITE_IAM_TRACE=1 $(PY) -m pytest -q tests/iamtrace/test_story.py

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
	$(PY) benchmarks/local_bench.py
	$(PY) benchmarks/story_bench.py

constraints: setup
	{ sed -n '1,3p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.tmp && mv constraints.tmp constraints.txt

# requirements.lock: the runtime packages (requirements.txt, at the versions
# constraints.txt pins) with the sha256 of every PyPI file, for the jobs
# that hold AWS credentials (pip install --require-hashes). pip-tools lives
# in its own throwaway virtualenv: no test needs it. Resolved against PyPI
# itself, without local indexes or find-links, so the hashes are PyPI's.
# tests/ops/test_lock.py fails when the lock and the pins disagree.
PIP_TOOLS := pip-tools==7.7.0
LOCK_VENV := .venv-lock
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --disable-pip-version-check '$(PIP_TOOLS)'
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(LOCK_VENV)/bin/pip-compile --quiet --rebuild \
		--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--index-url https://pypi.org/simple --constraint constraints.txt \
		--output-file requirements.lock requirements.txt

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(LOCK_VENV) .pytest_cache .mutate .lint-cache
