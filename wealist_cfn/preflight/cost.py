"""The monthly on-demand cost of the stack, by resource, for a parameter
file, in one or both modes.

What costs money is read from the committed templates resolved for the
parameters (:mod:`wealist_cfn.cfn.model`): every resource type there is
either priced by a rule in :data:`RULES` or named free in
:data:`FREE_TYPES`; a type in neither is an error, never a silent zero.
Prices come from ``prices/<region>.json`` (see :func:`load_prices`); each
carries its unit, the date it was read and where. A price the table lacks,
or holds without a sourced figure, is an error naming the key.

Usage-dependent items (NAT data, LCUs, log GB, storage that fills over
time) come from a usage file with :data:`USAGE_DEFAULTS` for what it does
not say, and are kept apart from fixed costs. Stored volumes follow from
what the templates keep: a log group holds its monthly ingest for its
``RetentionInDays``, the access-log bucket its monthly logs until its
lifecycle rule expires them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.core.settings import TEMPLATES_DIR

from ..config import Config
from ..errors import EXIT_FAILED, EXIT_USAGE, CommandError
from . import checks

PRICES_DIR = Path(__file__).resolve().parent / "prices"

# Usage the templates cannot know, per month. Each default is a small
# production month of this stack, documented in docs/deploy.md; override
# them in params/usage/<env>.json or with --usage FILE.
USAGE_DEFAULTS: dict[str, tuple[float, str]] = {
    "nat_data_gb": (50.0, "GB processed by the NAT gateways (image pulls, package updates, outbound API calls)"),
    "alb_lcu": (1.0, "average load balancer capacity units per hour"),
    "log_ingest_gb": (
        5.0,
        "GB of CloudWatch Logs ingested from the instances, containers and database, all their log groups together",
    ),
    "flow_log_ingest_gb": (5.0, "GB of VPC flow logs delivered to CloudWatch Logs (vended logs)"),
    "access_log_gb": (1.0, "GB of load balancer access logs written to their S3 bucket"),
    "ecr_storage_gb": (2.0, "GB of images kept in ECR, all repositories together"),
    "s3_storage_gb": (1.0, "GB in the deploy bucket and the template artifacts bucket"),
    "rds_backup_gb": (0.0, "GB of RDS backup storage beyond the free amount (equal to the allocated storage)"),
}

# Resource types that cost nothing by themselves (their traffic or what
# they attach to is priced elsewhere). A type found in the templates that is
# neither here nor in RULES stops the estimate.
FREE_TYPES = frozenset(
    {
        cfnmodel.NESTED,
        "AWS::AutoScaling::ScalingPolicy",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::RouteTable",
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::LaunchTemplate",  # priced through the Auto Scaling group that launches it
        "AWS::ElastiCache::SubnetGroup",
        "AWS::RDS::DBSubnetGroup",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::IAM::Role",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::OIDCProvider",
        "AWS::IAM::ManagedPolicy",
        "AWS::SSM::Parameter",  # standard tier: no charge (another tier stops the estimate)
        # A topic costs nothing; its deliveries (a few alarm mails) are within
        # SNS's free e-mail notifications in any ordinary month.
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        # A bucket policy costs nothing; a flow log is charged as the vended
        # logs its log group ingests (priced with that group).
        "AWS::S3::BucketPolicy",
        "AWS::EC2::FlowLog",
    }
)

# Average days in a month, to turn a retention in days into months held.
DAYS_PER_MONTH = 365 / 12
# ELB publishes an access-log file for each load balancer node every 5
# minutes (Elastic Load Balancing, "Access logs for your Application Load
# Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html):
# one S3 PUT each, and at least one node per zone.
ACCESS_LOG_FILES_PER_NODE_HOUR = 12
# CloudWatch prices a dashboard by the metrics it shows: up to 50 is the
# "DashboardsUsageHour-Basic" usage type, more is "DashboardsUsageHour"
# (CloudWatch user guide, "Analyzing, optimizing, and reducing CloudWatch
# costs", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_billing.html).
DASHBOARD_BASIC_METRICS = 50


class PriceError(CommandError):
    """A price or a pricing rule is missing: the estimate would be wrong."""

    def __init__(self, message: str, *, key: str = "", table: str = ""):
        super().__init__(message, EXIT_FAILED)
        self.key = key  # the price key the table lacks, when that is what is missing
        self.table = table  # the price table's file name


@dataclass(frozen=True)
class Price:
    key: str
    usd: float | None  # None: the table knows the item but holds no sourced figure
    unit: str
    read: str
    source: str


@dataclass
class PriceTable:
    region: str
    path: Path
    hours_per_month: float
    entries: dict[str, dict]

    def get(self, key: str) -> Price:
        e = self.entries.get(key)
        if e is None:
            raise PriceError(
                f"{self.path.name}: no price for {key}; add it (with unit, date and source) or run "
                f"`python build.py cost --refresh --region {self.region}`",
                key=key,
                table=self.path.name,
            )
        if e.get("usd") is None:
            # Known to cost money, but no figure could be sourced: carried as
            # "unsourced" and left out of the totals, which say so.
            return Price(key, None, e["unit"], "", e.get("note", "unsourced"))
        return Price(key, float(e["usd"]), e["unit"], e["read"], e["source"])

    @property
    def dates(self) -> list[str]:
        return sorted({e["read"] for e in self.entries.values() if e.get("usd") is not None})


def price_path(region: str, directory: Path = PRICES_DIR) -> Path:
    return directory / f"{region}.json"


def load_prices(region: str, directory: Path = PRICES_DIR) -> PriceTable:
    path = price_path(region, directory)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        have = ", ".join(sorted(p.stem for p in directory.glob("*.json"))) or "none"
        raise CommandError(
            f"{path}: no price table for {region} (have: {have}); build one with "
            f"`python build.py cost --refresh --region {region}`",
            EXIT_USAGE,
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}: not a readable price table: {exc}", EXIT_USAGE) from None
    entries = data.get("prices")
    if not isinstance(entries, dict):
        raise CommandError(f"{path}: prices: must be an object of price entries", EXIT_USAGE)
    for key, e in entries.items():
        need = ("unit", "read", "source") if e.get("usd") is not None else ("unit",)
        for f in need:
            if not e.get(f):
                raise CommandError(
                    f"{path}: prices.{key}: {f} is missing (every price names its unit, the date "
                    f"it was read and its source)",
                    EXIT_USAGE,
                )
    return PriceTable(region, path, float(data.get("hoursPerMonth", 730)), entries)


# -- usage --------------------------------------------------------------------------------------


def usage_path_for(params: Path) -> Path:
    """``params/prod.json`` -> ``params/usage/prod.json``: the parameter file
    itself stays CloudFormation's native list, so the AWS CLI keeps reading
    it, and ``params/*.json`` stays a list of parameter files only."""
    return params.parent / "usage" / params.name


def load_usage(path: Path | None) -> tuple[dict[str, float], set[str]]:
    """Usage figures and the keys the file set (the rest are defaults)."""
    values = {k: v for k, (v, _) in USAGE_DEFAULTS.items()}
    if path is None:
        return values, set()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path}: no such usage file", EXIT_USAGE) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}: not valid JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(data, dict):
        raise CommandError(f"{path}: must be a JSON object of usage figures", EXIT_USAGE)
    for k, v in data.items():
        if k not in USAGE_DEFAULTS:
            raise CommandError(f"{path}: {k}: unknown usage figure; known: {', '.join(USAGE_DEFAULTS)}", EXIT_USAGE)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise CommandError(f"{path}: {k}: must be a number of at least 0, found {json.dumps(v)}", EXIT_USAGE)
        values[k] = float(v)
    return values, set(data)


# -- estimate -----------------------------------------------------------------------------------


@dataclass
class Item:
    resource: str  # "NetworkStack/NatGateway1", or "(usage)"
    what: str  # human words: "NAT gateway", "2 x t3.medium"
    price_key: str
    quantity: float  # in the price's unit per month (hours, GB-months, GB)
    unit_usd: float | None  # None: unsourced, left out of every total
    usage: bool = False  # depends on a usage figure, not on the templates alone
    # How many of what, to describe a difference with quantities on both
    # sides: (2, "x t3.medium"), (20, "GB gp3"), (1, "NAT gateway"). Only
    # the noun is compared; the count is what moves.
    amount: tuple[float, str] = (1, "")

    @property
    def priced(self) -> bool:
        return self.unit_usd is not None

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_usd if self.unit_usd is not None else 0.0


@dataclass
class Estimate:
    mode: str  # "single" | "multi"
    region: str
    items: list[Item] = field(default_factory=list)

    @property
    def fixed(self) -> float:
        return sum(i.monthly for i in self.items if not i.usage)

    @property
    def usage(self) -> float:
        return sum(i.monthly for i in self.items if i.usage)

    @property
    def total(self) -> float:
        return self.fixed + self.usage

    @property
    def unsourced(self) -> list[Item]:
        return [i for i in self.items if not i.priced]

    def by_key(self) -> dict[tuple[str, str], Item]:
        return {(i.resource, i.price_key): i for i in self.items}

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "region": self.region,
            "fixed": round(self.fixed, 2),
            "usage": round(self.usage, 2),
            "total": round(self.total, 2),
            "unsourced": sorted({i.price_key for i in self.unsourced}),
            "items": [{**asdict(i), "monthly": round(i.monthly, 2) if i.priced else None} for i in self.items],
        }


def _bool(v) -> bool:
    return str(v).lower() == "true"


def _asg(res_id: str, props: dict, everything: dict, t: PriceTable, hours: float) -> list[Item]:
    lt_id = str((props.get("LaunchTemplate") or {}).get("LaunchTemplateId", ""))
    lt = everything.get(lt_id)
    if lt is None:
        raise PriceError(
            f"{res_id}: its launch template {lt_id or '(none)'} is not in the templates; the instances cannot be priced"
        )
    data = lt["Properties"].get("LaunchTemplateData", {})
    count = int(props.get("DesiredCapacity", props["MinSize"]))
    itype = data["InstanceType"]
    p = t.get(f"ec2:{itype}")
    scale = f" (scales to {props['MaxSize']})" if str(props.get("MaxSize")) != str(count) else ""
    items = [Item(res_id, f"{count} x {itype}{scale}", p.key, count * hours, p.usd, amount=(count, f"x {itype}"))]
    volumes = [m["Ebs"] for m in data.get("BlockDeviceMappings", []) if "Ebs" in m]
    if not volumes:
        raise PriceError(f"{lt_id}: no EBS volume size in BlockDeviceMappings; the root volume cannot be priced")
    for v in volumes:
        vp = t.get(f"ebs:{v.get('VolumeType', 'gp2')}")
        items.append(
            Item(
                res_id,
                f"{count} x {v['VolumeSize']} GB {v.get('VolumeType', 'gp2')} root volume",
                vp.key,
                count * float(v["VolumeSize"]),
                vp.usd,
                amount=(count, f"x {v['VolumeSize']} GB {v.get('VolumeType', 'gp2')}"),
            )
        )
    if _bool((data.get("Monitoring") or {}).get("Enabled")):
        # Detailed (1-minute) monitoring is charged per metric beyond the free tier.
        mp = t.get("cloudwatch:detailed-monitoring")
        items.append(Item(res_id, f"{count} x detailed monitoring", mp.key, count, mp.usd, amount=(count, "instances")))
    return items


def _rds(res_id: str, props: dict, t: PriceTable, hours: float, usage: dict) -> list[Item]:
    az = "multi-az" if _bool(props.get("MultiAZ")) else "single-az"
    cls, engine = props["DBInstanceClass"], props["Engine"]
    p = t.get(f"rds:{engine}:{cls}:{az}")
    storage = props.get("StorageType", "gp2")
    sp = t.get(f"rds:storage:{storage}:{az}")
    bp = t.get("rds:backup")
    label = "Multi-AZ (primary + standby)" if az == "multi-az" else "Single-AZ"
    return [
        Item(res_id, f"{cls} {engine} {label}", p.key, hours, p.usd, amount=(1, f"{cls} {label}")),
        Item(
            res_id,
            f"{props['AllocatedStorage']} GB {storage} storage, {label}",
            sp.key,
            float(props["AllocatedStorage"]),
            sp.usd,
            amount=(float(props["AllocatedStorage"]), f"GB {storage}, {label}"),
        ),
        Item(
            res_id,
            "backup storage beyond the free amount",
            bp.key,
            usage["rds_backup_gb"],
            bp.usd,
            usage=True,
            amount=(usage["rds_backup_gb"], "GB"),
        ),
    ]


def _cache(res_id: str, props: dict, t: PriceTable, hours: float) -> list[Item]:
    n = int(props.get("NumCacheClusters", 1))
    node = props["CacheNodeType"]
    p = t.get(f"elasticache:{node}")
    what = f"{n} x {node}" + (" (primary + replica)" if n > 1 else "")
    return [Item(res_id, what, p.key, n * hours, p.usd, amount=(n, f"x {node}"))]


def _dashboard(res_id: str, props: dict, everything: dict, t: PriceTable) -> Item:
    """One dashboard-month, at the rate for the number of metrics it shows:
    each widget's ``metrics`` lines, and for a widget showing an alarm, the
    metrics that alarm reads."""
    try:
        body = json.loads(props["DashboardBody"])
        widgets = body["widgets"]
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceError(f"{res_id}: DashboardBody is not a dashboard's JSON ({exc}); it cannot be priced") from None
    metrics = 0
    for w in widgets:
        wp = w.get("properties", {})
        metrics += len(wp.get("metrics", []))
        for arn in wp.get("annotations", {}).get("alarms", []):
            # A resolved alarm ARN is the symbol "<Stack>/<Alarm>.Arn".
            alarm = everything.get(str(arn).removesuffix(".Arn"))
            if alarm is None or alarm["Type"] != "AWS::CloudWatch::Alarm":
                raise PriceError(f"{res_id}: a widget shows alarm {arn}, which is not in the templates")
            metrics += _alarm_metrics(alarm["Properties"])
    key = "cloudwatch:dashboard:basic" if metrics <= DASHBOARD_BASIC_METRICS else "cloudwatch:dashboard"
    p = t.get(key)
    # Named by its rate, not its metric count, which differs by mode: a
    # change of mode does not add or remove the dashboard.
    what = (
        f"CloudWatch dashboard ({'up to' if metrics <= DASHBOARD_BASIC_METRICS else 'over'} "
        f"{DASHBOARD_BASIC_METRICS} metrics)"
    )
    return Item(res_id, what, p.key, 1, p.usd)


def _alarm_metrics(props: dict) -> int:
    # Charged per metric the alarm evaluates: a metric-math alarm counts
    # each metric it reads, not the expression.
    return sum(1 for q in props.get("Metrics", []) if "MetricStat" in q) or 1


def _log_groups(ids: list[str], everything: dict, t: PriceTable, usage: dict) -> list[Item]:
    """Ingest and storage per log group. A group that receives VPC flow logs
    ingests them as vended logs (their own, tiered rate) and shares
    ``flow_log_ingest_gb``; the others share ``log_ingest_gb`` evenly. A
    group holds what it ingests for its retention period (a year's worth is
    shown for one that never expires, which keeps growing)."""
    targets = set()
    for res_id, res in everything.items():
        if res["Type"] == "AWS::EC2::FlowLog":
            props = res.get("Properties", {})
            targets |= {str(props.get("LogGroupName", "")), str(props.get("LogDestination", ""))}
    flow = [i for i in ids if _log_group_names(i, everything[i]) & targets]
    other = [i for i in ids if i not in flow]
    items: list[Item] = []
    storage = t.get("logs:storage")
    for group, usage_key, price_key, what in (
        (flow, "flow_log_ingest_gb", "logs:vended-ingest", "VPC flow logs"),
        (other, "log_ingest_gb", "logs:ingest", "logs"),
    ):
        for res_id in group:
            gb = usage[usage_key] / len(group)
            share = f"{gb:g} GB" + (f" (1/{len(group)} of {usage_key})" if len(group) > 1 else "")
            p = t.get(price_key)
            items.append(Item(res_id, f"{share} of {what} ingested", p.key, gb, p.usd, usage=True))
            days = everything[res_id].get("Properties", {}).get("RetentionInDays")
            held = f"{days} days" if days is not None else "a year, never expiring"
            months = float(days) / DAYS_PER_MONTH if days is not None else 12.0
            items.append(
                Item(
                    res_id,
                    f"{gb * months:g} GB of {what} stored ({held} kept)",
                    storage.key,
                    gb * months,
                    storage.usd,
                    usage=True,
                )
            )
    return items


def _log_group_names(res_id: str, res: dict) -> set[str]:
    """How a flow log can name this group once resolved: its Ref (the given
    LogGroupName, else the resource's symbol) or its ARN."""
    given = res.get("Properties", {}).get("LogGroupName")
    return {res_id, f"{res_id}.Arn", *([str(given)] if given else [])}


def _zones(load_balancer: dict) -> int:
    """The zones a load balancer runs in, one node (and one public address)
    each: its subnets, a list or the comma-joined list the root passes."""
    subnets = load_balancer.get("Subnets") or []
    return len(subnets.split(",") if isinstance(subnets, str) else subnets)


def _bucket(res_id: str, props: dict, everything: dict, t: PriceTable, hours: float, usage: dict) -> list[Item]:
    """The load balancer's access-log bucket: the logs it holds until its
    lifecycle rule expires them, and the PUT of each log file. A bucket with
    another purpose has no usage figure and stops the estimate."""
    names = {res_id, *([str(props["BucketName"])] if props.get("BucketName") else [])}
    nodes = 0
    for res in everything.values():
        if res["Type"] != "AWS::ElasticLoadBalancingV2::LoadBalancer":
            continue
        attrs = {a["Key"]: str(a["Value"]) for a in res.get("Properties", {}).get("LoadBalancerAttributes", [])}
        enabled = attrs.get("access_logs.s3.enabled", "false").lower() == "true"
        if enabled and attrs.get("access_logs.s3.bucket") in names:
            nodes += _zones(res["Properties"])
    if not nodes:
        raise PriceError(
            f"{res_id}: an S3 bucket that holds no load balancer access logs has no usage figure; add "
            "one to wealist_cfn/preflight/cost.py"
        )
    rules = (props.get("LifecycleConfiguration") or {}).get("Rules", [])
    days = [int(r["ExpirationInDays"]) for r in rules if r.get("Status") == "Enabled" and "ExpirationInDays" in r]
    gb = usage["access_log_gb"]
    months = min(days) / DAYS_PER_MONTH if days else 12.0
    held = f"{min(days)} days" if days else "a year, never expiring"
    storage, put = t.get("s3:standard"), t.get("s3:put")
    puts = math.ceil(nodes * ACCESS_LOG_FILES_PER_NODE_HOUR * hours)
    return [
        Item(
            res_id,
            f"{gb * months:g} GB of access logs stored ({held} kept)",
            storage.key,
            gb * months,
            storage.usd,
            usage=True,
        ),
        Item(
            res_id,
            f"{puts:,} PUTs of access-log files (one per load balancer node every 5 minutes, at least {nodes} nodes)",
            put.key,
            puts,
            put.usd,
            usage=True,
        ),
    ]


def estimate(
    config: Config,
    *,
    prices: PriceTable,
    usage: dict[str, float],
    resolved: dict[str, cfnmodel.Stack] | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> Estimate:
    """One mode's monthly estimate for ``config`` as it stands."""
    resolved = resolved or checks.resolve_templates(config, templates_dir)
    everything = cfnmodel.all_resources(resolved)
    hours = prices.hours_per_month
    est = Estimate("multi" if config.multi_az else "single", prices.region)
    repos = 0
    log_groups: list[str] = []
    for res_id, res in everything.items():
        type_, props = res["Type"], res.get("Properties", {})
        if type_ == "AWS::AutoScaling::AutoScalingGroup":
            est.items += _asg(res_id, props, everything, prices, hours)
        elif type_ == "AWS::EC2::NatGateway":
            p = prices.get("nat:hour")
            est.items.append(Item(res_id, "NAT gateway", p.key, hours, p.usd, amount=(1, "")))
        elif type_ == "AWS::EC2::EIP":
            p = prices.get("eip:hour")
            est.items.append(Item(res_id, "public IPv4 address (Elastic IP, in use)", p.key, hours, p.usd))
        elif type_ == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            if props.get("Type", "application") != "application":
                raise PriceError(f"{res_id}: load balancer type {props.get('Type')} has no pricing rule")
            p = prices.get("alb:hour")
            est.items.append(Item(res_id, "Application Load Balancer", p.key, hours, p.usd))
            if props.get("Scheme", "internet-facing") == "internet-facing":
                # Each zone's load balancer node holds a public IPv4 address,
                # charged like any other in use (at least one per zone).
                n = _zones(props)
                ip = prices.get("eip:hour")
                est.items.append(
                    Item(
                        res_id,
                        f"{n} public IPv4 addresses (one per zone of the load balancer)",
                        ip.key,
                        n * hours,
                        ip.usd,
                        amount=(n, ""),
                    )
                )
            lp = prices.get("alb:lcu")
            est.items.append(
                Item(
                    res_id, f"{usage['alb_lcu']:g} LCU on average", lp.key, usage["alb_lcu"] * hours, lp.usd, usage=True
                )
            )
        elif type_ == "AWS::RDS::DBInstance":
            est.items += _rds(res_id, props, prices, hours, usage)
        elif type_ == "AWS::ElastiCache::ReplicationGroup":
            est.items += _cache(res_id, props, prices, hours)
        elif type_ == "AWS::ECR::Repository":
            repos += 1
        elif type_ == "AWS::CloudWatch::Alarm":
            n = _alarm_metrics(props)
            p = prices.get("cloudwatch:alarm")
            est.items.append(
                Item(res_id, f"CloudWatch alarm on {n} metric{'s' if n > 1 else ''}", p.key, n, p.usd, amount=(n, ""))
            )
        elif type_ == "AWS::KMS::Key":
            p = prices.get("kms:key")
            est.items.append(Item(res_id, "KMS customer managed key", p.key, 1, p.usd))
        elif type_ == "AWS::CloudWatch::Dashboard":
            est.items.append(_dashboard(res_id, props, everything, prices))
        elif type_ == "AWS::EC2::FlowLog" and props.get("LogDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
            raise PriceError(
                f"{res_id}: flow logs delivered to {props['LogDestinationType']} have no pricing rule; "
                "add one to wealist_cfn/preflight/cost.py"
            )
        elif type_ == "AWS::Logs::LogGroup":
            log_groups.append(res_id)
        elif type_ == "AWS::S3::Bucket":
            est.items += _bucket(res_id, props, everything, prices, hours, usage)
        elif type_ == "AWS::SSM::Parameter" and props.get("Tier", "Standard") != "Standard":
            raise PriceError(
                f"{res_id}: an SSM parameter of tier {props['Tier']} is charged and has no pricing "
                "rule; add one to wealist_cfn/preflight/cost.py"
            )
        elif type_ not in FREE_TYPES:
            raise PriceError(
                f"{res_id}: resource type {type_} has no pricing rule; add one to "
                f"wealist_cfn/preflight/cost.py (or list it in FREE_TYPES if it costs nothing)"
            )
    nats = sum(1 for r in everything.values() if r["Type"] == "AWS::EC2::NatGateway")
    if nats:
        p = prices.get("nat:gb")
        est.items.append(
            Item(
                "(usage)",
                f"{usage['nat_data_gb']:g} GB through the NAT gateways",
                p.key,
                usage["nat_data_gb"],
                p.usd,
                usage=True,
            )
        )
    if repos:
        p = prices.get("ecr:storage")
        est.items.append(
            Item(
                "(usage)",
                f"{usage['ecr_storage_gb']:g} GB of images in {repos} ECR repositories",
                p.key,
                usage["ecr_storage_gb"],
                p.usd,
                usage=True,
            )
        )
    if log_groups:
        est.items += _log_groups(log_groups, everything, prices, usage)
    else:
        # No log group in the templates: what the instances may still send
        # is priced as ingest alone.
        p = prices.get("logs:ingest")
        est.items.append(
            Item(
                "(usage)",
                f"{usage['log_ingest_gb']:g} GB of CloudWatch Logs ingested",
                p.key,
                usage["log_ingest_gb"],
                p.usd,
                usage=True,
            )
        )
    p = prices.get("s3:standard")
    est.items.append(
        Item(
            "(usage)",
            f"{usage['s3_storage_gb']:g} GB in S3 Standard (deploy and artifact buckets)",
            p.key,
            usage["s3_storage_gb"],
            p.usd,
            usage=True,
        )
    )
    return est


def estimate_modes(
    config: Config,
    modes: tuple[str, ...],
    *,
    prices: PriceTable,
    usage: dict[str, float],
    templates_dir: Path = TEMPLATES_DIR,
) -> dict[str, Estimate]:
    out = {}
    for mode in modes:
        cfg = config.with_values(EnableMultiAZ="true" if mode == "multi" else "false")
        out[mode] = estimate(cfg, prices=prices, usage=usage, templates_dir=templates_dir)
    return out


# -- change ---------------------------------------------------------------------------------------


@dataclass
class Change:
    parameters: list[tuple[str, str, str]]  # (key, old, new) of the values that moved the estimate
    delta: float  # over what is priced on both sides (see comparable_delta)
    moves: list[str]  # what changed and is priced on both sides, quantities before → after
    before: float
    after: float
    unsourced: list[LeftOut] = field(default_factory=list)  # changed items without a price on a side

    @property
    def incomplete(self) -> bool:
        return bool(self.unsourced)

    def line(self) -> str:
        params = ", ".join(f"{k} {o}→{n}" for k, o, n in self.parameters) or "templates"
        sign = "+" if self.delta >= 0 else "-"
        what = f" ({'; '.join(self.moves)})" if self.moves else ""
        if self.incomplete:
            # No single figure: one that dropped the unpriced side (a priced
            # t3.medium minus an unpriced t3.large) would read as a saving.
            # The priced rest lists only what it sums.
            return (
                f"{params}: difference incomplete: no sourced price for {'; '.join(map(str, self.unsourced))}; "
                f"the priced rest moves {sign}${abs(self.delta):,.2f}/month{what}"
            )
        return f"{params}: {sign}${abs(self.delta):,.2f}/month (${self.before:,.2f} → ${self.after:,.2f}){what}"


@dataclass(frozen=True)
class Unknown:
    """No difference can be worked out: a price key or table is missing, or
    a side cannot be estimated. Said instead of printing nothing."""

    reason: str

    incomplete = True

    def line(self) -> str:
        return f"unknown — {self.reason}"


def slot(key: str) -> str:
    """What an item is for, whatever its size or option: one resource's
    instances are priced as ``ec2:t3.medium`` before and ``ec2:t3.large``
    after, its database as a single-AZ or Multi-AZ class, its dashboard at
    one rate or the other. Items of one resource and one slot are compared
    as a whole."""
    kind, _, rest = key.partition(":")
    if kind in ("ec2", "ebs", "elasticache"):
        return kind
    if kind == "rds":
        return "rds:" + (rest.split(":", 1)[0] if rest.startswith(("storage", "backup")) else "instance")
    if key.startswith("cloudwatch:dashboard"):
        return "cloudwatch:dashboard"
    return key


# A slot in words, after the resource's name ("BackendAutoScalingGroup
# instances 2 → 3 x t3.medium"), or alone when it is counted over every
# resource holding it ("NAT gateways 1 → 3").
SLOT_WORDS = {
    "ec2": "instances",
    "ebs": "root volumes",
    "elasticache": "cache nodes",
    "cloudwatch:detailed-monitoring": "detailed monitoring",
    "rds:instance": "instance",
    "rds:storage": "storage",
    "rds:backup": "backup storage",
    "nat:hour": "NAT gateways",
    "eip:hour": "public IPv4 addresses",
    "alb:hour": "load balancers",
    "cloudwatch:alarm": "alarm metrics",
    "kms:key": "KMS keys",
    "cloudwatch:dashboard": "dashboards",
}


@dataclass(frozen=True)
class LeftOut:
    """One resource's item that changed with a price missing on one side or both."""

    resource: str
    before: tuple[str, ...]  # its price keys before ("" when it did not exist)
    after: tuple[str, ...]
    unsourced: tuple[str, ...]
    moved: str = ""  # what changed, quantities before → after

    def __str__(self) -> str:
        def keys(k: tuple[str, ...]) -> str:
            return " + ".join(k) or "nothing"

        if self.moved:
            return f"{self.moved} ({', '.join(self.unsourced)} unsourced)"
        return f"{self.resource} {keys(self.before)} → {keys(self.after)} ({', '.join(self.unsourced)} unsourced)"


def _amount(n: float, noun: str) -> str:
    # "2 x t3.medium", "20 GB gp3"; a thing there is one of is named alone.
    if n == 1 and noun and not noun.startswith(("x ", "GB")):
        return noun
    return f"{n:g} {noun}".strip()


def _describe(resource: str, key: str, ib: list[Item], ia: list[Item]) -> str:
    """One resource slot's difference with the quantity on both sides."""
    label = f"{resource.rsplit('/', 1)[-1]} {SLOT_WORDS.get(key, key)}"
    if len(ib) == len(ia) == 1 and ib[0].amount[1] == ia[0].amount[1] and ib[0].amount[1]:
        return f"{label} {ib[0].amount[0]:g} → {ia[0].amount[0]:g} {ia[0].amount[1]}"
    sides = [" + ".join(_amount(*i.amount) for i in side) or "none" for side in (ib, ia)]
    if sides[0] == sides[1]:
        # Same quantity at another rate (a dashboard over 50 metrics).
        sides = [" + ".join(i.price_key for i in side) for side in (ib, ia)]
    return f"{label} {sides[0]} → {sides[1]}"


def differences(before: Estimate, after: Estimate) -> tuple[float, list[str], list[LeftOut]]:
    """after - before over what is priced on both sides, what moved there
    (quantities before → after), and the changed items left out because a
    price is missing on one side or both. An item unsourced alike on both
    sides adds nothing to the difference and is not named; a changed one is
    dropped on both sides, never subtracted from nothing.

    A slot whose every change adds or removes a whole resource (a NAT
    gateway, an alarm) is counted over all the resources holding it, "NAT
    gateways 1 → 3"; any other change is described per resource."""

    def groups(est: Estimate) -> dict[tuple[str, str], list[Item]]:
        out: dict[tuple[str, str], list[Item]] = {}
        for i in est.items:
            out.setdefault((i.resource, slot(i.price_key)), []).append(i)
        return out

    b, a = groups(before), groups(after)
    changed = []
    # In the estimate's order (instances before their volumes), what the
    # change brings first.
    for key in dict.fromkeys([*a, *b]):
        ib, ia = b.get(key, []), a.get(key, [])
        if [(i.price_key, i.quantity) for i in ib] != [(i.price_key, i.quantity) for i in ia]:
            changed.append((key, ib, ia))
    delta, moves, left_out = 0.0, [], []
    by_slot: dict[str, list] = {}
    for entry in changed:
        by_slot.setdefault(entry[0][1], []).append(entry)
    for s, entries in by_slot.items():
        # Counted over every resource of the slot only when all of them are
        # the same thing (NAT gateways; not t3.medium and t3.small instances).
        nouns = {i.amount[1] for g in (b, a) for items in g.values() for i in items if slot(i.price_key) == s}
        whole = all(not ib or not ia for _, ib, ia in entries) and len(nouns) == 1
        if whole:
            counts = [sum(i.amount[0] for items in g.values() for i in items if slot(i.price_key) == s) for g in (b, a)]
            noun = nouns.pop()
            text = [f"{SLOT_WORDS.get(s, s)} {counts[0]:g} → {counts[1]:g}" + (f" {noun}" if noun else "")]
            parts = [(entries, text[0])]
        else:
            parts = [([e], _describe(e[0][0], s, e[1], e[2])) for e in entries]
        for group, text in parts:
            items = [i for _, ib, ia in group for i in ib + ia]
            missing = sorted({i.price_key for i in items if not i.priced})
            if missing:
                left_out.append(
                    LeftOut(
                        ", ".join(k[0] for k, _, _ in group),
                        tuple(sorted({i.price_key for _, ib, _ in group for i in ib})),
                        tuple(sorted({i.price_key for _, _, ia in group for i in ia})),
                        tuple(missing),
                        text,
                    )
                )
                continue
            delta += sum(i.monthly for _, _, ia in group for i in ia) - sum(i.monthly for _, ib, _ in group for i in ib)
            moves.append(text)
    return delta, moves, left_out


def comparable_delta(before: Estimate, after: Estimate) -> tuple[float, list[LeftOut]]:
    """:func:`differences` without the words for what is priced."""
    delta, _, left_out = differences(before, after)
    return delta, left_out


def change(before: Estimate, after: Estimate, old_values: dict[str, str], new_values: dict[str, str]) -> Change | None:
    """The estimate's difference between a stack's current parameters and
    the new ones; None when the estimate does not move."""
    delta, moves, left_out = differences(before, after)
    if abs(delta) < 0.005 and not left_out and not moves:
        return None
    params = [(k, old_values[k], v) for k, v in new_values.items() if k in old_values and old_values[k] != v]
    return Change(params, delta, moves, before.total, after.total, left_out)
