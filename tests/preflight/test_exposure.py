"""Safe production defaults: a prod parameter file that leaves monitoring
open to the internet or the site without TLS is refused by plan and deploy
against AWS, before any AWS call, unless the file accepts it in
AcceptedRisks; the build and a rehearsal run with any file.

Stand-in: botocore's Stubber with no queued response on every client the
deploy could make (any call would fail the test with "Unexpected API
call"), and a botocore session that refuses to create a client at all for
the command-line runs. What the real service enforces beyond this: the
root template's Rules, against which CloudFormation validates the
parameters during a stack creation or update, before any resource
("Template Rules syntax", AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html);
moto does not evaluate Rules, so the last test here evaluates them on the
committed root template and compares with the tooling's verdict.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from wealist_cfn import config
from wealist_cfn.aws import Aws
from wealist_cfn.cfn import templates
from wealist_cfn.cli import main
from wealist_cfn.cli import preflight_hook as hook
from wealist_cfn.config import ConfigError
from wealist_cfn.core.parameters import CIDR_PATTERN
from wealist_cfn.core.settings import PARAMS_DIR, TEMPLATES_DIR
from wealist_cfn.errors import CommandError
from wealist_cfn.preflight import exposure

CERT = "arn:aws:acm:ap-northeast-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def _file(tmp_path, drop=(), **values) -> config.Config:
    """params/prod.json with some keys left out and some set; loaded as the tool loads it."""
    entries = [e for e in json.loads((PARAMS_DIR / "prod.json").read_text()) if e["ParameterKey"] not in drop]
    keys = [e["ParameterKey"] for e in entries]
    for k, v in values.items():
        if k in keys:
            entries[keys.index(k)]["ParameterValue"] = v
        else:
            entries.append({"ParameterKey": k, "ParameterValue": v})
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(entries, indent=2))
    return config.load(path)


MONITORING_CASES = {"missing": ({"drop": ("MonitoringAccessCidr",)}), "wrong": ({"MonitoringAccessCidr": "0.0.0.0/0"})}
CERT_CASES = {"missing": ({"drop": ("CertificateArn",)}), "wrong": ({"CertificateArn": ""})}


def _case(tmp_path, monitoring: dict, cert: dict, **more) -> config.Config:
    drop = monitoring.get("drop", ()) + cert.get("drop", ())
    values = {k: v for k, v in {**monitoring, **cert, **more}.items() if k != "drop"}
    return _file(tmp_path, drop=drop, **values)


@pytest.mark.parametrize("m,c", list(itertools.product(MONITORING_CASES, CERT_CASES)))
def test_both_values_missing_or_wrong_give_one_line_each(tmp_path, m, c):
    cfg = _case(tmp_path, MONITORING_CASES[m], CERT_CASES[c])
    lines = exposure.unaccepted(cfg)
    assert len(lines) == 2
    monitoring, cert = lines
    for line in lines:
        assert line.startswith(f"{cfg.path}: ") and "\n" not in line
    assert "MonitoringAccessCidr is 0.0.0.0/0" in monitoring and 'AcceptedRisks "public-monitoring"' in monitoring
    assert "set it to your office or VPN range" in monitoring
    assert "CertificateArn is empty" in cert and 'AcceptedRisks "plain-http"' in cert
    assert "ACM certificate ARN in ap-northeast-2" in cert


def test_the_shipped_prod_file_is_refused_until_settled():
    """params/prod.json ships with neither value settled: an operator fills
    them in (docs/deploy.md) before the first plan against AWS."""
    lines = exposure.unaccepted(config.load(PARAMS_DIR / "prod.json"))
    assert [line.split(": ")[1] for line in lines] == [
        "MonitoringAccessCidr is 0.0.0.0/0 (the default when the file leaves it out)",
        "CertificateArn is empty",
    ]


@pytest.mark.parametrize(
    "settle,left",
    [
        ({"MonitoringAccessCidr": "203.0.113.0/24"}, "CertificateArn"),
        ({"AcceptedRisks": "public-monitoring"}, "CertificateArn"),
        ({"CertificateArn": CERT}, "MonitoringAccessCidr"),
        ({"AcceptedRisks": "plain-http"}, "MonitoringAccessCidr"),
    ],
)
def test_each_value_is_settled_by_fixing_it_or_accepting_it_alone(tmp_path, settle, left):
    [line] = exposure.unaccepted(_file(tmp_path, **settle))
    assert line.split(": ")[1].startswith(left)


@pytest.mark.parametrize(
    "values",
    [
        {"MonitoringAccessCidr": "203.0.113.0/24", "CertificateArn": CERT},
        {"AcceptedRisks": "public-monitoring,plain-http"},
        {"MonitoringAccessCidr": "203.0.113.0/24", "AcceptedRisks": "plain-http"},
    ],
)
def test_a_settled_prod_file_passes(tmp_path, values):
    assert exposure.unaccepted(_file(tmp_path, **values)) == []


def test_other_environments_are_not_held_to_it(tmp_path):
    cfg = _file(tmp_path, Environment="dev")
    assert cfg.values["MonitoringAccessCidr"] == "0.0.0.0/0" and exposure.unaccepted(cfg) == []


@pytest.mark.parametrize("value", ["yes", "plain-http,public-monitoring", "public-monitoring,", "PLAIN-HTTP"])
def test_an_acceptance_the_template_would_not_take_is_a_one_line_file_error(tmp_path, value):
    with pytest.raises(ConfigError) as e:
        _file(tmp_path, AcceptedRisks=value)
    assert str(e.value).startswith(f"{tmp_path / 'prod.json'}: AcceptedRisks: {value!r} is not one of")


# -- where plan and deploy refuse ------------------------------------------------------------------


@pytest.fixture
def stubbed_aws(monkeypatch):
    """An Aws whose every client is stubbed with no response queued: any
    call raises. Returns (aws, stubbers)."""
    aws = Aws("ap-northeast-2", local_credentials=True)
    stubbers: list[Stubber] = []

    def client(self, service):
        if service not in self._clients:
            c = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-2").client(
                service
            )
            stub = Stubber(c)
            stub.activate()
            stubbers.append(stub)
            self._clients[service] = c
        return self._clients[service]

    monkeypatch.setattr(Aws, "client", client)
    return aws, stubbers


@pytest.mark.parametrize("skip", [False, True])
def test_plan_and_deploy_against_aws_refuse_before_any_call(tmp_path, stubbed_aws, skip):
    """Against AWS (no endpoint) the refusal comes first, and --skip-preflight does not skip it."""
    aws, stubbers = stubbed_aws
    cfg = _file(tmp_path)
    dep = SimpleNamespace(config=cfg, aws=aws, opts=SimpleNamespace(stack_name="wealist-prod"))
    args = SimpleNamespace(skip_preflight=skip, params=cfg.path, output="text")
    with pytest.raises(CommandError) as e:
        hook.before_change_set(args, dep, io.StringIO(), {})
    assert str(e.value) == exposure.unaccepted(cfg)[0] and e.value.details == tuple(exposure.unaccepted(cfg)[1:])
    assert e.value.exit_code == 2
    assert sum(aws.calls.values()) == 0
    for stub in stubbers:
        stub.assert_no_pending_responses()


def _with_target(cfg, tgt):
    # What the hook reads of the Aws is its Target; any call would fail.
    return SimpleNamespace(config=cfg, aws=SimpleNamespace(target=tgt), opts=SimpleNamespace(stack_name="wealist-prod"))


def test_a_rehearsal_endpoint_is_not_refused(tmp_path):
    """No stand-in (the Target the rehearsal's own document declares): on
    the local endpoint the file is not held to it (nothing it makes is
    reachable), and --skip-preflight makes no call."""
    from wealist_cfn.aws import target
    from wealist_cfn.rehearsal import compat as local

    dep = _with_target(_file(tmp_path), target.from_document(local.target_document(), "http://localhost:5000"))
    args = SimpleNamespace(skip_preflight=True, params=dep.config.path, output="text")
    assert hook.before_change_set(args, dep, io.StringIO(), {}) is None


def test_an_unknown_endpoint_shows_what_aws_would_refuse(tmp_path):
    """No stand-in: an --endpoint-url that does not declare itself the
    rehearsal is not refused (its answers are not known, as for preflight)
    but is told what AWS would refuse (it said nothing before)."""
    from wealist_cfn.aws import target

    dep = _with_target(_file(tmp_path), target.unknown("http://localhost:5000"))
    args = SimpleNamespace(skip_preflight=True, params=dep.config.path, output="text")
    out = io.StringIO()
    assert hook.before_change_set(args, dep, out, {}) is None
    lines = exposure.unaccepted(dep.config)
    assert out.getvalue().splitlines()[: len(lines)] == [
        "exposure: not refused on the endpoint at http://localhost:5000, whose answers are not known; against "
        f"AWS this stops the deploy: {lines[0]}",
        *(f"  {line}" for line in lines[1:]),
    ]


@pytest.mark.parametrize("command", ["plan", "deploy"])
def test_the_command_line_refusal_is_one_line_per_value_and_creates_no_client(tmp_path, monkeypatch, command):
    created = []

    def refuse(self, service_name, *a, **kw):
        created.append(service_name)
        raise AssertionError(f"an AWS client ({service_name}) was created")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    cfg = _file(tmp_path, drop=("MonitoringAccessCidr",))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([command, "--params", str(cfg.path), "--skip-preflight"])
    assert code == 2 and created == []
    lines = err.getvalue().splitlines()
    assert lines == [f"error: {exposure.unaccepted(cfg)[0]}", f"  {exposure.unaccepted(cfg)[1]}"]


# -- the root template holds the same line -------------------------------------------------------


def _evaluate(node, values):
    """The few rule functions the root's Rules use, over parameter values."""
    if isinstance(node, dict):
        [(fn, arg)] = node.items()
        if fn == "Ref":
            return values[arg]
        args = [_evaluate(a, values) for a in arg] if fn != "Fn::Contains" else [arg[0], _evaluate(arg[1], values)]
        return {
            "Fn::Equals": lambda a, b: a == b,
            "Fn::Not": lambda a: not a,
            "Fn::Or": lambda *a: any(a),
            "Fn::Contains": lambda lst, s: s in lst,
        }[fn](*args)
    return node


@pytest.mark.parametrize(
    "env,cidr,cert,risks",
    list(
        itertools.product(
            ["prod", "dev"],
            ["0.0.0.0/0", "203.0.113.0/24"],
            ["", CERT],
            ["", "public-monitoring", "plain-http", "public-monitoring,plain-http"],
        )
    ),
)
def test_the_root_templates_rules_agree_with_the_refusal(tmp_path, env, cidr, cert, risks):
    root = templates.load((TEMPLATES_DIR / "root.yaml").read_text())
    cfg = _file(tmp_path, Environment=env, MonitoringAccessCidr=cidr, CertificateArn=cert, AcceptedRisks=risks)
    failed = [
        name
        for name, rule in root["Rules"].items()
        if _evaluate(rule["RuleCondition"], cfg.values)
        and not all(_evaluate(a["Assert"], cfg.values) for a in rule["Assertions"])
    ]
    refused = [line.split(": ")[1].split(" ")[0] for line in exposure.unaccepted(cfg)]
    rule_of = {"MonitoringAccessCidr": "ProdMonitoringNotPublic", "CertificateArn": "ProdServedOverTls"}
    assert failed == [rule_of[key] for key in refused]


# -- a public range other than the literal 0.0.0.0/0 ----------------------------------------------


@pytest.mark.parametrize(
    "cidr,size",
    [
        ("0.0.0.0/1", 2**31),
        ("128.0.0.0/1", 2**31),
        ("3.0.0.0/8", 2**24),
        ("52.0.0.0/15", 2**17),
        ("0.0.0.0/8", 2**24),
        ("0.0.0.0/4", 2**28),
        ("10.0.0.0/7", 2**25),
        ("172.0.0.0/11", 2**21),
    ],
)
def test_a_wide_public_range_is_refused_like_the_whole_internet(tmp_path, cidr, size):
    """0.0.0.0/1 is half the internet, yet it is not the string 0.0.0.0/0; nor is a range that
    reaches past a private block (10.0.0.0/7 holds 11.0.0.0/8)."""
    cfg = _file(tmp_path, MonitoringAccessCidr=cidr, CertificateArn=CERT)
    [line] = exposure.unaccepted(cfg)
    assert line == (
        f"{cfg.path}: MonitoringAccessCidr is {cidr}, a public range of {size} addresses (wider than "
        f"a /16): Prometheus and Grafana's login are open to that much of the internet; set it to "
        f"your office or VPN range (e.g. 203.0.113.0/24), or accept it with AcceptedRisks "
        f'"public-monitoring"'
    )
    assert (
        exposure.unaccepted(
            _file(tmp_path, MonitoringAccessCidr=cidr, CertificateArn=CERT, AcceptedRisks="public-monitoring")
        )
        == []
    )


@pytest.mark.parametrize(
    "cidr",
    [
        "203.0.113.0/24",
        "198.51.0.0/16",
        "203.0.113.7/32",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "10.20.0.0/14",
    ],
)
def test_a_narrow_or_unrouted_range_passes(tmp_path, cidr):
    assert exposure.unaccepted(_file(tmp_path, MonitoringAccessCidr=cidr, CertificateArn=CERT)) == []


@pytest.mark.parametrize(
    "cidr",
    [
        "0.0.0.0/00",
        "000.0.0.0/0",
        "0.0.0.00/0",
        "00.0.0.0/0",
        "0.0.0.0/033",
        "256.0.0.0/8",
        "10.0.0.0/33",
        "01.2.3.4/32",
        " 0.0.0.0/0",
        "0.0.0.0/0 ",
    ],
)
def test_another_spelling_of_a_range_is_a_one_line_file_error(tmp_path, cidr):
    """The Rule compares strings: only canonical spellings reach it, so 0.0.0.0/00 cannot pass
    where 0.0.0.0/0 is refused. The same pattern is the template's AllowedPattern, which
    CloudFormation checks before any resource ("Parameters syntax", AllowedPattern)."""
    with pytest.raises(ConfigError) as e:
        _file(tmp_path, MonitoringAccessCidr=cidr)
    assert str(e.value).startswith(f"{tmp_path / 'prod.json'}: MonitoringAccessCidr: {cidr!r}")
    root = templates.load((TEMPLATES_DIR / "root.yaml").read_text())
    pattern = root["Parameters"]["MonitoringAccessCidr"]["AllowedPattern"]
    assert pattern == CIDR_PATTERN and re.fullmatch(pattern, cidr) is None


def test_the_root_rule_holds_the_literal_and_preflight_the_rest(tmp_path):
    """The Rule cannot compare ranges: it refuses 0.0.0.0/0 and lets 0.0.0.0/1 through, which only
    preflight refuses (the limit the template's comment states)."""
    root = templates.load((TEMPLATES_DIR / "root.yaml").read_text())
    rule = root["Rules"]["ProdMonitoringNotPublic"]
    verdicts = {}
    for cidr in ("0.0.0.0/0", "0.0.0.0/1"):
        cfg = _file(tmp_path, MonitoringAccessCidr=cidr, CertificateArn=CERT)
        verdicts[cidr] = (
            all(_evaluate(a["Assert"], cfg.values) for a in rule["Assertions"]),
            bool(exposure.unaccepted(cfg)),
        )
    assert verdicts == {"0.0.0.0/0": (False, True), "0.0.0.0/1": (True, True)}
