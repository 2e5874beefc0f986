"""Facts of AWS regions the build and the checks share: the ARN partition and
who delivers a region's ALB access logs. Standard library only, so the
parameter file check (config.py), the templates (stacks/loadbalancer.py) and
the rehearsal's bucket-policy rule (rehearsal/strict.py) read one map.
"""

from __future__ import annotations

from dataclasses import dataclass

# Elastic Load Balancing user guide, "Enable access logs for your Application
# Load Balancer", step 2 "Attach a policy to your S3 bucket"
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
# Regions available before August 2022: the region's Elastic Load Balancing
# account, as principal arn:aws:iam::<elb-account-id>:root.
ELB_LOG_DELIVERY_ACCOUNTS = {
    "us-east-1": "127311923021",  # US East (N. Virginia)
    "us-east-2": "033677994240",  # US East (Ohio)
    "us-west-1": "027434742980",  # US West (N. California)
    "us-west-2": "797873946194",  # US West (Oregon)
    "af-south-1": "098369216593",  # Africa (Cape Town)
    "ap-east-1": "754344448648",  # Asia Pacific (Hong Kong)
    "ap-southeast-3": "589379963580",  # Asia Pacific (Jakarta)
    "ap-south-1": "718504428378",  # Asia Pacific (Mumbai)
    "ap-northeast-3": "383597477331",  # Asia Pacific (Osaka)
    "ap-northeast-2": "600734575887",  # Asia Pacific (Seoul)
    "ap-southeast-1": "114774131450",  # Asia Pacific (Singapore)
    "ap-southeast-2": "783225319266",  # Asia Pacific (Sydney)
    "ap-northeast-1": "582318560864",  # Asia Pacific (Tokyo)
    "ca-central-1": "985666609251",  # Canada (Central)
    "eu-central-1": "054676820928",  # Europe (Frankfurt)
    "eu-west-1": "156460612806",  # Europe (Ireland)
    "eu-west-2": "652711504416",  # Europe (London)
    "eu-south-1": "635631232127",  # Europe (Milan)
    "eu-west-3": "009996457667",  # Europe (Paris)
    "eu-north-1": "897822967062",  # Europe (Stockholm)
    "me-south-1": "076674570225",  # Middle East (Bahrain)
    "sa-east-1": "507241528517",  # South America (São Paulo)
    "us-gov-west-1": "048591011584",  # AWS GovCloud (US-West)
    "us-gov-east-1": "190560391635",  # AWS GovCloud (US-East)
}
# Regions available as of August 2022 or later: the log delivery service.
# Regions opened since that the guide does not name here are left out on
# purpose: a region is added once the guide says which principal it uses.
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
ELB_LOG_DELIVERY_SERVICE_REGIONS = (
    "ap-south-2",  # Asia Pacific (Hyderabad)
    "ap-southeast-4",  # Asia Pacific (Melbourne)
    "eu-south-2",  # Europe (Spain)
    "eu-central-2",  # Europe (Zurich)
    "me-central-1",  # Middle East (UAE)
)
ELB_GUIDE = 'ELB user guide, "Enable access logs for your Application Load Balancer"'


class UnknownRegion(ValueError):
    """A region whose ELB log delivery principal the map does not hold."""


@dataclass(frozen=True)
class LogDeliveryPrincipal:
    """Who writes a region's access logs: ``kind`` is the policy principal
    type ("AWS" for the ELB account, "Service" for the log delivery
    service) and ``value`` the principal itself."""

    kind: str
    value: str


def partition(region: str) -> str:
    """The ARN partition of a region this map knows."""
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def log_delivery_principal(region: str) -> LogDeliveryPrincipal:
    """The principal that delivers ``region``'s ALB access logs; raise
    :class:`UnknownRegion` (one line) for a region the map does not hold."""
    if region in ELB_LOG_DELIVERY_ACCOUNTS:
        return LogDeliveryPrincipal("AWS", f"arn:{partition(region)}:iam::{ELB_LOG_DELIVERY_ACCOUNTS[region]}:root")
    if region in ELB_LOG_DELIVERY_SERVICE_REGIONS:
        return LogDeliveryPrincipal("Service", ELB_LOG_DELIVERY_SERVICE)
    raise UnknownRegion(
        f"region {region} is not in the map of who delivers ALB access logs (the region's ELB account or the log "
        f"delivery service, {ELB_GUIDE}); add it to ELB_LOG_DELIVERY_* in wealist_cfn/core/regions.py "
        f"from that guide"
    )


def known_regions() -> tuple[str, ...]:
    return tuple(ELB_LOG_DELIVERY_ACCOUNTS) + ELB_LOG_DELIVERY_SERVICE_REGIONS


def log_delivery_mapping() -> dict[str, dict[str, str]]:
    """The template's mapping: region -> Kind ("AWS" or "Service") and Principal."""
    return {
        region: {"Kind": p.kind, "Principal": p.value}
        for region in sorted(known_regions())
        for p in (log_delivery_principal(region),)
    }
