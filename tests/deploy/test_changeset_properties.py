"""Change sets made, waited for, read back, found, refused and deleted
(wealist_cfn/deploy/changeset.py), one property at a time.

Stand-in: an in-process fake of the CloudFormation client answering
CreateChangeSet, DescribeChangeSet (by ChangeSetName and NextToken: a change
set's answers may change from one read to the next, as a change set being
computed or deleted does), DescribeEvents, DescribeStacks, ListChangeSets and
DeleteChangeSet in the shapes of the API reference, recording every call.
moto computes no nested change sets, never leaves a change set pending,
answers no DescribeEvents and deletes synchronously, so the paths here
cannot be reached on it; each case runs in microseconds for the mutation
run of changeset.py. git_commit runs the real git in a scratch repository.

What the real service does, as relied on here (CloudFormation API
reference):
- CreateChangeSet: ClientToken makes a retry return the first attempt's
  change set; a name already in use is AlreadyExistsException; Description
  is at most 1024 characters; a stack with nothing to change answers
  ValidationError "No updates are to be performed."
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html).
- DescribeChangeSet: Status CREATE_PENDING / CREATE_IN_PROGRESS while it is
  computed; only ExecutionStatus AVAILABLE can be executed; Changes page
  with NextToken; a nested stack's ResourceChange carries its ChangeSetId;
  an unknown change set is ChangeSetNotFound (ChangeSetNotFoundException in
  the model) (API_DescribeChangeSet.html).
- ListChangeSets' ChangeSetSummary carries Status, ExecutionStatus,
  IncludeNestedStacks, ParentChangeSetId and CreationTime
  (API_ChangeSetSummary.html).
- Executing a change set deletes every other on the stack
  (API_ExecuteChangeSet.html); DescribeStacks' Stack.ChangeSetId is the
  last one executed (API_Stack.html).
- DeleteChangeSet of a change set with nested ones is asynchronous:
  DELETE_PENDING, DELETE_IN_PROGRESS, then gone or DELETE_FAILED
  (API_DeleteChangeSet.html, ChangeSetStatus).
"""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import botocore.exceptions
import pytest

from helpers.fake_pages import FakePaginator
from wealist_cfn.deploy import changeset as cs_mod
from wealist_cfn.errors import EXIT_FAILED, CommandError

REGION = "ap-northeast-2"
STACK_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/wealist-prod/1"
CS = f"arn:aws:cloudformation:{REGION}:123456789012:changeSet/deploy-1/aaaa-1111"
NET_CS = f"arn:aws:cloudformation:{REGION}:123456789012:changeSet/deploy-1-Net/bbbb-2222"
DB_CS = f"arn:aws:cloudformation:{REGION}:123456789012:changeSet/deploy-1-Db/cccc-3333"
NESTED = "AWS::CloudFormation::Stack"
NO_UPDATES = "No updates are to be performed."
DIDNT = "The submitted information didn't contain changes. Submit different information to create a change set."


def client_error(code, message="m"):
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "Op")


def _next(answers, key):
    a = answers.get(key)
    if isinstance(a, list):
        a = a.pop(0) if len(a) > 1 else a[0]
    if isinstance(a, BaseException):
        raise a
    return a


class FakeCfn:
    """``change_sets[(ChangeSetName, NextToken)]`` or ``change_sets[ChangeSetName]``:
    a DescribeChangeSet answer, an exception, or a list read one per call
    (the last repeats)."""

    def __init__(self, change_sets=None, created=None, stacks=None, summaries=None, deleted=None):
        self.change_sets = change_sets or {}
        self.created = created if created is not None else {"Id": CS, "StackId": STACK_ID}
        self.stacks = stacks or {}
        self.summaries = summaries
        self.deleted = deleted
        self.calls: list = []

    def create_change_set(self, **kw):
        self.calls.append(("create_change_set", kw))
        if isinstance(self.created, BaseException):
            raise self.created
        return self.created

    def describe_change_set(self, **kw):
        self.calls.append(("describe_change_set", kw))
        key = (kw["ChangeSetName"], kw.get("NextToken"))
        a = _next(self.change_sets, key if key in self.change_sets else kw["ChangeSetName"])
        if a is None:
            raise client_error("ChangeSetNotFound", f"ChangeSet [{kw['ChangeSetName']}] does not exist")
        return a

    def describe_events(self, **kw):
        self.calls.append(("describe_events", kw))
        return {"OperationEvents": []}

    def describe_stacks(self, **kw):
        self.calls.append(("describe_stacks", kw))
        a = _next(self.stacks, kw["StackName"])
        return {"Stacks": [a]}

    def get_paginator(self, op):
        if op != "list_change_sets":
            # DescribeChangeSet and the others page as botocore's paginator does.
            return FakePaginator(getattr(self, op))
        fake = self

        class P:
            def paginate(self, StackName):  # noqa: N803 - the API parameter's name
                fake.calls.append(("list_change_sets", StackName))
                if isinstance(fake.summaries, BaseException):
                    raise fake.summaries
                return iter(fake.summaries)

        return P()

    def delete_change_set(self, **kw):
        self.calls.append(("delete_change_set", kw))
        if isinstance(self.deleted, BaseException):
            raise self.deleted
        return {}

    def ops(self):
        return [c[0] for c in self.calls]


