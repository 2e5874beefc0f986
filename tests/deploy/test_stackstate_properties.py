"""What a deploy reads of the target stack, and what it does or refuses for
each state it can be in (wealist_cfn/deploy/stackstate.py).

Stand-in: an in-process fake of the CloudFormation client that answers by
arguments (DescribeStacks by StackName, ListStackResources and
ListChangeSets by StackName, page by page) and records every call, in the
shapes of the API reference; a stack's answers can change from one read to
the next, as a stack that is rolling back or being deleted does. moto is
not used: it cannot hold a stack in ROLLBACK_FAILED, DELETE_FAILED or
UPDATE_ROLLBACK_FAILED with failed nested resources, and each case here
runs in microseconds for the mutation run of stackstate.py.

What the real service does, as relied on here:
- DescribeStacks of a stack that is not there is a ValidationError whose
  message is "Stack with id NAME does not exist"; StackStatusReason,
  EnableTerminationProtection, Parameters, Outputs, RoleARN and RootId are
  optional members of a Stack
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html,
  API_Stack.html); a deleted stack is still read by its stack ID, as
  DELETE_COMPLETE.
- ListStackResources pages with NextToken; a StackResourceSummary's
  PhysicalResourceId and ResourceStatusReason are optional; a nested stack's
  PhysicalResourceId is its stack ARN
  (API_ListStackResources.html, API_StackResourceSummary.html).
- ListChangeSets' ChangeSetSummary has Status DELETE_PENDING,
  DELETE_IN_PROGRESS, DELETE_COMPLETE for one on its way out
  (API_ChangeSetSummary.html).
- DeleteStack is refused while termination protection is on
  (API_UpdateTerminationProtection.html); RollbackStack with
  RetainExceptOnCreate deletes what the failed create made, Retain
  resources included, and deletes a stack without a stable state
  (API_RollbackStack.html); ContinueUpdateRollback names a nested stack's
  resource as NestedStackName.ResourceLogicalId in ResourcesToSkip
  (API_ContinueUpdateRollback.html).
"""

from __future__ import annotations

from types import SimpleNamespace

import botocore.exceptions
import pytest

from wealist_cfn.deploy import stackstate as ss
from wealist_cfn.errors import EXIT_FAILED, CommandError

ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod/1"
NET = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod-NetworkStack/2"
IAM = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod-IamStack/3"
DB = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod-NetworkStack-Db/4"
STACK = "AWS::CloudFormation::Stack"


def client_error(code, message):
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "Op")


def gone(name):
    return client_error("ValidationError", f"Stack with id {name} does not exist")


class Pager:
    def __init__(self, cfn, op):
        self.cfn, self.op = cfn, op

    def paginate(self, StackName):  # noqa: N803 - the API parameter's name
        self.cfn.calls.append((self.op, StackName))
        pages = (self.cfn.resources if self.op == "list_stack_resources" else self.cfn.change_sets).get(StackName, [])
        if isinstance(pages, BaseException):
            raise pages
        return iter(pages)


class FakeCfn:
    """DescribeStacks answers from ``stacks[StackName]``: a Stack, an
    exception, or a list of them read one per call (the last one repeats);
    absent means the stack does not exist."""

    def __init__(self, stacks=None, resources=None, change_sets=None, fail=None):
        self.stacks, self.resources, self.change_sets = stacks or {}, resources or {}, change_sets or {}
        self.fail = fail or {}
        self.calls: list = []

    def describe_stacks(self, StackName):  # noqa: N803 - the API parameter's name
        self.calls.append(("describe_stacks", StackName))
        a = self.stacks.get(StackName)
        if isinstance(a, list):
            a = a.pop(0) if len(a) > 1 else a[0]
        if a is None:
            raise gone(StackName)
        if isinstance(a, BaseException):
            raise a
        return {"Stacks": [a]}

    def get_paginator(self, op):
        if op not in ("list_stack_resources", "list_change_sets"):
            raise ValueError(f"no paginator {op}")  # botocore: OperationNotPageableError
        return Pager(self, op)

    def _act(self, op, **kw):
        self.calls.append((op, kw))
        if op in self.fail:
            raise self.fail[op]
        return {}

    def delete_stack(self, **kw):
        return self._act("delete_stack", **kw)

    def rollback_stack(self, **kw):
        return self._act("rollback_stack", **kw)

    def update_termination_protection(self, **kw):
        return self._act("update_termination_protection", **kw)

    def ops(self):
        return [c[0] for c in self.calls]


def aws(cfn):
    return SimpleNamespace(cfn=cfn)


def stack(status, **extra):
    return {"StackName": "wealist-prod", "StackId": ID, "StackStatus": status, **extra}


def res(logical, status, type_="AWS::EC2::Instance", phys="i-1", reason=None):
    r = {"LogicalResourceId": logical, "ResourceType": type_, "ResourceStatus": status}
    if phys is not None:
        r["PhysicalResourceId"] = phys
    if reason is not None:
        r["ResourceStatusReason"] = reason
    return r


def pages(*rows):
    return [{"StackResourceSummaries": list(rows)}]


# ---------------------------------------------------------------- describe


