"""The monthly estimate: arithmetic recomputed by hand, resources taken from
the resolved templates, missing prices and pricing rules as errors, the
committed price tables complete and sourced, usage files validated, and the
command's three outputs. No AWS stand-in: the estimate makes no call."""

from __future__ import annotations

import copy
import json

import pytest

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cli import main
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.errors import CommandError
from wealist_cfn.preflight import checks, cost

# Round figures, so the expected sums below can be worked out by hand.
TOY = {
    "ec2:t3.medium": 0.1,
    "ec2:t3.small": 0.05,
    "ebs:gp3": 0.1,
    "nat:hour": 0.05,
    "nat:gb": 0.05,
    "eip:hour": 0.01,
    "alb:hour": 0.02,
    "alb:lcu": 0.01,
    "rds:postgres:db.t3.micro:single-az": 0.2,
    "rds:postgres:db.t3.micro:multi-az": 0.4,
    "rds:storage:gp3:single-az": 0.5,
    "rds:storage:gp3:multi-az": 1.0,
    "rds:backup": 0.25,
    "elasticache:cache.t3.micro": 0.3,
    "s3:standard": 0.1,
    "logs:ingest": 1.0,
    "ecr:storage": 0.2,
    "cloudwatch:detailed-monitoring": 0.5,
    "cloudwatch:alarm": 0.1,
    "kms:key": 1.0,
    "cloudwatch:dashboard:basic": 3.0,
    "logs:storage": 0.5,
    "logs:vended-ingest": 0.25,
    "s3:put": 0.001,
}
USAGE = {
    "nat_data_gb": 10,
    "alb_lcu": 2,
    "log_ingest_gb": 4,
    "ecr_storage_gb": 3,
    "s3_storage_gb": 5,
    "rds_backup_gb": 8,
    "flow_log_ingest_gb": 6,
    "access_log_gb": 2,
}


def _table(tmp_path, prices=TOY, hours=100, region="ap-northeast-2"):
    entries = {k: {"usd": v, "unit": "USD per unit", "read": "2026-01-01", "source": "test"} for k, v in prices.items()}
    d = tmp_path / "prices"
    d.mkdir(exist_ok=True)
    (d / f"{region}.json").write_text(json.dumps({"region": region, "hoursPerMonth": hours, "prices": entries}))
    return cost.load_prices(region, d)


def test_single_and_multi_az_recomputed_by_hand(tmp_path, prod_cfg):
    """prod.json with 100 hours a month and round prices:

    single-AZ fixed: NAT 1 x 0.05 x 100 = 5; EIP 1 x 0.01 x 100 = 1; ALB 0.02 x 100 = 2 and
    its 3 public addresses 3 x 0.01 x 100 = 3; backend 2 x 0.1 x 100 = 20, 2 x 30 GB x 0.1 = 6
    and 2 x 0.5 detailed monitoring = 1; monitoring 1 x 0.05 x 100 = 5, 30 GB x 0.1 = 3 and
    0.5; RDS 0.2 x 100 = 20 and 20 GB x 0.5 = 10; Redis 1 x 0.3 x 100 = 30; alarms on 26
    metrics (two 5xx rates of 2 metrics each, 4 unhealthy-host, p99, 4 database, 3 Redis
    alarms of 3 metrics each (every member name the group can have), 2 for the NAT gateway,
    backend and monitoring in service) x 0.1 = 2.6, the alarm topic's key 1 and the alarms'
    dashboard (26 metrics: the basic rate) 3 -> 113.1.
    usage: NAT 10 GB x 0.05 = 0.5; LCU 2 x 100 x 0.01 = 2; ECR 3 x 0.2 = 0.6;
    S3 5 x 0.1 = 0.5; backup 8 x 0.25 = 2 -> 5.6, plus the logs the stack keeps:
    four log groups (backend, monitoring, the database's two) share the 4 GB
    of log_ingest_gb, 1 GB each x 1 = 4 ingested, each kept 90 days, i.e.
    90 / (365 / 12) months x 1 GB x 0.5 = 1.4795 stored, 5.9178 for the four;
    the flow-log group ingests 6 GB as vended logs x 0.25 = 1.5 and keeps 365
    days (12 months x 6 GB = 72 GB x 0.5 = 36); the access-log bucket holds
    12 months x 2 GB = 24 GB x 0.1 = 2.4 and takes one PUT per node (3 public
    subnets) every 5 minutes, 3 x 12 x 100 = 3,600 x 0.001 = 3.6
    -> 5.6 + 4 + 5.9178 + 1.5 + 36 + 2.4 + 3.6 = 59.0178.
    multi-AZ fixed: NAT 3 x 5 = 15; EIP 3 x 1 = 3; ALB 2 + 3; backend 27; monitoring 8.5;
    RDS 0.4 x 100 = 40 and 20 x 1.0 = 20; Redis 2 x 0.3 x 100 = 60; alarms on 26 + 4 (NAT
    gateways 2 and 3) = 30 metrics x 0.1 = 3, the key 1 and the dashboard 3 -> 185.5.
    """
    t = _table(tmp_path)
    est = cost.estimate_modes(prod_cfg, ("single", "multi"), prices=t, usage={k: float(v) for k, v in USAGE.items()})
    assert est["single"].fixed == pytest.approx(113.1)
    assert est["single"].usage == pytest.approx(5.6 + 4 + 4 * 0.5 * 90 * 12 / 365 + 1.5 + 36 + 2.4 + 3.6)
    assert est["multi"].fixed == pytest.approx(185.5)
    assert est["multi"].usage == pytest.approx(est["single"].usage)
    assert est["multi"].total - est["single"].total == pytest.approx(72.4)
    nats = [i for i in est["multi"].items if i.price_key == "nat:hour"]
    assert sorted(i.resource for i in nats) == [
        "NetworkStack/NatGateway1",
        "NetworkStack/NatGateway2",
        "NetworkStack/NatGateway3",
    ]


