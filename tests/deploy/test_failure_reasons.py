"""A change set that fails for a real reason ends the deploy with exit 1
and that reason, never with "no changes".

Stand-ins: CloudFormation is scripted (tests/helpers/scripted.py), S3 and STS are
moto's server (moto never fails a change set for any of these reasons).

What AWS does, per its documentation:

* A template CloudFormation cannot parse: CreateChangeSet answers
  ``ValidationError: Template format error: ...``, or, for a nested
  template read later, the change set ends FAILED with that reason.
* IAM resources without the capability: ``InsufficientCapabilitiesException``
  ("Requires capabilities : [CAPABILITY_NAMED_IAM]") from CreateChangeSet
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html),
  or a FAILED change set with the same words.
* Pre-deployment validation runs while the change set is created and fails
  it, naming the failed validation and pointing at DescribeEvents
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/validate-stack-deployments.html).
* A nested change set that fails fails the root's, whose reason only names
  the nested one ("Nested change set ARN was not successfully created:
  Currently in FAILED."); the cause is the nested change set's own reason.
"""

from __future__ import annotations

import pytest

from helpers.scripted import (
    Cfn,
    Scripted,
    ScriptedError,
    change,
    change_set_arn,
    detail,
    run_cli,
    scripted_aws,
    tiny_templates,
)
from wealist_cfn.core.settings import PARAMS_DIR

pytestmark = [pytest.mark.stubbed, pytest.mark.moto]

TEMPLATE_ERROR = (
    "Template format error: Unresolved resource dependencies [DatabaseSubnetGroup] in the Resources "
    "block of the template"
)
CAPABILITY = "Requires capabilities : [CAPABILITY_NAMED_IAM]"
VALIDATION = (
    "The following hook(s)/validations failed: [AWS::EarlyValidation::ResourceExistenceCheck]. To "
    "troubleshoot Early Validation errors, use the DescribeEvents API for detailed failure information."
)

CASES = {
    "template format error (change set FAILED)": dict(failure=TEMPLATE_ERROR),
    "template format error (CreateChangeSet refused)": dict(create_error=("ValidationError", TEMPLATE_ERROR)),
    "missing capability (change set FAILED)": dict(failure=CAPABILITY),
    "missing capability (CreateChangeSet refused)": dict(
        create_error=("InsufficientCapabilitiesException", CAPABILITY)
    ),
    "pre-deployment validation failed": dict(failure=VALIDATION),
}


def _deploy(monkeypatch, endpoint, cfn: Cfn) -> tuple[int, str, Scripted]:
    script = Scripted(("cloudformation",), cfn.handlers())
    with scripted_aws(monkeypatch, script):
        code, out, err = run_cli(
            "deploy",
            "--skip-preflight",
            "--no-wait-healthy",
            "--stack-name",
            cfn.name,
            "--params",
            PARAMS_DIR / "prod.json",
            "--endpoint-url",
            endpoint,
            "--templates",
            tiny_templates(),
            "--yes",
        )
    return code, out + err, script


@pytest.mark.parametrize("case", list(CASES))
def test_failed_change_set_ends_with_its_reason(case, monkeypatch, moto_endpoint):
    """Scripted CloudFormation: exit 1, the reason printed, no "no changes",
    nothing executed."""
    cfn = Cfn(**CASES[case])
    code, output, script = _deploy(monkeypatch, moto_endpoint, cfn)
    reason = CASES[case].get("failure") or CASES[case]["create_error"][1]
    assert code == 1, output
    assert reason in output
    assert "no changes" not in output.lower()
    assert not script.ops("cloudformation", "ExecuteChangeSet")


def test_failed_nested_change_set_reports_the_nested_cause(monkeypatch, moto_endpoint):
    """Scripted CloudFormation: the root change set FAILED because its nested
    one did; the output carries the nested change set's own reason."""
    nested = change_set_arn("DatabaseStack")
    cfn = Cfn(
        failure=f"Nested change set {nested} was not successfully created: Currently in FAILED.",
        change_sets={
            "root": [
                change(
                    "Modify",
                    "DatabaseStack",
                    "AWS::CloudFormation::Stack",
                    replacement="False",
                    nested="DatabaseStack",
                    details=[detail("Parameters", "Never")],
                )
            ]
        },
    )
    original = cfn.describe_change_set

    def describe(params):
        page = original(params)
        if page["ChangeSetName"] == "DatabaseStack":
            page.update(Status="FAILED", ExecutionStatus="UNAVAILABLE", StatusReason=TEMPLATE_ERROR, Changes=[])
        return page

    cfn.describe_change_set = describe
    code, output, _ = _deploy(monkeypatch, moto_endpoint, cfn)
    assert code == 1, output
    assert TEMPLATE_ERROR in output
    assert "no changes" not in output.lower()


def test_a_real_no_change_is_still_no_changes(monkeypatch, moto_endpoint):
    """Scripted CloudFormation (FAILED with the documented "didn't contain
    changes" reason): exit 0 and "no changes" (the contrast to the above)."""
    cfn = Cfn(
        failure="The submitted information didn't contain changes. Submit different information to create a change set."
    )
    code, output, script = _deploy(monkeypatch, moto_endpoint, cfn)
    assert code == 0 and "no changes" in output, output
    assert not script.ops("cloudformation", "ExecuteChangeSet")


def test_a_stack_left_in_review_is_planned_again_without_waiting(monkeypatch, moto_endpoint):
    """Scripted CloudFormation: a CREATE change set that was reviewed and not
    executed leaves the stack REVIEW_IN_PROGRESS, where nothing runs and a new
    CREATE change set may be made (CreateChangeSet API reference). plan goes
    straight on; it must not wait for the state to change (it never does)."""
    cfn = Cfn(status="REVIEW_IN_PROGRESS")
    original = cfn.describe_stacks

    def describe(params):
        if not hasattr(cfn, "root_cs") and getattr(cfn, "_looked", False):
            raise ScriptedError("Throttling", "DescribeStacks again before any change set: waiting on REVIEW")
        cfn._looked = True
        return original(params)

    cfn.describe_stacks = describe
    script = Scripted(("cloudformation",), cfn.handlers())
    with scripted_aws(monkeypatch, script):
        code, out, err = run_cli(
            "plan",
            "--skip-preflight",
            "--stack-name",
            cfn.name,
            "--params",
            PARAMS_DIR / "prod.json",
            "--endpoint-url",
            moto_endpoint,
            "--templates",
            tiny_templates(),
            "--output",
            "json",
            "--discard",
        )
    assert code == 0, err
    assert script.ops("cloudformation", "CreateChangeSet")[0]["ChangeSetType"] == "CREATE"
