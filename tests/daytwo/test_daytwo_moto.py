"""diff, outputs, events and destroy against moto's server (conftest:
``deployed``, or ``deployed_shared`` where a test only reads the stack).
moto implements GetTemplate, ListStackResources, DescribeStacks,
DescribeStackEvents and DeleteStack; where it is lenient the test says what
AWS enforces instead."""

from __future__ import annotations

import json

import boto3
import pytest

from helpers.daytwo import REGION, run_cli
from wealist_cfn.cfn import templates as tpl

pytestmark = pytest.mark.moto


def _with(params, tmp_path, **values):
    data = json.loads(params.read_text())
    for entry in data:
        if entry["ParameterKey"] in values:
            entry["ParameterValue"] = values[entry["ParameterKey"]]
    out = tmp_path / "changed.json"
    out.write_text(json.dumps(data))
    return out


def _diff(ep, stack, params, templates, *extra):
    return run_cli(
        "diff",
        "--stack-name",
        stack,
        "--force-stack-name",
        "--params",
        params,
        "--endpoint-url",
        ep,
        "--templates",
        templates,
        *extra,
    )


def test_diff_of_an_unchanged_deployment_is_exit_0(deployed_shared):
    """moto: GetTemplate of the root and every nested stack equals the local
    set resolved for the same values: no differences, exit 0."""
    ep, templates, params, stack = deployed_shared
    code, out, err = _diff(ep, stack, params, templates)
    assert code == 0, err + out
    assert f"no differences: {stack}" in out and "(10 templates)" in out


def test_mode_switch_diff_matches_the_change_set_review(deployed_shared, tmp_path):
    """moto: EnableMultiAZ false -> true. diff shows the parameter, the
    flipped IsMultiAZ conditions (and the cache's failover condition) and the
    resources they change. Compared
    with the same switch's change-set review (plan --discard): moto reports
    no nested change sets (the review says so in its notes), so its rows are
    the root's resources and the nested stacks that change. diff's changed
    resources, folded to the root resource or nested stack they sit in, are
    exactly that set. With AWS, nested change sets list the inner rows too."""
    ep, templates, params, stack = deployed_shared
    multi = _with(params, tmp_path, EnableMultiAZ="true")
    code, out, err = _diff(ep, stack, multi, templates, "--output", "json")
    assert code == 1, err
    report = json.loads(out)
    assert [(p["key"], p["old"], p["new"]) for p in report["parameters"]] == [("EnableMultiAZ", "false", "true")]
    assert {(c["stack"], c["name"], c["new"]) for c in report["conditions"]} == {
        ("NetworkStack", "IsMultiAZ", True),
        ("CacheStack", "IsMultiAZ", True),
        ("DatabaseStack", "IsMultiAZ", True),
        ("AlarmsStack", "IsMultiAZ", True),
        # Redis failover follows the mode unless CacheFailover holds it off (cache.py).
        ("CacheStack", "CacheFailoverOn", True),
    }
    db = next(r for r in report["resources"] if r["logical_id"] == "Database")
    assert db["stack"] == "DatabaseStack" and db["action"] == "Modify"
    assert [(p["path"], p["old"], p["new"]) for p in db["properties"]] == [("Properties.MultiAZ", False, True)] or [
        (p["path"], str(p["old"]).lower(), str(p["new"]).lower()) for p in db["properties"]
    ] == [("Properties.MultiAZ", "false", "true")]
    assert db["replacement"] == "" and not db["guarded"]  # MultiAZ is not createOnly for AWS::RDS::DBInstance
    assert "NetworkStack/NatGateway2" in {f"{r['stack']}/{r['logical_id']}" for r in report["resources"]}
    diffed = {r["stack"].split("/")[0] or r["logical_id"] for r in report["resources"]}

    # The rehearsal (tests/conftest.py) blocks on preflight as AWS does; nothing is bootstrapped here.
    code, out, err = run_cli(
        "plan",
        "--skip-preflight",
        "--stack-name",
        stack,
        "--force-stack-name",
        "--params",
        multi,
        "--endpoint-url",
        ep,
        "--templates",
        templates,
        "--discard",
        "--output",
        "json",
    )
    assert code == 0, err + out
    review = json.loads(out)["review"]
    reviewed = {r["path"].split("/")[0] or r["logical_id"] for r in review["changes"]}
    assert diffed == reviewed == {"NetworkStack", "CacheStack", "DatabaseStack", "AlarmsStack"}


