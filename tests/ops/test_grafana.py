"""Grafana's provisioning: every dashboard is one Grafana can load and every
query asks for something that exists.

Stand-ins and what they enforce: promtool (Debian prometheus 2.42) parses
each PromQL expression as a recording rule would; the metric names are
checked against node-exporter v1.8.2's source (the version
docker-compose.prod.yml pins) and Prometheus's own per-target series; the
CloudWatch queries against the Elastic Load Balancing user guide's table of
Application Load Balancer metrics and dimensions; the dashboards' tag lookups
against the tags the resolved templates give the load balancer and target
groups (wealist_cfn.cfn.model). No Grafana server runs here: what Grafana
itself would refuse beyond this (panel plugin options) is not checked.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from helpers.instance_files import render  # instance-files/config/render.py, run at boot

from .tools import ROOT, require

GRAFANA = ROOT / "instance-files" / "monitoring" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

PROD = {"PROJECT": "wealist", "ENVIRONMENT": "prod", "AWS_REGION": "ap-northeast-2"}

# Metric names the node dashboards may use, each where node-exporter v1.8.2
# defines it (github.com/prometheus/node_exporter at tag v1.8.2).
NODE_EXPORTER_METRICS = {
    "node_cpu_seconds_total": "collector/cpu_linux.go (cpu subsystem, seconds_total)",
    # meminfo_linux.go names one metric per /proc/meminfo field, "_bytes"
    # for fields in kB: MemTotal, MemAvailable (Linux 3.14+, proc(5)).
    "node_memory_MemTotal_bytes": "collector/meminfo.go + meminfo_linux.go",
    "node_memory_MemAvailable_bytes": "collector/meminfo.go + meminfo_linux.go",
    "node_filesystem_avail_bytes": "collector/filesystem_common.go (avail_bytes)",
    "node_filesystem_size_bytes": "collector/filesystem_common.go (size_bytes)",
    "node_disk_read_bytes_total": "collector/diskstats_linux.go (read_bytes_total)",
    "node_disk_written_bytes_total": "collector/diskstats_linux.go (written_bytes_total)",
    "node_disk_io_time_seconds_total": "collector/diskstats_linux.go (io_time_seconds_total)",
    "node_network_receive_bytes_total": "collector/netdev_common.go (receive_bytes_total)",
    "node_network_transmit_bytes_total": "collector/netdev_common.go (transmit_bytes_total)",
    "node_network_receive_errs_total": "collector/netdev_common.go (receive_errs_total)",
    "node_network_transmit_errs_total": "collector/netdev_common.go (transmit_errs_total)",
    "node_load1": "collector/loadavg.go (load1)",
}
# Series Prometheus writes for every scrape target, whatever it exposes
# (Prometheus docs, "Jobs and instances", automatically generated series).
SCRAPE_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}
PROMQL_WORDS = {
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "rate",
    "irate",
    "increase",
    "scalar",
    "vector",
    "or",
    "and",
    "unless",
}

# Elastic Load Balancing user guide, "CloudWatch metrics for your Application
# Load Balancer" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
# metric -> (useful statistics, dimension sets it is published with). Only
# the ones the dashboards use.
PERCENTILE = re.compile(r"p\d{1,2}(\.\d+)?$")
ALB_METRICS = {
    "RequestCount": ({"Sum"}, {frozenset({"LoadBalancer"}), frozenset({"LoadBalancer", "TargetGroup"})}),
    "HTTPCode_Target_5XX_Count": ({"Sum"}, {frozenset({"LoadBalancer"}), frozenset({"LoadBalancer", "TargetGroup"})}),
    "TargetResponseTime": (
        {"Average", PERCENTILE},
        {frozenset({"LoadBalancer"}), frozenset({"LoadBalancer", "TargetGroup"})},
    ),
    "HealthyHostCount": ({"Average", "Minimum", "Maximum"}, {frozenset({"LoadBalancer", "TargetGroup"})}),
    "UnHealthyHostCount": ({"Average", "Minimum", "Maximum"}, {frozenset({"LoadBalancer", "TargetGroup"})}),
}


def _load(path, env=PROD) -> dict:
    """A dashboard as the startup script leaves it: tokens filled in."""
    return json.loads(render.render_template(path.read_text(), env))


def _datasources(env=PROD) -> dict[str, dict]:
    out = {}
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.yml")):
        for ds in yaml.safe_load(render.render_template(path.read_text(), env))["datasources"]:
            assert ds["uid"] not in out, f"{path.name}: uid {ds['uid']} provisioned twice"
            out[ds["uid"]] = ds
    return out


def _panels(dash: dict):
    for panel in dash["panels"]:
        if panel["type"] != "row":
            yield panel


def _targets(dash: dict, ds_type: str):
    for panel in _panels(dash):
        for target in panel["targets"]:
            if target["datasource"]["type"] == ds_type:
                yield panel, target


def _promql(dash: dict) -> list[str]:
    """Every PromQL expression: the queries', and the selector inside each
    variable's label_values(), Grafana's own function around PromQL."""
    exprs = [t["expr"] for _, t in _targets(dash, "prometheus")]
    for v in dash["templating"]["list"]:
        if v["datasource"]["type"] == "prometheus":
            exprs.append(re.fullmatch(r"label_values\((.+), \w+\)", v["query"]["query"]).group(1))
    return exprs


def test_there_is_a_dashboard_per_service_and_one_for_the_nodes():
    from wealist_cfn.core.settings import DEFAULT_SETTINGS

    uids = {_load(p)["uid"] for p in DASHBOARDS}
    assert {f"wealist-{s.name}" for s in DEFAULT_SETTINGS.services} | {"wealist-nodes"} <= uids


def test_dashboards_are_grafana_json_with_unique_ids_and_provisioned_datasources():
    """uids unique across the folder, panel ids and positions unique in a
    dashboard, every panel's and query's data source one that is provisioned,
    of that data source's type; every variable a query names exists."""
    sources = _datasources()
    seen = {}
    for path in DASHBOARDS:
        dash = _load(path)
        assert dash["uid"] not in seen, f"{path.name}: uid {dash['uid']} also in {seen.get(dash['uid'])}"
        seen[dash["uid"]] = path.name
        assert len(dash["uid"]) <= 40, "Grafana caps dashboard uids at 40 characters"
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), path.name
        variables = {v["name"] for v in dash["templating"]["list"]}
        for panel in _panels(dash):
            refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
            for ref in refs:
                assert ref["uid"] in sources, f"{path.name}: {panel['title']}: no data source {ref['uid']}"
                assert sources[ref["uid"]]["type"] == ref["type"], f"{path.name}: {panel['title']}"
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel["title"]
            used = set(re.findall(r"\$(\w+)", json.dumps(panel["targets"]))) - {"__rate_interval"}
            assert used <= variables, f"{path.name}: {panel['title']}: unknown variables {used - variables}"
        for var in dash["templating"]["list"]:
            assert var["datasource"]["uid"] in sources, f"{path.name}: variable {var['name']}"