def test_a_stack_that_is_not_there_is_read_as_none_and_due_a_create():
    state = ss.describe(aws(FakeCfn()), "wealist-prod")
    assert state.status is None and state.name == "wealist-prod" and state.change_set_type == "CREATE"
    assert state.never_created


def test_any_other_describe_error_stops_with_the_call_and_its_message():
    cfn = FakeCfn({"wealist-prod": client_error("AccessDenied", "not authorized to DescribeStacks")})
    with pytest.raises(CommandError) as e:
        ss.describe(aws(cfn), "wealist-prod")
    assert str(e.value) == "DescribeStacks wealist-prod: not authorized to DescribeStacks"
    assert e.value.exit_code == EXIT_FAILED


def test_every_member_of_the_stack_is_read():
    st = stack(
        "UPDATE_COMPLETE",
        StackStatusReason="r",
        EnableTerminationProtection=True,
        Parameters=[{"ParameterKey": "Env", "ParameterValue": "prod"}, {"ParameterKey": "Blank"}],
        Outputs=[{"OutputKey": "Url", "OutputValue": "https://x"}],
        RoleARN="arn:aws:iam::123456789012:role/cfn",
        RootId=ID,
    )
    state = ss.describe(aws(FakeCfn({"wealist-prod": st})), "wealist-prod")
    assert (state.name, state.status, state.stack_id, state.reason, state.termination_protection) == (
        "wealist-prod",
        "UPDATE_COMPLETE",
        ID,
        "r",
        True,
    )
    assert state.parameters == {"Env": "prod", "Blank": ""}
    assert state.outputs == [{"OutputKey": "Url", "OutputValue": "https://x"}]
    assert state.role_arn == "arn:aws:iam::123456789012:role/cfn" and state.root_id == ID
    assert state.change_set_type == "UPDATE" and not state.never_created


def test_the_optional_members_absent_read_as_empty():
    state = ss.describe(aws(FakeCfn({"wealist-prod": stack("CREATE_COMPLETE")})), "wealist-prod")
    assert (
        state.reason,
        state.termination_protection,
        state.parameters,
        state.outputs,
        state.role_arn,
        state.root_id,
    ) == ("", False, {}, [], "", "")
    off = ss.describe(
        aws(
            FakeCfn(
                {
                    "wealist-prod": stack(
                        "CREATE_COMPLETE",
                        EnableTerminationProtection=False,
                        StackStatusReason=None,
                        RoleARN=None,
                        RootId=None,
                        Outputs=None,
                    )
                }
            )
        ),
        "wealist-prod",
    )
    assert (off.termination_protection, off.reason, off.role_arn, off.root_id, off.outputs) == (False, "", "", "", [])


@pytest.mark.parametrize("status", sorted(ss.NEVER_CREATED - {None}))
def test_a_first_create_that_never_completed_is_never_created(status):
    assert ss.StackState("s", status).never_created
    assert not ss.StackState("s", "UPDATE_ROLLBACK_COMPLETE").never_created


# ------------------------------------------------------- failed resources


def test_failed_resources_every_page_nested_included_with_their_path():
    cfn = FakeCfn(
        resources={
            ID: [
                {
                    "StackResourceSummaries": [
                        res("Web", "UPDATE_FAILED", reason="web broke"),
                        res("Ok", "UPDATE_COMPLETE"),
                    ]
                },
                {},  # a page without summaries
                {
                    "StackResourceSummaries": [
                        res("NetworkStack", "UPDATE_FAILED", STACK, NET, "nested failed"),
                        res("Bare", "DELETE_FAILED", phys=None),
                    ]
                },
            ],
            NET: pages(
                res("Nat", "CREATE_FAILED", reason="nat"),
                res("Vpc", "CREATE_COMPLETE"),
                res("Db", "UPDATE_FAILED", STACK, DB, "db stack"),
            ),
            DB: pages(res("Instance", "UPDATE_FAILED", "AWS::RDS::DBInstance", reason="db")),
        }
    )
    assert ss.failed_resources(aws(cfn), ID) == [
        ("Web", "AWS::EC2::Instance", "web broke"),
        ("NetworkStack/Nat", "AWS::EC2::Instance", "nat"),
        ("NetworkStack/Db/Instance", "AWS::RDS::DBInstance", "db"),
        ("Bare", "AWS::EC2::Instance", ""),
    ]


def test_a_failed_nested_stack_with_no_failed_resource_inside_is_named_itself():
    cfn = FakeCfn(
        resources={
            ID: pages(
                res("IamStack", "UPDATE_FAILED", STACK, IAM, "iam failed"),
                res("Shell", "CREATE_FAILED", STACK, "", "no arn"),
            ),
            IAM: pages(res("Role", "UPDATE_COMPLETE")),
        }
    )
    cfn.resources[ID][0]["StackResourceSummaries"].append(res("Unmade", "CREATE_FAILED", STACK, None, "no id yet"))
    assert ss.failed_resources(aws(cfn), ID) == [
        ("IamStack", STACK, "iam failed"),
        ("Shell", STACK, "no arn"),
        ("Unmade", STACK, "no id yet"),
    ]
    # a nested stack without an ARN is not read as a stack
    assert ("list_stack_resources", "") not in cfn.calls