def test_edited_nested_template_shows_the_property_with_its_nested_path(deployed_shared):
    """moto: one property edited in a local child template shows as that
    property, old -> new, under the child's logical ID; text and markdown
    both carry it."""
    ep, templates, params, stack = deployed_shared
    cache = templates / "cache.yaml"
    data = tpl.load(cache.read_text())
    old = data["Resources"]["Redis"]["Properties"]["SnapshotWindow"]
    data["Resources"]["Redis"]["Properties"]["SnapshotWindow"] = "19:00-20:00"
    cache.write_text(tpl.dump(data))
    code, out, err = _diff(ep, stack, params, templates)
    assert code == 1, err
    assert "~ CacheStack/Redis (AWS::ElastiCache::ReplicationGroup)" in out
    assert f"Properties.SnapshotWindow: {old} -> 19:00-20:00" in out
    assert "0 to add, 1 to modify, 0 to remove, 0 guarded" in out
    code, md, _ = _diff(ep, stack, params, templates, "--output", "markdown")
    assert code == 1 and "| Modify | `CacheStack/Redis` |" in md and "SnapshotWindow" in md


def test_create_only_change_is_a_predicted_guarded_replacement(deployed_shared):
    """moto: a change to a createOnlyProperty of the database (DBName, per the
    AWS::RDS::DBInstance schema cfn-lint ships) is marked as a predicted
    replacement, guarded, that a change set confirms."""
    ep, templates, params, stack = deployed_shared
    db = templates / "database.yaml"
    data = tpl.load(db.read_text())
    data["Resources"]["Database"]["Properties"]["DBName"] = "renamed"
    db.write_text(tpl.dump(data))
    code, out, err = _diff(ep, stack, params, templates)
    assert code == 1, err
    assert (
        "~ DatabaseStack/Database (AWS::RDS::DBInstance)  replacement predicted (a change set confirms)  GUARDED" in out
    )
    assert "[createOnly]" in out and "1 guarded" in out


def test_diff_bad_input_is_one_line_and_exit_2_before_any_aws_call(tmp_path):
    """No endpoint is running at 127.0.0.1:9: a call would fail with exit 1;
    the bad parameter file is refused first, exit 2, one line naming it."""
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out, err = run_cli("diff", "--stack-name", "x", "--params", bad, "--endpoint-url", "http://127.0.0.1:9")
    assert code == 2 and out == ""
    assert err.startswith(f"error: {bad}") and len(err.strip().splitlines()) == 1


def test_diff_of_a_missing_stack_is_exit_2(deployed_shared):
    """moto answers DescribeStacks of an unknown stack with ValidationError
    "does not exist", as AWS does (API_DescribeStacks)."""
    ep, templates, params, _ = deployed_shared
    code, out, err = _diff(ep, "nope", params, templates)
    assert code == 2 and "stack nope does not exist in ap-northeast-2" in err and "Traceback" not in err


