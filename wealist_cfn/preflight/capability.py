"""What an endpoint can answer, for preflight: the read calls each check
needs, and per endpoint the calls it does not answer as AWS does.

A check whose calls the endpoint cannot answer is reported "not checkable
here", by name, instead of running and failing on the endpoint's gap; it
does not block. Every other failure blocks wherever the endpoint's answers
are known (AWS, and the local endpoint, which declares its gaps in the
capability document it answers: :mod:`wealist_cfn.aws.target`): a rehearsal
stops where a real deploy would. Only an endpoint that declares nothing (an
arbitrary ``--endpoint-url``) shows the results without blocking.
"""

from __future__ import annotations

from dataclasses import dataclass

# The read calls each check makes ("service:Operation", as in IAM and the
# API references). A check missing here cannot be run: run() refuses it.
NEEDS: dict[str, tuple[str, ...]] = {
    "stack-state": ("cloudformation:DescribeStacks",),
    "ssm-references": ("ssm:DescribeParameters", "ssm:GetParameters"),
    "boot-parameters": ("ssm:DescribeParameters", "ssm:GetParameters"),
    "deploy-bucket": ("s3:HeadBucket", "s3:GetBucketLocation", "s3:HeadObject", "s3:GetObject"),
    "certificate": ("acm:DescribeCertificate",),
    "zones": ("ec2:DescribeAvailabilityZones",),
    "instance-types": ("ec2:DescribeInstanceTypeOfferings",),
    "database": ("rds:DescribeOrderableDBInstanceOptions",),
    "cache": ("elasticache:DescribeCacheEngineVersions", "elasticache:DescribeReservedCacheNodesOfferings"),
    "redis-members": ("elasticache:DescribeReplicationGroups",),
    "ami": ("ssm:GetParameter",),
    "quotas": (
        "service-quotas:GetServiceQuota",
        "ec2:DescribeAddresses",
        "ec2:DescribeVpcs",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeNatGateways",
        "ec2:DescribeSubnets",
    ),
    "images": ("ssm:GetParameters", "ecr:DescribeImages"),
    "log-groups": ("logs:DescribeLogGroups", "cloudformation:ListStackResources"),
    "trust-stack": ("cloudformation:DescribeStacks",),
    "role-boundary": ("iam:GetPolicy",),
    "registries": ("ecr:DescribeRepositories",),
}


@dataclass(frozen=True)
class Capability:
    name: str  # how the output names the endpoint
    unanswered: dict[str, str]  # call -> how the endpoint answers it instead
    known: bool  # its answers are known: a failed check blocks
    # The deploy there runs under the environment's service role (the
    # Target's runs_under_roles; not known counts as yes, as on AWS).
    runs_under_roles: bool = True

    def missing(self, check: str) -> list[str]:
        return [call for call in NEEDS[check] if call in self.unanswered]


AWS = Capability("AWS", {}, known=True)


def for_target(target) -> Capability:
    """Preflight's view of a :class:`wealist_cfn.aws.target.Target`: its name,
    the calls it declares unanswered, and whether its answers are known
    (AWS, the rehearsal) so that a failed check blocks, or not (an unknown
    custom endpoint: results shown, nothing blocked)."""
    return Capability(
        target.name,
        dict(target.unanswered),
        known=target.answers_known,
        runs_under_roles=target.runs_under_roles is not False,
    )