def aws(cfn):
    return SimpleNamespace(cfn=cfn, region=REGION)


def head(status="CREATE_COMPLETE", execution="AVAILABLE", **extra):
    return {
        "ChangeSetId": CS,
        "ChangeSetName": "deploy-1",
        "StackId": STACK_ID,
        "Status": status,
        "ExecutionStatus": execution,
        "Changes": [],
        **extra,
    }


# -------------------------------------------------------- hash and names

T = {"root.yaml": "Resources: {}", "network.yaml": "Resources: {Vpc: {}}"}
P = [{"ParameterKey": "Env", "ParameterValue": "prod"}, {"ParameterKey": "Size", "ParameterValue": "small"}]


def test_the_content_hash_changes_with_every_template_and_every_parameter_and_nothing_else():
    h = cs_mod.content_hash(T, P)
    assert len(h) == 64 and int(h, 16) >= 0
    assert cs_mod.content_hash(dict(reversed(T.items())), list(reversed(P))) == h
    assert cs_mod.content_hash({**T, "root.yaml": "Resources: {X: {}}"}, P) != h
    assert cs_mod.content_hash({**T, "network.yaml": "Resources: {}"}, P) != h
    assert cs_mod.content_hash({"root.yaml": T["root.yaml"], "net.yaml": T["network.yaml"]}, P) != h
    assert cs_mod.content_hash(T, [P[0], {"ParameterKey": "Size", "ParameterValue": "large"}]) != h
    assert (
        cs_mod.content_hash(
            T, [{"ParameterKey": "Env", "ParameterValue": "prod"}, {"ParameterKey": "Size", "UsePreviousValue": True}]
        )
        != h
    )
    assert (
        cs_mod.content_hash(
            T, [{"ParameterKey": "Size", "ParameterValue": "prod"}, {"ParameterKey": "Env", "ParameterValue": "small"}]
        )
        != h
    )
    # a boundary moved between a file's name and its body is another content
    assert cs_mod.content_hash({"a": "bc"}, []) != cs_mod.content_hash({"ab": "c"}, [])


def test_the_description_names_the_commit_and_the_hash_within_1024_characters():
    assert cs_mod.description("abc1234", None) == "wealist-cfn deploy from commit abc1234"
    assert cs_mod.description("abc1234", "") == "wealist-cfn deploy from commit abc1234"
    assert (
        cs_mod.description("abc1234", "f" * 64) == f"wealist-cfn deploy from commit abc1234; content sha256:{'f' * 64}"
    )
    long = cs_mod.description("c" * 2000, "f" * 64)
    assert len(long) == 1024 and long.startswith("wealist-cfn deploy from commit ccc")


@pytest.mark.parametrize("reason", [NO_UPDATES, DIDNT, f"  {NO_UPDATES}", f"{DIDNT} (root)"])
def test_a_failed_change_set_for_want_of_changes_is_nothing_to_do(reason):
    assert cs_mod.is_no_changes("FAILED", reason)
    assert not cs_mod.is_no_changes("CREATE_COMPLETE", reason)


@pytest.mark.parametrize(
    "reason",
    [
        "",
        None,
        "Template error: No updates are to be performed.",
        "no updates are to be performed.",
        "The submitted information was invalid",
    ],
)
def test_a_failure_that_merely_mentions_no_changes_is_a_failure(reason):
    assert not cs_mod.is_no_changes("FAILED", reason)


def git(cwd, *args):
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True
    )


def test_the_commit_is_the_short_head_and_dirty_only_for_uncommitted_templates(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "root.yaml").write_text("a")
    (tmp_path / "README").write_text("a")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "x")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert cs_mod.git_commit(tmp_path) == sha[:12]
    (tmp_path / "README").write_text("b")
    assert cs_mod.git_commit(tmp_path) == sha[:12]
    (tmp_path / "templates" / "root.yaml").write_text("b")
    assert cs_mod.git_commit(tmp_path) == sha[:12] + "+dirty"


def test_the_commit_is_unknown_outside_a_repository_or_without_git(tmp_path, monkeypatch):
    assert cs_mod.git_commit(tmp_path) == "unknown"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cs_mod.git_commit(tmp_path) == "unknown"