def test_every_resource_type_in_the_templates_has_a_rule_or_is_free(prod_cfg):
    """The resolved templates, both modes: each type is priced by a rule or
    listed as free. Adding a type with a price to the templates fails here
    until cost.py prices it (see the next test for the error it gives)."""
    priced = {
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::RDS::DBInstance",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::ECR::Repository",
        "AWS::CloudWatch::Alarm",
        "AWS::KMS::Key",
        "AWS::CloudWatch::Dashboard",
        "AWS::Logs::LogGroup",
        "AWS::S3::Bucket",
    }
    for mode in ("true", "false"):
        resolved = checks.resolve_templates(prod_cfg.with_values(EnableMultiAZ=mode))
        types = {r["Type"] for r in cfnmodel.all_resources(resolved).values()}
        assert types - priced - cost.FREE_TYPES == set(), f"EnableMultiAZ={mode}: no pricing rule"
        assert priced <= types, "a priced type left the templates: drop its rule or its test"


def test_a_new_priced_type_without_a_rule_is_an_error_naming_it(tmp_path, prod_cfg):
    """A resource the rules do not know stops the estimate (never a silent zero)."""
    resolved = copy.deepcopy(checks.resolve_templates(prod_cfg))
    resolved["NetworkStack"].resources["TransitGateway"] = {"Type": "AWS::EC2::TransitGateway", "Properties": {}}
    with pytest.raises(
        cost.PriceError,
        match=r"NetworkStack/TransitGateway: resource type AWS::EC2::TransitGateway "
        r"has no pricing rule",
    ):
        cost.estimate(prod_cfg, prices=_table(tmp_path), usage=cost.load_usage(None)[0], resolved=resolved)


def test_a_type_missing_from_the_price_table_is_an_error_naming_it(tmp_path, prod_cfg):
    """An instance type the table lacks names the key and how to add it."""
    t = _table(tmp_path, {k: v for k, v in TOY.items() if k != "ec2:t3.medium"})
    with pytest.raises(CommandError, match=r"ap-northeast-2.json: no price for ec2:t3.medium"):
        cost.estimate(prod_cfg, prices=t, usage=cost.load_usage(None)[0])


def test_an_unsourced_price_is_shown_and_left_out_of_the_totals(tmp_path, prod_cfg):
    """An entry the table knows without a figure: the item is listed as
    unsourced and the totals exclude it and say so."""
    t = _table(tmp_path)
    t.entries["elasticache:cache.t3.micro"] = {"usd": None, "unit": "USD per node-hour", "note": "not found"}
    est = cost.estimate(prod_cfg, prices=t, usage={k: float(v) for k, v in USAGE.items()})
    assert [i.price_key for i in est.unsourced] == ["elasticache:cache.t3.micro"]
    assert est.fixed == pytest.approx(113.1 - 30.0)
    assert est.to_dict()["unsourced"] == ["elasticache:cache.t3.micro"]


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1"])
def test_committed_price_tables_cover_every_key_the_params_need(region):
    """Both committed tables hold (sourced or marked unsourced) every price
    key params/*.json needs in both modes; every sourced figure names its
    unit, date and source."""
    t = cost.load_prices(region)
    from wealist_cfn import config

    for params in sorted(PARAMS_DIR.glob("*.json")):
        cfg = config.load(params)
        for mode in ("single", "multi"):
            cost.estimate_modes(cfg, (mode,), prices=t, usage=cost.load_usage(None)[0])
    for key, e in t.entries.items():
        assert e["unit"], key
        if e.get("usd") is not None:
            assert e["read"] and e["source"], key
        else:
            assert e.get("note"), f"{key}: an unsourced entry says why"


