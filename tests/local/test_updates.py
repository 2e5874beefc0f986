"""Updates rehearsed on the persistent local endpoint read as they would on
AWS: an identical deploy is a no-op, the multi-AZ switch is an in-place
update with added NAT gateways, a VpcCidr change is refused by the guard.

Stand-in: moto's server (5.2.5) with the compatibility layer and the local
change-set model (:mod:`wealist_cfn.rehearsal.changemodel`). What AWS
enforces and the model reproduces: a property listed in the type's
``createOnlyProperties`` (CloudFormation resource schemas, as shipped by
cfn-lint) requires replacement, any other property updates in place ("Update
behaviors of stack resources", CloudFormation User Guide); DescribeChangeSet
reports nested stacks' changes in change sets of their own (API reference:
ResourceChange.ChangeSetId). The model's gaps are said in the review's note
and in docs/deploy.md."""

from __future__ import annotations

import json

from .conftest import params_with, run_cli


def _rows(review: dict) -> dict[str, dict]:
    return {(c["path"] + "/" if c["path"] else "") + c["logical_id"]: c for c in review["changes"]}


def test_identical_deploy_is_a_no_op(deployed):
    env, _ = deployed
    r = run_cli("deploy", "--params", "params/prod.json", "--local", "--yes", env=env)
    assert r.returncode == 0, r.stderr
    assert "no changes: wealist-prod already matches the templates and parameters" in r.stdout
    assert "executing change set" not in r.stdout


def test_multi_az_switch_is_reviewed_as_an_in_place_update(deployed):
    """The first of the switch's two deploys (the replica, failover held
    off: cfn/updaterules.py): every change in place."""
    env, folder = deployed
    params = params_with(folder, EnableMultiAZ="true", CacheFailover="off")
    r = run_cli("plan", "--params", str(params), "--local", "--discard", "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    review = doc["review"]
    rows = _rows(review)
    assert review["changeSetType"] == "UPDATE"
    assert sorted(review["parameters"], key=lambda p: p["key"]) == [
        {"key": "CacheFailover", "old": "auto", "new": "off"},
        {"key": "EnableMultiAZ", "old": "false", "new": "true"},
    ]
    added = {w for w, c in rows.items() if c["action"] == "Add"}
    assert added == {
        "NetworkStack/NatGateway2",
        "NetworkStack/NatGateway2Eip",
        "NetworkStack/NatGateway3",
        "NetworkStack/NatGateway3Eip",
        *(f"AlarmsStack/NatGateway{i}{kind}Alarm" for i in (2, 3) for kind in ("PortAllocation", "PacketsDropped")),
    }
    for route in ("NetworkStack/PrivateDefaultRoute2", "NetworkStack/PrivateDefaultRoute3"):
        assert rows[route]["action"] == "Modify" and rows[route]["replacement"] == "False"
        assert [d["name"] for d in rows[route]["details"]] == ["NatGatewayId"]
        assert rows[route]["details"][0]["known_at_execution"] is True
    db = rows["DatabaseStack/Database"]
    assert (db["action"], db["replacement"]) == ("Modify", "False")
    assert [(d["name"], d["recreation"], d["causes"]) for d in db["details"]] == [
        ("MultiAZ", "Never", ["ParameterReference EnableMultiAZ"])
    ]
    redis = rows["CacheStack/Redis"]
    assert (redis["action"], redis["replacement"]) == ("Modify", "False")
    assert {d["name"] for d in redis["details"]} == {"NumCacheClusters"}
    assert all(d["recreation"] == "Never" for d in redis["details"])
    # Nested stacks whose templates and parameters are unchanged are not listed.
    # The alarm stack follows the mode too: alarms for NAT gateways 2 and 3
    # (2 x 2; the Redis alarms watch every member in both modes).
    assert {w for w, c in rows.items() if c["resource_type"] == "AWS::CloudFormation::Stack"} == {
        "NetworkStack",
        "CacheStack",
        "DatabaseStack",
        "AlarmsStack",
    }
    # The alarms' dashboard graphs the alarms of the mode: its body changes in place.
    dash = rows["AlarmsStack/AlarmsDashboard"]
    assert (dash["action"], dash["replacement"]) == ("Modify", "False")
    assert [d["name"] for d in dash["details"]] == ["DashboardBody"]
    assert review["counts"] == {"Add": 4 + 4, "Modify": 9}
    assert not [c for c in review["callouts"] if c["level"] == "guarded"]
    assert any(n.startswith("change details are local") for n in review["notes"])


def test_mode_switch_text_review_names_only_local_commands(deployed):
    env, folder = deployed
    params = params_with(folder, EnableMultiAZ="true", CacheFailover="off")
    r = run_cli("plan", "--params", str(params), "--local", env=env)
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    assert "Summary: 8 add, 9 modify" in text
    assert "change set" in text and "left for review" in text
    assert "aws " not in text.replace("wealist-prod", ""), "an AWS CLI command against the local endpoint"
    hints = [line for line in text.splitlines() if "python build.py" in line]
    assert hints and all("--local" in line or "local down" in line for line in hints), hints


def test_vpc_cidr_change_is_refused_by_the_guard(deployed):
    env, folder = deployed
    params = params_with(folder, VpcCidr="10.20.0.0/16")
    r = run_cli("deploy", "--params", str(params), "--local", "--yes", "--output", "json", env=env)
    assert r.returncode == 3, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["result"]["status"] == "REFUSED"
    guarded = {c["where"] for c in doc["review"]["callouts"] if c["level"] == "guarded"}
    assert "NetworkStack/Vpc" in guarded
    vpc = _rows(doc["review"])["NetworkStack/Vpc"]
    assert vpc["replacement"] == "True"
    assert [(d["name"], d["recreation"]) for d in vpc["details"]] == [("CidrBlock", "Always")]
    # Refused before anything ran: the stack still has the old value.
    status = run_cli("local", "status", env=env)
    assert "VpcCidr = 10.1.0.0/16" in status.stdout
    assert "aws cloudformation" not in r.stderr


def test_rollout_follows_the_local_refresh_answer(deployed):
    env, _ = deployed
    r = run_cli("rollout", "--params", "params/prod.json", "--local", env=env)
    assert r.returncode == 0, r.stderr
    assert "started instance refresh" in r.stdout
    assert "recorded as done at once; moto runs no instances to replace" in r.stdout
    assert "rollout of wealist-prod-backend-asg succeeded" in r.stdout


def test_rollout_of_an_unknown_group_is_a_validation_error(deployed):
    """AWS answers StartInstanceRefresh on a group that does not exist with
    ValidationError (EC2 Auto Scaling API reference, common errors)."""
    env, _ = deployed
    r = run_cli("rollout", "--params", "params/prod.json", "--asg", "no-such-asg", "--local", env=env)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "error: StartInstanceRefresh: ValidationError: AutoScalingGroup name not found - no-such-asg"
    )


