"""Build-time settings: the plain Python values that shape the templates.

The split, said once for the whole project:

* A **build-time setting** lives here. Changing it changes the *shape* of a
  template (how many subnets exist, which engine family runs the database,
  which files form the nested set) and therefore shows up as a diff in
  ``templates/`` that a reviewer sees in the pull request.
* A **deploy-time value** is a CloudFormation Parameter of the root template
  (see :mod:`wealist_cfn.core.parameters`). It may differ per environment and per
  deploy (CIDR, instance sizes, the multi-AZ switch) and is set in
  ``params/<env>.json``; the templates stay byte-identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# The package itself: the boot scripts, the price tables and the IAM data
# travel with it, wherever it is installed.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Set by `--project-dir` (wealist_cfn/__main__.py) before anything else is imported.
PROJECT_DIR_ENV = "WEALIST_CFN_PROJECT_DIR"


def _is_project(directory: Path) -> bool:
    return (directory / "params").is_dir() and (directory / "templates").is_dir()


def find_project_dir(cwd: Path | None = None, environ: dict | None = None) -> Path:
    """The project the commands work on: its params/, templates/,
    instance-files/, the lint cache and the local endpoint's state.

    ``WEALIST_CFN_PROJECT_DIR`` (``--project-dir``) first; then the working
    directory or the nearest parent holding params/ and templates/ (as git
    finds its repository), so an installed ``wealist-cfn`` works in any
    checkout; last, the checkout this package was run from (``build.py``
    from another folder)."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(PROJECT_DIR_ENV)
    if explicit:
        return Path(explicit).resolve()
    here = (cwd or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if _is_project(directory):
            return directory
    return PACKAGE_DIR.parent


ROOT_DIR = find_project_dir()
TEMPLATES_DIR = ROOT_DIR / "templates"
PARAMS_DIR = ROOT_DIR / "params"


@dataclass(frozen=True)
class Service:
    """An HTTP service that sits behind the load balancer."""

    key: str  # used in logical IDs and parameter names, PascalCase
    name: str  # ECR repository / compose service name

    @property
    def tag_path(self) -> str:
        """Its released image tag's Parameter Store name below
        ``/<project>/<environment>/`` (bootstrap writes ``unreleased``)."""
        return f"deploy/{self.name.replace('-', '_')}_image_tag"


@dataclass(frozen=True)
class AlarmRule:
    """When one CloudWatch alarm fires: the metric (or expression) crosses
    ``threshold`` in ``periods`` consecutive periods of ``period`` seconds."""

    threshold: float
    periods: int
    period: int = 60


@dataclass(frozen=True)
class AlarmSettings:
    """Thresholds of the alarms in alarms.py. Changing one changes the
    template, so the new value is reviewed like any other change."""

    # Load balancer, per minute: five bad minutes in a row page, one bad
    # minute (a deploy's rollover) does not.
    alb_5xx_percent: AlarmRule = AlarmRule(5.0, 5)  # % of requests the ALB itself answered 5xx
    target_5xx_percent: AlarmRule = AlarmRule(5.0, 5)  # % of requests the services answered 5xx
    unhealthy_hosts: AlarmRule = AlarmRule(0.0, 3)  # any unhealthy target for 3 minutes
    target_p99_seconds: AlarmRule = AlarmRule(2.0, 5)
    # Database, per 5 minutes (RDS basic monitoring).
    rds_cpu_percent: AlarmRule = AlarmRule(80.0, 3, 300)
    rds_free_storage_percent: AlarmRule = AlarmRule(20.0, 1, 300)  # below 20 % of DbAllocatedStorage
    rds_freeable_memory_bytes: AlarmRule = AlarmRule(64 * 1024 * 1024, 3, 300)
    # PostgreSQL's max_connections on RDS defaults to
    # LEAST({DBInstanceClassMemory/9531392}, 5000): about a hundred on the
    # 1 GiB db.t3.micro, less what RDS reserves.
    rds_connections: AlarmRule = AlarmRule(60.0, 3, 300)
    # Cache, per 5 minutes, on every node.
    redis_engine_cpu_percent: AlarmRule = AlarmRule(80.0, 3, 300)
    redis_memory_percent: AlarmRule = AlarmRule(80.0, 3, 300)
    redis_evictions: AlarmRule = AlarmRule(0.0, 1, 300)  # any eviction: keys are being lost
    # NAT gateways, per 5 minutes.
    nat_port_allocation_errors: AlarmRule = AlarmRule(0.0, 1, 300)
    nat_packets_dropped: AlarmRule = AlarmRule(100.0, 3, 300)
    # Instances, per minute. The in-service threshold is BackendMinSize.
    backend_in_service_periods: int = 5
    monitoring_in_service: AlarmRule = AlarmRule(1.0, 5)  # no monitoring instance in service for 5 minutes


@dataclass(frozen=True)
class BuildSettings:
    """Everything that shapes the templates, with production's values."""

    # Three AZs, as the original's a/c/d layout: one public and one private
    # subnet in each.
    az_count: int = 3
    # PostgreSQL major version only: "If a major version is specified but a
    # minor version is not, Amazon RDS defaults to a recent release of the
    # major version you have specified" (RDS user guide, PostgreSQL.Concepts.
    # General.DBVersions; cfn-lint issue #3849 quotes it), and
    # AutoMinorVersionUpgrade moves it on in the maintenance window ("Upgrading
    # a DB instance engine version", RDS user guide). A pinned minor such as
    # 17.6 differs from the instance after the first automatic upgrade (the
    # next template change to it would ask RDS for a downgrade, which it
    # refuses; the same drift is reported for Terraform in
    # briancaffey/terraform-aws-django#59), and a re-create fails once that
    # minor is deprecated. cfn-lint's E3062 accepts "17" for db.t3.micro; its
    # W3691 is ignored on the instance, with the reason (database.py).
    postgres_engine_version: str = "17"
    redis_engine_version: str = "7.1"
    # Amazon Linux 2023, resolved at deploy time from AWS's public parameter.
    ami_parameter: str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    services: tuple[Service, ...] = field(
        default_factory=lambda: (
            Service(key="User", name="user-service"),
            Service(key="Board", name="board-service"),
        )
    )
    # Ports the monitoring instance serves; fixed by the images they run.
    grafana_port: int = 3000
    prometheus_port: int = 9090
    node_exporter_port: int = 9100
    postgres_port: int = 5432
    redis_port: int = 6379
    alarms: AlarmSettings = field(default_factory=AlarmSettings)


DEFAULT_SETTINGS = BuildSettings()