def test_a_price_without_its_source_is_refused(tmp_path):
    """The loader refuses a figure that does not say where it came from."""
    d = tmp_path / "p"
    d.mkdir()
    (d / "ap-northeast-2.json").write_text(
        json.dumps({"prices": {"nat:hour": {"usd": 0.1, "unit": "h", "read": "2026-01-01"}}})
    )
    with pytest.raises(CommandError, match=r"prices.nat:hour: source is missing"):
        cost.load_prices("ap-northeast-2", d)


def test_no_table_for_the_region_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"no price table for eu-west-3 \(have: none\)"):
        cost.load_prices("eu-west-3", tmp_path)


@pytest.mark.parametrize(
    "body,words",
    [
        ({"nat_gb": 1}, "nat_gb: unknown usage figure"),
        ({"nat_data_gb": -1}, "nat_data_gb: must be a number of at least 0"),
        ({"alb_lcu": "2"}, "alb_lcu: must be a number"),
        ([1], "must be a JSON object"),
    ],
)
def test_bad_usage_files_name_file_and_key(tmp_path, body, words):
    p = tmp_path / "u.json"
    p.write_text(json.dumps(body))
    with pytest.raises(CommandError, match=words) as info:
        cost.load_usage(p)
    assert str(p) in str(info.value)


def test_change_names_the_parameter_the_difference_and_what_is_added(tmp_path, prod_cfg):
    """EnableMultiAZ false -> true with the toy table: +$72.40/month, two more
    NAT gateways, the RDS standby, the Redis replica and the NAT alarms; the
    totals are the by-hand sums above (113.1 + 59.02, 185.5 + 59.02)."""
    t = _table(tmp_path)
    usage = {k: float(v) for k, v in USAGE.items()}
    multi = prod_cfg.with_values(EnableMultiAZ="true")
    c = cost.change(
        cost.estimate(prod_cfg, prices=t, usage=usage),
        cost.estimate(multi, prices=t, usage=usage),
        prod_cfg.values,
        multi.values,
    )
    line = c.line()
    assert line.startswith("EnableMultiAZ false→true: +$72.40/month ($172.12 → $244.52)")
    assert "NAT gateways 1 → 3" in line and "public IPv4 addresses 4 → 6" in line
    assert "Database instance db.t3.micro Single-AZ → db.t3.micro Multi-AZ (primary + standby)" in line
    assert "Redis cache nodes 1 → 2 x cache.t3.micro" in line and "alarm metrics 26 → 30" in line
    same = cost.estimate(prod_cfg, prices=t, usage=usage)
    assert cost.change(same, same, prod_cfg.values, prod_cfg.values) is None


def _run(*argv):
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def test_cost_command_outputs(tmp_path):
    """The command on params/prod.json: both modes side by side, the
    difference, usage apart from fixed costs; JSON's difference equals its
    own totals; markdown is a table; --mode single leaves multi out."""
    code, out, _ = _run("cost", "--params", PARAMS_DIR / "prod.json")
    assert code == 0
    assert "single-AZ" in out and "multi-AZ" in out
    # With an item unsourced on one side the difference says so instead of one figure.
    assert "multi-AZ: +$" in out or "multi-AZ over single-AZ: difference incomplete: no sourced price for " in out
    assert out.index("-- fixed") < out.index("-- usage-dependent") < out.index("monthly total")
    code, out, _ = _run("cost", "--params", PARAMS_DIR / "prod.json", "--output", "json")
    doc = json.loads(out)
    diff = doc["multiMinusSingle"]
    # (an item unsourced alike on both sides counts 0 on both; a changed one
    # is dropped on both sides and named)
    dropped = {(x["resource"], cost.slot(k)) for x in diff["leftOut"] for k in x["before"] + x["after"]}
    comparable = {
        m: sum(
            i["monthly"] or 0
            for i in doc["modes"][m]["items"]
            if (i["resource"], cost.slot(i["price_key"])) not in dropped
        )
        for m in ("single", "multi")
    }
    assert diff["complete"] == (not diff["leftOut"])
    if diff["complete"]:
        assert diff["usd"] == pytest.approx(comparable["multi"] - comparable["single"], abs=0.011)
    else:
        # No figure that would read as the difference while an item is unpriced.
        assert diff["usd"] is None and all(x["moved"] for x in diff["leftOut"])
    assert doc["pricesRead"] and doc["usageSource"].startswith("the documented defaults")
    code, out, _ = _run("cost", "--params", PARAMS_DIR / "prod.json", "--output", "markdown", "--mode", "single")
    assert "| resource | kind | single-AZ |" in out and "multi-AZ" not in out.split("\n")[2]


