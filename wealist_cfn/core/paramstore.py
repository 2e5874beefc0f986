"""The values bootstrap keeps in Parameter Store under ``/<project>/<env>/``:
their names, kinds and starting values, in one table (:data:`PARAMETERS`).

A leaf module (settings only): the templates name the secrets from it
(``stacks/github_oidc.py``'s key policy) without importing bootstrap, which
loads boto3. :mod:`wealist_cfn.ops.bootstrap` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from wealist_cfn.core.settings import DEFAULT_SETTINGS


class Config(Protocol):
    """What a starting value reads of a parameter file
    (:class:`wealist_cfn.config.Config`, which the leaf does not import)."""

    project: str
    values: dict[str, str]


# Written by the release workflow when an image is pushed; until then the
# startup script leaves that service out (see instance-files/config/render.py).
UNRELEASED = "unreleased"

SECRET, DEFAULT, SYNCED, RELEASE = "secret", "default", "synced", "release"


@dataclass(frozen=True)
class ParamDef:
    """One parameter under ``/<project>/<env>/``.

    ``kind``: SECRET (generated, SecureString, create-only, rotatable),
    DEFAULT (a starting value an operator may change before the first deploy;
    create-only), SYNCED (the project's own content; updated when it differs),
    RELEASE (owned by the release workflow after its first value; create-only).
    """

    name: str
    kind: str
    description: str
    value: Callable[[Config], str] | None = None
    length: int = 32
    after_rotate: str = ""


def _sql_name(cfg: Config) -> str:
    # RDS database and user names: letters, digits and underscores.
    return cfg.project.replace("-", "_")


def _service_params() -> list[ParamDef]:
    out = []
    for svc in DEFAULT_SETTINGS.services:
        k, var = svc.key.lower(), svc.name.replace("-", "_")
        out += [
            ParamDef(
                f"db/{k}_db_name", DEFAULT, f"Database of {svc.name}.", value=lambda c, k=k: f"{_sql_name(c)}_{k}_db"
            ),
            ParamDef(
                f"db/{k}_db_user",
                DEFAULT,
                f"Database user of {svc.name}.",
                value=lambda c, k=k: f"{_sql_name(c)}_{k}_service",
            ),
            ParamDef(
                f"db/{k}_db_password",
                SECRET,
                f"Database password of {svc.name}.",
                after_rotate=(
                    "Each new backend instance sets the role's password at boot: run `python build.py rollout "
                    "--params {params}`. Until the last old instance is replaced, old instances cannot open new "
                    f"connections to {svc.name}'s database."
                ),
            ),
            ParamDef(
                f"deploy/{var}_repository",
                SYNCED,
                f"ECR repository of {svc.name}.",
                value=lambda c, name=svc.name: f"{c.values['EcrRepositoryPrefix']}{name}",
            ),
            ParamDef(
                f"deploy/{var}_image_tag",
                RELEASE,
                f"Image tag of {svc.name} that new instances run; set by the release workflow.",
                value=lambda c: UNRELEASED,
            ),
        ]
    return out


PARAMETERS: tuple[ParamDef, ...] = (
    ParamDef("db/postgres_superuser", DEFAULT, "RDS master user name.", value=lambda c: f"{_sql_name(c)}_admin"),
    ParamDef(
        "db/postgres_superuser_password",
        SECRET,
        "RDS master password.",
        after_rotate=(
            "RDS keeps the old password until it is applied (CloudFormation reads the parameter only when the "
            "database resource itself changes): aws rds modify-db-instance --db-instance-identifier "
            '{prefix}-postgres --apply-immediately --master-user-password "$(aws ssm get-parameter --name '
            '{path} --with-decryption --query Parameter.Value --output text)"; instances booting in between '
            "fail their database init and are replaced."
        ),
    ),
    ParamDef("db/postgres_db", DEFAULT, "Initial database of the RDS instance.", value=_sql_name),
    *_service_params(),
    ParamDef(
        "redis/auth_token",
        SECRET,
        "ElastiCache Redis AUTH token.",
        length=64,
        after_rotate=(
            "ElastiCache keeps the old token until told: aws elasticache modify-replication-group "
            "--replication-group-id {prefix}-redis --apply-immediately --auth-token-update-strategy ROTATE "
            '--auth-token "$(aws ssm get-parameter --name {path} --with-decryption --query Parameter.Value '
            '--output text)" (old and new both valid), then `python build.py rollout --params {params}`, '
            "then the same modify call with --auth-token-update-strategy SET."
        ),
    ),
    ParamDef(
        "monitoring/grafana_admin_password",
        SECRET,
        "Grafana admin password.",
        after_rotate=(
            "Grafana sets its admin password only on a fresh data volume: replace the monitoring instance with "
            "`python build.py rollout --params {params} --group monitoring`, or change it in Grafana too."
        ),
    ),
)
PARAMS_BY_NAME = {p.name: p for p in PARAMETERS}
SECRET_NAMES = tuple(p.name for p in PARAMETERS if p.kind == SECRET)
