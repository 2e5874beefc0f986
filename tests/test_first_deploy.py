"""The smaller first-deploy rules: the compute stack waits for the database
and the cache; the review says what a create-only change to a custom-named
resource really does and that a changed launch template needs a rollout;
the database's engine version is the major only; bootstrap names an
account-unique bucket when the name is taken.

Stand-ins: none for the templates (built and read as data); the review is
fed rows shaped as DescribeChangeSet returns them; S3 is botocore's Stubber
with the CreateBucket error AWS documents (BucketAlreadyExists: "The
requested bucket name is not available ... Select a different name", S3 API
reference, CreateBucket / Error responses)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from wealist_cfn.config import load
from wealist_cfn.core import bootbudget
from wealist_cfn.core.settings import DEFAULT_SETTINGS, PARAMS_DIR
from wealist_cfn.deploy import review as review_mod
from wealist_cfn.ops import bootstrap
from wealist_cfn.stacks import database, root


def test_compute_waits_for_the_database_and_the_cache():
    """No output wires them (the boot reads the endpoints from Parameter
    Store), so only DependsOn orders the compute stack after them."""
    built = root.build_all(DEFAULT_SETTINGS)["root.yaml"].to_dict()["Resources"]
    assert sorted(built["ComputeStack"]["DependsOn"]) == ["CacheStack", "DatabaseStack"]


def test_engine_version_is_the_major_only():
    props = json.loads(database.build(DEFAULT_SETTINGS).to_json())["Resources"]["Database"]["Properties"]
    assert props["EngineVersion"].isdigit() and props["AutoMinorVersionUpgrade"] is True


def _review(*changes) -> review_mod.Review:
    r = review_mod.Review("wealist-prod", "UPDATE")
    r.rows = [review_mod.row_from_change(path, {"ResourceChange": c}) for path, c in changes]
    review_mod.analyse(r)
    return r


def _replace(rid, rtype, prop):
    return {
        "Action": "Modify",
        "LogicalResourceId": rid,
        "ResourceType": rtype,
        "Replacement": "True",
        "PolicyAction": "ReplaceAndSnapshot",
        "Scope": ["Properties"],
        "Details": [
            {
                "Target": {"Attribute": "Properties", "Name": prop, "RequiresRecreation": "Always"},
                "Evaluation": "Static",
                "ChangeSource": "DirectModification",
            }
        ],
    }


def test_a_create_only_change_to_a_named_database_is_a_failure_to_come_not_a_replacement():
    """The database and the Redis group have fixed names: CloudFormation
    cannot replace them, the update fails. An unnamed stateful resource (a
    subnet) is still reviewed as replaced."""
    r = _review(
        ("DatabaseStack", _replace("Database", "AWS::RDS::DBInstance", "DBName")),
        ("NetworkStack", _replace("PrivateSubnet1", "AWS::EC2::Subnet", "CidrBlock")),
    )
    by_where = {c.where: c for c in r.guarded}
    db = by_where["DatabaseStack/Database"]
    assert "cannot replace it: this update would fail and roll back" in db.message
    assert "data is lost" not in db.message
    assert "replaced" in by_where["NetworkStack/PrivateSubnet1"].message
    assert "cannot replace" not in by_where["NetworkStack/PrivateSubnet1"].message


@pytest.mark.parametrize(
    "rid,hint",
    [
        ("BackendLaunchTemplate", "rollout --params PARAMS\n"),
        ("MonitoringLaunchTemplate", "rollout --params PARAMS --group monitoring\n"),
    ],
)
def test_a_changed_launch_template_says_running_instances_need_a_rollout(rid, hint):
    change = {
        "Action": "Modify",
        "LogicalResourceId": rid,
        "ResourceType": "AWS::EC2::LaunchTemplate",
        "Replacement": "False",
        "Scope": ["Properties"],
        "Details": [
            {
                "Target": {"Attribute": "Properties", "Name": "LaunchTemplateData", "RequiresRecreation": "Never"},
                "Evaluation": "Static",
                "ChangeSource": "ParameterReference",
                "CausingEntity": "BackendInstanceType",
            }
        ],
    }
    [note] = [c for c in _review(("ComputeStack", change)).callouts if c.level == "warning"]
    assert "keep the old launch template version" in note.message
    assert (note.message + "\n").endswith(hint)


def test_a_taken_bucket_name_is_refused_with_an_account_unique_suggestion():
    """A params file that names the original's global bucket: CreateBucket's
    BucketAlreadyExists is one line naming the file and the account-unique
    name (the 403 HeadBucket answers first on AWS is in
    tests/ops/test_bootstrap_bucket_name.py)."""
    cfg = load(PARAMS_DIR / "prod.json").with_values(DeployBucketName="wealist-deploy-scripts")
    s3 = boto3.client("s3", region_name="ap-northeast-2", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(s3) as stub:
        stub.add_client_error(
            "create_bucket", "BucketAlreadyExists", "The requested bucket name is not available.", http_status_code=409
        )
        with pytest.raises(bootstrap.BootstrapError) as err:
            bootstrap._bucket(cfg, s3, "123456789012", "ap-northeast-2", bootstrap.Report(dry_run=False), False)
    assert "BucketAlreadyExists (another account owns it)" in str(err.value)
    assert "wealist-prod-deploy-123456789012-ap-northeast-2" in str(err.value)
    assert str(cfg.path) in str(err.value)


BOOT = Path(root.__file__).resolve().parents[1] / "boot"
# Figures the scripts cannot give, from docs/operations.md ("How long a boot
# takes"): launch to UserData (cloud-init), the work after the last wait (the
# service image pulls and compose up), and a command already running when
# the budget ends (the AWS CLI's default connect/read timeout, 60 s: AWS CLI
# User Guide, "--cli-read-timeout", "--cli-connect-timeout").
BEFORE_USERDATA, AFTER_LAST_WAIT, IN_FLIGHT = bootbudget.BEFORE_USERDATA_SECONDS, 40, 60


def _default(text: str, name: str) -> int:
    return int(re.search(rf"\${{{name}:-(\d+)}}", text).group(1))


def _waits() -> dict[str, int]:
    """Every bounded wait of a backend boot, at its worst, from the scripts:
    UserData's and startup.sh's retries (4 pauses of attempt x delay), the
    Docker wait, the parameter wait (its wall-clock limit plus one poll)
    and the database init once per service (doubling delays capped at 60 s
    plus PGCONNECT_TIMEOUT per attempt, render.py)."""
    startup, userdata = (BOOT / "startup.sh").read_text(), (BOOT / "userdata.sh").read_text()
    delay = _default(startup, "WEALIST_RETRY_DELAY")
    per_retry = sum(a * delay for a in range(1, 5))
    backend = startup[: startup.index("start_monitoring() {")]
    retried = len(re.findall(r"^\s*(?:\S+=\$\()?retry ", backend, re.M)) + len(
        re.findall(r"retry (?:aws|docker|curl|dnf|imds)", userdata)
    )
    tries = int(re.search(r'docker_wait" -ge (\d+)', startup).group(1))
    pause = int(re.search(r"may_wait (\d+) \|\| out_of_budget \d+ \"the Docker daemon\"", startup).group(1))
    attempts = _default(startup, "WEALIST_DB_ATTEMPTS")
    cap = int(re.search(r"delay \* 2 > (\d+) \?", startup).group(1))
    render = (Path(root.__file__).resolve().parents[2] / "instance-files" / "config" / "render.py").read_text()
    connect = int(re.search(r'"PGCONNECT_TIMEOUT": "(\d+)"', render).group(1))
    d, db = delay, attempts * connect
    for _ in range(attempts - 1):
        db, d = db + d, min(d * 2, cap)
    services = len(re.search(r"for svc in ([a-z -]+); do\n\s+# Every service's database", startup).group(1).split())
    # name -> (how many times a boot may meet it, its worst length each time)
    return {
        "retries": (retried, per_retry),
        "docker": (1, tries * pause),
        "parameters": (1, _default(startup, "WEALIST_PARAMETER_WAIT") + _default(startup, "WEALIST_POLL_SECONDS")),
        "database init": (services, db),
    }


def test_every_wait_of_the_boot_draws_on_one_budget_that_ends_inside_the_grace_period():
    """The waits added up from the scripts outlast the grace period, so a
    budget bounds them all: each sleep of startup.sh is preceded by the
    budget check, each single wait fits in the budget, and the budget plus
    what can follow it ends inside the grace period. Before, the parameter
    wait counted only its sleeps (600 s), and nothing bounded the sum."""
    from wealist_cfn.stacks import compute, loadbalancer

    startup = (BOOT / "startup.sh").read_text()
    budget = _default(startup, "WEALIST_BOOT_BUDGET")
    waits = _waits()
    assert sum(n * each for n, each in waits.values()) > compute.BACKEND_GRACE_SECONDS, waits  # why the budget
    assert all(each <= budget for _, each in waits.values()), waits
    lines = startup.splitlines()
    # give_up's hold comes after the boot has failed, while the instance
    # waits to ask for its own replacement: not a boot wait, and bounded by
    # WEALIST_REPLACE_AFTER, whose default is the budget itself.
    start = lines.index("give_up() {")
    end = lines.index("}", start)
    held = [i for i in range(start, end) if re.match(r"\s+sleep ", lines[i])]
    assert len(held) == 1 and "REPLACE_AFTER=${WEALIST_REPLACE_AFTER:-$BOOT_BUDGET}" in startup
    sleeps = [i for i, line in enumerate(lines) if re.match(r"\s+sleep ", line) and i not in held]
    assert len(sleeps) == 4
    for i in sleeps:
        before = [line for line in lines[max(0, i - 3) : i] if "may_wait" in line]
        assert before, f"startup.sh line {i + 1} sleeps without the budget check"
    assert 'WEALIST_BOOT_STARTED="$boot_started"' in (BOOT / "userdata.sh").read_text()

    compose = (
        Path(root.__file__).resolve().parents[2] / "instance-files" / "config" / "docker-compose.prod.yml"
    ).read_text()
    start_period = max(int(x) for x in re.findall(r"start_period: (\d+)s", compose))
    tg = next(
        r["Properties"]
        for r in json.loads(loadbalancer.build(DEFAULT_SETTINGS).to_json())["Resources"].values()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup"
    )
    checks = tg["HealthyThresholdCount"] * tg["HealthCheckIntervalSeconds"]
    bound = BEFORE_USERDATA + budget + IN_FLIGHT + AFTER_LAST_WAIT + start_period + checks
    assert bound <= compute.BACKEND_GRACE_SECONDS, bound
    built = json.loads(compute.build(DEFAULT_SETTINGS).to_json())["Resources"]["BackendAutoScalingGroup"]
    assert built["Properties"]["HealthCheckGracePeriod"] == compute.BACKEND_GRACE_SECONDS


@pytest.mark.parametrize(
    "old,new,words",
    [
        (
            "false",
            "true",
            [
                "standby from a snapshot",
                "adds a replica",
                "cuts connections",
                "nothing is replaced",
                "raises write latency",
                "off-peak",
                "check the members' AZs",
            ],
        ),
        (
            "true",
            "false",
            [
                "drops its standby",
                "removes the replica",
                "deleted",
                "nothing is replaced",
                "which member goes is not documented",
                "-001 the primary",
            ],
        ),
    ],
)
def test_the_review_of_a_mode_switch_says_what_each_part_does(old, new, words):
    r = review_mod.Review("wealist-prod", "UPDATE")
    r.parameters = [
        review_mod.ParameterChange("EnableMultiAZ", old, new),
        review_mod.ParameterChange("CacheFailover", "auto", "off"),
    ]
    review_mod.analyse(review_mod.analyse(r) or r)  # twice, as the protection switch does: no duplicates
    [switch] = [n for n in r.notes if n.startswith("mode switch")]
    assert all(w in switch for w in words), switch
    assert any(n.startswith("CacheFailover off") for n in r.notes) and len(r.notes) == 2