def test_a_stack_that_cannot_be_listed_reports_nothing():
    cfn = FakeCfn(resources={ID: client_error("ValidationError", "Stack with id x does not exist")})
    assert ss.failed_resources(aws(cfn), ID) == [] and ss.resources_in(aws(cfn), ID, {"DELETE_FAILED"}) == []


def test_resources_in_the_statuses_asked_nested_by_stack_id_never_the_nested_stack_itself():
    cfn = FakeCfn(
        resources={
            ID: pages(
                res("Bucket", "DELETE_SKIPPED", "AWS::S3::Bucket", "logs"),
                res("NetworkStack", "DELETE_SKIPPED", STACK, NET),
                res("Topic", "DELETE_COMPLETE", "AWS::SNS::Topic", "t"),
                res("NoPhys", "DELETE_SKIPPED", "AWS::Logs::LogGroup", None),
                # a resource whose physical ID is an ARN is no stack to read
                res("Alerts", "DELETE_SKIPPED", "AWS::SNS::Topic", "arn:aws:sns:ap-northeast-2:123456789012:a"),
            ),
            NET: pages(
                res("Flow", "DELETE_SKIPPED", "AWS::Logs::LogGroup", "flow"), res("Db", "DELETE_COMPLETE", STACK, DB)
            ),
            DB: pages(res("Snap", "DELETE_SKIPPED", "AWS::RDS::DBInstance", "db-1")),
        }
    )
    assert ss.resources_in(aws(cfn), ID, {"DELETE_SKIPPED"}) == [
        ("Bucket", "AWS::S3::Bucket", "logs", "DELETE_SKIPPED"),
        ("NetworkStack/Flow", "AWS::Logs::LogGroup", "flow", "DELETE_SKIPPED"),
        ("NetworkStack/Db/Snap", "AWS::RDS::DBInstance", "db-1", "DELETE_SKIPPED"),
        ("NoPhys", "AWS::Logs::LogGroup", "", "DELETE_SKIPPED"),
        ("Alerts", "AWS::SNS::Topic", "arn:aws:sns:ap-northeast-2:123456789012:a", "DELETE_SKIPPED"),
    ]
    assert ("list_stack_resources", "arn:aws:sns:ap-northeast-2:123456789012:a") not in cfn.calls
    both = ss.resources_in(aws(cfn), ID, {"DELETE_COMPLETE", "DELETE_SKIPPED"})
    assert ("Topic", "AWS::SNS::Topic", "t", "DELETE_COMPLETE") in both and len(both) == 6


# ------------------------------------------------------ delete_review_shell

KEEP = "delete it when no longer needed: aws cloudformation delete-stack --stack-name wealist-prod"


def shell_cfn(status="REVIEW_IN_PROGRESS", summaries=(), **kw):
    # two pages, one of them without Summaries (an empty page)
    return FakeCfn({ID: stack(status)}, change_sets={ID: [{}, {"Summaries": list(summaries)}]}, **kw)


def test_an_empty_shell_is_deleted_by_its_id_and_said_so():
    cfn = shell_cfn()
    line = ss.delete_review_shell(aws(cfn), ID, "wealist-prod")
    assert line == "deleted the empty stack shell wealist-prod (REVIEW_IN_PROGRESS, made by this run)"
    assert ("delete_stack", {"StackName": ID}) in cfn.calls


def test_a_stack_that_is_no_shell_is_left_as_it_is():
    cfn = shell_cfn("CREATE_COMPLETE")
    assert (
        ss.delete_review_shell(aws(cfn), ID, "wealist-prod")
        == "stack wealist-prod is CREATE_COMPLETE, not an empty shell: left as it is"
    )
    assert "delete_stack" not in cfn.ops()


def test_a_shell_holding_another_plan_is_left_naming_the_plans():
    others = [{"ChangeSetName": f"plan-{i}", "ChangeSetId": f"cs-{i}", "Status": "CREATE_COMPLETE"} for i in range(6)]
    going = [{"ChangeSetName": f"old-{s}", "ChangeSetId": f"x-{s}", "Status": s} for s in ss._GOING]
    cfn = shell_cfn(summaries=[*going, *others])
    line = ss.delete_review_shell(aws(cfn), ID, "wealist-prod", ours="cs-0")
    assert line == (
        "left the stack shell wealist-prod (REVIEW_IN_PROGRESS): it holds 5 other change set(s) "
        f"(plan-1, plan-2, plan-3); {KEEP}"
    )
    assert "delete_stack" not in cfn.ops()


def test_ours_and_those_being_deleted_do_not_count_as_another_plan():
    summaries = [
        {"ChangeSetName": "mine", "ChangeSetId": "cs-mine", "Status": "CREATE_COMPLETE"},
        *({"ChangeSetName": s, "ChangeSetId": s, "Status": s} for s in ss._GOING),
    ]
    cfn = shell_cfn(summaries=summaries)
    assert ss.delete_review_shell(aws(cfn), ID, "wealist-prod", ours="cs-mine").startswith("deleted")
    # without ours, the same plan is another one (a change set with no ID included)
    cfn = shell_cfn(summaries=[{"ChangeSetName": "mine", "Status": "CREATE_PENDING"}])
    assert "it holds 1 other change set(s) (mine)" in ss.delete_review_shell(aws(cfn), ID, "wealist-prod")
    cfn = shell_cfn(summaries=[{"ChangeSetName": "mine", "ChangeSetId": "cs-mine", "Status": "CREATE_COMPLETE"}])
    assert "it holds 1" in ss.delete_review_shell(aws(cfn), ID, "wealist-prod")