def test_a_change_set_name_is_sortable_names_the_commit_and_cannot_be_guessed():
    now = datetime(2026, 11, 28, 18, 19, 0, tzinfo=timezone.utc)
    a, b = cs_mod.new_name("abc1234def+dirty", now), cs_mod.new_name("abc1234def+dirty", now)
    assert a.startswith("deploy-20261128-181900-abc1234-") and a != b
    assert len(a.rsplit("-", 1)[1]) == 16 and int(a.rsplit("-", 1)[1], 16) >= 0
    assert cs_mod.new_name("", now).startswith("deploy-20261128-181900-nogit-")
    assert cs_mod.new_name("+dirty", now).startswith("deploy-20261128-181900-nogit-")
    assert cs_mod.new_name("a.b_c", now).startswith("deploy-20261128-181900-abc-")
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    assert cs_mod.new_name("abc").startswith(f"deploy-{today}-")


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14"])
def test_a_change_set_name_tells_the_time_in_utc_wherever_it_is_made(zone, monkeypatch):
    # 26 hours apart: in one of the two zones the local date is never UTC's.
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        before = datetime.now(timezone.utc)
        name = cs_mod.new_name("abc")
        after = datetime.now(timezone.utc)
    finally:
        monkeypatch.undo()
        time.tzset()
    stamp = datetime.strptime(name[len("deploy-") : len("deploy-20261128-181900")], "%Y%m%d-%H%M%S")
    assert before.replace(microsecond=0, tzinfo=None) <= stamp <= after.replace(tzinfo=None)


# ------------------------------------------------------------------ create


def make(cfn, **over):
    kw = dict(
        stack_name="wealist-prod",
        change_set_type="UPDATE",
        parameters=P,
        tags=[{"Key": "a", "Value": "b"}],
        template_body=None,
        template_url="https://b.s3.amazonaws.com/root.yaml",
        commit="abc1234",
        digest="f" * 64,
        sleep=lambda s: None,
    )
    kw.update(over)
    return cs_mod.create(aws(cfn), **kw)


def sent(cfn):
    return next(kw for op, kw in cfn.calls if op == "create_change_set")


def test_create_sends_everything_a_reviewed_deploy_relies_on():
    cfn = FakeCfn({CS: head(Description="d")})
    cs = make(cfn)
    kw = sent(cfn)
    assert kw == {
        "StackName": "wealist-prod",
        "ChangeSetName": cs.name,
        "ChangeSetType": "UPDATE",
        "Parameters": P,
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        "Tags": [{"Key": "a", "Value": "b"}],
        "IncludeNestedStacks": True,
        "ClientToken": cs.name,
        "Description": f"wealist-cfn deploy from commit abc1234; content sha256:{'f' * 64}",
        "TemplateURL": "https://b.s3.amazonaws.com/root.yaml",
    }
    assert (cs.id, cs.stack_id, cs.change_set_type, cs.status, cs.execution_status, cs.description, cs.no_changes) == (
        CS,
        STACK_ID,
        "UPDATE",
        "CREATE_COMPLETE",
        "AVAILABLE",
        "d",
        False,
    )
    assert cs.name.startswith("deploy-") and "-abc1234-" in cs.name


def test_a_change_set_without_a_reason_or_description_reads_them_empty():
    cfn = FakeCfn({CS: head()})
    cs = make(cfn)
    assert (cs.reason, cs.description) == ("", "")


def test_create_polls_every_two_seconds_for_at_most_fifteen_minutes_by_default():
    slept = []
    cfn = FakeCfn({CS: head("CREATE_IN_PROGRESS", "UNAVAILABLE")})
    with pytest.raises(CommandError) as e:
        make(cfn, sleep=slept.append)
    assert str(e.value) == f"change set {CS} still CREATE_IN_PROGRESS after 900s"
    assert set(slept) == {2.0} and len(slept) == 450


def test_create_sends_the_body_the_role_and_the_triggers_only_when_given():
    cfn = FakeCfn({CS: head()})
    make(
        cfn,
        template_url=None,
        template_body="Resources: {}",
        change_set_type="CREATE",
        role_arn="arn:aws:iam::123456789012:role/cfn",
        rollback_configuration={},
    )
    kw = sent(cfn)
    assert kw["TemplateBody"] == "Resources: {}" and "TemplateURL" not in kw and kw["ChangeSetType"] == "CREATE"
    assert kw["RoleARN"] == "arn:aws:iam::123456789012:role/cfn" and kw["RollbackConfiguration"] == {}
    cfn = FakeCfn({CS: head()})
    make(cfn, role_arn="")
    assert "RoleARN" not in sent(cfn) and "RollbackConfiguration" not in sent(cfn) and "TemplateBody" not in sent(cfn)


