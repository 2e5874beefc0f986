"""Safe production defaults: what a prod parameter file must settle before
``plan`` or ``deploy`` reach AWS.

Two values leave a production stack open: ``MonitoringAccessCidr``
``0.0.0.0/0`` (or another wide public range, see :func:`too_wide`) puts
Prometheus (no authentication: its targets, the private
addresses, the query API) and Grafana's login on the internet, and an empty
``CertificateArn`` serves the site and that login over plain HTTP. For
``Environment=prod`` each must be fixed, or accepted on purpose in the same
file through the ``AcceptedRisks`` parameter: a real template parameter, so
the file stays CloudFormation's own parameter list (``create-change-set
--parameters file://``, AWS CLI v2 ``deploy --parameter-overrides
file://``), the acceptance is reviewed with the file and recorded on the
stack, and the root template's Rules hold the same line for any other way of
deploying it (for the literal ``0.0.0.0/0`` only: a Rule can compare strings,
not ranges). Nothing here calls AWS or prints.
"""

from __future__ import annotations

import ipaddress

from wealist_cfn.core.parameters import PLAIN_HTTP, PUBLIC_MONITORING

from ..config import Config
from ..errors import EXIT_USAGE, CommandError

PUBLIC = "0.0.0.0/0"

# Wider than this, a public range is no office's or VPN's egress: it is a
# provider's or a registry's allocation, shared with strangers (0.0.0.0/1 is
# half the internet). A /16 (65,536 addresses) or narrower passes; wider
# passes only inside the ranges the internet does not route, from which no
# stranger's request reaches the load balancer: RFC 1918's private blocks
# and RFC 6598's shared address space (carrier-grade NAT, often a VPN's).
WIDEST_PUBLIC_PREFIX = 16
UNROUTED = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))


def too_wide(cidr: str) -> bool:
    """True for a range wider than a /16 that is not wholly inside the
    unrouted blocks. ``cidr`` has passed :mod:`wealist_cfn.config`'s checks
    (the parameter's AllowedPattern, no host bits set)."""
    net = ipaddress.IPv4Network(cidr)
    return net.prefixlen < WIDEST_PUBLIC_PREFIX and not any(net.subnet_of(block) for block in UNROUTED)


def accepted(cfg: Config) -> set[str]:
    """The risks the file accepts in AcceptedRisks."""
    return {r for r in cfg.values["AcceptedRisks"].split(",") if r}


def unaccepted(cfg: Config) -> list[str]:
    """One line per exposure a prod file neither fixes nor accepts, each
    naming the file, the parameter and the ways out; empty when none (and
    for any other environment)."""
    if cfg.environment != "prod":
        return []
    ok = accepted(cfg)
    lines = []
    cidr = cfg.values["MonitoringAccessCidr"]
    if cidr == PUBLIC and PUBLIC_MONITORING not in ok:
        default = "" if "MonitoringAccessCidr" in cfg.given else " (the default when the file leaves it out)"
        lines.append(
            f"{cfg.path}: MonitoringAccessCidr is {PUBLIC}{default}: "
            f"Prometheus and Grafana's login are open to the internet; set it to your office or VPN "
            f'range (e.g. 203.0.113.0/24), or accept it with AcceptedRisks "{PUBLIC_MONITORING}"'
        )
    elif cidr != PUBLIC and too_wide(cidr) and PUBLIC_MONITORING not in ok:
        size = ipaddress.IPv4Network(cidr).num_addresses
        lines.append(
            f"{cfg.path}: MonitoringAccessCidr is {cidr}, a public range of {size} addresses (wider "
            f"than a /{WIDEST_PUBLIC_PREFIX}): Prometheus and Grafana's login are open to that much of "
            f"the internet; set it to your office or VPN range (e.g. 203.0.113.0/24), or accept it "
            f'with AcceptedRisks "{PUBLIC_MONITORING}"'
        )
    if not cfg.values["CertificateArn"] and PLAIN_HTTP not in ok:
        lines.append(
            f"{cfg.path}: CertificateArn is empty: the site and Grafana's login are served over plain "
            f"HTTP; set it to an ACM certificate ARN in {cfg.region}, or accept it with AcceptedRisks "
            f'"{PLAIN_HTTP}"'
        )
    return lines


def refuse_unaccepted(cfg: Config) -> None:
    """:class:`CommandError` (exit 2, bad input) with the first line as its
    message and any further one as a detail; nothing when all is settled."""
    lines = unaccepted(cfg)
    if lines:
        raise CommandError(lines[0], EXIT_USAGE, details=tuple(lines[1:]))