def test_cost_command_reads_a_usage_file(tmp_path):
    """--usage changes only the usage-dependent rows."""
    u = tmp_path / "u.json"
    u.write_text(json.dumps({"nat_data_gb": 1000}))
    _, base, _ = _run("cost", "--params", PARAMS_DIR / "prod.json", "--output", "json", "--mode", "single")
    _, more, _ = _run(
        "cost", "--params", PARAMS_DIR / "prod.json", "--output", "json", "--mode", "single", "--usage", u
    )
    b, m = json.loads(base)["modes"]["single"], json.loads(more)["modes"]["single"]
    assert m["fixed"] == b["fixed"] and m["usage"] > b["usage"]
    assert json.loads(more)["usageSource"].startswith(str(u))


def test_cost_command_bad_input_is_one_line(tmp_path):
    code, out, err = _run("cost")
    assert code == 2 and "--params FILE is required" in err and "Traceback" not in err
    code, out, err = _run("cost", "--params", tmp_path / "nope.json")
    assert code == 2 and "nope.json: no such file" in err


def test_the_difference_leaves_out_a_resource_unsourced_on_one_side(tmp_path, prod_cfg):
    """Toy table with the Multi-AZ RDS rate unsourced: the mode difference
    (72.4 by hand) drops the database instance on both sides (its +20) instead
    of subtracting a priced single-AZ rate from nothing, and keeps the storage
    (+10): 72.4 - 20 = 52.4. The line says the difference is incomplete,
    names the item, and gives no before → after totals."""
    t = _table(tmp_path)
    t.entries["rds:postgres:db.t3.micro:multi-az"] = {"usd": None, "unit": "USD per hour", "note": "not found"}
    usage = {k: float(v) for k, v in USAGE.items()}
    multi = prod_cfg.with_values(EnableMultiAZ="true")
    before, after = cost.estimate(prod_cfg, prices=t, usage=usage), cost.estimate(multi, prices=t, usage=usage)
    delta, left = cost.comparable_delta(before, after)
    assert delta == pytest.approx(52.4)
    assert left == [
        cost.LeftOut(
            "DatabaseStack/Database",
            ("rds:postgres:db.t3.micro:single-az",),
            ("rds:postgres:db.t3.micro:multi-az",),
            ("rds:postgres:db.t3.micro:multi-az",),
            "Database instance db.t3.micro Single-AZ → db.t3.micro Multi-AZ (primary + standby)",
        )
    ]
    line = cost.change(before, after, prod_cfg.values, multi.values).line()
    assert line.startswith(
        "EnableMultiAZ false→true: difference incomplete: no sourced price for "
        "Database instance db.t3.micro Single-AZ → db.t3.micro Multi-AZ (primary + standby) "
        "(rds:postgres:db.t3.micro:multi-az unsourced)"
    )
    assert "the priced rest moves +$52.40/month" in line and " → $" not in line


def _upsized(cfg, itype):
    """``cfg`` with the backend's instance type changed, as a parameter file would."""
    key = next(k for k, v in cfg.values.items() if k.endswith("InstanceType") and v == "t3.medium")
    return key, cfg.with_values(**{key: itype})


def test_an_upsized_instance_without_a_price_is_incomplete_never_a_saving(tmp_path, prod_cfg):
    """t3.medium -> t3.large with t3.large unsourced: the old t3.medium
    cost must not be subtracted from nothing (it showed -$20.00 here, as
    -$75.92 did with the real table); the line is incomplete, names the
    instance item with both keys, and shows no negative figure."""
    t = _table(tmp_path)
    t.entries["ec2:t3.large"] = {"usd": None, "unit": "USD per instance-hour", "note": "not found"}
    usage = {k: float(v) for k, v in USAGE.items()}
    key, big = _upsized(prod_cfg, "t3.large")
    c = cost.change(
        cost.estimate(prod_cfg, prices=t, usage=usage),
        cost.estimate(big, prices=t, usage=usage),
        prod_cfg.values,
        big.values,
    )
    assert c is not None and c.incomplete
    line = c.line()
    assert line == (
        f"{key} t3.medium→t3.large: difference incomplete: no sourced price for "
        "BackendAutoScalingGroup instances 2 x t3.medium → 2 x t3.large (ec2:t3.large unsourced); "
        "the priced rest moves +$0.00/month"
    )