def test_the_created_change_set_is_heard_of_before_it_is_waited_for_and_then_waited_for():
    order = []
    cfn = FakeCfn(
        {
            CS: [
                head("CREATE_PENDING", "UNAVAILABLE"),
                head("CREATE_IN_PROGRESS", "UNAVAILABLE"),
                head(StatusReason=None),
            ]
        },
        created={"Id": CS},
    )
    slept = []
    cs = make(cfn, on_created=lambda c: order.append((c.id, len(cfn.calls))), sleep=slept.append, interval=3.0)
    assert order == [(CS, 1)] and slept == [3.0, 3.0]
    assert cs.stack_id == "" and cs.status == "CREATE_COMPLETE" and cs.reason == ""


@pytest.mark.parametrize("reason", [NO_UPDATES, DIDNT])
def test_nothing_to_change_when_created_is_no_change_set_and_no_wait(reason):
    called = []
    cfn = FakeCfn(created=client_error("ValidationError", reason))
    cs = make(cfn, on_created=called.append)
    assert (cs.no_changes, cs.status, cs.reason, cs.id, cs.stack_id, cs.change_set_type) == (
        True,
        "FAILED",
        reason,
        "",
        "",
        "UPDATE",
    )
    assert cs.name.startswith("deploy-") and cs.name == sent(cfn)["ChangeSetName"]
    assert cfn.ops() == ["create_change_set"] and called == []


@pytest.mark.parametrize("reason", [NO_UPDATES, DIDNT])
def test_a_failed_change_set_for_want_of_changes_is_nothing_to_do_not_an_error(reason):
    cfn = FakeCfn({CS: head("FAILED", "UNAVAILABLE", StatusReason=reason)})
    cs = make(cfn)
    assert cs.no_changes and cs.status == "FAILED" and cs.reason == reason


def test_a_change_set_that_failed_otherwise_is_an_error_with_the_delete_command_unless_the_caller_deletes_it():
    cfn = FakeCfn({CS: head("FAILED", "UNAVAILABLE", StatusReason="Template format error: bad")})
    with pytest.raises(CommandError) as e:
        make(cfn)
    assert str(e.value) == f"change set {sent(cfn)['ChangeSetName']} failed: Template format error: bad"
    assert e.value.exit_code == EXIT_FAILED
    # the failure is read from the change set that failed, by its ID
    assert e.value.data["changeSetFailure"]["note"] == ""
    assert ("describe_change_set", {"ChangeSetName": CS}) in cfn.calls[2:]
    assert any("delete-change-set --stack-name wealist-prod" in d for d in e.value.details)
    cfn = FakeCfn({CS: head("FAILED", "UNAVAILABLE", StatusReason="Template format error: bad")})
    with pytest.raises(CommandError) as e:
        make(cfn, on_created=lambda c: None)
    assert not any("delete-change-set" in d for d in e.value.details)


def test_a_name_already_taken_is_refused_and_nothing_else_is_done():
    cfn = FakeCfn(created=client_error("AlreadyExistsException", "ChangeSet deploy-1 already exists"))
    with pytest.raises(CommandError) as e:
        make(cfn)
    assert "already exists on wealist-prod and this run did not make it" in str(e.value)
    assert e.value.exit_code == EXIT_FAILED
    assert e.value.details == (
        "nothing was created or executed, and that change set was left as it is; run again "
        "(a new name), and find out who made it",
    )
    assert cfn.ops() == ["create_change_set"]


def test_any_other_create_error_names_its_code_and_message():
    cfn = FakeCfn(created=client_error("InsufficientCapabilitiesException", "Requires capabilities"))
    with pytest.raises(CommandError) as e:
        make(cfn)
    assert str(e.value) == "CreateChangeSet: InsufficientCapabilitiesException: Requires capabilities"
    assert e.value.exit_code == EXIT_FAILED


# -------------------------------------------------------------------- wait


def test_wait_reads_the_change_set_by_its_arn_until_it_is_computed():
    slept = []
    cfn = FakeCfn({CS: [head("CREATE_PENDING"), head("FAILED")]})
    assert cs_mod.wait(aws(cfn), CS, sleep=slept.append)["Status"] == "FAILED"
    assert slept == [2.0] and all(kw == {"ChangeSetName": CS} for _, kw in cfn.calls)


def test_wait_gives_up_after_its_timeout_naming_the_status():
    slept = []
    cfn = FakeCfn({CS: head("CREATE_IN_PROGRESS")})
    with pytest.raises(CommandError) as e:
        cs_mod.wait(aws(cfn), CS, sleep=slept.append, interval=5.0, timeout=15.0)
    assert str(e.value) == f"change set {CS} still CREATE_IN_PROGRESS after 15s" and slept == [5.0] * 3
    slept.clear()
    with pytest.raises(CommandError, match="after 900s"):
        cs_mod.wait(aws(cfn), CS, sleep=slept.append)
    assert len(slept) == 450
    # the wait lasts its whole timeout, counted from the first read
    slept.clear()
    with pytest.raises(CommandError, match="after 3s"):
        cs_mod.wait(aws(cfn), CS, sleep=slept.append, interval=1.0, timeout=3.0)
    assert slept == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- describe


