"""A record of every AWS API call a command makes, for checking each one
against the policies of the principal that really runs the job
(``tests/trace``, docs/iam-trace.md).

With ``WEALIST_CFN_TRACE=<file>`` set, each call made through the
command's boto3 session (wealist_cfn/aws/__init__.py, the only place sessions are
made) appends one JSON line: the service, the operation, the request
parameters IAM authorises on (resource identifiers, tags, VersionId,
encryption context, the role passed, prefixes, stack and change-set names),
the names of every parameter given, the principal label
(``WEALIST_CFN_TRACE_PRINCIPAL``, when the caller knows it), the job label
(``WEALIST_CFN_TRACE_JOB``), the command line's command, and the region.

A secret never reaches the file: only the parameters named in
:data:`KEPT` are copied, and none of them carries a value that could be a
secret (PutParameter's ``Value``, a secret string, a password, a template
body or a stack's parameter values are recorded by name only). A tag's
value is kept: IAM's ``aws:RequestTag/*`` conditions compare it.

The recorder hangs on botocore's ``before-parameter-build`` event, which
sees the parameters as the caller gave them, before serialisation
(botocore "Events" documentation); it never changes a request.
"""

from __future__ import annotations

import json
import os
import sys

ENV = "WEALIST_CFN_TRACE"
PRINCIPAL_ENV = "WEALIST_CFN_TRACE_PRINCIPAL"
JOB_ENV = "WEALIST_CFN_TRACE_JOB"

# Parameters IAM authorises on: each names a resource, a tag, a version, an
# encryption context, a role passed to a service, a prefix or a type that
# selects another action. Nothing here can hold a secret.
KEPT = frozenset(
    {
        # S3
        "Bucket",
        "Key",
        "VersionId",
        "Prefix",
        "Delimiter",
        "CopySource",
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "Tagging",
        # CloudFormation
        "StackName",
        "ChangeSetName",
        "ChangeSetType",
        "RoleARN",
        "TemplateURL",
        "Capabilities",
        "LogicalResourceId",
        "StackSetName",
        "NextToken",
        # Systems Manager Parameter Store
        "Name",
        "Names",
        "Path",
        "Recursive",
        "Type",
        "KeyId",
        "WithDecryption",
        "Overwrite",
        "Tier",
        "ParameterFilters",
        # KMS
        "EncryptionContext",
        "GrantTokens",
        # EC2 / Auto Scaling / ELB
        "IamInstanceProfile",
        "AutoScalingGroupName",
        "AutoScalingGroupNames",
        "InstanceRefreshIds",
        "TargetGroupArn",
        "TargetGroupArns",
        "LoadBalancerArn",
        "LoadBalancerArns",
        "InstanceIds",
        "Filters",
        "VpcIds",
        "GroupIds",
        "SubnetIds",
        # ECR / Logs / IAM / STS / pricing / CloudWatch
        "repositoryName",
        "repositoryNames",
        "registryId",
        "imageIds",
        "logGroupName",
        "logGroupNamePrefix",
        "logStreamName",
        "PolicyArn",
        "RoleName",
        "RoleArn",
        "ServiceCode",
        "AlarmNames",
        "AlarmNamePrefix",
        "ResourceArn",
        "ResourceARN",
        "resourceArn",
        "QuotaCode",
        "ResourceId",
        "CertificateArn",
        # ElastiCache / RDS
        "ReplicationGroupId",
        "DBInstanceIdentifier",
        "DeletionProtection",
    }
)
# Tags carry values IAM compares (aws:RequestTag/*); a tag value is never a secret here.
TAG_PARAMS = frozenset({"Tags", "tags", "TagSpecifications"})
# Recorded by name only, whatever else changes: the values are secrets or may hold one.
NEVER = frozenset(
    {
        "Value",
        "SecretString",
        "SecretBinary",
        "Password",
        "MasterUserPassword",
        "AuthToken",
        "TemplateBody",
        "Parameters",
        "Body",
        "Plaintext",
        "CiphertextBlob",
        "UserData",
    }
)


def summary(service: str, operation: str, params: dict) -> dict:
    """The part of one call's request IAM authorises on, and the names of
    all its parameters."""
    kept = {k: v for k, v in params.items() if k in KEPT and k not in NEVER}
    for k in TAG_PARAMS & params.keys():
        kept[k] = params[k]
    if "Parameters" in params and isinstance(params["Parameters"], list):
        # A stack's parameters: their keys only (a NoEcho value is a secret).
        kept["ParameterKeys"] = [p.get("ParameterKey") for p in params["Parameters"] if isinstance(p, dict)]
    return {
        "service": service,
        "operation": operation,
        "params": json.loads(json.dumps(kept, default=str)),
        "given": sorted(params),
    }


def command_of(argv: list[str]) -> str:
    """The command a command line runs: its first word that is not an option
    or an option's value (``build.py --params X deploy`` is deploy)."""
    words = argv[1:]
    i = 0
    while i < len(words):
        if words[i] in ("--params", "--profile"):
            i += 2
            continue
        if not words[i].startswith("-"):
            return words[i]
        i += 1
    return "build"


class Recorder:
    """Appends one line per call to ``path``."""

    def __init__(self, path: str, region: str):
        self.path = path
        self.region = region
        self.principal = os.environ.get(PRINCIPAL_ENV, "")
        self.job = os.environ.get(JOB_ENV, "")
        self.command = command_of(sys.argv)

    def __call__(self, params, model, **_kw):
        line = summary(model.service_model.service_name, model.name, params)
        line.update(
            signing=model.service_model.signing_name,
            region=self.region,
            command=self.command,
            principal=self.principal,
            job=self.job,
        )
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")


def attach(session, region: str) -> Recorder | None:
    """Record every call of ``session`` when WEALIST_CFN_TRACE names a file."""
    path = os.environ.get(ENV)
    if not path:
        return None
    recorder = Recorder(path, region)
    session.events.register("before-parameter-build", recorder)
    return recorder


def read(path) -> list[dict]:
    """The calls recorded in ``path``, in order."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
