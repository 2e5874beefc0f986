"""Which account a proof run may use: only the one named with
``--account-id``, and never production.

The parameter files name no account (they are CloudFormation's parameter
list), so production is recognised by what it holds: an account in which
the production root stack (``<Project>-<Environment>`` of params/prod.json)
exists, in production's region or in the run's, is refused; so is one
holding production's roles (IAM is global: ``<prefix>-cfn-role``,
``<prefix>-github-deploy``, stacks/github_oidc.py's names), which an account
has as soon as templates/github-oidc.yaml is deployed for production, and
after its root stack was deleted; and one holding that trust stack
(``<root>-github``). A lookup that is denied cannot prove the account is not
production: refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import botocore.exceptions

from wealist_cfn.core.settings import PARAMS_DIR

from .. import config
from ..aws import Aws, error_code, error_message
from ..errors import EXIT_REFUSED, EXIT_USAGE, CommandError
from ..stacks import github_oidc

ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass
class Account:
    id: str
    arn: str  # the caller (GetCallerIdentity Arn)
    aliases: list[str]
    production_stack: str
    looked_in: list[str]  # regions where the production stack was looked for
    roles: list[str] = field(default_factory=list)  # production's role names looked for (absent)


def check_account_id(value: str) -> str:
    if not ACCOUNT_ID.fullmatch(value or ""):
        raise CommandError(f"--account-id {value!r}: an AWS account ID is 12 digits", EXIT_USAGE)
    return value


def production() -> config.Config:
    return config.load(PARAMS_DIR / "prod.json")


def _stack_exists(aws: Aws, region: str, name: str) -> bool:
    cfn = aws.session.client("cloudformation", region_name=region, endpoint_url=aws.endpoint_url)
    try:
        st = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in error_message(exc):
            return False
        raise CommandError(
            f"refused: cannot tell whether {name} exists in {region} ({error_code(exc)}: "
            f"{error_message(exc)}); an account that may hold production is not used",
            EXIT_REFUSED,
        ) from None
    return st.get("StackStatus") != "DELETE_COMPLETE"


def production_roles(prod: config.Config) -> list[str]:
    """The role names github-oidc.yaml gives production's roles."""
    names = []
    for pattern in (github_oidc.SERVICE_ROLE, github_oidc.DEPLOY_ROLE):
        names.append(pattern.replace("${Project}", prod.project).replace("${Environment}", prod.environment))
    return names


def trust_stack(prod: config.Config) -> str:
    """The stack of github-oidc.yaml, by the name docs/operations.md gives it."""
    return github_oidc.TRUST_STACK.replace("${StackName}", prod.name_prefix)


def _role_exists(aws: Aws, name: str) -> bool:
    try:
        aws.client("iam").get_role(RoleName=name)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise CommandError(
            f"refused: cannot tell whether the role {name} exists ({error_code(exc)}: "
            f"{error_message(exc)}); an account that may hold production is not used",
            EXIT_REFUSED,
        ) from None
    return True


def check(aws: Aws, named: str) -> Account:
    """The caller's account must be ``named`` and must not hold the
    production root stack. Read-only calls only."""
    ident = aws.client("sts").get_caller_identity()
    actual = ident["Account"]
    aws.account = actual
    if actual != named:
        raise CommandError(
            f"refused: these credentials are for account {actual}, not the --account-id {named}; nothing was done",
            EXIT_REFUSED,
        )
    prod = production()
    regions = sorted({prod.region, aws.region})
    for region in regions:
        if _stack_exists(aws, region, prod.name_prefix):
            raise CommandError(
                f"refused: account {actual} holds the production root stack {prod.name_prefix} "
                f"({region}; params/prod.json): proofs run in a sandbox account only",
                EXIT_REFUSED,
            )
    roles = production_roles(prod)
    for role in roles:
        if _role_exists(aws, role):
            raise CommandError(
                f"refused: account {actual} holds production's role {role} (templates/github-oidc."
                f"yaml for params/prod.json): proofs run in a sandbox account only",
                EXIT_REFUSED,
            )
    trust = trust_stack(prod)
    for region in regions:
        if _stack_exists(aws, region, trust):
            raise CommandError(
                f"refused: account {actual} holds production's trust stack {trust} ({region}; "
                f"templates/github-oidc.yaml): proofs run in a sandbox account only",
                EXIT_REFUSED,
            )
    try:
        aliases = aws.client("iam").list_account_aliases().get("AccountAliases", [])
    except botocore.exceptions.ClientError:
        aliases = []
    return Account(actual, ident.get("Arn", ""), aliases, prod.name_prefix, regions, roles)


