#!/bin/bash
# Wealist startup script, uploaded by `build.py bootstrap` to the deploy
# bucket as boot/startup.sh (an S3 object, not a parameter: Parameter Store
# refuses values with double braces and caps them at 4-8 KB) and run as root
# by UserData on each new instance (env: WEALIST_ROLE, WEALIST_BUCKET, WEALIST_PREFIX, AWS_REGION,
# USER_SERVICE_PORT, BOARD_SERVICE_PORT). docs/operations.md says what each
# role does. A failing step exits non-zero with a log line naming it.
set -Eeuo pipefail

: "${WEALIST_ROLE:?}" "${WEALIST_BUCKET:?}" "${WEALIST_PREFIX:?}" "${AWS_REGION:?}"
: "${USER_SERVICE_PORT:?}" "${BOARD_SERVICE_PORT:?}"
export AWS_REGION AWS_DEFAULT_REGION="$AWS_REGION" WEALIST_ROLE WEALIST_PREFIX USER_SERVICE_PORT BOARD_SERVICE_PORT

BASE=${WEALIST_BASE:-/opt/wealist}
# psql for the database init: ECR Public (no Docker Hub limit), RDS's major.
PG_IMAGE=public.ecr.aws/docker/library/postgres:17-alpine

log() { printf '%s wealist-startup[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$WEALIST_ROLE" "$*" >&2; }
on_error() {
  local rc=$?
  log "FAILED (exit $rc) at line $1: $2"
  exit "$rc"
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

# One budget for every wait of the boot, counted from the start of UserData
# (WEALIST_BOOT_STARTED, epoch seconds; this script's own start without it).
# Each wait below has its own bound too, but together they could outlast
# the backend group's 600 s health-check grace period, after which an
# instance that is not yet healthy is replaced mid-boot (Auto Scaling user
# guide, "Set the health check grace period"). No wait starts that would
# end past WEALIST_BOOT_BUDGET seconds (default 360): the boot gives up
# with a log line instead. The bound, in docs/operations.md ("How long a
# boot takes") and recomputed by tests/test_first_deploy.py: 30 s before
# UserData runs, the budget, a command already running when it ends (about
# 60 s, the AWS CLI's default timeout), the image pulls after the last wait
# (about 40 s), the containers' 60 s start period and two 15 s target
# checks: 580 s, inside the grace period.
BOOT_STARTED=${WEALIST_BOOT_STARTED:-$(date +%s)}
BOOT_BUDGET=${WEALIST_BOOT_BUDGET:-360}
may_wait() {
  [ $(($(date +%s) - BOOT_STARTED + $1)) -le "$BOOT_BUDGET" ]
}
out_of_budget() {
  log "FAILED: the boot's wait budget of ${BOOT_BUDGET}s would be spent by waiting ${1}s more for: $2"
  exit 1
}

# Network calls at boot can fail while credentials or the NAT path settle:
# at most 5 attempts, attempt x WEALIST_RETRY_DELAY seconds apart (the same
# rule as UserData's retry), within the boot's budget.
retry() {
  local attempt=1 pause
  until "$@"; do
    if [ "$attempt" -ge 5 ]; then
      log "FAILED after $attempt attempts: $*"
      exit 1
    fi
    pause=$((attempt * ${WEALIST_RETRY_DELAY:-5}))
    may_wait "$pause" || out_of_budget "$pause" "$*"
    sleep "$pause"
    attempt=$((attempt + 1))
  done
}

# A boot that gives up asks its group for a replacement. Under EC2 health
# checks (the backend until every service is released, the monitoring
# group always) nothing else would ever find it broken: its EC2 status
# checks pass, so it would stay InService, serving nothing, for good. The
# call ignores the grace period on purpose: by default SetInstanceHealth
# "respects the grace period" (Auto Scaling API reference,
# SetInstanceHealth, ShouldRespectGracePeriod), and a give-up comes well
# inside the 600 s one. So that a boot that fails at once (a setting that
# is wrong everywhere) cannot churn instances in a tight loop, no
# replacement is asked for before WEALIST_REPLACE_AFTER seconds (default:
# the boot's wait budget) from the boot's start: each instance of a failing
# group then lives at least that long. The role may call it on its own
# group only (stacks/iam.py _boot_health_policy).
REPLACE_AFTER=${WEALIST_REPLACE_AFTER:-$BOOT_BUDGET}
give_up() {
  local hold
  hold=$((REPLACE_AFTER - ($(date +%s) - BOOT_STARTED)))
  if [ -z "${INSTANCE_ID:-}" ]; then
    log "gave up before this instance's ID was known: it cannot ask Auto Scaling to replace it"
    return 0
  fi
  if [ "$hold" -gt 0 ]; then
    log "gave up; asking Auto Scaling to replace $INSTANCE_ID in ${hold}s (at ${REPLACE_AFTER}s after the boot's start)"
    sleep "$hold"
  fi
  log "marking $INSTANCE_ID Unhealthy: Auto Scaling terminates and replaces it"
  # Retried (ResourceContention, throttling and AccessDenied while the role
  # settles are not all retried by the AWS CLI), in a subshell with a budget
  # of its own, WEALIST_MARK_BUDGET (default 60 s, bootbudget.MARK_SECONDS):
  # the boot's budget is spent by now. If every attempt fails, the instance
  # stops itself: Auto Scaling's EC2 health check counts an instance in any
  # state other than running unhealthy and replaces it.
  if ! (BOOT_STARTED=$(date +%s) BOOT_BUDGET=${WEALIST_MARK_BUDGET:-60}
        retry aws autoscaling set-instance-health --instance-id "$INSTANCE_ID" --health-status Unhealthy \
          --no-should-respect-grace-period); then
    log "could not mark $INSTANCE_ID Unhealthy: stopping it so its EC2 health check fails (docs/operations.md, 'A boot that gave up')"
    shutdown -h now ||
      log "could not stop $INSTANCE_ID either: terminate it by hand (docs/operations.md, 'A boot that gave up')"
  fi
}
on_exit() {
  local rc=$?
  trap - ERR
  rm -rf "${work:-}"
  if [ "$rc" -ne 0 ]; then give_up; fi
  exit "$rc"
}

umask 077
mkdir -p "$BASE"
work=$(mktemp -d)
trap on_exit EXIT

# This instance's ID, from IMDSv2 (the launch template requires a session
# token). It starts the name of every container's log stream
# (<instance-id>/<container>, render.py puts it in .env). Fatal: the same
# endpoint gives the instance its credentials, so without it no later step
# could work either. First, so that any later give-up can name the instance.
IMDS=${WEALIST_IMDS:-http://169.254.169.254}
imds() {
  local token
  token=$(curl -fsS -m 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$IMDS/latest/api/token") &&
    curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}
INSTANCE_ID=$(retry imds instance-id)
export INSTANCE_ID
log "instance $INSTANCE_ID: container logs go to CloudWatch Logs $WEALIST_PREFIX/$WEALIST_ROLE, streams $INSTANCE_ID/<container>"

# The backend runs everything under config/; the monitoring instance only
# render.py, the one object of config/ its role may read (iam.py): listing
# config/ is the backend's alone.
if [ "$WEALIST_ROLE" = backend ]; then
  log "downloading config from s3://$WEALIST_BUCKET/config/"
  retry aws s3 cp --recursive --only-show-errors "s3://$WEALIST_BUCKET/config/" "$BASE/"
else
  log "downloading s3://$WEALIST_BUCKET/config/render.py"
  retry aws s3 cp --only-show-errors "s3://$WEALIST_BUCKET/config/render.py" "$BASE/render.py"
fi

# Each group reads only its own sub-paths, which are all its instance role
# may read (wealist_cfn/stacks/iam.py): the backend never sees Grafana's
# password, the monitoring instance no database or Redis secret.
read_parameters() {
  local path
  for path in "$@"; do
    log "reading parameters under $WEALIST_PREFIX/$path"
    retry aws ssm get-parameters-by-path --path "$WEALIST_PREFIX/$path" --recursive --with-decryption \
      --output json >"$work/parameters-$path.json"
  done
}

# dockerd was started by UserData (systemctl enable --now); bounded, as
# every wait of the boot is.
docker_wait=0
until docker info >/dev/null 2>&1; do
  if [ "$docker_wait" -ge 60 ]; then
    log "FAILED: the Docker daemon did not answer within 120 s"
    exit 1
  fi
  may_wait 2 || out_of_budget 2 "the Docker daemon"
  sleep 2
  docker_wait=$((docker_wait + 1))
done

# What the database and cache stacks publish when their endpoints exist
# (database.py, cache.py). The compute stack depends on both (root.py), so
# on a first deploy they are there before any instance boots; the wait
# covers a boot that races a change of those stacks, and says so in the log
# every poll. Bounded by the clock, not by counting sleeps (each read takes
# time too, its retries included): WEALIST_PARAMETER_WAIT seconds (default
# 180) from the first read, polled every WEALIST_POLL_SECONDS (default 15),
# and within the boot's budget.
STACK_PARAMETERS=(db/postgres_host db/postgres_port redis/host redis/port)
wait_for_parameters() {
  local limit=${WEALIST_PARAMETER_WAIT:-180} poll=${WEALIST_POLL_SECONDS:-15} started waited missing
  started=$(date +%s)
  while true; do
    read_parameters db redis
    missing=$(python3 - "$WEALIST_PREFIX" "$work/parameters-db.json" "$work/parameters-redis.json" \
      "${STACK_PARAMETERS[@]}" <<'PY'
import json, sys
prefix, files, wanted = sys.argv[1], sys.argv[2:4], sys.argv[4:]
have = set()
for path in files:
    with open(path) as f:
        have.update(p["Name"] for p in json.load(f).get("Parameters", []))
print(" ".join(w for w in wanted if prefix + "/" + w not in have))
PY
)
    if [ -z "$missing" ]; then
      log "endpoints published: ${STACK_PARAMETERS[*]}"
      return 0
    fi
    waited=$(($(date +%s) - started))
    if [ "$waited" -ge "$limit" ]; then
      log "FAILED: after ${waited}s still missing under $WEALIST_PREFIX: $missing"
      exit 1
    fi
    may_wait "$poll" || out_of_budget "$poll" "the database and cache endpoints ($missing)"
    log "waiting for the database and cache endpoints (${waited}s of ${limit}s): missing $missing"
    sleep "$poll"
  done
}

# The database init, as the RDS master. psql exits 2 when the connection
# failed or broke, 3 when a statement failed under ON_ERROR_STOP (psql
# reference, "Exit Status"): only a connection failure is retried (an
# instance booting while RDS is still being modified, or fails over), with
# a doubling delay from WEALIST_RETRY_DELAY, at most WEALIST_DB_ATTEMPTS
# attempts (default 8: about 5+10+20+40+60+60+60 s of waiting, plus up to
# 10 s per attempt of PGCONNECT_TIMEOUT), within the boot's budget. A
# failing statement fails at once.
db_init() {
  local svc=$1 attempt=1 attempts=${WEALIST_DB_ATTEMPTS:-8} delay=${WEALIST_RETRY_DELAY:-5} rc
  while true; do
    rc=0
    docker run --rm --network host --env-file "$BASE/db-init-$svc.env" \
      -v "$BASE/db-init.sql:/db-init.sql:ro" "$PG_IMAGE" psql -X -q -f /db-init.sql || rc=$?
    if [ "$rc" -eq 0 ]; then
      return 0
    fi
    if [ "$rc" -ne 2 ] || [ "$attempt" -ge "$attempts" ]; then
      log "FAILED: database init of $svc, attempt $attempt of $attempts, psql exit $rc"
      exit 1
    fi
    may_wait "$delay" || out_of_budget "$delay" "the database init of $svc (attempt $attempt of $attempts)"
    log "database not reachable for $svc (attempt $attempt of $attempts, psql exit $rc): retrying in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
    attempt=$((attempt + 1))
  done
}

start_backend() {
  local account svc
  account=$(retry aws sts get-caller-identity --query Account --output text)
  export ECR_REGISTRY="$account.dkr.ecr.$AWS_REGION.amazonaws.com"
  # db/ and redis/ are read (again) until the endpoints are there.
  wait_for_parameters
  read_parameters deploy app
  python3 "$BASE/render.py" env "$work"/parameters-*.json "$BASE"
  # A service with no released image yet is left out (render.py says which);
  # the others start without it.
  local -a services
  mapfile -t services <"$BASE/released-services"

  log "logging in to $ECR_REGISTRY"
  retry aws ecr get-login-password | docker login --username AWS --password-stdin "$ECR_REGISTRY" >/dev/null

  retry docker pull --quiet "$PG_IMAGE" >/dev/null
  for svc in user-service board-service; do
    # Every service's database exists before its first release.
    log "database and user of $svc"
    db_init "$svc"
  done

  cd "$BASE"
  if [ "${#services[@]}" -eq 0 ]; then
    log "no service has a released image yet: starting node-exporter only"
  fi
  log "docker compose pull node-exporter ${services[*]}"
  retry docker compose -f docker-compose.prod.yml pull --quiet node-exporter "${services[@]}"
  log "docker compose up -d node-exporter ${services[*]}"
  docker compose -f docker-compose.prod.yml up -d --remove-orphans node-exporter "${services[@]}"
  log "started: $(docker compose -f docker-compose.prod.yml ps --services --status running | sort | tr '\n' ' ')"
}

start_monitoring() {
  local dir="$BASE/monitoring"
  mkdir -p "$dir"
  log "downloading monitoring files from s3://$WEALIST_BUCKET/monitoring/"
  retry aws s3 cp --recursive --only-show-errors "s3://$WEALIST_BUCKET/monitoring/" "$dir/"
  PROJECT=$(cut -d/ -f2 <<<"$WEALIST_PREFIX")
  ENVIRONMENT=$(cut -d/ -f3 <<<"$WEALIST_PREFIX")
  export PROJECT ENVIRONMENT
  # Prometheus's config, Grafana's data sources and dashboards name this
  # environment and region.
  local file
  for file in "$dir/prometheus.yml" "$dir"/grafana/provisioning/datasources/*.yml "$dir"/grafana/dashboards/*.json; do
    python3 "$BASE/render.py" template "$file" >"$work/rendered"
    mv "$work/rendered" "$file"
  done
  # Prometheus and Grafana run unprivileged: config readable, grafana.env not.
  chmod -R go+rX "$dir"
  read_parameters monitoring
  python3 "$BASE/render.py" env "$work"/parameters-*.json "$dir"

  cd "$dir"
  log "docker compose pull"
  retry docker compose -f docker-compose.yml pull --quiet
  log "docker compose up -d"
  docker compose -f docker-compose.yml up -d --remove-orphans
  log "started: $(docker compose -f docker-compose.yml ps --services --status running | sort | tr '\n' ' ')"
}

case "$WEALIST_ROLE" in
  backend) start_backend ;;
  monitoring) start_monitoring ;;
  *)
    log "unknown role '$WEALIST_ROLE' (expected backend or monitoring)"
    exit 2
    ;;
esac