def rc(logical, action="Modify", type_="AWS::EC2::Instance", **extra):
    return {
        "Type": "Resource",
        "ResourceChange": {"LogicalResourceId": logical, "Action": action, "ResourceType": type_, **extra},
    }


def test_the_review_walks_every_page_and_every_nested_change_set_in_stack_order():
    cfn = FakeCfn(
        {
            (CS, None): head(
                Description="wealist-cfn deploy from commit abc",
                NextToken="t1",
                Changes=[rc("Web"), rc("NetworkStack", type_=NESTED, ChangeSetId=NET_CS)],
            ),
            (CS, "t1"): head(
                NextToken="t2",
                Changes=[
                    rc("Topic", "Add"),
                    {"Type": "Other", "X": 1},
                    {
                        "ResourceChange": {
                            "LogicalResourceId": "Untyped",
                            "Action": "Remove",
                            "ResourceType": "AWS::SNS::Topic",
                        }
                    },
                ],
            ),
            (CS, "t2"): {k: v for k, v in head().items() if k != "Changes"},  # a last page without Changes
            NET_CS: [
                head("CREATE_PENDING"),
                head("CREATE_IN_PROGRESS"),
                head(Changes=[rc("Vpc"), rc("Db", type_=NESTED, ChangeSetId=DB_CS), rc("Plain", type_=NESTED)]),
            ],
            DB_CS: head(Changes=[rc("Instance", "Add")], Description="not the root's"),
        }
    )
    slept = []
    review = cs_mod.describe(
        aws(cfn), cs_mod.ChangeSet("deploy-1", CS, STACK_ID, "UPDATE"), "wealist-prod", sleep=slept.append, interval=4.0
    )
    assert [r.where for r in review.rows] == [
        "Web",
        "NetworkStack",
        "NetworkStack/Vpc",
        "NetworkStack/Db",
        "NetworkStack/Db/Instance",
        "NetworkStack/Plain",
        "Topic",
        "Untyped",
    ]
    assert (review.stack_name, review.change_set_type, review.change_set_name, review.change_set_id) == (
        "wealist-prod",
        "UPDATE",
        "deploy-1",
        CS,
    )
    assert review.description == "wealist-cfn deploy from commit abc" and review.notes == []
    assert slept == [4.0]
    # the review's reads ask for property values; the wait's read only the status
    reads = [(kw["ChangeSetName"], kw.get("NextToken"), kw.get("IncludePropertyValues")) for op, kw in cfn.calls]
    assert [r.path for r in review.rows if "/" not in r.where] == [""] * 4
    assert reads == [
        (CS, None, True),
        (CS, "t1", True),
        (CS, "t2", True),
        (NET_CS, None, True),
        (NET_CS, None, None),
        (NET_CS, None, None),
        (NET_CS, None, True),
        (DB_CS, None, True),
    ]


def test_the_review_says_which_rollback_triggers_the_change_set_carries():
    alarm = "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:"
    cfn = FakeCfn(
        {
            CS: head(
                RollbackConfiguration={
                    "RollbackTriggers": [
                        {"Arn": alarm + "wealist-5xx", "Type": "AWS::CloudWatch::Alarm"},
                        {"Arn": alarm + "wealist-cpu", "Type": "AWS::CloudWatch::Alarm"},
                    ],
                    "MonitoringTimeInMinutes": 10,
                }
            )
        }
    )
    review = cs_mod.describe(aws(cfn), cs_mod.ChangeSet("deploy-1", CS, STACK_ID, "UPDATE"), "wealist-prod")
    assert review.notes == ["this change set carries rollback triggers: wealist-5xx, wealist-cpu (monitoring 10 min)"]
    cfn = FakeCfn({CS: head(RollbackConfiguration={"RollbackTriggers": [{"Arn": alarm + "a"}]})})
    review = cs_mod.describe(aws(cfn), cs_mod.ChangeSet("deploy-1", CS, STACK_ID, "UPDATE"), "wealist-prod")
    assert review.notes == ["this change set carries rollback triggers: a (monitoring 0 min)"]
    slept = []
    cfn = FakeCfn(
        {
            CS: head(Changes=[rc("Net", type_=NESTED, ChangeSetId=NET_CS)]),
            NET_CS: [head("CREATE_PENDING"), head("CREATE_PENDING"), head()],
        }
    )
    review = cs_mod.describe(
        aws(cfn), cs_mod.ChangeSet("deploy-1", CS, STACK_ID, "UPDATE"), "wealist-prod", sleep=slept.append
    )
    assert slept == [2.0] and review.description == ""  # the default poll; no Description is none
    for conf in ({}, {"RollbackTriggers": []}, {"RollbackTriggers": None}, None):
        cfn = FakeCfn({CS: head(RollbackConfiguration=conf, Description=None)})
        review = cs_mod.describe(aws(cfn), cs_mod.ChangeSet("deploy-1", CS, STACK_ID, "UPDATE"), "wealist-prod")
        assert review.notes == [] and review.description == ""