@pytest.mark.parametrize("where", ["describe", "list", "delete"])
def test_a_shell_that_cannot_be_deleted_is_left_with_the_error_and_the_command(where):
    err = client_error("AccessDenied", "User is not authorized\nsecond line")
    cfn = shell_cfn(fail={"delete_stack": err} if where == "delete" else None)
    if where == "describe":
        cfn.stacks[ID] = err
    if where == "list":
        cfn.change_sets[ID] = err
    line = ss.delete_review_shell(aws(cfn), ID, "wealist-prod")
    assert line.startswith("left the stack shell wealist-prod (REVIEW_IN_PROGRESS; deleting it failed: ClientError: ")
    assert "second line" not in line and line.endswith(f"); {KEEP}")


def test_the_error_named_is_short():
    assert ss._short(RuntimeError()) == "RuntimeError"
    assert ss._short(RuntimeError("x" * 300 + "\nmore")) == "RuntimeError: " + "x" * 160


# ------------------------------------------------------------------ settle


def test_settle_waits_for_a_running_operation_then_yields_the_settled_state():
    slept = []
    cfn = FakeCfn(
        {
            "wealist-prod": [
                stack("UPDATE_IN_PROGRESS"),
                stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
                stack("UPDATE_COMPLETE"),
            ]
        }
    )
    out = list(ss.settle(aws(cfn), "wealist-prod", sleep=slept.append, interval=7.0))
    assert out[:2] == [ss.Waiting("UPDATE_IN_PROGRESS", 0.0), ss.Waiting("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", 7.0)]
    assert out[2].status == "UPDATE_COMPLETE" and len(out) == 3 and slept == [7.0, 7.0]


@pytest.mark.parametrize("status", [None, "REVIEW_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED", "CREATE_COMPLETE"])
def test_settle_does_not_wait_for_no_stack_a_shell_or_a_final_state(status):
    slept = []
    cfn = FakeCfn({"wealist-prod": stack(status)} if status else {})
    out = list(ss.settle(aws(cfn), "wealist-prod", sleep=slept.append))
    assert [s.status for s in out] == [status] and slept == []


def test_settle_gives_up_after_its_timeout_naming_the_status():
    slept = []
    cfn = FakeCfn({"wealist-prod": stack("DELETE_IN_PROGRESS")})
    it = ss.settle(aws(cfn), "wealist-prod", sleep=slept.append, interval=10.0, timeout=30.0)
    with pytest.raises(CommandError) as e:
        list(it)
    assert str(e.value) == "stack wealist-prod still DELETE_IN_PROGRESS after 30s; try again later"
    assert slept == [10.0, 10.0, 10.0]


def test_settle_waits_ten_seconds_by_default_and_gives_up_after_three_hours():
    slept = []
    cfn = FakeCfn({"wealist-prod": stack("UPDATE_IN_PROGRESS")})
    with pytest.raises(CommandError, match="after 10800s"):
        list(ss.settle(aws(cfn), "wealist-prod", sleep=slept.append))
    assert set(slept) == {10.0} and len(slept) == 1080


# -------------------------------------------------------- check_deployable


def state(status, reason="", stack_id=ID, **kw):
    return ss.StackState("wealist-prod", status, stack_id, reason, **kw)


def refusal(cfn, st) -> CommandError:
    with pytest.raises(CommandError) as e:
        ss.check_deployable(aws(cfn), st, replace_failed=False)
    assert e.value.exit_code == EXIT_FAILED
    return e.value


@pytest.mark.parametrize("status", sorted(ss.REPLACE_WHY))
def test_a_failed_first_create_is_replaced_only_when_asked(status):
    cfn = FakeCfn(resources={ID: pages(res("Web", "CREATE_FAILED", reason="bad"))})
    assert ss.check_deployable(aws(cfn), state(status), replace_failed=True) == "replace"
    e = refusal(cfn, state(status))
    assert str(e).startswith(f"stack wealist-prod is {status}: {ss.REPLACE_WHY[status]}")
    assert any("--replace-failed" in d for d in e.details)
    assert any(
        ss.UNPROTECT_CMD.format(n="wealist-prod") in d and "delete-stack --stack-name wealist-prod" in d
        for d in e.details
    )


