"""Experiments on CloudFormation's own behaviour: change sets, nested
stacks, stack policies, events. Their templates hold only resources that
cost nothing while they exist (an empty ECR repository, a standard SSM
parameter, an empty S3 bucket, a wait condition), so each experiment costs
API calls only.

Each experiment is an entry of :data:`EXPERIMENTS`: its templates are tiny
YAML texts, its act deploys them through the runner's context, its observe
makes read-only calls, its verdict reads those answers.
"""

from __future__ import annotations

from ..deploy import policy
from .model import Bounds, Experiment, Reliance, Verdict, fails, holds, inconclusive
from .observe import call, error_code, physical_id, resources

API = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference"

# -- templates ----------------------------------------------------------------------------------

NESTED_ROOT = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - a root holding one nested stack
Parameters:
  RepositoryName:
    Type: String
    AllowedPattern: "[a-z0-9][a-z0-9._/-]*"
Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: child.yaml
      Parameters:
        RepositoryName: !Ref RepositoryName
Outputs:
  ChildStackId:
    Value: !Ref Child
"""

NESTED_CHILD = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - one empty ECR repository (no charge while empty)
Parameters:
  RepositoryName:
    Type: String
Resources:
  Repository:
    Type: AWS::ECR::Repository
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      RepositoryName: !Ref RepositoryName
      EmptyOnDelete: true
Outputs:
  RepositoryArn:
    Value: !GetAtt Repository.Arn
"""

NESTED = {"root.yaml": NESTED_ROOT, "child.yaml": NESTED_CHILD}

# The logical IDs are production's (templates/root.yaml LoadBalancerStack,
# templates/loadbalancer.yaml AccessLogBucket): with a root name as long as
# production's, the generated name is cut exactly as production's would be.
BUCKET_ROOT = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - a root holding a nested stack with an unnamed bucket
Resources:
  LoadBalancerStack:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: bucket.yaml
"""

BUCKET_CHILD = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - one unnamed, empty S3 bucket
Resources:
  AccessLogBucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
Outputs:
  BucketName:
    Value: !Ref AccessLogBucket
"""


def _parameter_template(outputs: bool = False) -> str:
    """One standard-tier SSM parameter (no charge); optionally an Output."""
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - one standard SSM parameter (no charge)
Parameters:
  Value:
    Type: String
    Default: proof
Resources:
  Parameter:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/${AWS::StackName}/value"
      Type: String
      Value: !Ref Value
"""
    if outputs:
        text += """\
Outputs:
  ParameterName:
    Value: !Ref Parameter
"""
    return text


PARAMETER = {"root.yaml": _parameter_template()}
PARAMETER_WITH_OUTPUT = {"root.yaml": _parameter_template(outputs=True)}

EMPTY_VALUE = {
    "root.yaml": """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - a parameter given an empty value
Parameters:
  Optional:
    Type: String
    Default: unset
Resources:
  Parameter:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Sub "optional=[${Optional}]"
"""
}

FAILING_CREATE = {
    "root.yaml": """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - a retained ECR repository, then a wait that times out, so the create fails
Parameters:
  RepositoryName:
    Type: String
Resources:
  Repository:
    Type: AWS::ECR::Repository
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      RepositoryName: !Ref RepositoryName
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  Wait:
    Type: AWS::CloudFormation::WaitCondition
    DependsOn: Repository
    Properties:
      Handle: !Ref Handle
      Timeout: "1"