# -------------------------------------------------------------- candidates


def summary(name, created, status="CREATE_COMPLETE", execution="AVAILABLE", nested=True, parent=None):
    s = {
        "ChangeSetName": name,
        "ChangeSetId": f"id-{name}",
        "Status": status,
        "ExecutionStatus": execution,
        "IncludeNestedStacks": nested,
        "CreationTime": created,
    }
    if parent:
        s["ParentChangeSetId"] = parent
    return s


def test_candidates_are_the_executable_nested_root_change_sets_newest_first():
    t = datetime(2026, 12, 1, tzinfo=timezone.utc)
    cfn = FakeCfn(
        summaries=[
            {
                "Summaries": [
                    summary("old", t.replace(hour=1)),
                    summary("obsolete", t.replace(hour=9), execution="OBSOLETE"),
                    summary("failed", t.replace(hour=9), status="FAILED", execution="UNAVAILABLE"),
                ]
            },
            {},
            {
                "Summaries": [
                    summary("flat", t.replace(hour=9), nested=False),
                    summary("child", t.replace(hour=9), parent="id-x"),
                    summary("new-a", t.replace(hour=5)),
                    summary("new-b", t.replace(hour=5)),
                    summary("pending", t.replace(hour=9), status="CREATE_PENDING"),
                ]
            },
        ]
    )
    found, left = cs_mod.candidates(aws(cfn), "wealist-prod")
    assert [c["ChangeSetName"] for c in found] == ["new-b", "new-a", "old"] and left == 5
    undated = {k: v for k, v in summary("undated", t).items() if k != "CreationTime"}
    cfn = FakeCfn(summaries=[{"Summaries": [undated, summary("dated", t)]}])
    assert [c["ChangeSetName"] for c in cs_mod.candidates(aws(cfn), "wealist-prod")[0]] == ["dated", "undated"]
    assert ("list_change_sets", "wealist-prod") in cfn.calls


def test_a_change_set_list_that_cannot_be_read_stops_naming_the_stack():
    cfn = FakeCfn(summaries=client_error("AccessDenied", "no"))
    with pytest.raises(CommandError) as e:
        cs_mod.candidates(aws(cfn), "wealist-prod")
    assert str(e.value) == "ListChangeSets on wealist-prod: AccessDenied: no" and e.value.exit_code == EXIT_FAILED


# -------------------------------------------------------- gone and lookup


def test_gone_says_it_was_executed_when_it_is_the_last_one_the_stack_executed():
    cfn = FakeCfn(stacks={"wealist-prod": {"ChangeSetId": CS}})
    assert (
        cs_mod.gone(aws(cfn), "wealist-prod", "deploy-1")
        == "it was executed: it is the change set wealist-prod last executed (DescribeStacks ChangeSetId)"
    )


def test_gone_names_the_last_executed_one_otherwise_and_where_it_looked():
    cfn = FakeCfn(stacks={"wealist-prod": {"ChangeSetId": CS}})
    assert (
        cs_mod.gone(aws(cfn), "wealist-prod", "deploy-2")
        == f"{cs_mod.GONE}; looked on wealist-prod in {REGION}; the stack last executed change set deploy-1 ({CS})"
    )
    for answer in ({}, {"ChangeSetId": None}, client_error("ValidationError", "Stack with id x does not exist")):
        cfn = FakeCfn(stacks={"wealist-prod": answer})
        assert cs_mod.gone(aws(cfn), "wealist-prod", "deploy-1") == f"{cs_mod.GONE}; looked on wealist-prod in {REGION}"


@pytest.mark.parametrize("code", ["ChangeSetNotFound", "ChangeSetNotFoundException"])
def test_looking_up_a_change_set_that_is_gone_says_why_and_that_nothing_ran(code):
    cfn = FakeCfn({"deploy-1": client_error(code, "not found")}, stacks={"wealist-prod": {}})
    with pytest.raises(CommandError) as e:
        cs_mod.lookup(aws(cfn), "wealist-prod", "deploy-1")
    assert str(e.value).startswith(f"change set deploy-1 on wealist-prod: {cs_mod.GONE}")
    assert e.value.details == ("nothing was executed; plan again",) and e.value.exit_code == EXIT_FAILED


def test_looking_up_the_change_set_the_stack_last_executed_says_it_was_executed():
    cfn = FakeCfn(
        {"deploy-1": client_error("ChangeSetNotFound", "not found")}, stacks={"wealist-prod": {"ChangeSetId": CS}}
    )
    with pytest.raises(CommandError) as e:
        cs_mod.lookup(aws(cfn), "wealist-prod", "deploy-1")
    assert str(e.value) == (
        "change set deploy-1 on wealist-prod: it was executed: it is the change set "
        "wealist-prod last executed (DescribeStacks ChangeSetId)"
    )


