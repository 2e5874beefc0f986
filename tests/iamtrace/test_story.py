"""The whole production story, in order, on the local endpoint, each job
under the principal that really runs it, every AWS call recorded; then
every recorded call checked against that principal's policies from the
committed templates, resolved in both modes (tests/trace/check.py).

Stand-in: moto's server behind ``local up`` (one for the module), with the
compat layer; the workflow steps run as shell with ``python`` aimed at it
(tests/trace/story.py). An image push (docker push in release-service.yml)
is a PutImage on moto's ECR, outside the trace. What moto does not do and
AWS does: it evaluates no IAM policy at all (every call here would pass on
moto under any role), which is why the trace is checked separately; it makes
no instance, so no boot runs (the instance roles' calls are checked from the
scripts, tests/iamtrace/boot_calls.py); it has no drift detection, so
``drift --local`` is refused and drift's calls are recorded from a Stubber
run (tests/iamtrace/drift_run.py).
"""

from __future__ import annotations

import json

import pytest

from wealist_cfn import config

from .jobs import DEPLOY, OPERATOR, PARAMS, PLAN, ROOT, STACK, Story

pytestmark = pytest.mark.moto

HELD = {"EnableMultiAZ": "true", "CacheFailover": "off"}
MULTI = {"EnableMultiAZ": "true", "CacheFailover": "auto"}


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    s = Story(tmp_path_factory.mktemp("story"))
    up = s.cli("local-up", OPERATOR, "local", "up")
    assert up.returncode == 0, up.stderr
    try:
        yield s
    finally:
        s.cli("local-down", OPERATOR, "local", "down")


def _ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _stack_status(story) -> str:
    return story.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]


def test_01_empty_account_then_bootstrap(story):
    assert "stacks in ap-northeast-2: none" in _ok(story.cli("look", OPERATOR, "local", "status"))
    out = _ok(story.cli("bootstrap", OPERATOR, "bootstrap", "--params", PARAMS, "--local"))
    assert f"bootstrap {STACK} in ap-northeast-2" in out and "created" in out
    names = {p["Name"] for p in story.client("ssm").describe_parameters(MaxResults=50)["Parameters"]}
    assert "/wealist/prod/db/user_db_password" in names


def test_02_pull_request_plan(story):
    r = story.step(
        "pr-plan",
        PLAN,
        "plan.yml",
        "Change-set review into the job summary and the pull request",
        env={"GH_TOKEN": "x", "PR": "7"},
    )
    _ok(r)
    review = (story.folder / "work" / "review.md").read_text()
    assert "### CloudFormation change set" in review and "(CREATE)" in review
    assert "Monthly cost" in review or "monthly" in review.lower()
    # Nothing executed: the stack waits for review.
    assert _stack_status(story) == "REVIEW_IN_PROGRESS"


def test_03_merge_deploy_executes_the_reviewed_change_set(story):
    prepare = story.step("merge-prepare", PLAN, "deploy.yml", "Change set to approve")
    _ok(prepare)
    out = dict(line.split("=", 1) for line in (story.folder / "github_output").read_text().split("\n") if "=" in line)
    assert out.get("type") == "CREATE" and out.get("change-set", "").startswith("deploy-")
    handed = {"CHANGE_SET": out["change-set"], "CHANGE_SET_ID": out["change-set-id"], "TYPE": out["type"]}
    for name in (
        "Approved change set is still the one reviewed",
        "Bootstrap (startup script and instance files in step with main)",
        "Deploy",
    ):
        _ok(story.step("merge-deploy", DEPLOY, "deploy.yml", name, env=handed))
    result = json.loads((story.folder / "work" / "deploy.json").read_text())
    assert result["result"]["status"] == "CREATE_COMPLETE", result["result"]
    assert _stack_status(story) == "CREATE_COMPLETE"


def test_04_status(story):
    r = story.step("merge-deploy", DEPLOY, "deploy.yml", "Stack state")
    assert "CREATE_COMPLETE" in _ok(r)
    assert "CREATE_COMPLETE" in _ok(story.cli("status", DEPLOY, "status", "--params", PARAMS, "--local"))


def _release(story, service, tag):
    story.push(service, tag)
    return story.cli(
        "release-service",
        DEPLOY,
        "rollout",
        "--params",
        PARAMS,
        "--local",
        "--poll",
        "0",
        "--release",
        f"{service}={tag}",
    )


