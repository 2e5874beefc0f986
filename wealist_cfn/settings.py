"""Build-time settings: the plain Python values that shape the templates.

The split, said once for the whole project:

* A **build-time setting** lives here. Changing it changes the *shape* of a
  template (how many subnets exist, which engine family runs the database,
  which files form the nested set) and therefore shows up as a diff in
  ``templates/`` that a reviewer sees in the pull request.
* A **deploy-time value** is a CloudFormation Parameter of the root template
  (see :mod:`wealist_cfn.parameters`). It may differ per environment and per
  deploy (CIDR, instance sizes, the multi-AZ switch) and is set in
  ``params/<env>.json``; the templates stay byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT_DIR / "templates"
PARAMS_DIR = ROOT_DIR / "params"


@dataclass(frozen=True)
class Service:
    """An HTTP service that sits behind the load balancer."""

    key: str  # used in logical IDs and parameter names, PascalCase
    name: str  # ECR repository / compose service name


@dataclass(frozen=True)
class BuildSettings:
    """Everything that shapes the templates, with production's values."""

    # Three AZs, as the original's a/c/d layout: one public and one private
    # subnet in each.
    az_count: int = 3
    # PostgreSQL version: cfn-lint 1.58 rejects 16.4 for db.t3.micro (E3062)
    # and calls 16.1-16.8 and 17.1-17.4 deprecated for new instances (W3691).
    postgres_engine_version: str = "17.6"
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


DEFAULT_SETTINGS = BuildSettings()