def test_looking_up_a_change_set_that_cannot_be_read_names_the_error():
    cfn = FakeCfn({"deploy-1": client_error("AccessDenied", "no")})
    with pytest.raises(CommandError) as e:
        cs_mod.lookup(aws(cfn), "wealist-prod", "deploy-1")
    assert str(e.value) == "change set deploy-1 on wealist-prod: AccessDenied: no" and e.value.exit_code == EXIT_FAILED


@pytest.mark.parametrize("stack_status, kind", [("REVIEW_IN_PROGRESS", "CREATE"), ("UPDATE_COMPLETE", "UPDATE")])
def test_a_change_set_looked_up_is_a_create_only_on_a_review_shell(stack_status, kind):
    cfn = FakeCfn(
        {"deploy-1": head("CREATE_COMPLETE", "AVAILABLE", StatusReason=None, Description="d")},
        stacks={STACK_ID: {"StackStatus": stack_status}},
    )
    cs = cs_mod.lookup(aws(cfn), "wealist-prod", "deploy-1")
    assert (
        cs.name,
        cs.id,
        cs.stack_id,
        cs.change_set_type,
        cs.status,
        cs.reason,
        cs.execution_status,
        cs.description,
    ) == ("deploy-1", CS, STACK_ID, kind, "CREATE_COMPLETE", "", "AVAILABLE", "d")
    assert ("describe_change_set", {"ChangeSetName": "deploy-1", "StackName": "wealist-prod"}) in cfn.calls
    assert ("describe_stacks", {"StackName": STACK_ID}) in cfn.calls
    # looked up by ARN, it is named by its name
    cfn = FakeCfn({CS: head(StatusReason="why")}, stacks={STACK_ID: {"StackStatus": stack_status}})
    cs = cs_mod.lookup(aws(cfn), "wealist-prod", CS)
    assert (cs.name, cs.reason) == ("deploy-1", "why")
    # the status the caller read is used as it is
    cfn = FakeCfn({"deploy-1": {"ChangeSetId": CS}})
    cs = cs_mod.lookup(aws(cfn), "wealist-prod", "deploy-1", stack_status=stack_status)
    assert cs.change_set_type == kind and "describe_stacks" not in cfn.ops()
    assert (cs.name, cs.stack_id, cs.status, cs.reason, cs.execution_status, cs.description) == (
        "deploy-1",
        "",
        "",
        "",
        "",
        "",
    )


def test_a_stack_whose_status_cannot_be_read_stops_the_lookup():
    cfn = FakeCfn({"deploy-1": head()}, stacks={STACK_ID: client_error("Throttling", "Rate exceeded")})
    with pytest.raises(CommandError) as e:
        cs_mod.lookup(aws(cfn), "wealist-prod", "deploy-1")
    assert str(e.value) == f"DescribeStacks {STACK_ID}: Throttling: Rate exceeded" and e.value.exit_code == EXIT_FAILED
    cfn = FakeCfn({"deploy-1": head()}, stacks={STACK_ID: {}})
    assert cs_mod.lookup(aws(cfn), "wealist-prod", "deploy-1").change_set_type == "UPDATE"


def test_a_pinned_change_set_is_its_whole_arn_or_the_uuid_that_ends_it():
    assert cs_mod.same_id(CS, CS) and cs_mod.same_id(CS, f"  {CS}\n") and cs_mod.same_id(CS, "aaaa-1111")
    assert cs_mod.same_id(CS, " aaaa-1111 ")
    assert not cs_mod.same_id(CS, "") and not cs_mod.same_id(CS, "   ") and not cs_mod.same_id("", "aaaa-1111")
    assert not cs_mod.same_id("", "") and not cs_mod.same_id(CS, "bbbb-2222") and not cs_mod.same_id(CS, NET_CS)
    assert not cs_mod.same_id(CS, "x/aaaa-1111") and not cs_mod.same_id(CS, "deploy-1")


# -------------------------------------------------------- check_executable


def cs(**over):
    return cs_mod.ChangeSet(**{"name": "deploy-1", "id": CS, "stack_id": STACK_ID, "change_set_type": "UPDATE", **over})


def test_an_available_change_set_passes_and_its_statuses_are_read():
    c = cs()
    cfn = FakeCfn({CS: head()})
    assert cs_mod.check_executable(aws(cfn), c) is None
    assert (c.status, c.execution_status) == ("CREATE_COMPLETE", "AVAILABLE")
    assert cfn.calls == [("describe_change_set", {"ChangeSetName": CS})]