def service_role(aws: Aws, env: config.Config | None) -> tuple[str | None, str]:
    """The environment's service role ``<prefix>-cfn-role`` and a line about
    it; (None, why) without --params or when the role does not exist."""
    if env is None:
        return None, "no --params: experiments that need the service role are not run"
    name = f"{env.name_prefix}-cfn-role"
    try:
        arn = aws.client("iam").get_role(RoleName=name)["Role"]["Arn"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None, (
                f"service role {name} does not exist in this account (deploy templates/github-oidc.yaml "
                f"for {env.path} first): experiments that need it are not run"
            )
        partition = aws.session.get_partition_for_region(aws.region)
        arn = f"arn:{partition}:iam::{aws.account}:role/{name}"
        return arn, f"service role {arn} (not readable here: {error_code(exc)}; CloudFormation will say)"
    scope = _trust_scope(aws, env)
    if scope is not None and scope != env.name_prefix:
        return None, (
            f"service role {arn} acts on stacks {scope}-* (StackName of {trust_stack(env)}), not "
            f"{env.name_prefix}-*: the proof stacks {env.name_prefix}-proof-... are outside it; "
            f"experiments that need it are not run"
        )
    return arn, f"service role {arn}" + (
        "" if scope else f" (its scope not checked: {trust_stack(env)} not readable in {aws.region})"
    )


def _trust_scope(aws: Aws, env: config.Config) -> str | None:
    """The StackName parameter of the environment's trust stack: the role
    may act on stack/${StackName}-*/* only (stacks/github_oidc.py
    _stack_arns), so the proof stacks, <prefix>-proof-<id>-<run>, are in
    its scope only when it is the --params prefix. None when unreadable."""
    try:
        st = aws.cfn.describe_stacks(StackName=trust_stack(env))["Stacks"][0]
    except (botocore.exceptions.ClientError, KeyError, IndexError):
        return None
    for p in st.get("Parameters", []) or []:
        if p.get("ParameterKey") == "StackName":
            return p.get("ParameterValue")
    return None


# Amazon VPC quotas: 5 VPCs per region by default (adjustable).
DEFAULT_VPC_QUOTA = 5


def vpc_line(aws: Aws, experiments) -> str | None:
    """How many VPCs the region holds, when an experiment makes one (each
    makes its own, one at a time): a leftover VPC at the default quota makes
    the next create fail. None when no experiment makes a VPC."""
    making = [e.id for e in experiments if any("AWS::EC2::VPC" in t or "ec2.VPC" in t for t in e.templates.values())]
    if not making:
        return None
    try:
        count = len(aws.client("ec2").describe_vpcs().get("Vpcs", []))
    except botocore.exceptions.ClientError as exc:
        return f"VPCs in {aws.region}: not readable ({error_code(exc)}); {len(making)} experiment(s) make one each"
    line = (
        f"{count} VPC(s) in {aws.region} (default quota {DEFAULT_VPC_QUOTA}); {len(making)} experiment(s) "
        f"make one each, one at a time"
    )
    if count >= DEFAULT_VPC_QUOTA:
        line += ": at the default quota, their creates fail unless the quota was raised"
    return line


# Credential providers botocore renews by itself before they expire (from
# source credentials, instance or container metadata, a web identity token
# file, a credential_process). Others (environment variables, SSO, whose
# sign-in has an end this check cannot read, static keys) end when they end.
RENEWING = frozenset({"assume-role", "iam-role", "container-role", "assume-role-with-web-identity", "custom-process"})


def _batches(rows, minutes: float, cleanup: float) -> list[list[str]]:
    """Experiments grouped, in order, so each group's estimate plus the
    longest clean-up fits ``minutes``; one that alone does not fit is a
    group of its own."""
    groups: list[list[str]] = []
    used = 0.0
    for r in rows:
        if groups and used + r.minutes + cleanup <= minutes:
            groups[-1].append(r.experiment)
            used += r.minutes
        else:
            groups.append([r.experiment])
            used = r.minutes
    return groups


def credential_time(aws: Aws, est, now: datetime | None = None) -> str:
    """A line about how long the credentials last; refused (exit 3) when
    they expire, without being renewed, before the estimated run plus its
    longest clean-up: a clean-up with expired credentials fails
    (ExpiredToken) and leaves paid resources behind. The expiry is
    botocore's (RefreshableCredentials, also for AWS_CREDENTIAL_EXPIRATION),
    read where the provider gives one."""
    creds = aws.session.get_credentials()
    method = getattr(creds, "method", None) or "unknown"
    expiry = getattr(creds, "_expiry_time", None)  # botocore has no public reader for it
    needed = est.minutes + est.cleanup_bound_minutes
    if expiry is None:
        return f"credentials ({method}) carry no expiry this tool can read; the run needs about {needed:.0f} minutes"
    left = (expiry - (now or datetime.now(timezone.utc))).total_seconds() / 60
    if method in RENEWING:
        return f"credentials ({method}) expire in {left:.0f} minutes and are renewed by botocore"
    if left < needed:
        batches = _batches(est.rows, left, est.cleanup_bound_minutes)
        runs = "; ".join("--only " + " ".join(b) for b in batches)
        raise CommandError(
            f"refused: these credentials ({method}) expire in {left:.0f} minutes, before the run's {needed:.0f} "
            f"(estimate {est.minutes:.0f} plus the longest clean-up {est.cleanup_bound_minutes:.0f}); a clean-up "
            f"with expired credentials fails and leaves what it made. Run fewer at a time, each with fresh "
            f"credentials: {runs}",
            EXIT_REFUSED,
        )
    return f"credentials ({method}) expire in {left:.0f} minutes; the run needs about {needed:.0f}"
