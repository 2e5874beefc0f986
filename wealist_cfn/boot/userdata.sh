#!/bin/bash
# Launch-template UserData for the Wealist instances (Amazon Linux 2023),
# rendered through Fn::Sub: ${Project}, ${Environment}, ${AWS::Region},
# ${Role}, ${DeployBucketName}, ${UserServicePort} and ${BoardServicePort}
# are filled in by CloudFormation. Shell variables are written $name (no
# braces) or ${!name}, which Fn::Sub leaves as a shell expansion.
#
# Installs Docker and the Compose V2 plugin, starts the CloudWatch agent on
# this boot log, then fetches the startup script from the deploy bucket and
# runs it. It stays small (16 KB limit): everything
# else lives in the startup script and the deploy bucket.
set -Eeuo pipefail
# The boot's wait budget counts from here (startup.sh, WEALIST_BOOT_STARTED).
boot_started=$(date +%s)
exec > >(tee -a /var/log/wealist-boot.log | logger -t wealist-boot) 2>&1
trap 'echo "wealist boot: FAILED at line $LINENO (exit $?)" >&2' ERR
# One retry rule for the whole boot, the startup script's included: at most
# 5 attempts, attempt x WEALIST_RETRY_DELAY seconds apart (default 5, so at
# most 50 s of waiting per step). The instance never sets the variable; the
# boot rehearsal sets it to 0.
retry() {
  local attempt=1 delay=${!WEALIST_RETRY_DELAY:-5}
  until "$@"; do
    if [ "$attempt" -ge 5 ]; then return 1; fi
    sleep $((attempt * delay))
    attempt=$((attempt + 1))
  done
}
# A failure here, before the startup script runs, gives up as the startup
# script's own failures do (startup.sh, give_up): the instance marks itself
# Unhealthy, ignoring the grace period, so Auto Scaling replaces it (the
# mark retried; if it still fails, the instance stops itself), and
# never before WEALIST_REPLACE_AFTER (360) seconds from the boot's start.
startup_ran=
replace_me() {
  local rc=$? hold token id imds=http://169.254.169.254/latest
  if [ "$rc" -eq 0 ] || [ -n "$startup_ran" ]; then exit "$rc"; fi
  hold=$((${!WEALIST_REPLACE_AFTER:-360} - $(date +%s) + boot_started))
  if [ "$hold" -gt 0 ]; then echo "wealist boot: gave up; asking for a replacement in ${!hold}s"; sleep "$hold"; fi
  { token=$(curl -fsS -m 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$imds/api/token") &&
    id=$(curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/instance-id") &&
    echo "wealist boot: marking $id Unhealthy: Auto Scaling terminates and replaces it" &&
    retry aws autoscaling set-instance-health --region "${AWS::Region}" --instance-id "$id" \
      --health-status Unhealthy --no-should-respect-grace-period; } ||
    # Stopped, it fails its EC2 health check and is replaced all the same.
    { echo "wealist boot: could not mark this instance Unhealthy: stopping it" >&2; shutdown -h now; } ||
    echo "wealist boot: could not stop this instance either: terminate it by hand" >&2
  exit "$rc"
}
trap replace_me EXIT

# Compose V2 is not packaged for Amazon Linux 2023: the release binary, at a
# pinned version, checked against the release's published SHA-256.
COMPOSE_VERSION=v2.39.4

retry dnf install -y -q docker
systemctl enable --now docker

if ! docker compose version >/dev/null 2>&1; then
  plugins=/usr/local/lib/docker/cli-plugins
  url=https://github.com/docker/compose/releases/download/$COMPOSE_VERSION/docker-compose-linux-$(uname -m)
  mkdir -p "$plugins"
  retry curl -fsSL -o "$plugins/docker-compose.download" "$url"
  retry curl -fsSL -o "$plugins/docker-compose.sha256" "$url.sha256"
  echo "$(cut -d' ' -f1 "$plugins/docker-compose.sha256")  $plugins/docker-compose.download" | sha256sum -c --quiet -
  install -m 755 "$plugins/docker-compose.download" "$plugins/docker-compose"
  rm -f "$plugins/docker-compose.download" "$plugins/docker-compose.sha256"
fi
docker compose version

# The boot log (this output, the startup script's included) to CloudWatch
# Logs, stream <instance-id>/startup in the group's log group, through the
# CloudWatch agent, packaged in Amazon Linux 2023's repository since its
# 2022.0.20220728 preview (amazonlinux/amazon-linux-2023 issue 132). The
# agent reads the file from its start (from_beginning, its translator's
# default), so lines written before it started are shipped. Not fatal: the log
# stays in /var/log/wealist-boot.log and the journal, and a service must not
# stay down because its boot log cannot be shipped.
cwagent=/opt/aws/amazon-cloudwatch-agent
ship_boot_log() {
  retry dnf install -y -q amazon-cloudwatch-agent &&
    retry aws s3 cp --region "${AWS::Region}" --only-show-errors \
      "s3://${DeployBucketName}/boot/cloudwatch-agent.json" "$cwagent/etc/wealist-boot-log.json.in" &&
    sed 's|@@LOG_GROUP@@|/${Project}/${Environment}/${Role}|' "$cwagent/etc/wealist-boot-log.json.in" \
      >"$cwagent/etc/wealist-boot-log.json" &&
    "$cwagent/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:$cwagent/etc/wealist-boot-log.json"
}
if ship_boot_log; then
  echo "wealist boot: boot log shipped to CloudWatch Logs /${Project}/${Environment}/${Role}, stream <instance-id>/startup"
else
  echo "wealist boot: WARNING: boot log not shipped to CloudWatch Logs (see above); it stays in /var/log/wealist-boot.log"
fi

retry aws s3 cp --region "${AWS::Region}" --only-show-errors \
  "s3://${DeployBucketName}/boot/startup.sh" /usr/local/sbin/wealist-startup
chmod 700 /usr/local/sbin/wealist-startup

# From here on a failure is the startup script's, which gives up by itself.
startup_ran=1
WEALIST_BOOT_STARTED="$boot_started" WEALIST_ROLE="${Role}" WEALIST_BUCKET="${DeployBucketName}" \
  WEALIST_PREFIX="/${Project}/${Environment}" AWS_REGION="${AWS::Region}" \
  USER_SERVICE_PORT="${UserServicePort}" BOARD_SERVICE_PORT="${BoardServicePort}" \
  /usr/local/sbin/wealist-startup
echo "wealist boot: ${Role} instance ready"