def test_local_refuses_endpoint_url_and_profile(deployed):
    env, _ = deployed
    for extra in (["--endpoint-url", "http://localhost:1"], ["--profile", "prod"]):
        r = run_cli("bootstrap", "--params", "params/prod.json", "--local", *extra, env=env)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "--local" in r.stderr


def test_bootstrap_follow_ups_name_only_local_steps(deployed):
    """After a rotation, bootstrap's next steps on AWS include AWS CLI
    commands; on the local endpoint none may appear, and every build.py
    command carries --local."""
    env, _ = deployed
    assert run_cli("bootstrap", "--params", "params/prod.json", "--local", env=env).returncode == 0
    r = run_cli(
        "bootstrap",
        "--params",
        "params/prod.json",
        "--local",
        "--rotate",
        "redis/auth_token",
        "--rotate",
        "db/user_db_password",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    nexts = [line for line in r.stdout.splitlines() if line.startswith("next:")]
    assert len(nexts) == 2, r.stdout
    assert not any(" aws " in line for line in nexts), nexts
    assert any("`python build.py rollout --params params/prod.json --local`" in line for line in nexts), nexts
    assert any("nothing to do locally" in line for line in nexts), nexts


def test_status_and_package_use_the_local_endpoint(deployed):
    env, _ = deployed
    status = run_cli("status", "--params", "params/prod.json", "--local", env=env)
    assert status.returncode == 0, status.stderr
    assert "final state: " in status.stdout and "COMPLETE" in status.stdout
    package = run_cli("package", "--params", "params/prod.json", "--local", "--output", "json", env=env)
    assert package.returncode == 0, package.stderr
    doc = json.loads(package.stdout)
    assert doc["rootTemplateUrl"].startswith("http://localhost:")
    assert doc["bucket"] == "wealist-cfn-artifacts-123456789012-ap-northeast-2"