def test_outputs_table_and_json(deployed_shared):
    """moto: the root's Outputs from DescribeStacks, as a table and as JSON."""
    ep, _, params, stack = deployed_shared
    code, out, err = run_cli(
        "outputs", "--stack-name", stack, "--force-stack-name", "--params", params, "--endpoint-url", ep
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["Output", "Value"]
    assert any(line.split()[0] == "DatabasePort" and line.split()[1] == "5432" for line in lines[1:])
    code, out, _ = run_cli(
        "outputs",
        "--stack-name",
        stack,
        "--force-stack-name",
        "--params",
        params,
        "--endpoint-url",
        ep,
        "--output",
        "json",
    )
    assert json.loads(out)["DatabasePort"] == "5432"


def test_events_since_are_merged_oldest_first(deployed_shared):
    """moto: DescribeStackEvents of the root and each nested stack (moto logs
    only a nested stack's own status there, under its generated name, which
    is shown by its path; resource events inside nested stacks and
    failures-first are tested with Stubber)."""
    ep, _, params, stack = deployed_shared
    code, out, err = run_cli(
        "events",
        "--stack-name",
        stack,
        "--force-stack-name",
        "--params",
        params,
        "--endpoint-url",
        ep,
        "--since",
        "1h",
        "--output",
        "json",
    )
    assert code == 0, err
    events = json.loads(out)["events"]
    assert events and [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert events[-1]["status"] == "CREATE_COMPLETE" and events[-1]["where"] == stack
    nested = {e["where"] for e in events if e["where"] != stack}
    assert "DatabaseStack" in nested and all("/" not in w for w in nested)
    code, _, err = run_cli(
        "events",
        "--stack-name",
        stack,
        "--force-stack-name",
        "--params",
        params,
        "--endpoint-url",
        ep,
        "--since",
        "yesterday",
    )
    assert code == 2 and "--since 'yesterday'" in err


def _stack_exists(ep, stack) -> bool:
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=ep)
    return any(
        s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE" for s in cfn.list_stacks()["StackSummaries"]
    )


def test_destroy_refuses_without_confirmation_then_deletes(deployed):
    """moto: without a terminal, destroy needs --yes --confirm-stack NAME
    (exit 3, nothing deleted). The database has DeletionProtection on
    (params/prod.json): destroy names it and refuses until
    --disable-protection. Then DeleteStack runs, the stack is gone, and the
    ECR repositories, the flow-log group and the access-log bucket
    (DeletionPolicy Retain) and the database's final snapshot are listed as
    what stays.

    The database is protected by the template's DeletionProtection (the
    local endpoint records it: rehearsal/compat.py piece 16). moto's load
    balancer made by CloudFormation ignores LoadBalancerAttributes, so the
    test turns its protection on as the template does in AWS."""
    ep, _, params, stack = deployed
    rds = boto3.client("rds", region_name=REGION, endpoint_url=ep)
    (db,) = rds.describe_db_instances()["DBInstances"]
    assert db["DeletionProtection"] is True
    elb = boto3.client("elbv2", region_name=REGION, endpoint_url=ep)
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    base = ("destroy", "--stack-name", stack, "--force-stack-name", "--params", params, "--endpoint-url", ep)
    code, out, err = run_cli(*base)
    assert code == 3 and _stack_exists(ep, stack), err
    code, out, err = run_cli(*base, "--yes", "--confirm-stack", "other")
    assert code == 3 and "--yes needs --confirm-stack wealist-rehearsal" in err and _stack_exists(ep, stack)
    code, out, err = run_cli(*base, "--yes", "--confirm-stack", stack)
    assert code == 3 and "protection is on" in err and "database protection on DatabaseStack/Database" in err, err
    assert "load-balancer protection on LoadBalancerStack/LoadBalancer" in err
    assert _stack_exists(ep, stack)
    assert "+ ecr: RegistryStack/UserServiceRepository (AWS::ECR::Repository) user-service" in out
    assert "+ snapshot: final snapshot of the database DatabaseStack/Database" in out
    assert "- DatabaseStack/Database (AWS::RDS::DBInstance)" in out
    # The audit records (Retain) stay and are measured like what they are;
    # the instances' log groups are the stack's and go with it, so they are
    # not also listed as left behind.
    assert "+ bucket: LoadBalancerStack/AccessLogBucket (AWS::S3::Bucket)" in out, out
    assert "+ log-group: NetworkStack/FlowLogGroup (AWS::Logs::LogGroup)" in out, out
    assert "- ComputeStack/BackendLogGroup (AWS::Logs::LogGroup)" in out, out
    assert "/wealist/prod/backend" not in "".join(line for line in out.splitlines(True) if line.startswith("+ "))
    code, out, err = run_cli(*base, "--yes", "--confirm-stack", stack, "--disable-protection")
    assert code == 0, err + out
    assert "database protection of DatabaseStack/Database turned off" in out
    assert "load-balancer protection of LoadBalancerStack/LoadBalancer turned off" in out
    assert f"{stack} deleted" in out and not _stack_exists(ep, stack)
    assert "remaining in the account" in out and "user-service" in out.split("remaining in the account")[1]


def test_destroy_of_the_production_name_needs_production():
    """The stack named like params/prod.json (wealist-prod) is refused
    without --production before any AWS call (no endpoint runs at
    127.0.0.1:9)."""
    code, out, err = run_cli(
        "destroy",
        "--stack-name",
        "wealist-prod",
        "--region",
        REGION,
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--yes",
        "--confirm-stack",
        "wealist-prod",
    )
    assert code == 3 and "--production" in err and out == ""


def test_destroy_at_a_terminal_needs_the_stack_name_typed(deployed, monkeypatch):
    """moto: at a terminal, a wrong name typed deletes nothing (exit 3); the
    stack name typed deletes the stack (its database's protection turned off
    with --disable-protection, as it must be in AWS)."""
    from wealist_cfn.cli import daytwo as daytwo_cli

    ep, _, params, stack = deployed
    monkeypatch.setattr(daytwo_cli, "_interactive", lambda: True)
    base = (
        "destroy",
        "--stack-name",
        stack,
        "--force-stack-name",
        "--params",
        params,
        "--endpoint-url",
        ep,
        "--disable-protection",
    )
    monkeypatch.setattr("builtins.input", lambda prompt: "wealist-rehearsa")
    code, out, err = run_cli(*base)
    assert code == 3 and "does not match; nothing was deleted" in err and _stack_exists(ep, stack)
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or stack)
    code, out, err = run_cli(*base)
    assert code == 0, err + out
    assert prompts == [f"Type the stack name ({stack}) to delete it: "] and not _stack_exists(ep, stack)