"""
}


def _repo(ctx, suffix: str) -> str:
    return f"{ctx.stack.lower()}-{suffix}"


def _nested_change_set(desc: dict, logical_id: str = "Child") -> str:
    for c in desc.get("Changes", []):
        rc = c.get("ResourceChange", {})
        if rc.get("LogicalResourceId") == logical_id:
            return rc.get("ChangeSetId", "") or ""
    return ""


def _events(cfn, stack: str) -> dict:
    return call(cfn.describe_stack_events, StackName=stack)


# -- nested-stack-policy ------------------------------------------------------------------------


def _policy_act(ctx) -> None:
    ctx.deploy(NESTED, {"RepositoryName": _repo(ctx, "a")})
    # The project's own protective policy (deploy/policy.py), on the root and
    # on the nested stack by its ID, as a deploy sets it.
    ctx.recorded["policy set on"] = {"paths": policy.protect(ctx.aws, ctx.stacks[ctx.stack])}
    # A new name replaces the repository: Update:Replace of a guarded type.
    ctx.deploy(NESTED, {"RepositoryName": _repo(ctx, "b")})


def _policy_observe(ctx) -> dict:
    cfn = ctx.aws.cfn
    listing = resources(cfn, ctx.stacks[ctx.stack])
    child = physical_id(listing, "Child")
    return {
        "ListStackResources root": listing,
        "DescribeStackEvents child": _events(cfn, child) if child else {},
        "DescribeRepositories new name": call(
            ctx.aws.client("ecr").describe_repositories, repositoryNames=[_repo(ctx, "b")]
        ),
    }


def _policy_verdict(r: dict) -> Verdict:
    evs = r.get("DescribeStackEvents child", {}).get("StackEvents", [])
    denied = [
        e
        for e in evs
        if e.get("LogicalResourceId") == "Repository"
        and e.get("ResourceStatus", "").endswith("_FAILED")
        and "stack policy" in (e.get("ResourceStatusReason") or "").lower()
    ]
    if denied:
        return holds(
            "the nested stack's own policy denied the replacement the root's change set drove", event=denied[0]
        )
    made = r.get("DescribeRepositories new name", {})
    if made.get("repositories"):
        return fails(
            "the root's change set replaced a guarded resource inside the nested stack despite its stack policy",
            repositories=made["repositories"],
        )
    return inconclusive(
        "no event of the nested repository names the stack policy, and no repository of the new name exists",
        events=evs[:10],
    )


NESTED_STACK_POLICY = Experiment(
    id="nested-stack-policy",
    bounds=Bounds(change_sets=2, executes=2, wait_minutes=0, stacks=1),
    assumption="A nested stack's own stack policy is enforced when the root's change set drives its update.",
    relies=(
        Reliance("wealist_cfn/deploy/policy.py", "protect"),
        Reliance("wealist_cfn/deploy/flow.py", "Deployment.execute"),
    ),
    templates=NESTED,
    act=_policy_act,
    observe=_policy_observe,
    verdict=_policy_verdict,
    minutes=6,
    minutes_basis="three stack operations on an ECR repository and a nested stack, a minute or two each",
    issue="Stack policies: a nested stack's policy is not enforced when the root drives its update",
    source=f"{API}/API_SetStackPolicy.html; CloudFormation User Guide, protect-stack-resources.html",
    docs=("former check 5", "unproven: the nested stack policy", "issue 28: nested stack policy"),
)


# -- pinned-template-version --------------------------------------------------------------------


def _pinned_act(ctx) -> None:
    params = {"RepositoryName": _repo(ctx, "a")}
    body, url = ctx.package(NESTED)
    bucket, key, _version = next(o for o in ctx.objects if "/child." in o[1])
    # Other bytes under the same key: a new current version. The pinned URL
    # names the older one.
    other = NESTED_CHILD.replace("one empty ECR repository", "OVERWRITTEN after packaging")
    put = ctx.aws.s3.put_object(Bucket=bucket, Key=key, Body=other.encode())
    ctx.objects.append((bucket, key, put.get("VersionId", "")))
    ctx.recorded["packaged child"] = {"TemplateBody": NESTED_CHILD}
    ctx.recorded["overwritten child"] = {"TemplateBody": other, "VersionId": put.get("VersionId", "")}
    ctx.recorded["change set"] = {"Id": ctx.change_set(NESTED, params, packaged=(body, url)).id}


def _pinned_observe(ctx) -> dict:
    cfn = ctx.aws.cfn
    root = call(cfn.describe_change_set, ChangeSetName=ctx.recorded["change set"]["Id"])
    nested = _nested_change_set(root)
    return {
        "DescribeChangeSet root": root,
        "GetTemplate nested change set": call(cfn.get_template, ChangeSetName=nested, TemplateStage="Original")
        if nested
        else {},
    }


def _pinned_verdict(r: dict) -> Verdict:
    body = r.get("GetTemplate nested change set", {}).get("TemplateBody")
    if body is None:
        return inconclusive(
            "no nested change set, or its template could not be read", root=r.get("DescribeChangeSet root")
        )
    if body == r["packaged child"]["TemplateBody"]:
        return holds(
            "the nested change set holds the packaged (pinned) version, not the bytes written later", template=body
        )
    if body == r["overwritten child"]["TemplateBody"]:
        return fails(
            "CloudFormation read the newest object version, not the versionId the TemplateURL pins", template=body
        )
    return inconclusive("the nested change set's template is neither version", template=body)


PINNED_TEMPLATE_VERSION = Experiment(
    id="pinned-template-version",
    bounds=Bounds(change_sets=1, executes=0, wait_minutes=0, stacks=1),
    assumption="CloudFormation, acting as the service role, reads exactly the object version a nested "
    "TemplateURL pins with versionId, even after the key was overwritten.",
    relies=(
        Reliance("wealist_cfn/deploy/package.py", "package"),
        Reliance("wealist_cfn/stacks/github_oidc.py", "_service_role_statements"),
    ),
    templates=NESTED,
    act=_pinned_act,
    observe=_pinned_observe,
    verdict=_pinned_verdict,
    charges=(),
    minutes=2,
    minutes_basis="one change set computed, not executed; the shell deleted",
    issue="Packaging: CloudFormation does not honour the versionId of a nested TemplateURL",
    service_role=True,
    source=f"{API}/API_GetTemplate.html; S3 API reference, GetObject (versionId, s3:GetObjectVersion)",
    docs=("packaging: the pinned versionId", "issue 28: pinned versionId"),
)


# -- nested-operation-id ------------------------------------------------------------------------


def _operation_act(ctx) -> None:
    cfn = ctx.aws.cfn
    cs = ctx.change_set(NESTED, {"RepositoryName": _repo(ctx, "a")})
    # Creating the change set is an operation of its own on the root and on
    # the nested stack it makes (DescribeEvents: OperationType includes
    # CREATE_CHANGESET): the events already there before the execute are
    # read, so that only the execute's operations are compared.
    root = ctx.stacks[ctx.stack]
    nested_cs = _nested_change_set(call(cfn.describe_change_set, ChangeSetName=cs.id))
    nested = call(cfn.describe_change_set, ChangeSetName=nested_cs).get("StackId", "") if nested_cs else ""
    ctx.recorded["before execute"] = {
        "DescribeStackEvents root": _events(cfn, root),
        "DescribeStackEvents child": _events(cfn, nested) if nested else {},
    }
    ctx.execute(cs)


def _operation_observe(ctx) -> dict:
    cfn = ctx.aws.cfn
    root = ctx.stacks[ctx.stack]
    listing = resources(cfn, root)
    child = physical_id(listing, "Child")
    return {
        "DescribeStackEvents root": _events(cfn, root),
        "DescribeStackEvents child": _events(cfn, child) if child else {},
    }


def _operations(answer: dict) -> set[str]:
    return {e["OperationId"] for e in answer.get("StackEvents", []) if e.get("OperationId")}


def _operation_verdict(r: dict) -> Verdict:
    before = r.get("before execute", {})
    earlier = _operations(before.get("DescribeStackEvents root", {})) | _operations(
        before.get("DescribeStackEvents child", {})
    )
    root = _operations(r.get("DescribeStackEvents root", {})) - earlier
    child = _operations(r.get("DescribeStackEvents child", {})) - earlier
    seen = {
        "before execute": sorted(earlier),
        "root from the execute": sorted(root),
        "nested from the execute": sorted(child),
    }
    if not root or not child:
        return inconclusive(
            "the events from the execute on carry no OperationId (root: %d, nested: %d)" % (len(root), len(child)),
            **seen,
        )
    if child <= root:
        return holds("the nested stack's events from the execute on carry the root's execute OperationId", **seen)
    return fails(
        "the nested stack's events from the execute on carry OperationIds of their own",
        own=sorted(child - root),
        **seen,
    )


NESTED_OPERATION_ID = Experiment(
    id="nested-operation-id",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=0, stacks=1),
    assumption="A nested stack's events carry the OperationId of the root's operation.",
    relies=(Reliance("wealist_cfn/deploy/events.py", "Watcher"),),
    templates=NESTED,
    act=_operation_act,
    observe=_operation_observe,
    verdict=_operation_verdict,
    minutes=4,
    minutes_basis="one create of a root and a nested stack, and its deletion",
    issue="Events: nested stacks' events carry their own OperationId (the watcher's exclusion is unaffected; "
    "revisit any match on one operation)",
    source=f"{API}/API_StackEvent.html (OperationId)",
    docs=("former check 1", "unproven: nested OperationId", "issue 28: nested OperationId"),
)


# -- nested-change-set-delete-async -------------------------------------------------------------


def _delete_act(ctx) -> None:
    cfn = ctx.aws.cfn
    cs = ctx.change_set(NESTED, {"RepositoryName": _repo(ctx, "a")})
    ctx.recorded["change set"] = {"Id": cs.id}
    # The nested change set made a nested stack shell (REVIEW_IN_PROGRESS);
    # deleting the change set leaves the shells, and such a stack may even
    # refuse its deletion (aws-cloudformation/rain #477): each is recorded
    # so the clean-up deletes it, or lists it with the command.
    nested_cs = _nested_change_set(call(cfn.describe_change_set, ChangeSetName=cs.id))
    nested = call(cfn.describe_change_set, ChangeSetName=nested_cs) if nested_cs else {}
    if nested.get("StackId"):
        ctx.stacks.setdefault(nested.get("StackName") or nested["StackId"], nested["StackId"])
    cfn.delete_change_set(ChangeSetName=cs.id)


def _delete_observe(ctx) -> dict:
    # Straight after DeleteChangeSet returned (the runner observes as soon
    # as the act ends): what it left behind when it answered.
    return {
        "DescribeChangeSet right after DeleteChangeSet": call(
            ctx.aws.cfn.describe_change_set, ChangeSetName=ctx.recorded["change set"]["Id"]
        )
    }


def _delete_verdict(r: dict) -> Verdict:
    after = r.get("DescribeChangeSet right after DeleteChangeSet", {})
    status = after.get("Status", "")
    if status in ("DELETE_PENDING", "DELETE_IN_PROGRESS"):
        return holds(f"DeleteChangeSet returned while the change set was {status}", change_set=after)
    if status == "DELETE_COMPLETE":
        return fails(
            "the change set read DELETE_COMPLETE as soon as DeleteChangeSet returned: deletion is synchronous",
            change_set=after,
        )
    if error_code(after) in ("ChangeSetNotFound", "ChangeSetNotFoundException"):
        # Gone at the first read proves nothing: an asynchronous deletion
        # may simply have finished before it.
        return inconclusive(
            "the change set was already gone at the first read: it may have been deleted asynchronously before it",
            change_set=after,
        )
    return inconclusive(
        f"unexpected state after DeleteChangeSet: {status or error_code(after) or 'nothing'}", change_set=after
    )


NESTED_CHANGE_SET_DELETE = Experiment(
    id="nested-change-set-delete-async",
    bounds=Bounds(change_sets=1, executes=0, wait_minutes=0, stacks=2),
    assumption="Deleting a change set that has nested change sets is asynchronous (DELETE_PENDING or "
    "DELETE_IN_PROGRESS when DeleteChangeSet returns).",
    relies=(
        Reliance("wealist_cfn/deploy/changeset.py", "delete_and_wait"),
        Reliance("wealist_cfn/deploy/flow.py", "Deployment.cleanup"),
    ),
    templates=NESTED,
    act=_delete_act,
    observe=_delete_observe,
    verdict=_delete_verdict,
    minutes=2,
    minutes_basis="one change set computed and deleted; the root and nested REVIEW_IN_PROGRESS shells "
    "deleted (listed as left if CloudFormation refuses, rain #477)",
    issue="Change sets: deleting a nested change set is synchronous (delete_and_wait waits for nothing)",
    # The DeleteChangeSet reference reads as if it were synchronous ("If the
    # call successfully completes, CloudFormation successfully deleted the
    # change set"), while DescribeChangeSet lists DELETE_PENDING and
    # DELETE_IN_PROGRESS: the two documents disagree, the experiment decides.
    source=f"{API}/API_DeleteChangeSet.html; {API}/API_DescribeChangeSet.html (Status DELETE_PENDING)",
    docs=("issue 28: nested change set deletion",),
)


# -- outputs-only-change-set --------------------------------------------------------------------


def _outputs_act(ctx) -> None:
    ctx.deploy(PARAMETER)
    cs = ctx.change_set(PARAMETER_WITH_OUTPUT)
    ctx.recorded["DescribeChangeSet outputs only"] = (
        call(ctx.aws.cfn.describe_change_set, ChangeSetName=cs.id)
        if cs.id
        else {"Status": cs.status, "StatusReason": cs.reason}
    )
    if not cs.no_changes:
        ctx.execute(cs)


def _outputs_observe(ctx) -> dict:
    return {"DescribeStacks": call(ctx.aws.cfn.describe_stacks, StackName=ctx.stacks[ctx.stack])}


def _outputs_verdict(r: dict) -> Verdict:
    cs = r.get("DescribeChangeSet outputs only", {})
    stacks = r.get("DescribeStacks", {}).get("Stacks") or [{}]
    outputs = [o.get("OutputKey") for o in stacks[0].get("Outputs", []) or []]
    shape = {k: cs.get(k) for k in ("Status", "ExecutionStatus", "StatusReason", "Changes")}
    if cs.get("Status") == "FAILED":
        return fails(
            "a change to the Outputs only made a FAILED change set (taken as 'no changes': such a "
            "change would never be applied)",
            change_set=shape,
        )
    if (
        cs.get("Status") == "CREATE_COMPLETE"
        and cs.get("ExecutionStatus") == "AVAILABLE"
        and not cs.get("Changes")
        and "ParameterName" in outputs
    ):
        return holds(
            "CREATE_COMPLETE, AVAILABLE, zero Changes, and executing it added the output",
            change_set=shape,
            outputs=outputs,
        )
    return inconclusive(
        "the change set or the stack's outputs are not in a documented shape", change_set=shape, outputs=outputs
    )


OUTPUTS_ONLY = Experiment(
    id="outputs-only-change-set",
    bounds=Bounds(change_sets=2, executes=2, wait_minutes=0, stacks=1),
    assumption="A change to a stack's Outputs only makes a CREATE_COMPLETE, AVAILABLE change set with zero "
    "Changes, and executing it applies the outputs.",
    relies=(
        Reliance("wealist_cfn/deploy/changeset.py", "is_no_changes"),
        Reliance("wealist_cfn/deploy/flow.py", "Deployment._review"),
    ),
    templates=PARAMETER,
    act=_outputs_act,
    observe=_outputs_observe,
    verdict=_outputs_verdict,
    minutes=4,
    minutes_basis="a create, an update and a deletion of one SSM parameter",
    issue="Change sets: an Outputs-only change is not executable as the review assumes",
    source=f"{API}/API_DescribeChangeSet.html; aws-cdk PR #2029",
    docs=("former check 2", "unproven: Outputs-only change set"),
)


# -- execute-deletes-other-change-sets ----------------------------------------------------------


def _others_act(ctx) -> None:
    ctx.deploy(PARAMETER)
    first = ctx.change_set(PARAMETER, {"Value": "first"})
    second = ctx.change_set(PARAMETER, {"Value": "second"})
    ctx.recorded["first"] = {"ChangeSetId": first.id}
    ctx.recorded["ListChangeSets before execute"] = call(ctx.aws.cfn.list_change_sets, StackName=ctx.stacks[ctx.stack])
    ctx.execute(second)


def _others_observe(ctx) -> dict:
    return {
        "DescribeChangeSet first": call(
            ctx.aws.cfn.describe_change_set, ChangeSetName=ctx.recorded["first"]["ChangeSetId"]
        )
    }


def _others_verdict(r: dict) -> Verdict:
    listed = [c.get("ChangeSetId") for c in r.get("ListChangeSets before execute", {}).get("Summaries", [])]
    first = r.get("first", {}).get("ChangeSetId")
    after = r.get("DescribeChangeSet first", {})
    if first not in listed:
        return fails("creating a second change set removed the first one", listed=listed)
    if error_code(after) in ("ChangeSetNotFound", "ChangeSetNotFoundException"):
        return holds("both change sets were listed; executing the second deleted the first", after=after)
    if after.get("Status"):
        return fails(
            f"the first change set survived the execute of another ({after.get('Status')}, "
            f"{after.get('ExecutionStatus')})",
            after={k: after.get(k) for k in ("Status", "ExecutionStatus")},
        )
    return inconclusive("the first change set could not be read after the execute", after=after)


EXECUTE_DELETES_OTHERS = Experiment(
    id="execute-deletes-other-change-sets",
    bounds=Bounds(change_sets=3, executes=2, wait_minutes=0, stacks=1),
    assumption="Creating a change set leaves the others on the stack; executing one deletes every other.",
    relies=(
        Reliance("wealist_cfn/deploy/changeset.py", "gone"),
        Reliance("wealist_cfn/deploy/changeset.py", "candidates"),
    ),
    templates=PARAMETER,
    act=_others_act,
    observe=_others_observe,
    verdict=_others_verdict,
    minutes=4,
    minutes_basis="a create, two change sets, one update and a deletion of one SSM parameter",
    issue="Change sets: executing one does not delete the others (refusal messages and candidate search)",
    source=f"{API}/API_ExecuteChangeSet.html",
    docs=("former check 1", "former check 3"),
)


# -- retain-except-on-create --------------------------------------------------------------------


def _retain_act(ctx) -> None:
    name = _repo(ctx, "kept")
    ecr = ctx.aws.client("ecr")
    ctx.after_delete(
        f"ECR repository {name} (Retain)",
        lambda: _delete_repository(ecr, name),
        f"aws ecr delete-repository --repository-name {name} --force --region {ctx.aws.region}",
    )
    cs = ctx.change_set(FAILING_CREATE, {"RepositoryName": name})
    ctx.execute(cs, retain_except_on_create=True)


def _delete_repository(ecr, name: str) -> None:
    try:
        ecr.delete_repository(repositoryName=name, force=True)
    except ecr.exceptions.RepositoryNotFoundException:
        pass


def _retain_observe(ctx) -> dict:
    return {
        "DescribeRepositories": call(ctx.aws.client("ecr").describe_repositories, repositoryNames=[_repo(ctx, "kept")])
    }


def _retain_verdict(r: dict) -> Verdict:
    step = next((v for k, v in r.items() if k.startswith("step 1")), {})
    repos = r.get("DescribeRepositories", {})
    if step.get("StackStatus") != "ROLLBACK_COMPLETE":
        return inconclusive(f"the create did not fail and roll back as planned ({step.get('StackStatus')})", step=step)
    if error_code(repos) == "RepositoryNotFoundException":
        return holds("the failed create rolled back and deleted its Retain repository", step=step, repository=repos)
    if repos.get("repositories"):
        return fails("the Retain repository survived the rolled-back create", repository=repos["repositories"])
    return inconclusive("the repository could not be looked up", repository=repos)


RETAIN_EXCEPT_ON_CREATE = Experiment(
    id="retain-except-on-create",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=0, stacks=1),
    assumption="A first create executed with RetainExceptOnCreate that fails rolls back to ROLLBACK_COMPLETE "
    "and deletes even its Retain resources.",
    relies=(
        Reliance("wealist_cfn/deploy/flow.py", "Deployment.execute"),
        Reliance("wealist_cfn/deploy/flow.py", "leftovers"),
    ),
    templates=FAILING_CREATE,
    act=_retain_act,
    observe=_retain_observe,
    verdict=_retain_verdict,
    minutes=4,
    minutes_basis="a create that fails after a 1-second wait, its rollback, the deletion",
    issue="Rollback: RetainExceptOnCreate leaves Retain resources of a failed first create",
    source=f"{API}/API_ExecuteChangeSet.html (RetainExceptOnCreate)",
    docs=("former check 4",),
)


# -- nested-change-set-readback -----------------------------------------------------------------


def _readback_act(ctx) -> None:
    ctx.recorded["committed child"] = {"TemplateBody": NESTED_CHILD}
    ctx.recorded["change set"] = {"Id": ctx.change_set(NESTED, {"RepositoryName": _repo(ctx, "a")}).id}


def _readback_observe(ctx) -> dict:
    cfn = ctx.aws.cfn
    root = call(cfn.describe_change_set, ChangeSetName=ctx.recorded["change set"]["Id"])
    nested = _nested_change_set(root)
    return {
        "DescribeChangeSet root": root,
        "DescribeChangeSet nested": call(cfn.describe_change_set, ChangeSetName=nested) if nested else {},
        "GetTemplate nested change set": call(cfn.get_template, ChangeSetName=nested, TemplateStage="Original")
        if nested
        else {},
        "ListChangeSets": call(cfn.list_change_sets, StackName=root.get("StackId", ctx.stack)),
    }


def _readback_verdict(r: dict) -> Verdict:
    root, nested = r.get("DescribeChangeSet root", {}), r.get("DescribeChangeSet nested", {})
    if not nested:
        return inconclusive("no nested change set was listed", root={k: root.get(k) for k in ("Status", "Changes")})
    summaries = r.get("ListChangeSets", {}).get("Summaries", [])
    summary = next((s for s in summaries if s.get("ChangeSetId") == root.get("ChangeSetId")), {})
    checks = {
        "nested template returned byte for byte": r.get("GetTemplate nested change set", {}).get("TemplateBody")
        == r.get("committed child", {}).get("TemplateBody"),
        "root IncludeNestedStacks true": root.get("IncludeNestedStacks") is True,
        "nested IncludeNestedStacks true": nested.get("IncludeNestedStacks") is True,
        "ListChangeSets summary IncludeNestedStacks true": summary.get("IncludeNestedStacks") is True,
        "root Capabilities read back": bool(root.get("Capabilities")),
    }
    failed = [k for k, ok in checks.items() if not ok]
    if failed:
        return fails(
            "not as the proof of a change set reads it: " + "; ".join(failed),
            checks=checks,
            summary=summary,
            root_capabilities=root.get("Capabilities"),
        )
    return holds(
        "the nested template, IncludeNestedStacks (root, nested, summary) and Capabilities read back as made",
        checks=checks,
    )


CHANGE_SET_READBACK = Experiment(
    id="nested-change-set-readback",
    bounds=Bounds(change_sets=1, executes=0, wait_minutes=0, stacks=1),
    assumption="A change set reads back what it was made from: GetTemplate on a nested change set returns the "
    "child byte for byte, and IncludeNestedStacks and Capabilities show on the root, the nested "
    "change set and the ListChangeSets summary.",
    relies=(
        Reliance("wealist_cfn/deploy/verify.py", "prove"),
        Reliance("wealist_cfn/deploy/changeset.py", "candidates"),
    ),
    templates=NESTED,
    act=_readback_act,
    observe=_readback_observe,
    verdict=_readback_verdict,
    minutes=2,
    minutes_basis="one change set computed, not executed; the shell deleted",
    issue="deploy --change-set: a change set does not read back as verify.prove expects",
    source=f"{API}/API_GetTemplate.html; {API}/API_DescribeChangeSet.html; {API}/API_ChangeSetSummary.html",
    docs=("former check 6",),
)


# -- empty-parameter-value ----------------------------------------------------------------------


def _empty_act(ctx) -> None:
    ctx.recorded["change set"] = {"Id": ctx.change_set(EMPTY_VALUE, {"Optional": ""}).id}


def _empty_observe(ctx) -> dict:
    return {"DescribeChangeSet": call(ctx.aws.cfn.describe_change_set, ChangeSetName=ctx.recorded["change set"]["Id"])}


def _empty_verdict(r: dict) -> Verdict:
    params = r.get("DescribeChangeSet", {}).get("Parameters")
    if params is None:
        return inconclusive("the change set could not be read", answer=r.get("DescribeChangeSet"))
    entry = next((p for p in params if p.get("ParameterKey") == "Optional"), None)
    if entry is None:
        return fails(
            "the parameter given an empty value is missing from the change set's Parameters", parameters=params
        )
    shape = '"ParameterValue": ""' if "ParameterValue" in entry else "no ParameterValue"
    if entry.get("ParameterValue", "") != "":
        return fails(f"the empty value came back as {entry.get('ParameterValue')!r}", parameter=entry)
    return holds(f"the key is listed, with {shape}", parameter=entry)


EMPTY_PARAMETER = Experiment(
    id="empty-parameter-value",
    bounds=Bounds(change_sets=1, executes=0, wait_minutes=0, stacks=1),
    assumption='A parameter given an empty value is listed by DescribeChangeSet, as "" or without '
    "ParameterValue, never left out.",
    relies=(Reliance("wealist_cfn/deploy/verify.py", "prove"),),
    templates=EMPTY_VALUE,
    act=_empty_act,
    observe=_empty_observe,
    verdict=_empty_verdict,
    minutes=2,
    minutes_basis="one change set computed, not executed; the shell deleted",
    issue="deploy --change-set: an empty parameter value is left out of DescribeChangeSet",
    source=f"{API}/API_Parameter.html",
    docs=("former check 7 (empty values)",),
)


# -- nested-bucket-name -------------------------------------------------------------------------


def _bucket_act(ctx) -> None:
    ctx.deploy({"root.yaml": BUCKET_ROOT, "bucket.yaml": BUCKET_CHILD})


def _bucket_observe(ctx) -> dict:
    cfn = ctx.aws.cfn
    listing = resources(cfn, ctx.stacks[ctx.stack])
    child = physical_id(listing, "LoadBalancerStack")
    return {
        "ListStackResources root": listing,
        "DescribeStacks nested": call(cfn.describe_stacks, StackName=child) if child else {},
        "ListStackResources nested": resources(cfn, child) if child else {},
    }


def _bucket_verdict(r: dict) -> Verdict:
    stacks = r.get("DescribeStacks nested", {}).get("Stacks") or []
    bucket = physical_id(r.get("ListStackResources nested", {}), "AccessLogBucket")
    if not stacks or not bucket:
        return inconclusive("the nested stack or its bucket could not be read")
    nested = stacks[0]["StackName"]
    root = stacks[0].get("ParentId", "").split("/")[1] if "/" in stacks[0].get("ParentId", "") else ""
    # CloudFormation names an unnamed bucket <stack name>-<logical id>-
    # <random>, lower-cased (aws-properties-name.html: "generates a unique
    # physical ID", e.g. MyStack-MyBucket-abcdefghijk1); a name longer than
    # S3's 63 characters is cut, from the stack and logical-ID parts, which
    # the User Guide does not describe. The root here is as long as
    # production's and the logical IDs are production's, so the cut is
    # production's: the evidence says whether one happened.
    whole = f"{nested}-AccessLogBucket-" + "x" * 12
    seen = {
        "bucket": bucket,
        "nested stack": nested,
        "root stack": root,
        "naming rule": {
            "uncut": whole.lower(),
            "uncut length": len(whole),
            "S3 limit": 63,
            "cut": len(whole) > 63,
            "bucket length": len(bucket),
            "root length": len(root),
        },
    }
    if not root:
        return inconclusive("the nested stack names no parent (ParentId)", **seen)
    # What the service role's StackBuckets statement (${StackName}-*) needs:
    # the root's name, lower-cased, then a hyphen.
    if bucket.startswith(root.lower() + "-"):
        return holds(f"bucket {bucket} begins with the root stack's name lower-cased ({root.lower()}-)", **seen)
    return fails(f"bucket {bucket} does not begin with {root.lower()}-", **seen)


NESTED_BUCKET_NAME = Experiment(
    id="nested-bucket-name",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=0, stacks=1),
    assumption="An unnamed bucket in a nested stack is named after the nested stack, lower-cased, so its name "
    "begins with the root stack's name, lower-cased, and a hyphen, also when the generated name is cut "
    "to S3's 63 characters (a root named as long as production's, production's logical IDs).",
    relies=(Reliance("wealist_cfn/stacks/github_oidc.py", "_service_role_statements"),),
    templates={"root.yaml": BUCKET_ROOT, "bucket.yaml": BUCKET_CHILD},
    act=_bucket_act,
    observe=_bucket_observe,
    verdict=_bucket_verdict,
    minutes=4,
    minutes_basis="one create of a root, a nested stack and an empty bucket, and the deletion",
    root_as_long_as_production=True,
    issue="Service role: unnamed buckets are not named <stack name>-...; the StackBuckets statement misses them",
    source="CloudFormation User Guide, aws-properties-name.html (generated names); AWS::S3::Bucket BucketName",
    docs=("issue 28: unnamed bucket names",),
)


EXPERIMENTS = (
    NESTED_STACK_POLICY,
    PINNED_TEMPLATE_VERSION,
    NESTED_OPERATION_ID,
    NESTED_CHANGE_SET_DELETE,
    OUTPUTS_ONLY,
    EXECUTE_DELETES_OTHERS,
    RETAIN_EXCEPT_ON_CREATE,
    CHANGE_SET_READBACK,
    EMPTY_PARAMETER,
    NESTED_BUCKET_NAME,
)