@pytest.mark.parametrize(
    "status",
    [None, "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "REVIEW_IN_PROGRESS"],
)
def test_a_deployable_stack_passes_without_reading_anything(status):
    cfn = FakeCfn()
    assert ss.check_deployable(aws(cfn), state(status), replace_failed=False) is None
    assert ss.check_deployable(aws(cfn), state(status), replace_failed=True) is None
    assert cfn.calls == []


def test_rollback_complete_says_it_cannot_be_updated_without_reading_resources():
    cfn = FakeCfn()
    e = refusal(cfn, state("ROLLBACK_COMPLETE"))
    assert str(e) == (
        "stack wealist-prod is ROLLBACK_COMPLETE: its first create failed and rolled back, and such "
        "a stack cannot be updated"
    )
    assert cfn.calls == []


def test_create_failed_names_every_blocking_resource_and_the_rollback_by_hand():
    cfn = FakeCfn(
        resources={
            ID: pages(
                res("Web", "CREATE_FAILED", reason="web"), res("NetworkStack", "CREATE_FAILED", STACK, NET, "nested")
            ),
            NET: pages(res("Nat", "CREATE_FAILED", "AWS::EC2::NatGateway", reason="nat")),
        }
    )
    e = refusal(cfn, state("CREATE_FAILED"))
    assert e.details[:2] == (
        "  blocking: Web (AWS::EC2::Instance): web",
        "  blocking: NetworkStack/Nat (AWS::EC2::NatGateway): nat",
    )
    assert any(ss.ROLLBACK_CMD.format(n="wealist-prod") in d for d in e.details)
    assert ("list_stack_resources", ID) in cfn.calls


def test_the_resources_are_read_by_stack_id_and_by_name_without_one():
    cfn = FakeCfn(resources={"wealist-prod": pages(res("Web", "CREATE_FAILED", reason="web"))})
    e = refusal(cfn, state("CREATE_FAILED", stack_id=""))
    assert e.details[0] == "  blocking: Web (AWS::EC2::Instance): web"


@pytest.mark.parametrize("reason, said", [("Bucket not empty", "Bucket not empty"), ("", "no reason given")])
def test_rollback_failed_gives_the_reason_or_says_there_is_none(reason, said):
    e = refusal(FakeCfn(), state("ROLLBACK_FAILED", reason))
    assert str(e) == f"stack wealist-prod is ROLLBACK_FAILED: {ss.REPLACE_WHY['ROLLBACK_FAILED']}: {said}"
    assert e.details[0] == "  (no failed resource reported)"
    assert "  python build.py deploy --replace-failed ... (deletes it first)" in e.details


def update_rollback_failed(*rows, **nested):
    cfn = FakeCfn(resources={ID: pages(*rows), **{k: pages(*v) for k, v in nested.items()}})
    return refusal(cfn, state("UPDATE_ROLLBACK_FAILED"))


def hint(e):
    return next(d for d in e.details if "continue-rollback" in d)


def test_update_rollback_failed_names_each_resource_to_skip_in_both_spellings():
    e = update_rollback_failed(
        res("Web", "UPDATE_FAILED", reason="changed by hand"),
        res("NetworkStack", "UPDATE_FAILED", STACK, NET),
        **{NET: [res("Db", "UPDATE_FAILED", STACK, DB)], DB: [res("Inst", "UPDATE_FAILED")]},
    )
    assert str(e) == (
        "stack wealist-prod is UPDATE_ROLLBACK_FAILED: a rollback could not finish, so no update can start"
    )
    assert "fix the cause (e.g. a resource changed or deleted outside CloudFormation) and run:" in e.details
    assert hint(e) == (
        "  python build.py continue-rollback --stack-name wealist-prod --params FILE "
        "[--skip Web --skip NetworkStack/Db/Inst]  (or: aws cloudformation continue-update-rollback "
        "--stack-name wealist-prod [--resources-to-skip Web NetworkStack.Db.Inst])"
    )


def test_update_rollback_failed_without_a_blocking_resource_gives_the_commands_without_skips():
    e = update_rollback_failed()
    assert hint(e) == (
        "  python build.py continue-rollback --stack-name wealist-prod --params FILE  (or: aws "
        "cloudformation continue-update-rollback --stack-name wealist-prod)"
    )


BOUNDARY = "API: iam:DeleteRolePermissionsBoundary User is not authorized"


def test_roles_whose_boundary_the_rollback_would_take_off_are_skipped_with_nothing_to_fix():
    e = update_rollback_failed(
        res("IamStack", "UPDATE_FAILED", STACK, IAM),
        res("NetworkStack", "UPDATE_FAILED", STACK, NET),
        **{
            IAM: [res("Ec2Role", "UPDATE_FAILED", "AWS::IAM::Role", reason=BOUNDARY)],
            NET: [res("FlowLogRole", "UPDATE_FAILED", "AWS::IAM::Role", reason=BOUNDARY)],
        },
    )
    cause = next(d for d in e.details if "permissions boundary" in d)
    assert cause.startswith(
        "the rollback would take the permissions boundary off IamStack/Ec2Role, "
        "NetworkStack/FlowLogRole, which the service role may never do; nothing to fix"
    )
    assert hint(e) == (
        "  python build.py continue-rollback --stack-name wealist-prod --params FILE --skip "
        "IamStack/Ec2Role --skip NetworkStack/FlowLogRole  (or: aws cloudformation "
        "continue-update-rollback --stack-name wealist-prod --resources-to-skip IamStack.Ec2Role "
        "NetworkStack.FlowLogRole)"
    )


def test_the_boundary_roles_without_the_reason_are_skipped_if_that_is_their_reason():
    e = update_rollback_failed(
        res("IamStack", "UPDATE_FAILED", STACK, IAM),
        **{
            IAM: [
                res("Ec2Role", "UPDATE_FAILED", "AWS::IAM::Role", reason="Internal Failure"),
                res("MonitoringRole", "UPDATE_FAILED", "AWS::IAM::Role", reason=BOUNDARY),
            ]
        },
    )
    cause = next(d for d in e.details if "permissions boundary" in d)
    assert cause.startswith(
        "if their reason is iam:DeleteRolePermissionsBoundary: the rollback would take the "
        "permissions boundary off IamStack/Ec2Role, IamStack/MonitoringRole"
    )


def test_a_boundary_role_beside_another_failure_means_fix_the_cause():
    e = update_rollback_failed(
        res("Web", "UPDATE_FAILED", reason="changed by hand"),
        res("IamStack", "UPDATE_FAILED", STACK, IAM),
        **{IAM: [res("Ec2Role", "UPDATE_FAILED", "AWS::IAM::Role", reason=BOUNDARY)]},
    )
    assert not any("permissions boundary" in d for d in e.details)
    assert "[--skip Web --skip IamStack/Ec2Role]" in hint(e)
    # a role that is not one of the bounded ones, failing for another reason, is no boundary case
    e = update_rollback_failed(
        res("IamStack", "UPDATE_FAILED", STACK, IAM),
        **{IAM: [res("OtherRole", "UPDATE_FAILED", "AWS::IAM::Role", reason="Internal")]},
    )
    assert not any("permissions boundary" in d for d in e.details)
    # nor is a boundary role's name on another type
    e = update_rollback_failed(
        res("IamStack", "UPDATE_FAILED", STACK, IAM),
        **{IAM: [res("Ec2Role", "UPDATE_FAILED", "AWS::IAM::Policy", reason="Internal")]},
    )
    assert not any("permissions boundary" in d for d in e.details)


def test_delete_failed_offers_to_keep_each_blocking_top_level_resource_once():
    cfn = FakeCfn(
        resources={
            ID: pages(
                res("Logs", "DELETE_FAILED", "AWS::S3::Bucket", reason="not empty"),
                res("NetworkStack", "DELETE_FAILED", STACK, NET),
            ),
            NET: pages(
                res("Vpc", "DELETE_FAILED", reason="dependency"), res("Subnet", "DELETE_FAILED", reason="dependency")
            ),
        }
    )
    e = refusal(cfn, state("DELETE_FAILED", "The following resource(s) failed to delete: [Logs]"))
    assert str(e) == "stack wealist-prod is DELETE_FAILED: The following resource(s) failed to delete: [Logs]"
    assert "  aws cloudformation delete-stack --stack-name wealist-prod" in e.details
    assert (
        "  aws cloudformation delete-stack --stack-name wealist-prod --retain-resources Logs NetworkStack" in e.details
    )


def test_delete_failed_without_a_blocking_resource_or_reason():
    e = refusal(FakeCfn(), state("DELETE_FAILED"))
    assert str(e) == "stack wealist-prod is DELETE_FAILED: no reason given"
    assert e.details.count("  aws cloudformation delete-stack --stack-name wealist-prod") == 2


@pytest.mark.parametrize("reason, said", [("import failed", "import failed"), ("", "no reason given")])
def test_import_rollback_failed_must_be_fixed_or_deleted(reason, said):
    cfn = FakeCfn(resources={ID: pages(res("Web", "IMPORT_FAILED", reason="web"))})
    e = refusal(cfn, state("IMPORT_ROLLBACK_FAILED", reason))
    assert str(e) == f"stack wealist-prod is IMPORT_ROLLBACK_FAILED: {said}"
    assert e.details == (
        "  blocking: Web (AWS::EC2::Instance): web",
        f"it must be fixed or deleted before a deploy: {ss.UNPROTECT_CMD.format(n='wealist-prod')}; "
        "aws cloudformation delete-stack --stack-name wealist-prod",
    )


# ----------------------------------------------------------- delete_failed


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept: list = []

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.slept.append(s)
        self.now += s


def run_delete(cfn, st, timeout=60.0, interval=10.0):
    clock = Clock()
    waits = list(ss.delete_failed(aws(cfn), st, sleep=clock.sleep, interval=interval, timeout=timeout, clock=clock))
    return waits, clock


@pytest.mark.parametrize("protected", [True, False])
def test_a_rolled_back_first_create_is_unprotected_deleted_by_id_and_waited_for(protected):
    cfn = FakeCfn({ID: [stack("DELETE_IN_PROGRESS"), stack("DELETE_IN_PROGRESS"), stack("DELETE_COMPLETE")]})
    waits, clock = run_delete(cfn, state("ROLLBACK_COMPLETE", termination_protection=protected))
    acts = [c for c in cfn.calls if c[0] != "describe_stacks"]
    assert acts == (
        [("update_termination_protection", {"StackName": ID, "EnableTerminationProtection": False})]
        if protected
        else []
    ) + [("delete_stack", {"StackName": ID})]
    assert waits == [ss.Waiting("DELETE_IN_PROGRESS", 0.0), ss.Waiting("DELETE_IN_PROGRESS", 10.0)]
    assert clock.slept == [10.0, 10.0]


def test_a_stack_gone_from_describe_is_deleted():
    cfn = FakeCfn({ID: [stack("DELETE_IN_PROGRESS"), gone(ID)]})
    waits, _ = run_delete(cfn, state("ROLLBACK_FAILED"))
    assert [w.status for w in waits] == ["DELETE_IN_PROGRESS"]


def test_create_failed_is_rolled_back_keeping_nothing_before_the_delete():
    cfn = FakeCfn(
        {
            ID: [
                stack("ROLLBACK_IN_PROGRESS"),
                stack("ROLLBACK_COMPLETE"),
                stack("DELETE_IN_PROGRESS"),
                stack("DELETE_COMPLETE"),
            ]
        }
    )
    waits, _ = run_delete(cfn, state("CREATE_FAILED", termination_protection=True))
    acts = [c for c in cfn.calls if c[0] != "describe_stacks"]
    assert acts == [
        ("rollback_stack", {"StackName": ID, "RetainExceptOnCreate": True}),
        ("update_termination_protection", {"StackName": ID, "EnableTerminationProtection": False}),
        ("delete_stack", {"StackName": ID}),
    ]
    assert waits == [ss.Waiting("ROLLBACK_IN_PROGRESS", 0.0), ss.Waiting("DELETE_IN_PROGRESS", 0.0)]


@pytest.mark.parametrize("after", [gone(ID), stack("DELETE_COMPLETE")])
def test_a_rollback_that_deletes_the_stack_ends_it_without_a_delete(after):
    cfn = FakeCfn({ID: [stack("ROLLBACK_IN_PROGRESS"), after]})
    waits, _ = run_delete(cfn, state("CREATE_FAILED", termination_protection=True))
    assert "delete_stack" not in cfn.ops() and "update_termination_protection" not in cfn.ops()
    assert [w.status for w in waits] == ["ROLLBACK_IN_PROGRESS"]


def test_a_rollback_that_fails_is_refused_naming_its_reason_and_blocking_resources():
    cfn = FakeCfn(
        {ID: [stack("ROLLBACK_IN_PROGRESS"), stack("ROLLBACK_FAILED", StackStatusReason="Bucket busy")]},
        resources={ID: pages(res("Logs", "DELETE_FAILED", "AWS::S3::Bucket", reason="not empty"))},
    )
    with pytest.raises(CommandError) as e:
        run_delete(cfn, state("CREATE_FAILED"))
    assert str(e.value) == f"stack wealist-prod is ROLLBACK_FAILED: {ss.REPLACE_WHY['ROLLBACK_FAILED']}: Bucket busy"
    assert e.value.details[0] == "  blocking: Logs (AWS::S3::Bucket): not empty"
    assert "delete_stack" not in cfn.ops()
    cfn = FakeCfn({ID: stack("ROLLBACK_FAILED")})
    with pytest.raises(CommandError, match="no reason given"):
        run_delete(cfn, state("CREATE_FAILED"))


def test_a_delete_that_fails_is_refused_naming_its_reason():
    cfn = FakeCfn(
        {ID: [stack("DELETE_IN_PROGRESS"), stack("DELETE_FAILED", StackStatusReason="Vpc in use")]},
        resources={ID: pages(res("Vpc", "DELETE_FAILED", reason="dependency"))},
    )
    with pytest.raises(CommandError) as e:
        run_delete(cfn, state("ROLLBACK_COMPLETE"))
    assert str(e.value) == "stack wealist-prod is DELETE_FAILED: Vpc in use"
    assert "  aws cloudformation delete-stack --stack-name wealist-prod --retain-resources Vpc" in e.value.details
    cfn = FakeCfn({ID: stack("DELETE_FAILED")})
    with pytest.raises(CommandError, match="DELETE_FAILED: no reason given"):
        run_delete(cfn, state("ROLLBACK_COMPLETE"))


def test_the_rollback_wait_ends_at_its_timeout_naming_the_status():
    cfn = FakeCfn({ID: stack("ROLLBACK_IN_PROGRESS")})
    with pytest.raises(CommandError) as e:
        run_delete(cfn, state("CREATE_FAILED"), timeout=30.0)
    assert str(e.value) == (
        "stack wealist-prod still ROLLBACK_IN_PROGRESS 30s after RollbackStack "
        "(--replace-failed); nothing was created: deploy --replace-failed again once it is "
        "ROLLBACK_COMPLETE"
    )
    assert "delete_stack" not in cfn.ops()


def test_the_delete_wait_ends_at_its_own_timeout_naming_the_status():
    # the rollback took 20 s of a 30 s budget: the delete still gets its own 30 s
    cfn = FakeCfn(
        {
            ID: [
                stack("ROLLBACK_IN_PROGRESS"),
                stack("ROLLBACK_IN_PROGRESS"),
                stack("ROLLBACK_COMPLETE"),
                stack("DELETE_IN_PROGRESS"),
            ]
        }
    )
    clock = Clock()
    it = ss.delete_failed(aws(cfn), state("CREATE_FAILED"), sleep=clock.sleep, interval=10.0, timeout=30.0, clock=clock)
    waits = []
    with pytest.raises(CommandError) as e:
        for w in it:
            waits.append(w)
    assert str(e.value) == (
        "stack wealist-prod still DELETE_IN_PROGRESS 30s after DeleteStack (--replace-failed); "
        "nothing was created: deploy --replace-failed again once it is gone"
    )
    assert [w.waited for w in waits if w.status == "DELETE_IN_PROGRESS"] == [0.0, 10.0, 20.0]


def test_the_default_wait_is_ten_seconds_a_poll_for_an_hour():
    clock = Clock()
    cfn = FakeCfn({ID: stack("DELETE_IN_PROGRESS")})
    with pytest.raises(CommandError, match="still DELETE_IN_PROGRESS 3600s after DeleteStack"):
        list(ss.delete_failed(aws(cfn), state("ROLLBACK_COMPLETE"), sleep=clock.sleep, clock=clock))
    assert set(clock.slept) == {10.0} and len(clock.slept) == 360


def test_a_read_that_fails_otherwise_stops_the_wait_naming_the_call():
    cfn = FakeCfn({ID: client_error("Throttling", "Rate exceeded")})
    with pytest.raises(CommandError) as e:
        run_delete(cfn, state("ROLLBACK_COMPLETE"))
    assert str(e.value) == f"DescribeStacks {ID}: Rate exceeded"


# The whole advice of each refusal: what the user reads and follows when a
# deploy stops on a stuck stack (the commands, what they keep, what is safe).

UNPROTECT = (
    "aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name wealist-prod"
)


def test_the_advice_for_a_rolled_back_first_create():
    assert refusal(FakeCfn(), state("ROLLBACK_COMPLETE")).details == (
        "its resources were deleted by the rollback (the ECR repositories are RetainExceptOnCreate); delete it and "
        "create it again with --replace-failed",
        f"(or: {UNPROTECT}; aws cloudformation delete-stack --stack-name wealist-prod)",
    )


def test_the_advice_for_a_first_create_that_failed_with_rollback_off():
    assert refusal(FakeCfn(), state("CREATE_FAILED")).details == (
        "  (no failed resource reported)",
        "when done debugging: python build.py deploy --replace-failed ... rolls it back with RetainExceptOnCreate "
        "(deleting what the create made, Retain resources included), deletes it and creates it again",
        "(by hand: aws cloudformation rollback-stack --stack-name wealist-prod --retain-except-on-create; wait for "
        f"ROLLBACK_COMPLETE; then {UNPROTECT}; aws cloudformation delete-stack --stack-name wealist-prod. A "
        "delete-stack of the CREATE_FAILED stack itself keeps the ECR repositories, the access-log bucket and the "
        "flow-log group, and the next create fails on their names)",
    )


def test_the_advice_for_a_rollback_of_a_first_create_that_failed():
    assert refusal(FakeCfn(), state("ROLLBACK_FAILED", "x")).details == (
        "  (no failed resource reported)",
        "fix the cause (e.g. deletion protection switched on by hand, or a resource held by something outside the "
        "stack), then delete the stack and create it again:",
        "  python build.py deploy --replace-failed ... (deletes it first)",
        f"  or: {UNPROTECT}; aws cloudformation delete-stack --stack-name wealist-prod",
        "the stack never finished its create, so nothing in it served traffic or holds data",
    )


def test_the_advice_for_a_failed_update_rollback():
    e = update_rollback_failed(res("Web", "UPDATE_FAILED", reason="changed by hand"))
    assert e.details == (
        "  blocking: Web (AWS::EC2::Instance): changed by hand",
        "fix the cause (e.g. a resource changed or deleted outside CloudFormation) and run:",
        "  python build.py continue-rollback --stack-name wealist-prod --params FILE [--skip Web]  (or: aws "
        "cloudformation continue-update-rollback --stack-name wealist-prod [--resources-to-skip Web])",
        "skipping a resource marks it rolled back without touching it; then deploy again",
    )


def test_the_advice_for_a_boundary_the_rollback_would_take_off_names_any_role_with_that_reason():
    e = update_rollback_failed(
        res("IamStack", "UPDATE_FAILED", STACK, IAM),
        **{IAM: [res("DeployRole", "UPDATE_FAILED", "AWS::IAM::Role", reason=BOUNDARY)]},
    )
    assert e.details[1] == (
        "the rollback would take the permissions boundary off IamStack/DeployRole, which the service role may never "
        "do; nothing to fix: skip them (they keep their boundary, which the templates name again) and run "
        "(docs/operations.md, 'The boundary ships alone'):"
    )


def test_the_advice_for_a_failed_delete():
    e = refusal(
        FakeCfn(resources={ID: pages(res("Logs", "DELETE_FAILED", "AWS::S3::Bucket", reason="not empty"))}),
        state("DELETE_FAILED", "r"),
    )
    assert e.details == (
        "  blocking: Logs (AWS::S3::Bucket): not empty",
        "someone started deleting this stack; a deploy does not resume or undo that. Fix the cause (e.g. empty the "
        "bucket, turn off deletion protection) and delete it again:",
        "  aws cloudformation delete-stack --stack-name wealist-prod",
        "or keep the blocking resources (they stay in the account, outside any stack):",
        "  aws cloudformation delete-stack --stack-name wealist-prod --retain-resources Logs",
        "then deploy to create it again (names the kept resources hold are then taken)",
    )