def test_an_upsized_instance_with_both_prices_is_their_difference(tmp_path, prod_cfg):
    """Both sizes priced (toy: t3.medium 0.1, t3.large 0.25 an hour, 100 h):
    2 instances x (0.25 - 0.1) x 100 = +$30.00, complete, with totals."""
    t = _table(tmp_path, {**TOY, "ec2:t3.large": 0.25})
    usage = {k: float(v) for k, v in USAGE.items()}
    key, big = _upsized(prod_cfg, "t3.large")
    c = cost.change(
        cost.estimate(prod_cfg, prices=t, usage=usage),
        cost.estimate(big, prices=t, usage=usage),
        prod_cfg.values,
        big.values,
    )
    assert not c.incomplete and c.delta == pytest.approx(30.0)
    assert c.line() == (
        f"{key} t3.medium→t3.large: +$30.00/month ($172.12 → $202.12) "
        "(BackendAutoScalingGroup instances 2 x t3.medium → 2 x t3.large)"
    )


def _line(tmp_path, cfg, **values):
    t = _table(tmp_path)
    usage = {k: float(v) for k, v in USAGE.items()}
    new = cfg.with_values(**values)
    return cost.change(
        cost.estimate(cfg, prices=t, usage=usage), cost.estimate(new, prices=t, usage=usage), cfg.values, new.values
    ).line()


def test_one_more_instance_is_described_with_both_counts(tmp_path, prod_cfg):
    """BackendMinSize 2 -> 3 adds one instance (toy: 0.1 x 100 = 10, its
    30 GB volume 3 and its detailed monitoring 0.5 -> +13.50). It read
    "+3 x t3.medium" before (the item's text, which holds the count, was
    compared as a whole)."""
    line = _line(tmp_path, prod_cfg, BackendMinSize="3")
    assert line == (
        "BackendMinSize 2→3: +$13.50/month ($172.12 → $185.62) (BackendAutoScalingGroup instances "
        "2 → 3 x t3.medium; BackendAutoScalingGroup root volumes 2 → 3 x 30 GB gp3; "
        "BackendAutoScalingGroup detailed monitoring 2 → 3 instances)"
    )


def test_more_database_storage_is_described_from_and_to(tmp_path, prod_cfg):
    """DbAllocatedStorage 20 -> 50: 30 GB x 0.5 = +15.00; it read "+50 GB"."""
    line = _line(tmp_path, prod_cfg, DbAllocatedStorage="50")
    assert line == (
        "DbAllocatedStorage 20→50: +$15.00/month ($172.12 → $187.12) (Database storage 20 → 50 GB gp3, Single-AZ)"
    )


def test_an_incomplete_difference_says_what_moved_and_sums_only_the_priced(tmp_path, prod_cfg):
    """Mode switch with cache.t3.micro unsourced: the left-out item names
    the node count on both sides (it read "elasticache:cache.t3.micro →
    elasticache:cache.t3.micro"), and the list after "the priced rest"
    holds only what that figure sums (72.4 - 30 for the second node = 42.4)."""
    t = _table(tmp_path)
    t.entries["elasticache:cache.t3.micro"] = {"usd": None, "unit": "USD per node-hour", "note": "not found"}
    usage = {k: float(v) for k, v in USAGE.items()}
    multi = prod_cfg.with_values(EnableMultiAZ="true")
    c = cost.change(
        cost.estimate(prod_cfg, prices=t, usage=usage),
        cost.estimate(multi, prices=t, usage=usage),
        prod_cfg.values,
        multi.values,
    )
    head, rest = c.line().split("; the priced rest moves ")
    assert head == (
        "EnableMultiAZ false→true: difference incomplete: no sourced price for Redis cache nodes "
        "1 → 2 x cache.t3.micro (elasticache:cache.t3.micro unsourced)"
    )
    assert rest.startswith("+$42.40/month (") and "cache.t3.micro" not in rest and "NAT gateways 1 → 3" in rest


# Keys the deployed region's table knows but could not source (each entry's
# note says what was searched). A billable item of the templates whose price
# is not sourced fails the test below unless it is listed here, and a listed
# key that gets a figure, or that the templates no longer need, fails it too.
KNOWN_UNSOURCED = {
    "ap-northeast-2": {"elasticache:cache.t3.micro"},
}