@pytest.mark.parametrize(
    "execution, status, reason, said",
    [
        (
            "OBSOLETE",
            "CREATE_COMPLETE",
            "x",
            "ExecutionStatus OBSOLETE (Status CREATE_COMPLETE): the stack changed after it was made",
        ),
        ("EXECUTE_COMPLETE", "CREATE_COMPLETE", None, "ExecutionStatus EXECUTE_COMPLETE (Status CREATE_COMPLETE)"),
        ("UNAVAILABLE", "FAILED", "Template error", "ExecutionStatus UNAVAILABLE (Status FAILED): Template error"),
        (None, None, None, "ExecutionStatus ? (Status ?)"),
    ],
)
def test_a_change_set_that_cannot_run_is_refused_saying_why_before_anything_changes(execution, status, reason, said):
    d = {k: v for k, v in {"ExecutionStatus": execution, "Status": status, "StatusReason": reason}.items() if v}
    cfn = FakeCfn({CS: d})
    with pytest.raises(CommandError) as e:
        cs_mod.check_executable(aws(cfn), cs())
    assert str(e.value) == f"change set deploy-1 cannot be executed: {said}" and e.value.exit_code == EXIT_FAILED
    assert e.value.details == (
        "nothing was executed and no stack policy was changed; make a new change set (plan or deploy)",
    )


@pytest.mark.parametrize("code", ["ChangeSetNotFound", "ChangeSetNotFoundException"])
def test_a_change_set_gone_before_it_runs_is_refused_saying_why(code):
    cfn = FakeCfn({CS: client_error(code, "gone")})
    with pytest.raises(CommandError) as e:
        cs_mod.check_executable(aws(cfn), cs())
    assert str(e.value) == f"change set deploy-1: {cs_mod.GONE}" and e.value.exit_code == EXIT_FAILED
    assert e.value.details == ("nothing was executed and no stack policy was changed",)
    cfn = FakeCfn({CS: client_error("AccessDenied", "no")})
    with pytest.raises(CommandError) as e:
        cs_mod.check_executable(aws(cfn), cs())
    assert str(e.value) == "change set deploy-1: AccessDenied: no" and e.value.exit_code == EXIT_FAILED


# ----------------------------------------------------------------- delete


def test_nothing_is_deleted_for_a_change_set_that_was_never_made():
    cfn = FakeCfn()
    assert cs_mod.delete_and_wait(aws(cfn), cs(id="")) == "" and cfn.calls == []


def test_a_delete_that_is_refused_names_the_change_set_and_the_error():
    cfn = FakeCfn(deleted=client_error("InvalidChangeSetStatus", "cannot delete"))
    with pytest.raises(CommandError) as e:
        cs_mod.delete(aws(cfn), cs())
    assert str(e.value) == "DeleteChangeSet deploy-1: InvalidChangeSetStatus: cannot delete"


@pytest.mark.parametrize(
    "last",
    [
        client_error("ChangeSetNotFound", "x"),
        client_error("ValidationError", "ChangeSet [x] does not exist"),
        head("DELETE_COMPLETE"),
        head("CREATE_COMPLETE"),
    ],
)
def test_a_deleted_change_set_is_waited_for_until_it_is_gone(last):
    slept = []
    cfn = FakeCfn({CS: [head("DELETE_PENDING"), head("DELETE_IN_PROGRESS"), last]})
    assert cs_mod.delete_and_wait(aws(cfn), cs(), sleep=slept.append, interval=3.0) == ""
    assert cfn.calls[0] == ("delete_change_set", {"ChangeSetName": CS}) and slept == [3.0, 3.0]


def test_a_delete_that_fails_or_cannot_be_read_or_outlasts_its_wait_says_what_it_still_is():
    cfn = FakeCfn({CS: head("DELETE_FAILED", StatusReason="nested busy")})
    assert cs_mod.delete_and_wait(aws(cfn), cs()) == "DELETE_FAILED: nested busy"
    cfn = FakeCfn({CS: head("DELETE_FAILED")})
    assert cs_mod.delete_and_wait(aws(cfn), cs()) == "DELETE_FAILED: no reason given"
    cfn = FakeCfn({CS: client_error("AccessDenied", "no")})
    assert cs_mod.delete_and_wait(aws(cfn), cs()) == "could not read it after the delete (AccessDenied)"
    slept = []
    cfn = FakeCfn({CS: head("DELETE_IN_PROGRESS")})
    assert (
        cs_mod.delete_and_wait(aws(cfn), cs(), sleep=slept.append, interval=5.0, timeout=10.0)
        == "still DELETE_IN_PROGRESS after 10s"
    )
    assert slept == [5.0, 5.0]
    slept.clear()
    assert cs_mod.delete_and_wait(aws(cfn), cs(), sleep=slept.append) == "still DELETE_IN_PROGRESS after 120s"
    assert set(slept) == {2.0} and len(slept) == 60