def test_a_delete_stack_over_the_protected_database_fails_and_destroy_then_deletes_it(deployed):
    """moto with the local compat layer: the real templates' database is
    protected (DeletionProtection true in params/prod.json). A DeleteStack
    made outside destroy (``aws cloudformation delete-stack``) ends
    DELETE_FAILED as in AWS, the database's resource failing with RDS's
    words, and nothing is deleted; destroy then refuses without
    --disable-protection and deletes the stack with it."""
    from wealist_cfn.rehearsal import compat as local

    ep, _, params, stack = deployed
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=ep)
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack_id)
    (root,) = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    assert (root["StackStatus"], root["StackStatusReason"]) == (
        "DELETE_FAILED",
        "The following resource(s) failed to delete: [DatabaseStack]. ",
    )
    code, out, err = run_cli(
        "events", "--stack-name", stack, "--force-stack-name", "--params", params, "--endpoint-url", ep
    )
    assert code == 0 and local.PROTECTED_DB in out, err + out
    rds = boto3.client("rds", region_name=REGION, endpoint_url=ep)
    assert len(rds.describe_db_instances()["DBInstances"]) == 1
    base = (
        "destroy",
        "--stack-name",
        stack,
        "--force-stack-name",
        "--params",
        params,
        "--endpoint-url",
        ep,
        "--yes",
        "--confirm-stack",
        stack,
    )
    code, out, err = run_cli(*base)
    assert code == 3 and "database protection on DatabaseStack/Database" in err and _stack_exists(ep, stack)
    code, out, err = run_cli(*base, "--disable-protection")
    assert code == 0, err + out
    assert f"{stack} deleted" in out and not _stack_exists(ep, stack)
    assert rds.describe_db_instances()["DBInstances"] == []
