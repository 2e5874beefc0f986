"""Every unclean end of an execute ends with one block: the stack's state as
read at that moment, what still runs in AWS, what was put back or not, and
the next command. A table of (moment, signal) -> expected block.

Stand-in: a scripted CloudFormation (tests/helpers/scripted.py: botocore's
``before-call`` hook, the mechanism Stubber uses; every response is
validated against the pinned botocore output shape, as Stubber does), kept
as a small state machine so that the same script serves every row: what
moto cannot produce is exactly what these rows need, an ExecuteChangeSet
that AWS accepted although the client never saw the answer (DescribeChangeSet
``ExecutionStatus`` EXECUTE_IN_PROGRESS, API reference: "EXECUTE_IN_PROGRESS
... the change set is being executed"), throttling that outlives the retries,
and ExpiredToken in the middle of a watch.

The real rules relied on: ExecuteChangeSet is asynchronous and the stack
goes to CREATE_/UPDATE_IN_PROGRESS as soon as it is accepted, so AVAILABLE
read after an interrupt proves nothing: a request in flight may be processed
later; DeleteChangeSet of a change set being executed is refused
(InvalidChangeSetStatus, "An operation on this ChangeSet is currently in
progress", aws/aws-cdk#26182), so an accepted delete is the proof it was not;
events of the operation carry its ClientRequestToken; a stack policy applies to the update that runs while it is set
(SetStackPolicy / "Prevent updates to stack resources"), which is why a
relaxed one is never put back while the approved update runs.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timezone

import pytest

from helpers.scripted import Scripted, ScriptedError
from wealist_cfn.aws import Aws
from wealist_cfn.deploy import changeset, flow, policy, review, signals, stackstate
from wealist_cfn.errors import CommandError

pytestmark = pytest.mark.stubbed

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
ROOT = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/1111"
DB = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-DatabaseStack-X/2222"
CS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/deploy-1/aaaa"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
NESTED = "AWS::CloudFormation::Stack"


class Account:
    """One root stack (with a DatabaseStack child) and one change set."""

    def __init__(self, status: str, on_execute, on_watch=None):
        self.status, self.on_execute, self.on_watch = status, on_execute, on_watch
        self.execution = "AVAILABLE"
        self.cs_deleted = self.stack_deleted = False
        self.policies: dict[str, str] = {ROOT: json.dumps(policy.PROTECT), DB: json.dumps(policy.PROTECT)}
        self.polls = 0
        self.expired = False
        self.late = False  # ExecuteChangeSet reaches AWS only after the read that follows the interrupt
        self.events: list[dict] = []

    def _guard(self):
        if self.expired:
            raise ScriptedError("ExpiredToken", "The security token included in the request is expired")

    def describe_stacks(self, p):
        self._guard()
        if self.stack_deleted:
            raise ScriptedError("ValidationError", f"Stack with id {p['StackName']} does not exist")
        return {
            "Stacks": [
                {
                    "StackName": "wealist-prod",
                    "StackId": ROOT,
                    "CreationTime": T0,
                    "StackStatus": self.status,
                    "Parameters": [{"ParameterKey": "DeletionProtection", "ParameterValue": "false"}],
                }
            ]
        }

    def describe_change_set(self, p):
        self._guard()
        if self.cs_deleted:
            raise ScriptedError("ChangeSetNotFound", f"ChangeSet [{p['ChangeSetName']}] does not exist")
        return {
            "ChangeSetId": CS,
            "ChangeSetName": "deploy-1",
            "StackId": ROOT,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": self.execution,
            "Changes": [],
        }

    def execute_change_set(self, p):
        return self.on_execute(self)

    def describe_stack_events(self, p):
        self._guard()
        if self.execution != "AVAILABLE":
            self.polls += 1
            if self.on_watch and self.polls > 1:
                self.on_watch(self)
        return {"StackEvents": self.events}

    def list_stack_resources(self, p):
        self._guard()
        if p["StackName"] == ROOT:
            return {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "DatabaseStack",
                        "PhysicalResourceId": DB,
                        "ResourceType": NESTED,
                        "LastUpdatedTimestamp": T0,
                        "ResourceStatus": "UPDATE_COMPLETE",
                    }
                ]
            }
        return {"StackResourceSummaries": []}

    def get_stack_policy(self, p):
        return {"StackPolicyBody": self.policies[p["StackName"]]}

    def set_stack_policy(self, p):
        self._guard()
        self.policies[p["StackName"]] = p["StackPolicyBody"]
        return {}

    def update_termination_protection(self, p):
        return {"StackId": ROOT}

    def delete_change_set(self, p):
        if self.late:
            # The ExecuteChangeSet in flight is processed now, after the read.
            self.execution, self.status = "EXECUTE_IN_PROGRESS", "UPDATE_IN_PROGRESS"
        if self.execution in ("EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE", "EXECUTE_FAILED"):
            # aws/aws-cdk#26182: what DeleteChangeSet answers for a change set being executed.
            raise ScriptedError("InvalidChangeSetStatus", "An operation on this ChangeSet is currently in progress.")
        self.cs_deleted = True
        return {}

    def list_change_sets(self, p):
        return {"Summaries": []}

    def delete_stack(self, p):
        self.stack_deleted = True
        return {}

    def script(self) -> Scripted:
        ops = {
            "DescribeStacks": self.describe_stacks,
            "DescribeChangeSet": self.describe_change_set,
            "ExecuteChangeSet": self.execute_change_set,
            "DescribeStackEvents": self.describe_stack_events,
            "ListStackResources": self.list_stack_resources,
            "GetStackPolicy": self.get_stack_policy,
            "SetStackPolicy": self.set_stack_policy,
            "UpdateTerminationProtection": self.update_termination_protection,
            "DeleteChangeSet": self.delete_change_set,
            "ListChangeSets": self.list_change_sets,
            "DeleteStack": self.delete_stack,
        }
        # No release tag exists: the deploy derives BackendHealthCheckType EC2
        # and asks nothing more (GetParameters, SSM API reference).
        tags = {("ssm", "GetParameters"): lambda p: {"Parameters": [], "InvalidParameters": p["Names"]}}
        return Scripted(("cloudformation", "ssm"), {**{("cloudformation", k): v for k, v in ops.items()}, **tags})


# -- the moments, each a way ExecuteChangeSet or the watch behaves ---------------------------------


def _running(cs_type):
    return "CREATE_IN_PROGRESS" if cs_type == "CREATE" else "UPDATE_IN_PROGRESS"


def interrupt_before_aws_took_it(stop):
    def on_execute(acct):
        stop()  # the call never reached AWS: nothing changed there
        return {}

    return on_execute, None


def interrupt_after_aws_took_it(stop, cs_type):
    def on_execute(acct):
        acct.execution, acct.status = "EXECUTE_IN_PROGRESS", _running(cs_type)
        stop()  # AWS accepted it; the answer never arrived
        return {}

    return on_execute, None


def interrupt_while_watching(stop, cs_type):
    def on_execute(acct):
        acct.execution, acct.status = "EXECUTE_IN_PROGRESS", _running(cs_type)
        return {}

    return on_execute, lambda acct: stop()


def ctrl_c():
    raise KeyboardInterrupt


def sigterm():
    os.kill(os.getpid(), signal.SIGTERM)


def throttled():
    raise ScriptedError("Throttling", "Rate exceeded")


def expired(acct):
    acct.expired = True
    raise ScriptedError("ExpiredToken", "The security token included in the request is expired")


def _deployment(acct: Account, cs_type: str, prod_params) -> flow.Deployment:
    aws = Aws(REGION)
    acct.script().attach(aws.session._session)
    dep = flow.Deployment(
        flow.Options(
            stack_name="wealist-prod", params=prod_params, allow_replace=True, sleep=lambda s: None, poll_interval=5
        ),
        aws=aws,
    )
    cs = changeset.ChangeSet("deploy-1", CS, ROOT, cs_type)
    if cs_type == "UPDATE":
        rev = review.Review("wealist-prod", "UPDATE", "deploy-1", CS)
        rev.rows = [
            review.row_from_change(
                "DatabaseStack",
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Modify",
                        "LogicalResourceId": "Database",
                        "ResourceType": "AWS::RDS::DBInstance",
                        "Replacement": "True",
                        "Scope": ["Properties"],
                        "Details": [
                            {
                                "Target": {"Attribute": "Properties", "Name": "DBName", "RequiresRecreation": "Always"},
                                "Evaluation": "Static",
                                "ChangeSource": "DirectModification",
                            }
                        ],
                    },
                },
            )
        ]
        review.analyse(rev)
        state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", ROOT)
    else:
        rev = review.Review("wealist-prod", "CREATE")
        state = stackstate.StackState("wealist-prod", "REVIEW_IN_PROGRESS", ROOT)
    # What prepare() leaves: the change set this run made (and the shell of a create).
    dep._made, dep._made_shell = cs, cs_type == "CREATE"
    dep.plan = flow.Plan(state, cs, rev)
    return dep


def _run(dep, how):
    """Execute; return (what was raised, the block)."""
    with signals.sigterm_as_interrupt():
        try:
            for _ in dep.execute():
                pass
        except KeyboardInterrupt as exc:
            return exc, dep.left_behind
        except Exception as exc:  # noqa: BLE001 - the CommandError carries the block
            return exc, list(getattr(exc, "details", ()))
    pytest.fail(f"{how}: execute ended cleanly")


PROTECT = json.dumps(policy.PROTECT)
ALLOW = json.dumps(policy.ALLOW_ALL)

# (moment, signal, change set type) -> (stack state line, AWS line, policy on the DB stack after, extra lines)
TABLE = [
    (
        "before",
        "ctrl-c",
        "UPDATE",
        "UPDATE_COMPLETE",
        "was not executed; nothing of this deploy runs",
        PROTECT,
        ["stack policy put back on DatabaseStack", "deleted change set deploy-1"],
    ),
    (
        "before",
        "sigterm",
        "UPDATE",
        "UPDATE_COMPLETE",
        "was not executed; nothing of this deploy runs",
        PROTECT,
        ["stack policy put back on DatabaseStack"],
    ),
    (
        "after",
        "ctrl-c",
        "UPDATE",
        "UPDATE_IN_PROGRESS",
        "the operation goes on",
        ALLOW,
        ["still relaxed on DatabaseStack (the update still runs)", "next: python build.py status"],
    ),
    (
        "after",
        "sigterm",
        "UPDATE",
        "UPDATE_IN_PROGRESS",
        "the operation goes on",
        ALLOW,
        ["still relaxed on DatabaseStack (the update still runs)"],
    ),
    (
        "watching",
        "ctrl-c",
        "UPDATE",
        "UPDATE_IN_PROGRESS",
        "the operation goes on",
        ALLOW,
        ["still relaxed on DatabaseStack", "next: python build.py status"],
    ),
    ("watching", "sigterm", "UPDATE", "UPDATE_IN_PROGRESS", "the operation goes on", ALLOW, []),
    (
        "watching",
        "throttled",
        "UPDATE",
        "UPDATE_IN_PROGRESS",
        "the operation goes on",
        ALLOW,
        ["next: python build.py status"],
    ),
    (
        "before",
        "ctrl-c",
        "CREATE",
        "does not exist",
        "was not executed; nothing of this deploy runs",
        PROTECT,
        [
            "deleted change set deploy-1",
            "deleted the empty stack shell",
            "next: python build.py deploy --stack-name wealist-prod",
        ],
    ),
    (
        "after",
        "ctrl-c",
        "CREATE",
        "CREATE_IN_PROGRESS",
        "the create goes on",
        PROTECT,
        ["deletion protection is off", "`status` does that"],
    ),
    ("after", "sigterm", "CREATE", "CREATE_IN_PROGRESS", "the create goes on", PROTECT, ["deletion protection is off"]),
    (
        "watching",
        "throttled",
        "CREATE",
        "CREATE_IN_PROGRESS",
        "the create goes on",
        PROTECT,
        ["deletion protection is off", "next: python build.py status"],
    ),
]


@pytest.mark.parametrize(
    "moment, sig, cs_type, state, in_aws, db_policy, extra", TABLE, ids=[f"{m}-{s}-{t}" for m, s, t, *_ in TABLE]
)
def test_every_stop_ends_with_the_truth(moment, sig, cs_type, state, in_aws, db_policy, extra, prod_params):
    stop = {"ctrl-c": ctrl_c, "sigterm": sigterm, "throttled": throttled}[sig]
    if moment == "before":
        on_execute, on_watch = interrupt_before_aws_took_it(stop)
    elif moment == "after":
        on_execute, on_watch = interrupt_after_aws_took_it(stop, cs_type)
    else:
        on_execute, on_watch = interrupt_while_watching(stop, cs_type)
    acct = Account("UPDATE_COMPLETE" if cs_type == "UPDATE" else "REVIEW_IN_PROGRESS", on_execute, on_watch)
    dep = _deployment(acct, cs_type, prod_params)
    exc, block = _run(dep, f"{moment}/{sig}")
    if sig == "throttled":
        assert "lost track of the operation while watching it (Throttling: Rate exceeded); it goes on in AWS" in str(
            exc
        )
    else:
        assert isinstance(exc, KeyboardInterrupt)
    text = "\n".join(block)
    assert f"stack wealist-prod: {state}" in text, text
    assert in_aws in text, text
    assert sum(line.startswith("next: ") for line in block) == 1, text
    for e in extra:
        assert e in text, text
    assert acct.policies[DB] == db_policy
    # A change set AWS took is never deleted; one it never saw is.
    assert acct.cs_deleted == (moment == "before")
    if moment == "before":
        assert not dep.executing
    if cs_type == "CREATE" and moment != "before":
        assert not acct.stack_deleted


def test_expired_credentials_while_watching_say_the_state_could_not_be_read(prod_params):
    """ExpiredToken in the middle of a watch: every later call fails too. The
    block says the state could not be read now, that the operation was
    started, and the command to follow it with fresh credentials; exit 1, not
    "executing the change set" failed."""

    def on_execute(acct):
        acct.execution, acct.status = "EXECUTE_IN_PROGRESS", "UPDATE_IN_PROGRESS"
        return {}

    acct = Account("UPDATE_COMPLETE", on_execute, expired)
    dep = _deployment(acct, "UPDATE", prod_params)
    exc, block = _run(dep, "expired")
    assert "lost track of the operation while watching it (ExpiredToken" in str(exc)
    assert exc.exit_code == 1
    assert "executing the change set" not in str(exc)
    text = "\n".join(block)
    assert "its state could not be read now" in text and "token included in the request is expired" in text, text
    assert f"--stack-name {ROOT} " not in text  # no command aimed at the wrong stack
    assert "<stack ID of DatabaseStack>" in text
    assert "still relaxed on DatabaseStack" in text  # not put back: it may still run
    assert block[-1].startswith("next: python build.py status")


def test_sigterm_handler_turns_sigterm_into_keyboard_interrupt_once():
    """No stand-in: a real SIGTERM to this process inside the handler raises
    KeyboardInterrupt; a second one while stopping is ignored; the previous
    handler is back afterwards."""
    before = signal.getsignal(signal.SIGTERM)
    with signals.sigterm_as_interrupt():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # ignored: already stopping
    assert signal.getsignal(signal.SIGTERM) is before


# -- status repairs deletion protection ---------------------------------------------------------


def test_status_switches_deletion_protection_on_with_that_parameter_only(prod_params):
    """Scripted CloudFormation (shapes validated as above): a CREATE_COMPLETE
    stack whose DeletionProtection is still "false" (the first create was
    interrupted before its second change set), and a params file that says
    "true". ``status``'s repair makes an UPDATE change set with
    UsePreviousTemplate, DeletionProtection=true and every other parameter
    UsePreviousValue (CreateChangeSet reference), executes it, follows it
    and says so. Before the fix nothing switched it on."""
    from wealist_cfn import config

    state = {"status": "CREATE_COMPLETE", "dp": "false", "executed": False}
    made = {}

    def describe_stacks(p):
        return {
            "Stacks": [
                {
                    "StackName": "wealist-prod",
                    "StackId": ROOT,
                    "CreationTime": T0,
                    "StackStatus": state["status"],
                    "Parameters": [
                        {"ParameterKey": "DeletionProtection", "ParameterValue": state["dp"]},
                        {"ParameterKey": "DbPassword", "ParameterValue": "****"},
                    ],
                }
            ]
        }

    def create_change_set(p):
        made.update(p)
        return {"Id": CS, "StackId": ROOT}

    def describe_change_set(p):
        return {
            "ChangeSetId": CS,
            "ChangeSetName": made["ChangeSetName"],
            "StackId": ROOT,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Modify",
                        "LogicalResourceId": "DatabaseStack",
                        "ResourceType": NESTED,
                        "Replacement": "False",
                        "Scope": ["Properties"],
                        "Details": [],
                    },
                }
            ],
        }

    def execute_change_set(p):
        state.update(status="UPDATE_COMPLETE", dp="true", executed=True)
        return {}

    handlers = {
        "DescribeStacks": describe_stacks,
        "CreateChangeSet": create_change_set,
        "DescribeChangeSet": describe_change_set,
        "ExecuteChangeSet": execute_change_set,
        "DescribeStackEvents": lambda p: {"StackEvents": []},
        "ListStackResources": lambda p: {"StackResourceSummaries": []},
        "GetStackPolicy": lambda p: {"StackPolicyBody": json.dumps(policy.PROTECT)},
    }
    aws = Aws(REGION)
    Scripted(("cloudformation",), {("cloudformation", k): v for k, v in handlers.items()}).attach(aws.session._session)
    cfg = config.load(prod_params)
    items = list(flow.repair_deletion_protection(aws, cfg, "wealist-prod", sleep=lambda s: None))
    assert made["UsePreviousTemplate"] is True and "TemplateBody" not in made and "TemplateURL" not in made
    assert made["Parameters"] == [
        {"ParameterKey": "DeletionProtection", "ParameterValue": "true"},
        {"ParameterKey": "DbPassword", "UsePreviousValue": True},
    ]
    assert state["executed"]
    messages = [i.message for i in items if isinstance(i, flow.Info)]
    assert messages[-1] == "deletion protection switched on (database, load balancer)"
    # Once on, status has nothing to repair.
    assert list(flow.repair_deletion_protection(aws, cfg, "wealist-prod", sleep=lambda s: None)) == []


def test_a_repair_whose_template_artifacts_are_gone_points_to_a_deploy(prod_params):
    """Scripted: CreateChangeSet with UsePreviousTemplate re-reads the nested
    TemplateURLs the stack names; one gone from the artifact bucket fails it
    (a ValidationError naming S3; the exact text is AWS's and not asserted).
    The error says to run a deploy, which packages the templates again."""
    from wealist_cfn import config

    def describe_stacks(p):
        return {
            "Stacks": [
                {
                    "StackName": "wealist-prod",
                    "StackId": ROOT,
                    "CreationTime": T0,
                    "StackStatus": "UPDATE_COMPLETE",
                    "Parameters": [{"ParameterKey": "DeletionProtection", "ParameterValue": "false"}],
                }
            ]
        }

    def create_change_set(p):
        raise ScriptedError("ValidationError", "S3 error: The specified key does not exist.")

    aws = Aws(REGION)
    Scripted(
        ("cloudformation",),
        {
            ("cloudformation", "DescribeStacks"): describe_stacks,
            ("cloudformation", "CreateChangeSet"): create_change_set,
        },
    ).attach(aws.session._session)
    with pytest.raises(CommandError) as exc:
        list(flow.repair_deletion_protection(aws, config.load(prod_params), "wealist-prod", sleep=lambda s: None))
    assert any("python build.py deploy --stack-name wealist-prod --params" in d for d in exc.value.details), (
        exc.value.details
    )


# -- a stop while preparing ---------------------------------------------------------------------


def test_ctrl_c_while_the_change_set_is_computed_deletes_it_and_says_nothing_runs(prod_params):
    """Scripted: Ctrl-C while DescribeChangeSet still answers
    CREATE_IN_PROGRESS (the change set is being computed). The change set is
    deleted, and the block reads the stack (UPDATE_COMPLETE, untouched), says
    nothing of this deploy runs and gives `deploy` as the next command."""
    from helpers.prepared import ROOT_TEMPLATE, _prepared

    state = {"deleted": False}

    def describe_stacks(p):
        return {
            "Stacks": [
                {
                    "StackName": "wealist-prod",
                    "StackId": ROOT,
                    "CreationTime": T0,
                    "StackStatus": "UPDATE_COMPLETE",
                    "Parameters": [],
                }
            ]
        }

    def describe_change_set(p):
        if state["deleted"]:
            raise ScriptedError("ChangeSetNotFound", "gone")
        return {"ChangeSetId": CS, "ChangeSetName": "deploy-1", "StackId": ROOT, "Status": "CREATE_IN_PROGRESS"}

    def delete_change_set(p):
        state["deleted"] = True
        return {}

    handlers = {
        "DescribeStacks": describe_stacks,
        "DescribeChangeSet": describe_change_set,
        "CreateChangeSet": lambda p: {"Id": CS, "StackId": ROOT},
        "DeleteChangeSet": delete_change_set,
    }
    aws = Aws(REGION)
    tags = {("ssm", "GetParameters"): lambda p: {"Parameters": [], "InvalidParameters": p["Names"]}}
    Scripted(("cloudformation", "ssm"), {**{("cloudformation", k): v for k, v in handlers.items()}, **tags}).attach(
        aws.session._session
    )
    dep = _prepared(aws, prod_params, ROOT_TEMPLATE)

    def interrupt(_):
        raise KeyboardInterrupt

    dep.opts.sleep = interrupt
    with pytest.raises(KeyboardInterrupt):
        list(dep.prepare())
    assert state["deleted"]
    assert dep.left_behind[0].startswith("deleted change set deploy-")
    assert dep.left_behind[1].startswith("stack wealist-prod: UPDATE_COMPLETE (read at ")
    assert dep.left_behind[2] == "in AWS: no change set of this run was executed; nothing of this deploy runs"
    assert dep.left_behind[3].startswith("next: python build.py deploy --stack-name wealist-prod")


# -- after the interrupt, AVAILABLE is no proof: the delete decides ------------------------------


def test_an_execute_processed_after_the_read_is_said_to_go_on_not_to_have_been_skipped(prod_params):
    """Scripted: the interrupt lands while ExecuteChangeSet is in flight;
    DescribeChangeSet still says AVAILABLE, then AWS processes the request.
    DeleteChangeSet answers InvalidChangeSetStatus (aws/aws-cdk#26182), so the
    block says the operation goes on and the relaxed policy stays. Before:
    "was not executed" and the policy put back under the running update."""

    def on_execute(acct):
        acct.late = True
        raise KeyboardInterrupt

    acct = Account("UPDATE_COMPLETE", on_execute)
    dep = _deployment(acct, "UPDATE", prod_params)
    _, block = _run(dep, "late")
    text = "\n".join(block)
    assert "it is being executed" in text and "the operation goes on" in text, text
    assert "was not executed" not in text, text
    assert acct.policies[DB] == ALLOW and not acct.cs_deleted


def test_an_obsolete_change_set_is_deleted_and_said_not_executed(prod_params):
    """Scripted: DescribeChangeSet answers OBSOLETE (the stack changed); that
    is not "began": DeleteChangeSet is accepted, the change set is gone, so
    nothing of this deploy runs. Before: taken as began."""

    def on_execute(acct):
        acct.execution = "OBSOLETE"
        raise KeyboardInterrupt

    acct = Account("UPDATE_COMPLETE", on_execute)
    dep = _deployment(acct, "UPDATE", prod_params)
    _, block = _run(dep, "obsolete")
    text = "\n".join(block)
    assert "deleted change set deploy-1 (not executed" in text and "was not executed" in text, text
    assert acct.cs_deleted and acct.policies[DB] == PROTECT


def test_an_event_with_this_runs_token_says_it_began(prod_params):
    """Scripted: DescribeChangeSet says AVAILABLE, but the stack's events
    already carry this run's ClientRequestToken (ExecuteChangeSet: every
    event of the operation carries it): began; nothing is deleted."""

    def on_execute(acct):
        acct.events = [
            {
                "StackId": ROOT,
                "EventId": "e1",
                "StackName": "wealist-prod",
                "Timestamp": T0,
                "LogicalResourceId": "wealist-prod",
                "ResourceType": NESTED,
                "ResourceStatus": "UPDATE_IN_PROGRESS",
                "ClientRequestToken": acct.token,
            }
        ]
        acct.status = "UPDATE_IN_PROGRESS"
        raise KeyboardInterrupt

    acct = Account("UPDATE_COMPLETE", on_execute)
    real = acct.execute_change_set

    def remember(p):
        acct.token = p["ClientRequestToken"]
        return real(p)

    acct.execute_change_set = remember
    dep = _deployment(acct, "UPDATE", prod_params)
    _, block = _run(dep, "token")
    text = "\n".join(block)
    assert "the operation goes on" in text and not acct.cs_deleted, text