def test_every_promql_expression_parses(tmp_path):
    """promtool parses each expression as a recording rule (Grafana's own
    variables replaced by values of their kind first)."""
    promtool = require("promtool")
    rules = []
    for path in DASHBOARDS:
        for expr in _promql(_load(path)):
            expr = expr.replace("$__rate_interval", "2m").replace("$instance", ".*")
            rules.append({"record": f"dashboard:check:{len(rules)}", "expr": expr})
    assert rules
    out = tmp_path / "rules.yml"
    out.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def _metric_names(expr: str) -> set[str]:
    """Identifiers outside label matchers, ranges, strings and grouping
    label lists that are not PromQL functions or keywords: metric names."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}", "{}", bare)
    bare = re.sub(r"\[[^\]]*\]", "[]", bare)
    bare = re.sub(
        r"\((\s*\w+\s*(,\s*\w+\s*)*)\)",
        lambda m: "()" if re.search(r"\b(by|on|without|ignoring)\s*$", bare[: m.start()]) else m.group(0),
        bare,
    )
    return set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare)) - PROMQL_WORDS


def test_every_metric_is_one_node_exporter_or_prometheus_exposes_from_a_scraped_job():
    jobs = set(re.findall(r"job_name: (\S+)", (ROOT / "instance-files/monitoring/prometheus.yml").read_text()))
    compose = (ROOT / "instance-files/config/docker-compose.prod.yml").read_text()
    assert "quay.io/prometheus/node-exporter:v1.8.2" in compose, "the metric list below is v1.8.2's: recheck it"
    for path in DASHBOARDS:
        for expr in _promql(_load(path)):
            for name in _metric_names(expr):
                assert name in NODE_EXPORTER_METRICS or name in SCRAPE_SERIES, f"{path.name}: {name}"
                if name in NODE_EXPORTER_METRICS:
                    assert 'job="node"' in expr, f"{path.name}: {name} outside the node job: {expr}"
            assert set(re.findall(r'job="([^"]+)"', expr)) <= jobs, expr


def test_every_cloudwatch_query_names_a_metric_the_load_balancer_publishes():
    """Namespace, metric, statistic and dimension set as the ELB user guide
    lists them; a math expression reads only hidden queries of its panel."""
    count = 0
    for path in DASHBOARDS:
        dash = _load(path)
        for panel in _panels(dash):
            cw = [t for t in panel["targets"] if t["datasource"]["type"] == "cloudwatch"]
            ids = {t["id"] for t in cw if t.get("id")}
            for t in cw:
                count += 1
                assert t["queryMode"] == "Metrics" and t["region"] == "default", panel["title"]
                if t.get("expression"):
                    assert t["metricEditorMode"] == 1, "an expression is a Code-mode query"
                    assert set(re.findall(r"\b([a-z]\w*)\b", t["expression"])) - {"FILL"} <= ids, t["expression"]
                    continue
                assert t["namespace"] == "AWS/ApplicationELB", panel["title"]
                stats, dimension_sets = ALB_METRICS[t["metricName"]]
                assert any(t["statistic"] == s if isinstance(s, str) else s.fullmatch(t["statistic"]) for s in stats), (
                    t["metricName"],
                    t["statistic"],
                )
                assert frozenset(t["dimensions"]) in dimension_sets, (t["metricName"], t["dimensions"])
                if t.get("id"):
                    assert t["hide"], f"{panel['title']}: a query read by an expression is hidden"
    assert count


def _resolved_prod():
    from wealist_cfn import config
    from wealist_cfn.cfn.model import resolve

    cfg = config.load(ROOT / "params" / "prod.json")
    return resolve(cfg.values, region=cfg.region)


def test_dashboards_find_their_load_balancer_and_target_group_by_the_stacks_name_tags():
    """The LoadBalancer and TargetGroup dimension values are stack outputs
    (LoadBalancerFullName, <X>TargetGroupFullName) that a dashboard file
    cannot know. Each service dashboard looks them up at load time: a
    "Resource ARNs" variable (tag:GetResources) on the Name tag the stack
    gives the resource, rendered for the environment at boot; its regex
    turns the ARN into the dimension value, which is the ARN's resource
    part (CloudFormation's LoadBalancerFullName "app/<name>/<id>",
    TargetGroupFullName "targetgroup/<name>/<id>")."""
    lb = _resolved_prod()["LoadBalancerStack"].resources
    name_tag = {
        rid: {t["Key"]: t["Value"] for t in r["Properties"].get("Tags", [])}.get("Name") for rid, r in lb.items()
    }
    expected = {
        "wealist-user-service": {"load_balancer": "LoadBalancer", "target_group": "UserServiceTargetGroup"},
        "wealist-board-service": {"load_balancer": "LoadBalancer", "target_group": "BoardServiceTargetGroup"},
    }
    sample_arn = {
        "elasticloadbalancing:loadbalancer": (
            "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/x-alb/50dc6c495c0c9188",
            "app/x-alb/50dc6c495c0c9188",
        ),
        "elasticloadbalancing:targetgroup": (
            "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/x-Targe-1AB/cbf133c568e0d028",
            "targetgroup/x-Targe-1AB/cbf133c568e0d028",
        ),
    }
    found = {}
    for path in DASHBOARDS:
        dash = _load(path)
        for var in dash["templating"]["list"]:
            if var["datasource"]["type"] != "cloudwatch":
                continue
            q = var["query"]
            assert q["queryType"] == "resourceARNs", var["name"]
            [tag] = q["tags"]["Name"]
            found.setdefault(dash["uid"], {})[var["name"]] = next(
                (rid for rid, n in name_tag.items() if n == tag), f"no resource tagged Name={tag}"
            )
            arn, dimension = sample_arn[q["resourceType"]]
            pattern = re.fullmatch(r"/(.*)/", var["regex"]).group(1)
            assert re.search(pattern, arn).group(1) == dimension, var["name"]
            assert (
                lb[found[dash["uid"]][var["name"]]]["Type"]
                == {
                    "elasticloadbalancing:loadbalancer": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "elasticloadbalancing:targetgroup": "AWS::ElasticLoadBalancingV2::TargetGroup",
                }[q["resourceType"]]
            )
    assert found == expected


def test_the_two_service_dashboards_differ_only_in_the_service():
    user = (GRAFANA / "dashboards" / "wealist-user-service.json").read_text()
    board = (GRAFANA / "dashboards" / "wealist-board-service.json").read_text()
    assert user.replace("user-service", "SVC").replace("-user-tg", "-TG") == board.replace(
        "board-service", "SVC"
    ).replace("-board-tg", "-TG")


def test_the_cloudwatch_datasource_uses_the_instance_role_and_the_environments_region():
    """authType "default" (the AWS SDK chain, which reaches the instance
    role through IMDS) is enabled in open-source Grafana; "ec2_iam_role" only
    in Amazon Managed Grafana (Grafana docs, AWS CloudWatch, "Configure AWS
    authentication",
    https://grafana.com/docs/grafana/latest/datasources/aws-cloudwatch/aws-authentication/).
    No key is provisioned. The region is the instance's, filled in at boot."""
    compose = yaml.safe_load((ROOT / "instance-files/monitoring/docker-compose.yml").read_text())
    assert compose["services"]["grafana"]["image"].startswith("docker.io/grafana/grafana:11.")
    sources = _datasources({**PROD, "AWS_REGION": "us-east-1"})
    cw = sources["cloudwatch"]
    assert cw["type"] == "cloudwatch" and cw["jsonData"]["authType"] == "default"
    assert cw["jsonData"]["defaultRegion"] == "us-east-1"
    assert "secureJsonData" not in cw
    assert sources["prometheus"]["jsonData"].get("timeInterval")


def test_files_name_only_what_the_startup_script_exports_and_it_renders_them(tmp_path):
    """The tokens in Grafana's files are ones the startup script exports
    before rendering; its monitoring boot leaves none unfilled (fake aws and
    docker, as in test_boot_scripts)."""
    from helpers.boot_scripts import _run_startup

    files = [*DASHBOARDS, *(GRAFANA / "provisioning").rglob("*.yml")]
    tokens = {t for f in files for t in re.findall(r"@@([A-Z_]+)@@", f.read_text())}
    assert tokens == {"PROJECT", "ENVIRONMENT", "AWS_REGION"}

    result, _ = _run_startup(tmp_path, "monitoring")
    assert result.returncode == 0, result.stderr
    rendered = tmp_path / "opt" / "monitoring" / "grafana"
    for f in files:
        text = (rendered / f.relative_to(GRAFANA)).read_text()
        assert "@@" not in text, f.name
    dash = json.loads((rendered / "dashboards" / "wealist-user-service.json").read_text())
    assert {v["query"]["tags"]["Name"][0] for v in dash["templating"]["list"]} == {
        "wealist-prod-alb",
        "wealist-prod-user-tg",
    }


def test_the_provider_loads_the_dashboards_folder():
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/wealist.yml").read_text())
    [p] = provider["providers"]
    compose = yaml.safe_load((ROOT / "instance-files/monitoring/docker-compose.yml").read_text())
    assert f"./grafana/dashboards:{p['options']['path']}:ro" in compose["services"]["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in compose["services"]["grafana"]["volumes"]
    assert p["type"] == "file" and p["folder"] == "Wealist"
    assert {f.name for f in (GRAFANA / "dashboards").iterdir()} == {p.name for p in DASHBOARDS}, (
        "only dashboards in the folder Grafana loads"
    )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_each_dashboard_says_what_it_shows(path):
    dash = _load(path)
    if dash["uid"] != "wealist-overview":
        assert len(dash.get("description", "")) > 40, "a description says what the dashboard shows"
    for panel in _panels(dash):
        assert panel["targets"], panel["title"]