def _tag(story, service) -> str:
    name = f"/wealist/prod/deploy/{service.replace('-', '_')}_image_tag"
    return story.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]


def test_05_first_release_of_both_services_then_one(story):
    assert "targets are healthy" in _ok(_release(story, "board-service", "b1"))
    last = _ok(_release(story, "user-service", "u1"))
    assert "every service is released" in last
    assert "targets are healthy" in _ok(_release(story, "user-service", "u2"))
    assert (_tag(story, "user-service"), _tag(story, "board-service")) == ("u2", "b1")


def test_06_second_pull_request_plan_and_deploy(story):
    bigger = story.params_with(BackendInstanceType="t3.large")
    plan = _ok(story.cli("pr-plan-2", PLAN, "plan", "--params", bigger, "--local", "--discard"))
    assert "BackendInstanceType t3.medium→t3.large" in plan
    done = _ok(
        story.cli("merge-deploy-2", DEPLOY, "deploy", "--params", bigger, "--local", "--yes", "--no-wait-healthy")
    )
    assert "final state: UPDATE_COMPLETE" in done
    # The deploy after both releases switches the group to ELB checks.
    [group] = story.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["wealist-prod-backend-asg"]
    )["AutoScalingGroups"]
    assert group["HealthCheckType"] == "ELB"


def _cache(story) -> dict:
    cfn = story.client("cloudformation")
    cache = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="CacheStack")
    stack = cfn.describe_stacks(StackName=cache["StackResourceDetail"]["PhysicalResourceId"])["Stacks"][0]
    return {
        p["ParameterKey"]: p["ParameterValue"]
        for p in stack["Parameters"]
        if p["ParameterKey"] in ("EnableMultiAZ", "CacheFailover")
    }


def test_07_the_multi_az_switch_and_back(story):
    """Two deploys each way (cfn/updaterules.py): hold failover off, then
    change the mode, then back the same way."""
    for step, values in (("held", HELD), ("multi", MULTI), ("held back", HELD)):
        done = story.cli(
            "mode-switch",
            DEPLOY,
            "deploy",
            "--params",
            story.params_with(BackendInstanceType="t3.large", **values),
            "--local",
            "--yes",
            "--no-wait-healthy",
            timeout=140,
        )
        assert "final state: UPDATE_COMPLETE" in _ok(done), step
        assert _cache(story) == values, step


def test_08_a_secret_rotation_and_the_rollout_that_follows(story):
    name = "/wealist/prod/db/user_db_password"
    before = story.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Version"]
    rotated = _ok(
        story.cli(
            "rotate", OPERATOR, "bootstrap", "--params", PARAMS, "--local", "--rotate", "db/user_db_password", "--yes"
        )
    )
    assert "1 rotated" in rotated and "next:" in rotated
    after = story.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Version"]
    assert after == before + 1
    rollout = _ok(story.cli("rollout", DEPLOY, "rollout", "--params", PARAMS, "--local", "--poll", "0"))
    assert "rollout of wealist-prod-backend-asg succeeded" in rollout


def test_09_drift_is_refused_on_the_local_endpoint_in_one_line(story):
    r = story.cli("drift", PLAN, "drift", "--stack-name", STACK, "--params", PARAMS, "--output", "markdown", "--local")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "error: drift is not offered on the local endpoint: it does not detect drift as CloudFormation does; "
        "run `python build.py drift --params FILE` against AWS"
    ]


def test_10_destroy_and_what_remains(story):
    r = story.cli(
        "destroy",
        OPERATOR,
        "destroy",
        "--params",
        PARAMS,
        "--local",
        "--yes",
        "--production",
        "--confirm-stack",
        STACK,
        "--disable-protection",
        timeout=140,
    )
    out = _ok(r)
    assert "remain" in out or "stays" in out
    stacks = story.client("cloudformation").list_stacks()["StackSummaries"]
    assert all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks if s["StackName"] == STACK)
    # What bootstrap made stays: the parameters and the deploy bucket.
    assert story.client("ssm").get_parameter(Name="/wealist/prod/db/postgres_db")["Parameter"]["Value"]
    account = story.client("sts").get_caller_identity()["Account"]
    story.client("s3").head_bucket(Bucket=config.load(ROOT / PARAMS).deploy_bucket_name(account))


# -- the check over the whole story ----------------------------------------------------------------


