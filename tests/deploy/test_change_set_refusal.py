"""``deploy --change-set NAME`` refuses, end to end, a change set that was not
made from the templates and parameters it is given: nothing is executed.

Stand-in: moto's server with the local compat patches (``deploy --local``'s
setup). moto really stores change sets with their Description and parameters
and keeps one that was not executed at ExecutionStatus AVAILABLE; the refusal
itself is the tool's, before ExecuteChangeSet. Real CloudFormation executes
any AVAILABLE change set it is asked to ("ExecuteChangeSet: Updates a stack
using the input information that was provided when the specified change set
was created", API_ExecuteChangeSet), so nothing on AWS's side would catch a
change set made from other content: the check must be ours.
"""

from __future__ import annotations

import pytest

from helpers.deploy import client, run_cli, seed_ssm, with_multi_az
from wealist_cfn import config
from wealist_cfn.errors import EXIT_REFUSED

pytestmark = pytest.mark.moto

STACK = "wealist-prod"
# The exit code of a refused change set (errors.py: 3 refused).
REFUSED = (EXIT_REFUSED,)


def _cli(command, endpoint, params, templates, *extra):
    # The endpoint answers as the rehearsal (tests/conftest.py), where preflight blocks as on AWS;
    # nothing is bootstrapped here (seed_ssm makes only what the templates resolve).
    return run_cli(
        command,
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


def _left_for_review(out: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith("change set ") and "left for review" in x)
    return line.split()[2]


def _nothing_executed(cfn, name: str, status: str) -> None:
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == status
    summaries = {c["ChangeSetName"]: c for c in cfn.list_change_sets(StackName=STACK)["Summaries"]}
    assert summaries[name]["ExecutionStatus"] == "AVAILABLE"


def _refused(endpoint, params, templates, name) -> None:
    code, out, err = _cli("deploy", endpoint, params, templates, "--change-set", name, "--yes", "--no-wait-healthy")
    assert code in REFUSED, err + out
    # The proof (deploy/verify.py) names the first difference; which one
    # moto shows first depends on what it models (it reports no
    # Capabilities), so this test holds the end-to-end refusal and
    # test_trust.py each difference, with Stubber.
    assert f"refused: change set {name}" in err and "nothing was executed" in err
    assert f"executing change set {name}" not in out
    _nothing_executed(client("cloudformation", endpoint), name, "CREATE_COMPLETE")


def test_a_change_set_not_made_from_these_templates_and_parameters_is_refused(
    compat_endpoint, real_templates, prod_params, tmp_path
):
    """On a stack deployed from the committed templates and prod.json, each
    of three change sets is named in a deploy of exactly those, and each is
    refused with nothing executed: one planned from templates that differ
    (another description of the cache stack), one planned from another
    parameter file (multi-AZ), and one made by hand, with no record of what
    it was made from (no description) and another parameter value. The
    database stays single-AZ throughout."""
    ep = compat_endpoint
    seed_ssm(ep, real_templates, config.load(prod_params).values)
    code, out, err = _cli("deploy", ep, prod_params, real_templates, "--yes", "--no-wait-healthy")
    assert code == 0, err + out
    cfn = client("cloudformation", ep)

    other = tmp_path / "other"
    other.mkdir()
    for f in real_templates.iterdir():
        (other / f.name).write_text(f.read_text())
    cache = other / "cache.yaml"
    text = cache.read_text()
    assert "\nDescription: 'Wealist cache" in text
    cache.write_text(text.replace("\nDescription: 'Wealist cache", "\nDescription: 'Edited: Wealist cache", 1))
    code, out, err = _cli("plan", ep, prod_params, other)
    assert code == 0, err + out
    _refused(ep, prod_params, real_templates, _left_for_review(out))

    code, out, err = _cli("plan", ep, with_multi_az(prod_params, tmp_path), real_templates, "--force-stack-name")
    assert code == 0, err + out
    _refused(ep, prod_params, real_templates, _left_for_review(out))

    current = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Parameters"]
    params = [
        {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
        for p in current
        if p["ParameterKey"] != "EnableMultiAZ"
    ] + [{"ParameterKey": "EnableMultiAZ", "ParameterValue": "true"}]
    cfn.create_change_set(
        StackName=STACK,
        ChangeSetName="by-hand",
        ChangeSetType="UPDATE",
        UsePreviousTemplate=True,
        Parameters=params,
        Capabilities=["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    assert not cfn.describe_change_set(StackName=STACK, ChangeSetName="by-hand").get("Description")
    _refused(ep, prod_params, real_templates, "by-hand")

    assert client("rds", ep).describe_db_instances()["DBInstances"][0]["MultiAZ"] is False
