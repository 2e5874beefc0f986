"""The whole deploy flow with the real templates against moto's server.

Every test here relies on moto's server (a real HTTP endpoint) with the
local compat patches of :mod:`wealist_cfn.rehearsal.compat` installed, exactly
as ``deploy --local`` runs. What moto models is checked through the service
APIs, not just the stack status.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.deploy import client, run_cli, seed_ssm, with_multi_az
from wealist_cfn import config
from wealist_cfn.deploy import changeset, flow

pytestmark = pytest.mark.moto

STACK = "wealist-prod"


def _deploy(endpoint, params, templates, *extra):
    # The endpoint answers as the rehearsal (tests/conftest.py), where preflight blocks as on AWS;
    # nothing is bootstrapped here (seed_ssm makes only what the templates resolve).
    return run_cli(
        "deploy",
        "--skip-preflight",
        "--stack-name",
        STACK,
        "--params",
        params,
        "--endpoint-url",
        endpoint,
        "--templates",
        templates,
        *extra,
    )


def _db(endpoint):
    dbs = client("rds", endpoint).describe_db_instances()["DBInstances"]
    assert len(dbs) == 1
    return dbs[0]


def test_create_then_multi_az_update_then_nothing_to_do(compat_endpoint, real_templates, prod_params, tmp_path):
    """moto: first deploy creates what the table lists (checked per service),
    flipping EnableMultiAZ updates the database in place, and a repeat makes
    no upload and no execution."""
    ep = compat_endpoint
    cfg = config.load(prod_params)
    seed_ssm(ep, real_templates, cfg.values)

    code, out, err = _deploy(ep, prod_params, real_templates, "--yes")
    assert code == 0, err + out
    assert "9 uploaded, 0 already there" in out
    assert "final state: CREATE_COMPLETE" in out
    # moto reports no nested change sets for a create, so the review resolves
    # the templates' Conditions itself: cost mode lists one NAT gateway and
    # no HTTPS listener (no certificate), as AWS would create.
    assert "NatGateway1 " in out
    assert "NatGateway2" not in out and "NatGateway3" not in out and "HttpsListener" not in out

    ec2 = client("ec2", ep)
    vpc = [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.1.0.0/16"]
    assert len(vpc) == 1
    vpc_id = vpc[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert len(subnets) == 6
    assert {s["AvailabilityZone"] for s in subnets} == {"ap-northeast-2a", "ap-northeast-2c", "ap-northeast-2d"}
    groups = [
        g
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
        if g["GroupName"] != "default"
    ]
    assert len(groups) == 4
    # The database port is open to the instances' group only, never to a CIDR.
    db_rules = [p for g in groups for p in g["IpPermissions"] if p.get("FromPort") == 5432]
    assert db_rules and all(not p.get("IpRanges") and p.get("UserIdGroupPairs") for p in db_rules)

    db = _db(ep)
    assert (db["DBInstanceClass"], db["MultiAZ"], db["AllocatedStorage"]) == ("db.t3.micro", False, 20)
    elb = client("elbv2", ep)
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    assert len(lbs) == 1 and lbs[0]["Type"] == "application"
    ports = {lst["Port"] for lst in elb.describe_listeners(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Listeners"]}
    assert 80 in ports
    assert len(elb.describe_target_groups()["TargetGroups"]) == 4
    asgs = {
        g["AutoScalingGroupName"]: g
        for g in client("autoscaling", ep).describe_auto_scaling_groups()["AutoScalingGroups"]
    }
    assert (asgs["wealist-prod-backend-asg"]["MinSize"], asgs["wealist-prod-backend-asg"]["MaxSize"]) == (2, 6)
    mon = asgs["wealist-prod-monitoring-asg"]
    assert (mon["MinSize"], mon["MaxSize"]) == (1, 1)
    repos = {r["repositoryName"] for r in client("ecr", ep).describe_repositories()["repositories"]}
    assert {"user-service", "board-service"} <= repos
    assert client("iam", ep).get_role(RoleName="wealist-prod-ec2-role")["Role"]["Arn"]
    cfn = client("cloudformation", ep)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
    assert outputs["VpcId"] == vpc_id
    assert f"output VpcId = {vpc_id}" in out
    # Every stack carries the protective policy, nested ones included.
    for sid in flow.policy.stack_ids(flow.Aws("ap-northeast-2", endpoint_url=ep), STACK).values():
        body = json.loads(cfn.get_stack_policy(StackName=sid)["StackPolicyBody"])
        assert body == flow.policy.PROTECT

    # Flip the switch: a parameter-only change, nothing to upload.
    multi = with_multi_az(prod_params, tmp_path)
    code, out, err = _deploy(ep, multi, real_templates, "--yes")
    assert code == 0, err + out
    assert "0 uploaded, 9 already there" in out
    assert "EnableMultiAZ: false -> true" in out
    after = _db(ep)
    assert after["MultiAZ"] is True
    # Updated in place, not replaced.
    assert after["DBInstanceIdentifier"] == db["DBInstanceIdentifier"]
    assert after["InstanceCreateTime"] == db["InstanceCreateTime"]

    # A pull-request review of an edited child: the change set is shown,
    # then deleted, and nothing has run.
    cache = real_templates / "cache.yaml"
    committed = cache.read_text()
    cache.write_text(committed + "# edited in a pull request\n")
    code, out, err = run_cli(
        "plan",
        "--skip-preflight",
        "--stack-name",
        STACK,
        "--params",
        multi,
        "--endpoint-url",
        ep,
        "--templates",
        real_templates,
        "--discard",
        "--output",
        "markdown",
    )
    cache.write_text(committed)
    assert code == 0, err + out
    assert "CacheStack" in out and "reviewed and deleted" in err
    assert [
        c for c in cfn.list_change_sets(StackName=STACK)["Summaries"] if c.get("ExecutionStatus") != "EXECUTE_COMPLETE"
    ] == []

    # Nothing to do: no upload, no execution, no change set left behind.
    events_before = len(cfn.describe_stack_events(StackName=STACK)["StackEvents"])
    code, out, err = _deploy(ep, multi, real_templates, "--yes")
    assert code == 0, err + out
    assert "0 uploaded" in out and "no changes" in out
    assert len(cfn.describe_stack_events(StackName=STACK)["StackEvents"]) == events_before
    # (moto keeps executed change sets listed; AWS drops them. None other may
    # remain, but the no-op's own may still be on its way out: the deploy does
    # not wait out a deletion no shell waits on, as AWS deletes it by itself.)
    left = [
        c
        for c in cfn.list_change_sets(StackName=STACK)["Summaries"]
        if c.get("ExecutionStatus") != "EXECUTE_COMPLETE" and c.get("Status") not in changeset.DELETING
    ]
    assert left == []


def test_one_changed_child_uploads_one_object(compat_endpoint, real_templates, prod_params):
    """moto: packaging is content-addressed; editing one child uploads that
    child only, and the root points at the new key."""
    opts = flow.Options(
        stack_name=STACK, params=prod_params, endpoint_url=compat_endpoint, templates_dir=real_templates
    )
    first = flow.Deployment(opts)
    list(first.package())
    assert first.packaged.uploads == 9
    cache = real_templates / "cache.yaml"
    cache.write_text(cache.read_text() + "# a comment changes the bytes\n")
    second = flow.Deployment(opts)
    list(second.package())
    uploaded = [o.name for o in second.packaged.objects if o.uploaded]
    assert uploaded == ["cache.yaml"]
    new_key = next(o.key for o in second.packaged.objects if o.name == "cache.yaml")
    assert new_key in second.packaged.root_body
    s3 = client("s3", compat_endpoint)
    bucket = second.bucket
    assert bucket == "wealist-cfn-artifacts-123456789012-ap-northeast-2"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_a_key_holding_other_bytes_is_not_trusted(compat_endpoint, real_templates, prod_params):
    """moto: a content-addressed key is reused only when it really holds
    those bytes. Anyone allowed to write to the bucket (a pull-request plan
    job) could otherwise plant a different template under the name a later
    deploy from main would compute."""
    opts = flow.Options(
        stack_name=STACK, params=prod_params, endpoint_url=compat_endpoint, templates_dir=real_templates
    )
    first = flow.Deployment(opts)
    list(first.package())
    planted = next(o for o in first.packaged.objects if o.name == "iam.yaml")
    s3 = client("s3", compat_endpoint)
    s3.put_object(Bucket=first.bucket, Key=planted.key, Body=b"Resources: {}  # not what the name promises\n")

    second = flow.Deployment(opts)
    messages = [i.message for i in second.package() if isinstance(i, flow.Info)]
    again = [o for o in second.packaged.objects if o.uploaded]
    assert [(o.name, o.replaced) for o in again] == [("iam.yaml", True)]
    assert any("warning:" in m and "iam.yaml" in m for m in messages)
    stored = s3.get_object(Bucket=first.bucket, Key=planted.key)["Body"].read()
    assert stored == (real_templates / "iam.yaml").read_bytes()


def _plan(endpoint, params, templates, *extra):
    # The endpoint answers as the rehearsal (tests/conftest.py), where preflight blocks as on AWS;
    # nothing is bootstrapped here (seed_ssm makes only what the templates resolve).
    return run_cli(
        "plan",
        "--skip-preflight",
        "--stack-name",
        STACK,
        "--params",
        params,
        "--endpoint-url",
        endpoint,
        "--templates",
        templates,
        *extra,
    )


def _change_set_name(out: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith("change set ") and "left for review" in x)
    return line.split()[2]


def test_plan_plan_then_a_first_create_is_never_adopted(compat_endpoint, real_templates, prod_params):
    """moto: a plan before the first deploy leaves a named CREATE change set
    (stack REVIEW_IN_PROGRESS); a second plan follows within seconds with no
    "waiting" (REVIEW_IN_PROGRESS is a stack not created yet). Neither plan's
    change set is ever executed: nothing proves the role a first create
    would run with (exit 3, by name or as `reviewed`); `reviewed-or-new`
    makes a fresh one of its own and creates the stack."""
    ep = compat_endpoint
    seed_ssm(ep, real_templates, config.load(prod_params).values)
    code, out, err = _plan(ep, prod_params, real_templates)
    assert code == 0, err + out
    first = _change_set_name(out)
    cfn = client("cloudformation", ep)
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"

    code, out, err = _plan(ep, prod_params, real_templates)
    assert code == 0, err + out
    assert "waiting: another operation is running" not in out + err
    second = _change_set_name(out)
    assert second != first

    code, out, err = _deploy(ep, prod_params, real_templates, "--change-set", first, "--yes")
    assert code == 3 and f"refused: change set {first} is a first create" in err, err + out
    code, out, err = _deploy(ep, prod_params, real_templates, "--change-set", "reviewed", "--yes")
    assert code == 3 and "REVIEW_IN_PROGRESS (not created yet): a first create is never adopted" in err, err + out
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"

    code, out, err = _deploy(
        ep, prod_params, real_templates, "--change-set", "reviewed-or-new", "--yes", "--no-wait-healthy"
    )
    assert code == 0, err + out
    assert "final state: CREATE_COMPLETE" in out
    executed = [
        c["ChangeSetName"]
        for c in cfn.list_change_sets(StackName=STACK)["Summaries"]
        if c.get("ExecutionStatus") == "EXECUTE_COMPLETE"
    ]
    assert len(executed) == 1 and executed[0] not in (first, second)


def test_a_plans_change_set_cannot_be_proven_on_moto(compat_endpoint, real_templates, prod_params, tmp_path):
    """moto: ``deploy --change-set reviewed`` (the deploy workflow on a
    merge) adopts only a change set proven to hold these templates and
    parameters, and moto cannot prove one: its ListChangeSets summaries carry
    no IncludeNestedStacks, so the plan's change set is left out on its
    summary (its DescribeChangeSet reports no Capabilities either, and its
    GetTemplate ignores ChangeSetName). So `reviewed` ends with exit 3 saying
    so, executes nothing, and `reviewed-or-new` makes and executes its own,
    saying the review is not the plan's."""
    ep = compat_endpoint
    seed_ssm(ep, real_templates, config.load(prod_params).values)
    code, out, err = _deploy(ep, prod_params, real_templates, "--yes", "--no-wait-healthy")
    assert code == 0, err + out
    multi = with_multi_az(prod_params, tmp_path)
    code, out, err = _plan(ep, multi, real_templates, "--force-stack-name")
    assert code == 0, err + out
    planned = _change_set_name(out)

    code, out, err = _deploy(
        ep, multi, real_templates, "--force-stack-name", "--change-set", "reviewed", "--yes", "--no-wait-healthy"
    )
    assert code == 3, err + out
    # The plan's, and the first deploy's own (moto keeps an executed change set listed).
    assert (
        "none is waiting on wealist-prod (executing any change set deletes all others); 2 other(s) are not "
        "executable or were made without IncludeNestedStacks"
    ) in err
    assert _db(ep)["MultiAZ"] is False

    code, out, err = _deploy(
        ep, multi, real_templates, "--force-stack-name", "--change-set", "reviewed-or-new", "--yes", "--no-wait-healthy"
    )
    assert code == 0, err + out
    assert "NOT the change set a pull request's plan showed" in out
    assert f"executing change set {planned}" not in out
    assert _db(ep)["MultiAZ"] is True