@pytest.mark.parametrize("region", sorted(KNOWN_UNSOURCED))
def test_every_billable_item_of_the_templates_has_a_sourced_price(region):
    """Every params file in both modes, priced from the committed table of
    the region the stack deploys to: the unsourced keys are exactly the known
    ones. A new billable type with no rule already stops the estimate
    (PriceError, tested above); one with a rule but no sourced price stops
    here."""
    from wealist_cfn import config

    t = cost.load_prices(region)
    unsourced = set()
    for params in sorted(PARAMS_DIR.glob("*.json")):
        cfg = config.load(params)
        if cfg.region != region:
            continue
        for est in cost.estimate_modes(cfg, ("single", "multi"), prices=t, usage=cost.load_usage(None)[0]).values():
            unsourced |= {i.price_key for i in est.unsourced}
    assert unsourced == KNOWN_UNSOURCED[region]


def test_cost_command_picks_up_the_usage_file_beside_the_params(tmp_path):
    """params/usage/<env>.json is read when present (params/*.json stays
    parameter files only, which `build.py` validates one by one)."""
    (tmp_path / "usage").mkdir()
    params = tmp_path / "prod.json"
    params.write_text((PARAMS_DIR / "prod.json").read_text())
    (tmp_path / "usage" / "prod.json").write_text(json.dumps({"log_ingest_gb": 0}))
    code, out, _ = _run("cost", "--params", params, "--output", "json", "--mode", "single")
    doc = json.loads(out)
    assert code == 0 and doc["usage"]["log_ingest_gb"] == 0
    assert doc["usageSource"].startswith(str(tmp_path / "usage" / "prod.json"))
    assert "defaults for nat_data_gb" in doc["usageSource"]


def test_documented_usage_defaults_match_the_code():
    """docs/deploy.md's table of usage defaults is the code's table."""
    import re

    from wealist_cfn.core.settings import ROOT_DIR

    text = (ROOT_DIR / "docs" / "deploy.md").read_text()
    rows = dict(re.findall(r"^\| (\w+) \| ([\d.]+) \| ", text, flags=re.M))
    assert {k: float(v) for k, v in rows.items() if k in cost.USAGE_DEFAULTS} == {
        k: v for k, (v, _) in cost.USAGE_DEFAULTS.items()
    }


def test_readme_estimate_is_what_the_command_prints():
    """docs/cost.md's estimate for params/prod.json is the command's current
    output, dates included: a price change without a docs/cost.md update fails here."""
    from wealist_cfn.core.settings import ROOT_DIR

    readme = (ROOT_DIR / "docs" / "cost.md").read_text()
    block = readme.split("## What each mode costs", 1)[1].split("```\n", 2)[1]
    code, out, _ = _run("cost", "--params", PARAMS_DIR / "prod.json")
    assert code == 0 and block == out
    assert "prices read 20" in block.splitlines()[0]


def test_change_back_to_single_az_names_what_goes(tmp_path, prod_cfg):
    """The reverse switch: -$72.40/month, naming the NAT gateways that go."""
    t = _table(tmp_path)
    usage = {k: float(v) for k, v in USAGE.items()}
    multi = prod_cfg.with_values(EnableMultiAZ="true")
    line = cost.change(
        cost.estimate(multi, prices=t, usage=usage),
        cost.estimate(prod_cfg, prices=t, usage=usage),
        multi.values,
        prod_cfg.values,
    ).line()
    assert line.startswith("EnableMultiAZ true→false: -$72.40/month ($244.52 → $172.12)")
    assert "NAT gateways 3 → 1" in line and "Redis cache nodes 2 → 1 x cache.t3.micro" in line


# --- the observability items, on a small synthetic template set ---------------------------------
# The committed templates gain flow logs, log groups and the access-log
# bucket from other stacks; these tests hold the rules to the resource types
# and properties those stacks use (AWS::EC2::FlowLog to a log group by name,
# AWS::Logs::LogGroup with RetentionInDays, AWS::S3::Bucket with a lifecycle
# expiry named by the ALB's access_logs.s3.bucket attribute).