@pytest.fixture(scope="module")
def policies():
    from . import check

    return check.principals()


@pytest.fixture(scope="module")
def results(story, policies):
    from . import check

    calls = story.calls()
    return {mode: check.check(calls, mode, policies) for mode in check.MODES}


def test_11_every_recorded_call_has_a_mapping(story):
    from wealist_cfn.aws import iamcalls

    calls = story.calls()
    assert {c["job"] for c in calls} >= {
        "bootstrap",
        "pr-plan",
        "merge-prepare",
        "merge-deploy",
        "release-service",
        "pr-plan-2",
        "merge-deploy-2",
        "mode-switch",
        "rotate",
        "rollout",
        "destroy",
    }
    assert [iamcalls.key(c) for c in calls if not iamcalls.mapped(c)] == []


@pytest.mark.parametrize("mode", ["single-AZ", "multi-AZ"])
def test_12_every_call_is_allowed_for_the_principal_that_makes_it(results, mode):
    """One line per denial: job, principal, action, resource, and the
    statement or missing context that denied it."""
    from . import check

    result = results[mode]
    assert result.checked > 500
    assert [f.line() for f in result.denials] == []
    # What is denied on purpose stays denied, and each was met.
    assert result.expected == dict.fromkeys(check.EXPECTED_DENIALS, False)


# Statements the story needs, one each of the principals; dropping any one must show as a denial naming it.
NEEDED = [
    ("cfn-role", "NestedTemplates", "s3:GetObjectVersion"),
    ("cfn-role", "TagStackKeysOnCreate", "kms:TagResource"),
    ("cfn-role", "KeysThroughServices", "kms:Decrypt"),
    ("github-plan", "ReadDeployedTemplates", "s3:GetObject"),
    ("github-deploy", "ExecuteChangeSets", "cloudformation:ExecuteChangeSet"),
    ("github-deploy", "InstanceRefresh", "autoscaling:StartInstanceRefresh"),
    ("operator", "EncryptNewSecrets", "kms:Encrypt"),
]


@pytest.mark.parametrize("principal,sid,action", NEEDED, ids=[f"{p}-{s}" for p, s, _ in NEEDED])
def test_13_removing_a_statement_the_story_needs_is_a_denial(story, policies, principal, sid, action):
    import copy

    from . import check

    pols = copy.deepcopy(policies)
    before = len(pols[principal].statements)
    pols[principal].statements = [s for s in pols[principal].statements if s.get("Sid") != sid]
    assert len(pols[principal].statements) == before - 1, sid
    result = check.check(story.calls(), "single-AZ", pols)
    hits = [f.line() for f in result.denials if f.principal == principal and f.need.action == action]
    assert hits, f"dropping {principal}'s {sid} went unnoticed"


def test_14_the_report_is_current(story, results, policies, drift_calls, tmp_path, monkeypatch):
    """docs/iam-trace.md is what this story, the drift run, the instances'
    boot and these policies give (`make iam-trace` rewrites it)."""
    import os

    from wealist_cfn.aws import iamcalls

    from . import boot_calls, check, cost_refresh, drift_run

    keypolicy = check.key_policy()
    drift = [n for c in drift_calls for n in iamcalls.needs(c, account=check.ACCOUNT)]
    drift += drift_run.read_needs("single-AZ") + drift_run.read_needs("multi-AZ")
    extra = {check.PLAN: ("drift", check.uses(policies[check.PLAN], drift, keypolicy))}
    refresh = [
        n for c in cost_refresh.record_refresh(tmp_path, monkeypatch) for n in iamcalls.needs(c, account=check.ACCOUNT)
    ]
    extra[check.OPERATOR] = ("cost --refresh", check.uses(policies[check.OPERATOR], refresh, keypolicy))
    pols = dict(policies)
    for role, rid in boot_calls.ROLES.items():
        used = set()
        for mode in check.MODES:
            instance = check.instance_principals(mode)[rid]
            used |= check.uses(instance, boot_calls.boot_needs(role), keypolicy)
        pols[rid] = instance
        extra[rid] = (f"boot ({role})", used)
    text = check.report(results, pols, story.calls(), extra)
    path = check.ROOT / "docs" / "iam-trace.md"
    if os.environ.get("WEALIST_CFN_WRITE_IAM_TRACE") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists() and path.read_text(encoding="utf-8") == text, (
        "docs/iam-trace.md is stale: run `make iam-trace`"
    )
