"""The mode switch in the steps ElastiCache accepts, both ways, on the local
endpoint; the one-step switch refused by the review and by the deploy, and
failed by the local update model as the service fails it.

What the services enforce (cfn/updaterules.py keeps the rule with its
sources): ElastiCache refuses NumCacheClusters 1 -> 2 together with
AutomaticFailoverEnabled/MultiAZEnabled in one CloudFormation update
("Replication group must have at least one read replica to enable
autofailover": aws-cloudformation/cloudformation-coverage-roadmap#383), and
the mirror on the way back. Stand-in: moto's server (5.2.5) with the local
change-set model (rehearsal/changemodel.py), which computes the property
changes from the templates and fails the execution of such a change set
with the service's message (moto itself accepts anything)."""

from __future__ import annotations

import json

import boto3
import pytest

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import updaterules
from wealist_cfn.config import load
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.deploy import review as review_mod
from wealist_cfn.rehearsal import changemodel

from .conftest import params_with, run_cli

BASE = load(PARAMS_DIR / "prod.json").values
SINGLE, HELD, MULTI = (
    {"EnableMultiAZ": "false", "CacheFailover": "auto"},
    {"EnableMultiAZ": "true", "CacheFailover": "off"},
    {"EnableMultiAZ": "true", "CacheFailover": "auto"},
)


def _violations(old: dict, new: dict):
    """The local update model's rows for old -> new, then the rules."""
    rows = changemodel.model(cfnmodel.resolve({**BASE, **old}), cfnmodel.resolve({**BASE, **new}), "ap-northeast-2")
    review_rows = [
        review_mod.row_from_change("" if path == "Root" else path, {"ResourceChange": r})
        for path, rs in rows.items()
        for r in rs
    ]
    params = [review_mod.ParameterChange(k, old.get(k), v) for k, v in new.items() if old.get(k) != v]
    return updaterules.violations(review_rows, params)


@pytest.mark.parametrize(
    "old,new,steps",
    [
        (SINGLE, MULTI, (HELD, MULTI)),
        (MULTI, SINGLE, (HELD, SINGLE)),
    ],
    ids=["to-multi-az", "back"],
)
def test_the_one_step_switch_is_refused_with_the_two_steps(old, new, steps):
    [v] = _violations(old, new)
    assert v.where == "CacheStack/Redis"
    assert set(v.together) == {"AutomaticFailoverEnabled", "MultiAZEnabled"}
    assert v.steps == steps
    first, second = (" ".join(f"{k}={val}" for k, val in s.items()) for s in steps)
    assert f"Deploy twice: first with {first}, then with {second}." in v.message()
    # Each step on its own is accepted.
    assert _violations(old, steps[0]) == [] and _violations(steps[0], steps[1]) == []


def test_every_rule_cites_its_sources_and_names_steps_for_both_directions():
    for rule in updaterules.RULES:
        assert rule.sources and all(s.startswith("https://") for s in rule.sources)
        directions = {(old, new) for (_, old, new) in rule.steps}
        assert directions == {("false", "true"), ("true", "false")}


def _cfn(folder):
    url = json.loads((folder / "state" / "endpoint.json").read_text())["url"]
    return boto3.client(
        "cloudformation",
        region_name="ap-northeast-2",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _redis(folder) -> dict:
    cfn = _cfn(folder)
    cache = cfn.describe_stack_resource(StackName="wealist-prod", LogicalResourceId="CacheStack")
    stack_id = cache["StackResourceDetail"]["PhysicalResourceId"]
    return {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Parameters"]
        if p["ParameterKey"] in ("EnableMultiAZ", "CacheFailover")
    }


def test_the_switch_there_and_back_in_two_deploys_each(deployed):
    """On the local endpoint: the one-step deploy is refused (exit 3), even
    with --allow-replace, naming both steps; the one-step change set, if
    executed anyway, fails and rolls back as ElastiCache makes it; the two
    steps to multi-AZ complete, and so does the first step back. The last
    step back (to exactly the parameters the stack was created with) is left
    to the model test above: on the local endpoint that deploy reports "no
    changes" (the endpoint compares with the stack's creation parameters,
    which moto does not update on a change-set execution)."""
    env, folder = deployed
    one_step = params_with(folder, EnableMultiAZ="true")
    r = run_cli("deploy", "--params", str(one_step), "--local", "--yes", "--allow-replace", env=env, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    assert (
        "Deploy twice: first with EnableMultiAZ=true CacheFailover=off, then with EnableMultiAZ=true "
        "CacheFailover=auto." in r.stdout + r.stderr
    )

    # Executed anyway (by hand): the update fails and rolls back, nothing changes.
    r = run_cli("plan", "--params", str(one_step), "--local", "--output", "json", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    cs = json.loads(r.stdout)["review"]["changeSetId"]
    cfn = _cfn(folder)
    cfn.execute_change_set(ChangeSetName=cs)
    [stack] = cfn.describe_stacks(StackName="wealist-prod")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [
        e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName="wealist-prod")["StackEvents"]
    ]
    assert any("at least one read replica to enable autofailover" in x for x in reasons)
    assert _redis(folder) == {"EnableMultiAZ": "false", "CacheFailover": "auto"}

    for step, params in (("held", HELD), ("multi", MULTI), ("held back", HELD)):
        r = run_cli(
            "deploy",
            "--params",
            str(params_with(folder, **params)),
            "--local",
            "--yes",
            "--no-wait-healthy",
            env=env,
            timeout=300,
        )
        assert r.returncode == 0, f"{step}: {r.stdout}{r.stderr}"
        assert "final state: UPDATE_COMPLETE" in r.stdout, step
        assert _redis(folder) == params, step