def _synthetic(*, flow_destination: str = "cloud-watch-logs", extra: dict | None = None) -> dict:
    child = {
        "Parameters": {"Retention": {"Type": "Number", "Default": "90"}},
        "Resources": {
            "FlowLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 365}},
            "FlowLog": {
                "Type": "AWS::EC2::FlowLog",
                "Properties": {
                    "ResourceId": "vpc-1",
                    "ResourceType": "VPC",
                    "TrafficType": "ALL",
                    "LogDestinationType": flow_destination,
                    "LogGroupName": {"Ref": "FlowLogGroup"},
                },
            },
            "BackendLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/wealist/prod/backend", "RetentionInDays": {"Ref": "Retention"}},
            },
            "MonitoringLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/wealist/prod/monitoring", "RetentionInDays": {"Ref": "Retention"}},
            },
            "UpgradeLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/aws/rds/instance/db/upgrade"},
            },  # no retention: never expires
            "AccessLogBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "LifecycleConfiguration": {
                        "Rules": [
                            {"Status": "Enabled", "ExpirationInDays": 730},
                            {"Status": "Disabled", "ExpirationInDays": 1},
                        ]
                    }
                },
            },
            "AccessLogBucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": {"Ref": "AccessLogBucket"}, "PolicyDocument": {}},
            },
            "LoadBalancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {
                    "Subnets": ["subnet-1", "subnet-2"],
                    "LoadBalancerAttributes": [
                        {"Key": "access_logs.s3.enabled", "Value": "true"},
                        {"Key": "access_logs.s3.bucket", "Value": {"Ref": "AccessLogBucket"}},
                    ],
                },
            },
            "ErrorAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [
                        {"Id": "a", "MetricStat": {}},
                        {"Id": "b", "MetricStat": {}},
                        {"Id": "c", "Expression": "a/b"},
                    ]
                },
            },
            "Dashboard": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardBody": {
                        "Fn::Sub": json.dumps(
                            {
                                "widgets": [
                                    {
                                        "type": "metric",
                                        "properties": {"annotations": {"alarms": ["${ErrorAlarm.Arn}"]}},
                                    },
                                    {"type": "metric", "properties": {"metrics": [["AWS/EC2", "CPUUtilization"]]}},
                                ]
                            }
                        )
                    }
                },
            },
            **(extra or {}),
        },
    }
    root = {"Resources": {"LogsStack": {"Type": cfnmodel.NESTED, "Properties": {"TemplateURL": "logs.yaml"}}}}
    return cfnmodel.resolve_set({"root.yaml": root, "logs.yaml": child}, {})


def test_log_groups_bucket_and_dashboard_recomputed_by_hand(tmp_path, prod_cfg):
    """100 hours a month, round prices, usage: 4 GB of logs over the three
    non-flow groups, 6 GB of flow logs, 2 GB of access logs.

    flow group: 6 GB vended x 0.25 = 1.5; stored 6 x 365/(365/12) = 72 GB x 0.5 = 36.
    backend, monitoring (90 days): each 4/3 GB x 1.0; stored 4/3 x 90/(365/12) GB x 0.5.
    upgrade (no retention): 4/3 GB x 1.0; a year's worth, 16 GB x 0.5 = 8.
    bucket: 2 GB x 730/(365/12) = 48 GB x 0.1 = 4.8 (the disabled 1-day rule ignored); 2 nodes
    x 12 files an hour x 100 h = 2,400 PUTs x 0.001 = 2.4.
    dashboard: the alarm's 2 metrics + 1 = 3 metrics, the basic rate, 3 (fixed); the alarm
    on 2 metrics 0.2 (fixed); the ALB 0.02 x 100 = 2, its 2 addresses 2 and 2 LCU x 100 x 0.01;
    the deploy buckets' 5 GB x 0.1 = 0.5, which no template holds."""
    t = _table(tmp_path)
    usage = {k: float(v) for k, v in USAGE.items()}
    est = cost.estimate(prod_cfg, prices=t, usage=usage, resolved=_synthetic())
    items = {(i.resource, i.price_key): i for i in est.items}

    flow_in, flow_kept = (
        items["LogsStack/FlowLogGroup", "logs:vended-ingest"],
        items["LogsStack/FlowLogGroup", "logs:storage"],
    )
    assert (flow_in.quantity, flow_in.monthly) == (6.0, pytest.approx(1.5))
    assert flow_kept.quantity == pytest.approx(72.0) and "365 days" in flow_kept.what
    assert ("LogsStack/FlowLogGroup", "logs:ingest") not in items, "flow logs are vended logs, not standard ingest"
    for group in ("BackendLogGroup", "MonitoringLogGroup"):
        assert items[f"LogsStack/{group}", "logs:ingest"].quantity == pytest.approx(4 / 3)
        assert items[f"LogsStack/{group}", "logs:storage"].quantity == pytest.approx(4 / 3 * 90 * 12 / 365)
    upgrade = items["LogsStack/UpgradeLogGroup", "logs:storage"]
    assert upgrade.quantity == pytest.approx(16.0) and "never expiring" in upgrade.what
    stored = items["LogsStack/AccessLogBucket", "s3:standard"]
    assert stored.quantity == pytest.approx(48.0) and stored.monthly == pytest.approx(4.8)
    puts = items["LogsStack/AccessLogBucket", "s3:put"]
    assert (puts.quantity, puts.monthly) == (2400, pytest.approx(2.4))
    dash = items["LogsStack/Dashboard", "cloudwatch:dashboard:basic"]
    assert (dash.usage, dash.monthly) == (False, 3.0)
    assert all(i.usage for i in est.items if i.price_key.startswith(("logs:", "s3:")))
    assert not any(i.resource == "(usage)" and i.price_key == "logs:ingest" for i in est.items), (
        "with log groups in the templates, ingest is priced per group, not once more"
    )
    assert est.fixed == pytest.approx(3 + 0.2 + 2 + 2)
    assert est.usage == pytest.approx(1.5 + 36 + 4 + 2 * (4 / 3 * 90 * 12 / 365 * 0.5) + 8 + 4.8 + 2.4 + 2 + 0.5)


