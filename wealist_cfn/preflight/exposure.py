"""Safe production defaults: what a prod parameter file must settle before
``plan`` or ``deploy`` reach AWS.

Two values leave a production stack open: ``MonitoringAccessCidr``
``0.0.0.0/0`` puts Prometheus (no authentication: its targets, the private
addresses, the query API) and Grafana's login on the internet, and an empty
``CertificateArn`` serves the site and that login over plain HTTP. For
``Environment=prod`` each must be fixed, or accepted on purpose in the same
file through the ``AcceptedRisks`` parameter: a real template parameter, so
the file stays CloudFormation's own parameter list (``create-change-set
--parameters file://``, AWS CLI v2 ``deploy --parameter-overrides
file://``), the acceptance is reviewed with the file and recorded on the
stack, and the root template's Rules hold the same line for any other way of
deploying it. Nothing here calls AWS or prints.
"""

from __future__ import annotations

from ..config import Config
from ..errors import EXIT_USAGE, CommandError
from ..parameters import PLAIN_HTTP, PUBLIC_MONITORING

PUBLIC = "0.0.0.0/0"


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
    if cfg.values["MonitoringAccessCidr"] == PUBLIC and PUBLIC_MONITORING not in ok:
        default = "" if "MonitoringAccessCidr" in cfg.given else " (the default when the file leaves it out)"
        lines.append(f"{cfg.path}: MonitoringAccessCidr is {PUBLIC}{default}: "
                     f"Prometheus and Grafana's login are open to the internet; set it to your office or VPN "
                     f"range (e.g. 203.0.113.0/24), or accept it with AcceptedRisks \"{PUBLIC_MONITORING}\"")
    if not cfg.values["CertificateArn"] and PLAIN_HTTP not in ok:
        lines.append(f"{cfg.path}: CertificateArn is empty: the site and Grafana's login are served over plain "
                     f"HTTP; set it to an ACM certificate ARN in {cfg.region}, or accept it with AcceptedRisks "
                     f"\"{PLAIN_HTTP}\"")
    return lines


def refuse_unaccepted(cfg: Config) -> None:
    """:class:`CommandError` (exit 2, bad input) with the first line as its
    message and any further one as a detail; nothing when all is settled."""
    lines = unaccepted(cfg)
    if lines:
        raise CommandError(lines[0], EXIT_USAGE, details=tuple(lines[1:]))
