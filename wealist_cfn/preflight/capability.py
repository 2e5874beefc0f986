"""What an endpoint can answer, for preflight: the read calls each check
needs, and per endpoint the calls it does not answer as AWS does.

A check whose calls the endpoint cannot answer is reported "not checkable
here", by name, instead of running and failing on the endpoint's gap; it
does not block. Every other failure blocks wherever the endpoint's answers
are known (AWS, and the local endpoint, whose gaps are declared and tested
in :mod:`wealist_cfn.rehearsal.compat`): a rehearsal stops where a real deploy
would. Only an arbitrary ``--endpoint-url``, whose answers nobody declared,
shows the results without blocking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    "quotas": ("service-quotas:GetServiceQuota", "ec2:DescribeAddresses", "ec2:DescribeVpcs",
               "ec2:DescribeSecurityGroups", "ec2:DescribeNatGateways", "ec2:DescribeSubnets"),
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

    def missing(self, check: str) -> list[str]:
        return [call for call in NEEDS[check] if call in self.unanswered]


AWS = Capability("AWS", {}, known=True)
CUSTOM = Capability("a custom endpoint", {}, known=False)


# The local endpoint declares its own gaps (UNANSWERED in
# wealist_cfn/rehearsal/compat.py). Preflight stands below the rehearsal and
# does not import it: the command line, the one layer that sees both, hands
# the table in (wealist_cfn/cli/__init__.py) before any command runs.
_local_gaps: Callable[[], Mapping[str, str]] | None = None


def declare_local_gaps(gaps: Callable[[], Mapping[str, str]]) -> None:
    """Where :func:`local` reads the calls the local endpoint does not answer."""
    global _local_gaps
    _local_gaps = gaps


def local() -> Capability:
    if _local_gaps is None:
        raise RuntimeError("the local endpoint's unanswered calls were not declared "
                           "(wealist_cfn.cli declares them; call capability.declare_local_gaps first)")
    return Capability("the local endpoint", dict(_local_gaps()), known=True)


def for_endpoint(endpoint_url: str | None, *, is_local: bool) -> Capability:
    if is_local:
        return local()
    return CUSTOM if endpoint_url else AWS