def test_a_dashboard_over_fifty_metrics_takes_the_other_rate(tmp_path, prod_cfg):
    """CloudWatch prices a dashboard of more than 50 metrics as
    DashboardsUsageHour, not -Basic: the toy table lacks that key, and the
    error names it."""
    big = {
        "Big": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardBody": json.dumps(
                    {"widgets": [{"type": "metric", "properties": {"metrics": [["AWS/EC2", "CPUUtilization"]] * 51}}]}
                )
            },
        }
    }
    with pytest.raises(cost.PriceError, match=r"no price for cloudwatch:dashboard;"):
        cost.estimate(prod_cfg, prices=_table(tmp_path), usage=cost.load_usage(None)[0], resolved=_synthetic(extra=big))


@pytest.mark.parametrize(
    "extra, words",
    [
        (
            {"Other": {"Type": "AWS::S3::Bucket", "Properties": {}}},
            r"LogsStack/Other: an S3 bucket that holds no load balancer access logs has no usage figure",
        ),
        (
            {"Bad": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": "{not json"}}},
            r"LogsStack/Bad: DashboardBody is not a dashboard's JSON",
        ),
    ],
)
def test_what_the_rules_cannot_price_stops_the_estimate_naming_it(tmp_path, prod_cfg, extra, words):
    with pytest.raises(cost.PriceError, match=words):
        cost.estimate(
            prod_cfg, prices=_table(tmp_path), usage=cost.load_usage(None)[0], resolved=_synthetic(extra=extra)
        )


def test_flow_logs_to_s3_have_no_rule_yet(tmp_path, prod_cfg):
    """Flow logs delivered to S3 are vended logs at another rate: an error, not the CloudWatch one."""
    with pytest.raises(cost.PriceError, match=r"LogsStack/FlowLog: flow logs delivered to s3 have no pricing rule"):
        cost.estimate(
            prod_cfg,
            prices=_table(tmp_path),
            usage=cost.load_usage(None)[0],
            resolved=_synthetic(flow_destination="s3"),
        )


def test_unsourced_log_prices_are_named_and_left_out(tmp_path, prod_cfg):
    """The committed tables hold the new keys without a figure: the items are
    listed, the totals leave them out and name them."""
    t = _table(tmp_path)
    for key in ("logs:storage", "logs:vended-ingest"):
        t.entries[key] = {"usd": None, "unit": "USD per GB", "note": "not read"}
    est = cost.estimate(prod_cfg, prices=t, usage={k: float(v) for k, v in USAGE.items()}, resolved=_synthetic())
    assert est.to_dict()["unsourced"] == ["logs:storage", "logs:vended-ingest"]
    assert est.usage == pytest.approx(3 * 4 / 3 + 4.8 + 2.4 + 2 + 0.5)


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1"])
def test_committed_notes_state_the_rotation_cap_and_the_alarm_free_tier(region):
    """The KMS note described the pre-2024 rule (every rotation adds $1/month,
    growing without end); since May 2024 only the first two do. The alarm
    price's free tier (10 alarm metrics) is named, and not subtracted."""
    entries = json.loads(cost.price_path(region).read_text())["prices"]
    kms = entries["kms:key"]["note"]
    assert "first and second rotation" in kms and "capped at the second rotation" in kms
    assert "each newly generated backing key" not in kms
    alarm = entries["cloudwatch:alarm"]["note"]
    assert "10 Alarm metrics" in alarm and "not subtracted" in alarm
