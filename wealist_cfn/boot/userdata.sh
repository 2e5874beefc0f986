#!/bin/bash
# Launch-template UserData, rendered through Fn::Sub: ${Project},
# ${Environment}, ${AWS::Region}, ${Role}, ${DeployBucketName},
# ${UserServicePort} and ${BoardServicePort} are filled in by CloudFormation; shell variables are written $name (no braces) or
# ${!name} so that Fn::Sub leaves them alone.
set -euo pipefail
exec > >(tee -a /var/log/wealist-boot.log) 2>&1
dnf install -y docker
systemctl enable --now docker
aws ssm get-parameter --region "${AWS::Region}" --with-decryption \
  --name "/${Project}/${Environment}/startup-script" \
  --query Parameter.Value --output text > /usr/local/bin/wealist-startup
chmod 700 /usr/local/bin/wealist-startup
WEALIST_ROLE="${Role}" WEALIST_BUCKET="${DeployBucketName}" \
  WEALIST_PREFIX="/${Project}/${Environment}" AWS_REGION="${AWS::Region}" \
  USER_SERVICE_PORT="${UserServicePort}" BOARD_SERVICE_PORT="${BoardServicePort}" \
  /usr/local/bin/wealist-startup
