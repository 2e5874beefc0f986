"""The deploy-time parameters of the root template, declared once.

Each :class:`ParamSpec` becomes a ``Parameter`` of ``root.yaml`` (with its
``AllowedValues`` / ``AllowedPattern``), and the same declaration drives the
validation of ``params/<env>.json`` in :mod:`wealist_cfn.config`, so the file
check and the template can never disagree. Children declare the subset they
need through :func:`add_parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Parameter, Template

# Lower-case words joined by single hyphens: valid in every name we derive
# (IAM role, ASG, RDS identifier, ElastiCache replication group, S3 keys).
NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
# Canonical dotted quads only (0-255, no leading zero) and a prefix 0-32: a
# looser pattern let 0.0.0.0/00 or 000.0.0.0/0 through as other strings than
# the 0.0.0.0/0 the root template's Rule compares against.
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
CIDR_PATTERN = rf"^({_OCTET}\.){{3}}{_OCTET}/(3[0-2]|[12]?\d)$"
CIDR_FORM = "(four numbers 0-255 without leading zeros, a prefix 0-32)"
ACM_ARN_PATTERN = r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# The deploy bucket's name when DeployBucketName is empty. S3 bucket names
# are global across every AWS account ("Bucket naming rules", S3 User
# Guide), so a fixed name such as the original's wealist-deploy-scripts is
# almost surely somebody else's; the account ID and the region make it this
# account's own, as the artifact bucket's name does (ops/artifacts.py).
DEPLOY_BUCKET_FORM = "{project}-{environment}-deploy-{account}-{region}"
AZ_LIST_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d[a-z](,[a-z]{2}(-[a-z]+)+-\d[a-z])*$"
PATH_PATTERN_PATTERN = r"^/[A-Za-z0-9_\-.$/~\"'@:+*?&]*$"
HEALTH_PATH_PATTERN = r"^/[A-Za-z0-9_\-./]*$"
PORT_PATTERN = r"^\d{1,5}$"
EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"
# What a production parameter file may accept on purpose instead of fixing
# (wealist_cfn/preflight/exposure.py, and the root template's Rules).
PUBLIC_MONITORING, PLAIN_HTTP = "public-monitoring", "plain-http"
ACCEPTED_RISKS = ("", PUBLIC_MONITORING, PLAIN_HTTP, f"{PUBLIC_MONITORING},{PLAIN_HTTP}")
RETENTION_DAYS = (
    "1",
    "3",
    "5",
    "7",
    "14",
    "30",
    "60",
    "90",
    "120",
    "150",
    "180",
    "365",
    "400",
    "545",
    "731",
    "1096",
    "1827",
    "2192",
    "2557",
    "2922",
    "3288",
    "3653",
)  # CloudWatch Logs' allowed values


@dataclass(frozen=True)
class ParamSpec:
    name: str
    description: str
    type: str = "String"
    default: str | None = None  # None: the params file must set it
    allowed_values: tuple[str, ...] | None = None
    allowed_pattern: str | None = None
    constraint: str | None = None  # what the pattern means, in words
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    no_echo: bool = False
    derived: bool = False  # True: the tool computes it; a params file that sets it is refused


def _p(name, description, **kw) -> ParamSpec:
    return ParamSpec(name=name, description=description, **kw)


def _port(name, description, default) -> ParamSpec:
    return _p(name, description, type="Number", default=str(default), min_value=1, max_value=65535)


ROOT_PARAMETERS: tuple[ParamSpec, ...] = (
    _p(
        "Project",
        "Project name; prefixes every resource name.",
        default="wealist",
        allowed_pattern=NAME_PATTERN,
        max_length=16,
        constraint="lower-case letters, digits and single hyphens, starting with a letter, at most 16 characters",
    ),
    _p(
        "Environment",
        "Environment name (prod, dev, ...); part of every resource name.",
        allowed_pattern=NAME_PATTERN,
        max_length=10,
        constraint="lower-case letters, digits and single hyphens, starting with a letter, at most 10 characters",
    ),
    _p(
        "EnableMultiAZ",
        "true: RDS standby, a second Redis node with failover and a NAT gateway per AZ. "
        "false: one of each (cost mode).",
        default="false",
        allowed_values=("true", "false"),
    ),
    _p(
        "CacheFailover",
        "auto: Redis failover and Multi-AZ follow EnableMultiAZ. off: the replica is kept (or "
        "added) without them, the intermediate step of a mode switch, since ElastiCache refuses a replica and "
        "failover in one update (docs/operations.md, 'Switching modes').",
        default="auto",
        allowed_values=("auto", "off"),
    ),
    _p(
        "BackendHealthCheckType",
        "EC2 until every service is released, then ELB. Derived by deploy and plan "
        "from the release tags in Parameter Store and from target health (wealist_cfn/ops/releasestate.py); not "
        "set in the params file. With the plain AWS CLI, pass ELB once every service is released and healthy.",
        default="EC2",
        allowed_values=("EC2", "ELB"),
        derived=True,
    ),
    _p(
        "VpcCidr",
        "CIDR block of the VPC; the six subnets are carved from it.",
        allowed_pattern=CIDR_PATTERN,
        constraint=f"an IPv4 CIDR block such as 10.1.0.0/16 {CIDR_FORM}",
    ),
    _p(
        "SubnetBits",
        "Host bits of each subnet carved from VpcCidr (8 makes /24 subnets in a /16).",
        type="Number",
        default="8",
        min_value=4,
        max_value=16,
    ),
    _p(
        "AvailabilityZones",
        "Exactly three availability zones of the deploy region, comma-separated.",
        type="List<AWS::EC2::AvailabilityZone::Name>",
    ),
    _p(
        "CertificateArn",
        "ACM certificate for the HTTPS listener; empty: HTTP only.",
        default="",
        allowed_pattern=ACM_ARN_PATTERN,
        constraint="empty or an ACM certificate ARN",
    ),
    # Required, though it may be empty: each params file says which bucket
    # its environment uses, the account-unique one ("") or a name of its own.
    _p(
        "DeployBucketName",
        "S3 bucket holding the files instances fetch at boot; empty: "
        "<Project>-<Environment>-deploy-<account ID>-<region>, unique to the account.",
        allowed_pattern=f"^$|{BUCKET_PATTERN}",
        constraint="empty or a valid S3 bucket name",
    ),
    _p(
        "EcrRepositoryPrefix",
        "Prefix of the ECR repository names ('' gives user-service, board-service; 'dev/' gives dev/user-service).",
        default="",
        allowed_pattern=r"^$|^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*/$",
        constraint="empty, or lower-case path segments ending in '/'",
    ),
    _p(
        "BackendInstanceType",
        "EC2 instance type of the backend ASG.",
        default="t3.medium",
        allowed_pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
        constraint="an EC2 instance type such as t3.medium",
    ),
    _p("BackendMinSize", "Fewest backend instances.", type="Number", default="2", min_value=1, max_value=100),
    _p("BackendMaxSize", "Most backend instances.", type="Number", default="6", min_value=1, max_value=100),
    _p(
        "BackendTargetCpu",
        "Average CPU percent the backend ASG scales to keep.",
        type="Number",
        default="60",
        min_value=10,
        max_value=90,
    ),
    _p(
        "MonitoringInstanceType",
        "EC2 instance type of the monitoring instance.",
        default="t3.small",
        allowed_pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
        constraint="an EC2 instance type such as t3.small",
    ),
    _p(
        "DbInstanceClass",
        "RDS instance class.",
        default="db.t3.micro",
        allowed_pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
        constraint="an RDS class such as db.t3.micro",
    ),
    _p("DbAllocatedStorage", "RDS storage in GiB.", type="Number", default="20", min_value=20, max_value=16384),
    _p(
        "DbBackupRetentionDays", "Days of automated RDS backups.", type="Number", default="7", min_value=1, max_value=35
    ),
    _p(
        "DeletionProtection",
        "Refuse to delete the database and the load balancer.",
        default="true",
        allowed_values=("true", "false"),
    ),
    _p(
        "CacheNodeType",
        "ElastiCache node type.",
        default="cache.t3.micro",
        allowed_pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$",
        constraint="a node type such as cache.t3.micro",
    ),
    _p(
        "CacheSnapshotRetentionDays",
        "Days of automatic Redis snapshots.",
        type="Number",
        default="7",
        min_value=1,
        max_value=35,
    ),
    _port("UserServicePort", "Port user-service listens on, on the backend instances.", 8081),
    _port("BoardServicePort", "Port board-service listens on, on the backend instances.", 8000),
    _p(
        "UserServicePathPattern",
        "ALB path pattern routed to user-service.",
        default="/api/users*",
        allowed_pattern=PATH_PATTERN_PATTERN,
        constraint="a path pattern starting with /",
    ),
    _p(
        "BoardServicePathPattern",
        "ALB path pattern routed to board-service.",
        default="/api/boards*",
        allowed_pattern=PATH_PATTERN_PATTERN,
        constraint="a path pattern starting with /",
    ),
    _p(
        "UserServiceHealthCheckPath",
        "Health check path of user-service.",
        default="/health",
        allowed_pattern=HEALTH_PATH_PATTERN,
        constraint="a path starting with /",
    ),
    _p(
        "BoardServiceHealthCheckPath",
        "Health check path of board-service.",
        default="/health",
        allowed_pattern=HEALTH_PATH_PATTERN,
        constraint="a path starting with /",
    ),
    _p(
        "MonitoringAccessCidr",
        "Source addresses allowed to reach Grafana and Prometheus through the ALB.",
        default="0.0.0.0/0",
        allowed_pattern=CIDR_PATTERN,
        constraint=f"an IPv4 CIDR block {CIDR_FORM}",
    ),
    _p(
        "AcceptedRisks",
        "Production exposure accepted on purpose, in writing: public-monitoring "
        "(MonitoringAccessCidr 0.0.0.0/0 or another public range wider than a /16), plain-http (no "
        "CertificateArn), or both. Empty: neither; a prod "
        "stack refuses both.",
        default="",
        allowed_values=ACCEPTED_RISKS,
    ),
    _p(
        "AlarmEmail",
        "Address the alarm topic mails (confirm the subscription mail once); empty: no "
        "subscription, subscribe to the topic another way.",
        default="",
        allowed_pattern=EMAIL_PATTERN,
        constraint="empty or an e-mail address",
    ),
    _p(
        "LogRetentionDays",
        "Days CloudWatch Logs keeps the instances', containers' and database's logs.",
        type="Number",
        default="90",
        allowed_values=RETENTION_DAYS,
    ),
    _p(
        "FlowLogRetentionDays",
        "Days CloudWatch Logs keeps the VPC flow logs.",
        type="Number",
        default="365",
        allowed_values=RETENTION_DAYS,
    ),
    _p(
        "AccessLogExpirationDays",
        "Days the load balancer's access logs stay in their S3 bucket.",
        type="Number",
        default="365",
        min_value=1,
        max_value=3650,
    ),
)

PARAMS_BY_NAME: dict[str, ParamSpec] = {p.name: p for p in ROOT_PARAMETERS}


def deploy_bucket_name(project: str, environment: str, account: str, region: str) -> str:
    """The account-unique deploy bucket name. The one place it is computed:
    :meth:`wealist_cfn.config.Config.deploy_bucket_name` calls it with the
    caller's account, and the templates' ``Fn::Sub`` is
    :func:`deploy_bucket_sub`, this function given the pseudo parameters."""
    return DEPLOY_BUCKET_FORM.format(project=project, environment=environment, account=account, region=region)


def deploy_bucket_sub() -> str:
    """The ``Fn::Sub`` string CloudFormation expands to the same name."""
    return deploy_bucket_name("${Project}", "${Environment}", "${AWS::AccountId}", "${AWS::Region}")


def to_parameter(spec: ParamSpec) -> Parameter:
    kw: dict = {"Type": spec.type, "Description": spec.description}
    if spec.default is not None:
        kw["Default"] = spec.default
    if spec.allowed_values:
        kw["AllowedValues"] = list(spec.allowed_values)
    if spec.allowed_pattern:
        kw["AllowedPattern"] = spec.allowed_pattern
    if spec.constraint:
        kw["ConstraintDescription"] = f"must be {spec.constraint}"
    if spec.max_length:
        kw["MaxLength"] = spec.max_length
    if spec.min_value is not None:
        kw["MinValue"] = spec.min_value
    if spec.max_value is not None:
        kw["MaxValue"] = spec.max_value
    if spec.no_echo:
        kw["NoEcho"] = True
    return Parameter(spec.name, **kw)


def add_parameters(template: Template, *names: str) -> dict[str, Parameter]:
    """Declare the named root parameters on ``template``; return them by name.

    A child receives every value from the root, so its copy carries the type
    and description but no default: a missing wire fails cfn-lint (E3043)
    instead of silently taking a default.
    """
    out = {}
    for name in names:
        root = PARAMS_BY_NAME[name]
        spec = ParamSpec(name=name, description=root.description, type=root.type, allowed_values=root.allowed_values)
        out[name] = template.add_parameter(to_parameter(spec))
    return out