def test_discarded_plan_of_a_new_stack_leaves_nothing(compat_endpoint, real_templates, prod_params):
    """moto: ``plan --discard`` before the first deploy deletes its change
    set and the REVIEW_IN_PROGRESS shell it made: no stack is left."""
    ep = compat_endpoint
    seed_ssm(ep, real_templates, config.load(prod_params).values)
    code, out, err = _plan(ep, prod_params, real_templates, "--discard")
    assert code == 0, err + out
    assert "deleted the empty stack shell wealist-prod" in out
    stacks = [
        s
        for s in client("cloudformation", ep).list_stacks()["StackSummaries"]
        if s["StackName"] == STACK and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert stacks == []


def test_the_plans_markdown_hands_ci_the_change_set_id(compat_endpoint, real_templates, prod_params, tmp_path):
    """moto: ``plan --output markdown`` ends with the change set's ID, and
    deploy.yml's prepare step, fed that very output (``python`` a stand-in
    that prints it), hands on the name and the UUID that ends the ARN
    CloudFormation gave (ListChangeSets), which execute pins."""
    import os
    import subprocess

    import yaml

    ep = compat_endpoint
    seed_ssm(ep, real_templates, config.load(prod_params).values)
    code, out, err = run_cli(
        "plan",
        "--skip-preflight",
        "--stack-name",
        STACK,
        "--params",
        prod_params,
        "--endpoint-url",
        ep,
        "--templates",
        real_templates,
        "--output",
        "markdown",
    )
    assert code == 0, err + out
    [made] = client("cloudformation", ep).list_change_sets(StackName=STACK)["Summaries"]
    assert f"Change set ID: `{made['ChangeSetId']}`" in out.splitlines()

    root = Path(__file__).resolve().parents[2]
    step = next(
        s
        for s in yaml.safe_load((root / ".github/workflows/deploy.yml").read_text())["jobs"]["prepare"]["steps"]
        if s.get("id") == "plan"
    )
    (tmp_path / "plan.md").write_text(out)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f"#!/bin/bash\ncat {tmp_path / 'plan.md'}\n")
    (bin_dir / "python").chmod(0o755)
    (tmp_path / "output").write_text("")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    assert outputs == {
        "change-set": made["ChangeSetName"],
        "change-set-id": made["ChangeSetId"].rsplit("/", 1)[-1],
        "type": "CREATE",
    }
