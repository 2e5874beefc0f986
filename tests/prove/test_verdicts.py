"""Each experiment's observation and verdict, driven by botocore's Stubber
(no AWS account and no endpoint): for every experiment one set of answers
that holds, one that fails and one that is inconclusive.

Relies on the Stubber, which checks every response against the pinned
botocore service model, and on responses shaped as the API references show
them (cited per shape below). What the act phase recorded (a step's final
status, a change set's answer read before it ran) is given as data of the
same shapes; answers the act read from an API are checked against the model
too (:func:`shaped`).
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
from botocore.stub import Stubber

from wealist_cfn.aws import Aws
from wealist_cfn.prove import registry
from wealist_cfn.prove.model import FAILS, HOLDS, INCONCLUSIVE

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
STACK = "wealist-sbx-proof-x-12071200abcd"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/11111111-2222-3333-4444-555555555555"
CHILD = f"{STACK}-Child-ABCDEF123456"
CHILD_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{CHILD}/66666666-7777-8888-9999-000000000000"
SHORT = "pa1b21207223"  # runner.short_stack_name("12072231a1b2", 12): as long as wealist-prod
SHORT_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{SHORT}/11111111-2222-3333-4444-666666666666"
SHORT_CHILD = f"{SHORT}-LoadBalancerStack-1ABCDEF2GHIJK"
SHORT_CHILD_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{SHORT_CHILD}/77777777-7777-8888-9999-0"
CS_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/deploy-1/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
NESTED_CS_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/deploy-1-Child/ffffffff-bbbb-cccc-dddd-0"


class Ctx:
    """The part of runner.Context an observation uses; ``output`` and
    ``wait_for`` are the runner's (tested in test_runner.py): here one read,
    and the stack outputs given."""

    def __init__(self, aws: Aws, experiment, recorded: dict, outputs: dict):
        self.aws, self.experiment, self.recorded, self._outputs = aws, experiment, recorded, outputs
        self.stack, self.stacks, self.run_id = STACK, {STACK: STACK_ID}, "12071200abcd"
        self.project, self.environment = "wealist", "sbx"

    def output(self, key, stack=None):
        return self._outputs[key]

    def wait_for(self, read, done, *, timeout, interval=None):
        return read()


# -- shapes, each as its API reference shows it -------------------------------------------------


def event(
    logical, status, *, stack=CHILD, stack_id=CHILD_ID, reason="", op="", rtype="AWS::ECR::Repository", physical=""
):
    """StackEvent: CloudFormation API reference, API_StackEvent.html (OperationId: the pinned model)."""
    e = {
        "StackId": stack_id,
        "EventId": f"{logical}-{status}-{op}",
        "StackName": stack,
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": rtype,
        "Timestamp": NOW,
        "ResourceStatus": status,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    if op:
        e["OperationId"] = op
    return e


def summary(logical, physical, rtype="AWS::CloudFormation::Stack"):
    """StackResourceSummary: API_StackResourceSummary.html."""
    return {
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": rtype,
        "LastUpdatedTimestamp": NOW,
        "ResourceStatus": "CREATE_COMPLETE",
    }


def change_set(**kw):
    """DescribeChangeSet output: API_DescribeChangeSet.html."""
    base = {
        "ChangeSetName": "deploy-1",
        "ChangeSetId": CS_ID,
        "StackId": STACK_ID,
        "StackName": STACK,
        "CreationTime": NOW,
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        "IncludeNestedStacks": True,
        "Changes": [],
    }
    base.update(kw)
    return base


NESTED_CHANGE = {
    "Type": "Resource",
    "ResourceChange": {
        "Action": "Add",
        "LogicalResourceId": "Child",
        "ResourceType": "AWS::CloudFormation::Stack",
        "ChangeSetId": NESTED_CS_ID,
    },
}


def stack(name=STACK, sid=STACK_ID, **kw):
    """Stack: API_Stack.html (ParentId of a nested stack: its parent's ID)."""
    s = {"StackName": name, "StackId": sid, "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE"}
    s.update(kw)
    return s


def step(status, reason="", cause=None):
    """The runner's record of one executed change set: the root's final
    StackStatus and StackStatusReason (API_Stack.html) and the first failed
    event (API_StackEvent.html fields)."""
    return {"StackStatus": status, "StackStatusReason": reason, "FirstCause": cause}


# The first failure of the one-step switch as CloudFormation reports it
# (cloudformation-coverage-roadmap #383).
REFUSAL = {
    "Where": "Group",
    "ResourceStatus": "UPDATE_FAILED",
    "ResourceStatusReason": "Replication group must have at least one read replica to enable autofailover. (Service: "
    "AmazonElastiCache; Status Code: 400; Error Code: InvalidReplicationGroupState)",
}


def err(code, message="error"):
    return ("error", code, message)


def shaped(aws: Aws, service: str, operation: str, response: dict) -> dict:
    """A response the act read, checked against the botocore model as the
    Stubber checks its own (Stubber._validate_operation_response)."""
    Stubber(aws.client(service))._validate_operation_response(operation, response)
    return response


# -- the cases: experiment -> outcome -> (recorded, [(service, operation, response)]) --------------


def _cases(aws: Aws) -> dict:
    repo_b = f"{STACK.lower()}-b"
    child_body = next(e for e in registry.EXPERIMENTS if e.id == "nested-change-set-readback").templates["child.yaml"]
    other_body = child_body.replace("one empty ECR repository", "OVERWRITTEN after packaging")
    listing = {"StackResourceSummaries": [summary("Child", CHILD_ID)]}
    repo = {
        "repositories": [
            {
                "repositoryArn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo_b}",
                "registryId": ACCOUNT,
                "repositoryName": repo_b,
                "createdAt": NOW,
            }
        ]
    }
    pinned_rec = {
        "packaged child": {"TemplateBody": child_body},
        "overwritten child": {"TemplateBody": other_body},
        "change set": {"Id": CS_ID},
    }
    root_cs = change_set(Changes=[NESTED_CHANGE])

    def pinned(body):
        return [
            ("cloudformation", "describe_change_set", root_cs),
            ("cloudformation", "get_template", {"TemplateBody": body, "StagesAvailable": ["Original"]}),
        ]

    def op_events(root_op, child_op):
        # DescribeStackEvents: API_DescribeStackEvents.html, newest first.
        # Each stack also carries the change set's creation (REVIEW_IN_PROGRESS,
        # an operation of its own: DescribeEvents OperationType CREATE_CHANGESET).
        return [
            ("cloudformation", "list_stack_resources", listing),
            (
                "cloudformation",
                "describe_stack_events",
                {
                    "StackEvents": [
                        event(
                            STACK,
                            "CREATE_COMPLETE",
                            stack=STACK,
                            stack_id=STACK_ID,
                            op=root_op,
                            rtype="AWS::CloudFormation::Stack",
                            physical=STACK_ID,
                        ),
                        event(
                            STACK,
                            "REVIEW_IN_PROGRESS",
                            stack=STACK,
                            stack_id=STACK_ID,
                            op="op-cs-root",
                            rtype="AWS::CloudFormation::Stack",
                            physical=STACK_ID,
                        ),
                    ]
                },
            ),
            (
                "cloudformation",
                "describe_stack_events",
                {
                    "StackEvents": [
                        event("Repository", "CREATE_COMPLETE", op=child_op),
                        event(
                            CHILD,
                            "REVIEW_IN_PROGRESS",
                            op="op-cs-child",
                            rtype="AWS::CloudFormation::Stack",
                            physical=CHILD_ID,
                        ),
                    ]
                },
            ),
        ]

    # What the act read before the execute: the change set's creation only.
    op_before = {
        "before execute": {
            "DescribeStackEvents root": shaped(
                aws,
                "cloudformation",
                "DescribeStackEvents",
                {
                    "StackEvents": [
                        event(
                            STACK,
                            "REVIEW_IN_PROGRESS",
                            stack=STACK,
                            stack_id=STACK_ID,
                            op="op-cs-root",
                            rtype="AWS::CloudFormation::Stack",
                            physical=STACK_ID,
                        )
                    ]
                },
            ),
            "DescribeStackEvents child": shaped(
                aws,
                "cloudformation",
                "DescribeStackEvents",
                {
                    "StackEvents": [
                        event(
                            CHILD,
                            "REVIEW_IN_PROGRESS",
                            op="op-cs-child",
                            rtype="AWS::CloudFormation::Stack",
                            physical=CHILD_ID,
                        )
                    ]
                },
            ),
        }
    }

    readback_rec = {"committed child": {"TemplateBody": child_body}, "change set": {"Id": CS_ID}}

    def readback(nested, body, summary_nested=True):
        # ChangeSetSummary: API_ChangeSetSummary.html (IncludeNestedStacks, ParentChangeSetId).
        return [
            ("cloudformation", "describe_change_set", root_cs),
            ("cloudformation", "describe_change_set", nested),
            ("cloudformation", "get_template", {"TemplateBody": body}),
            (
                "cloudformation",
                "list_change_sets",
                {
                    "Summaries": [
                        {
                            "StackId": STACK_ID,
                            "StackName": STACK,
                            "ChangeSetId": CS_ID,
                            "ChangeSetName": "deploy-1",
                            "ExecutionStatus": "AVAILABLE",
                            "Status": "CREATE_COMPLETE",
                            "CreationTime": NOW,
                            "IncludeNestedStacks": summary_nested,
                        }
                    ]
                },
            ),
        ]

    nested_cs = change_set(
        ChangeSetId=NESTED_CS_ID,
        ChangeSetName="deploy-1-Child",
        StackId=CHILD_ID,
        StackName=CHILD,
        ParentChangeSetId=CS_ID,
        RootChangeSetId=CS_ID,
    )

    def engine(value):
        # DescribeEngineDefaultParameters: RDS API reference, EngineDefaults / Parameter.
        params = (
            [
                {
                    "ParameterName": "rds.force_ssl",
                    "ParameterValue": value,
                    "Source": "engine-default",
                    "DataType": "boolean",
                    "IsModifiable": True,
                    "ApplyType": "dynamic",
                }
            ]
            if value
            else [{"ParameterName": "rds.logical_replication", "ParameterValue": "0", "Source": "engine-default"}]
        )
        return [
            (
                "rds",
                "describe_engine_default_parameters",
                {"EngineDefaults": {"DBParameterGroupFamily": "postgres17", "Parameters": params}},
            )
        ]

    def metric(points, dims):
        # GetMetricStatistics / ListMetrics: CloudWatch API reference (Datapoint, Metric, Dimension).
        return [
            ("cloudwatch", "get_metric_statistics", {"Label": "GroupInServiceInstances", "Datapoints": points}),
            (
                "cloudwatch",
                "list_metrics",
                {
                    "Metrics": [
                        {"Namespace": "AWS/AutoScaling", "MetricName": "GroupInServiceInstances", "Dimensions": d}
                        for d in dims
                    ]
                },
            ),
        ]

    key_listing = {"StackResourceSummaries": [summary("Key", "1234abcd-12ab-34cd-56ef-1234567890ab", "AWS::KMS::Key")]}

    def key(tags):
        # ListResourceTags: KMS API reference (Tag: TagKey, TagValue).
        return [
            ("cloudformation", "list_stack_resources", key_listing),
            (
                "kms",
                "list_resource_tags",
                {"Tags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()], "Truncated": False},
            ),
        ]

    gid = f"wp-12071200abcd-{'redis-member'}"

    def groups(members, failover="disabled"):
        # DescribeReplicationGroups: ElastiCache API reference (ReplicationGroup.MemberClusters).
        return [
            (
                "elasticache",
                "describe_replication_groups",
                {
                    "ReplicationGroups": [
                        {
                            "ReplicationGroupId": gid,
                            "MemberClusters": members,
                            "AutomaticFailover": failover,
                            "MultiAZ": "enabled" if failover == "enabled" else "disabled",
                            "Status": "available",
                        }
                    ]
                },
            )
        ]

    fo_gid = "wp-12071200abcd-elasticache"

    def failover(statuses, cause=REFUSAL):
        rec = {
            f"step {i + 1}: {'CREATE' if i == 0 else 'UPDATE'} deploy-{i}": step(
                s, cause=cause if i == 1 and "ROLLBACK" in s else None
            )
            for i, s in enumerate(statuses)
        }
        return rec, [
            (
                "elasticache",
                "describe_replication_groups",
                {
                    "ReplicationGroups": [
                        {
                            "ReplicationGroupId": fo_gid,
                            "MemberClusters": [f"{fo_gid}-001", f"{fo_gid}-002"],
                            "AutomaticFailover": "enabled",
                            "MultiAZ": "enabled",
                        }
                    ]
                },
            )
        ]

    def objects(keys):
        # ListObjectsV2: S3 API reference (Object: Key, LastModified, Size).
        return [
            (
                "s3",
                "list_objects_v2",
                {
                    "Contents": [{"Key": k, "LastModified": NOW, "Size": 0} for k in keys],
                    "KeyCount": len(keys),
                    "IsTruncated": False,
                },
            )
        ]

    log_prefix = f"alb/AWSLogs/{ACCOUNT}/"

    def console(hop1, hop2):
        # GetConsoleOutput: EC2 API reference ("Output: the console output, base64-encoded").
        def out(hop, line):
            return (
                "ec2",
                "get_console_output",
                {
                    "InstanceId": f"i-{hop}",
                    "Timestamp": NOW,
                    "Output": base64.b64encode(f"boot...\n{line}\n".encode()).decode(),
                },
            )

        return [out(1, hop1), out(2, hop2)]

    return {
        "nested-stack-policy": {
            HOLDS: (
                {},
                [
                    ("cloudformation", "list_stack_resources", listing),
                    (
                        "cloudformation",
                        "describe_stack_events",
                        {
                            "StackEvents": [
                                event(
                                    "Repository",
                                    "UPDATE_FAILED",
                                    reason="Action denied by stack policy: Statement [#1] has a Deny Effect",
                                )
                            ]
                        },
                    ),
                    ("ecr", "describe_repositories", err("RepositoryNotFoundException")),
                ],
            ),
            FAILS: (
                {},
                [
                    ("cloudformation", "list_stack_resources", listing),
                    (
                        "cloudformation",
                        "describe_stack_events",
                        {"StackEvents": [event("Repository", "UPDATE_COMPLETE")]},
                    ),
                    ("ecr", "describe_repositories", repo),
                ],
            ),
            INCONCLUSIVE: (
                {},
                [
                    ("cloudformation", "list_stack_resources", listing),
                    (
                        "cloudformation",
                        "describe_stack_events",
                        {
                            "StackEvents": [
                                event(
                                    "Repository",
                                    "UPDATE_FAILED",
                                    reason='Resource handler returned message: "Rate exceeded"',
                                )
                            ]
                        },
                    ),
                    ("ecr", "describe_repositories", err("RepositoryNotFoundException")),
                ],
            ),
        },
        "pinned-template-version": {
            HOLDS: (pinned_rec, pinned(child_body)),
            FAILS: (pinned_rec, pinned(other_body)),
            INCONCLUSIVE: (pinned_rec, [("cloudformation", "describe_change_set", change_set(Changes=[]))]),
        },
        "nested-operation-id": {
            HOLDS: (op_before, op_events("op-root", "op-root")),
            FAILS: (op_before, op_events("op-root", "op-child")),
            INCONCLUSIVE: (op_before, op_events("", "")),
        },
        "nested-change-set-delete-async": {
            HOLDS: (
                {"change set": {"Id": CS_ID}},
                [("cloudformation", "describe_change_set", change_set(Status="DELETE_PENDING"))],
            ),
            FAILS: (
                {"change set": {"Id": CS_ID}},
                [("cloudformation", "describe_change_set", change_set(Status="DELETE_COMPLETE"))],
            ),
            # Already gone at the first read: an asynchronous deletion may have finished before it.
            INCONCLUSIVE: (
                {"change set": {"Id": CS_ID}},
                [("cloudformation", "describe_change_set", err("ChangeSetNotFound", "ChangeSet [x] does not exist"))],
            ),
        },
        "outputs-only-change-set": {
            HOLDS: (
                {"DescribeChangeSet outputs only": shaped(aws, "cloudformation", "DescribeChangeSet", change_set())},
                [
                    (
                        "cloudformation",
                        "describe_stacks",
                        {"Stacks": [stack(Outputs=[{"OutputKey": "ParameterName", "OutputValue": "/x/value"}])]},
                    )
                ],
            ),
            FAILS: (
                {
                    "DescribeChangeSet outputs only": shaped(
                        aws,
                        "cloudformation",
                        "DescribeChangeSet",
                        change_set(
                            Status="FAILED",
                            ExecutionStatus="UNAVAILABLE",
                            StatusReason="The submitted information didn't contain changes. "
                            "Submit different information to "
                            "create a change set.",
                        ),
                    )
                },
                [("cloudformation", "describe_stacks", {"Stacks": [stack()]})],
            ),
            INCONCLUSIVE: (
                {"DescribeChangeSet outputs only": shaped(aws, "cloudformation", "DescribeChangeSet", change_set())},
                [("cloudformation", "describe_stacks", {"Stacks": [stack()]})],
            ),
        },
        "execute-deletes-other-change-sets": {
            HOLDS: (
                {
                    "first": {"ChangeSetId": CS_ID},
                    "ListChangeSets before execute": {
                        "Summaries": [{"ChangeSetId": CS_ID}, {"ChangeSetId": CS_ID + "2"}]
                    },
                },
                [("cloudformation", "describe_change_set", err("ChangeSetNotFound"))],
            ),
            FAILS: (
                {
                    "first": {"ChangeSetId": CS_ID},
                    "ListChangeSets before execute": {
                        "Summaries": [{"ChangeSetId": CS_ID}, {"ChangeSetId": CS_ID + "2"}]
                    },
                },
                [("cloudformation", "describe_change_set", change_set())],
            ),
            INCONCLUSIVE: (
                {
                    "first": {"ChangeSetId": CS_ID},
                    "ListChangeSets before execute": {"Summaries": [{"ChangeSetId": CS_ID}]},
                },
                [("cloudformation", "describe_change_set", err("ValidationError", "Stack is in an invalid state"))],
            ),
        },
        "retain-except-on-create": {
            HOLDS: (
                {"step 1: CREATE deploy-1": step("ROLLBACK_COMPLETE")},
                [("ecr", "describe_repositories", err("RepositoryNotFoundException"))],
            ),
            FAILS: ({"step 1: CREATE deploy-1": step("ROLLBACK_COMPLETE")}, [("ecr", "describe_repositories", repo)]),
            INCONCLUSIVE: (
                {"step 1: CREATE deploy-1": step("CREATE_COMPLETE")},
                [("ecr", "describe_repositories", repo)],
            ),
        },
        "nested-change-set-readback": {
            HOLDS: (readback_rec, readback(nested_cs, child_body)),
            FAILS: (readback_rec, readback(nested_cs, child_body, summary_nested=False)),
            INCONCLUSIVE: (
                readback_rec,
                [
                    ("cloudformation", "describe_change_set", change_set(Changes=[])),
                    ("cloudformation", "list_change_sets", {"Summaries": []}),
                ],
            ),
        },
        "empty-parameter-value": {
            HOLDS: (
                {"change set": {"Id": CS_ID}},
                [("cloudformation", "describe_change_set", change_set(Parameters=[{"ParameterKey": "Optional"}]))],
            ),
            FAILS: (
                {"change set": {"Id": CS_ID}},
                [
                    (
                        "cloudformation",
                        "describe_change_set",
                        change_set(Parameters=[{"ParameterKey": "Other", "ParameterValue": "x"}]),
                    )
                ],
            ),
            INCONCLUSIVE: (
                {"change set": {"Id": CS_ID}},
                [("cloudformation", "describe_change_set", err("ChangeSetNotFound"))],
            ),
        },
        "nested-bucket-name": {
            # A root as long as production's (12), production's logical IDs:
            # the uncut name is 77 characters, so CloudFormation cuts it to
            # 63, keeping the root's name whole (the cut here is shaped as
            # generated names are seen cut: the nested stack part shortened).
            HOLDS: (
                {},
                [
                    (
                        "cloudformation",
                        "list_stack_resources",
                        {"StackResourceSummaries": [summary("LoadBalancerStack", SHORT_CHILD_ID)]},
                    ),
                    (
                        "cloudformation",
                        "describe_stacks",
                        {"Stacks": [stack(SHORT_CHILD, SHORT_CHILD_ID, ParentId=SHORT_ID, RootId=SHORT_ID)]},
                    ),
                    (
                        "cloudformation",
                        "list_stack_resources",
                        {
                            "StackResourceSummaries": [
                                summary(
                                    "AccessLogBucket",
                                    "pa1b21207223-loadbalancerst-accesslogbucket-1a2b3c4d5e6f",
                                    "AWS::S3::Bucket",
                                )
                            ]
                        },
                    ),
                ],
            ),
            FAILS: (
                {},
                [
                    (
                        "cloudformation",
                        "list_stack_resources",
                        {"StackResourceSummaries": [summary("LoadBalancerStack", SHORT_CHILD_ID)]},
                    ),
                    (
                        "cloudformation",
                        "describe_stacks",
                        {"Stacks": [stack(SHORT_CHILD, SHORT_CHILD_ID, ParentId=SHORT_ID)]},
                    ),
                    (
                        "cloudformation",
                        "list_stack_resources",
                        {
                            "StackResourceSummaries": [
                                summary(
                                    "AccessLogBucket",
                                    "loadbalancerstack-accesslogbucket-1a2b3c4d5e6f",
                                    "AWS::S3::Bucket",
                                )
                            ]
                        },
                    ),
                ],
            ),
            INCONCLUSIVE: ({}, [("cloudformation", "list_stack_resources", {"StackResourceSummaries": []})]),
        },
        "rds-pg17-force-ssl": {HOLDS: ({}, engine("1")), FAILS: ({}, engine("0")), INCONCLUSIVE: ({}, engine(""))},
        "monitoring-alarm-metric": {
            HOLDS: ({}, metric([{"Timestamp": NOW, "Minimum": 1.0, "Unit": "None"}], [])),
            FAILS: (
                {},
                metric(
                    [],
                    [[{"Name": "AutoScalingGroupName", "Value": "grp"}, {"Name": "InstanceType", "Value": "t3.micro"}]],
                ),
            ),
            INCONCLUSIVE: ({}, metric([], [])),
        },
        "kms-key-tags-service-role": {
            HOLDS: (
                {"step 1: CREATE deploy-1": step("CREATE_COMPLETE")},
                key({"KeyPurpose": "alarm-notifications", "Project": "wealist"}),
            ),
            FAILS: (
                {
                    "step 1: CREATE deploy-1": step(
                        "ROLLBACK_COMPLETE",
                        cause={
                            "Where": "Key",
                            "ResourceStatus": "CREATE_FAILED",
                            "ResourceStatusReason": "Resource handler returned message: "
                            '"User: arn:aws:sts::123456789012:'
                            "assumed-role/wealist-sbx-cfn-role/x is not authorized to perform: "
                            "kms:TagResource (Service: Kms, Status Code: 400) (AccessDeniedException)",
                        },
                    )
                },
                [("cloudformation", "list_stack_resources", {"StackResourceSummaries": []})],
            ),
            INCONCLUSIVE: (
                {
                    "step 1: CREATE deploy-1": step(
                        "ROLLBACK_COMPLETE",
                        cause={
                            "Where": "Key",
                            "ResourceStatus": "CREATE_FAILED",
                            "ResourceStatusReason": "Internal failure",
                        },
                    )
                },
                [("cloudformation", "list_stack_resources", {"StackResourceSummaries": []})],
            ),
        },
        "extra-stack-tag-refused": {
            HOLDS: (
                {
                    "step 1: CREATE deploy-1": step(
                        "ROLLBACK_COMPLETE",
                        cause={
                            "Where": "Key",
                            "ResourceStatus": "CREATE_FAILED",
                            "ResourceStatusReason": "Resource handler returned message: "
                            '"User: arn:aws:sts::123456789012:'
                            "assumed-role/wealist-sbx-cfn-role/x is not authorized to perform: "
                            "kms:TagResource because no identity-based policy allows the "
                            "kms:TagResource action (Service: Kms, Status Code: 400) "
                            '(AccessDeniedException)"',
                        },
                    )
                },
                [],
            ),
            FAILS: ({"step 1: CREATE deploy-1": step("CREATE_COMPLETE")}, []),
            INCONCLUSIVE: (
                {
                    "step 1: CREATE deploy-1": step(
                        "ROLLBACK_COMPLETE",
                        cause={
                            "Where": "Key",
                            "ResourceStatus": "CREATE_FAILED",
                            "ResourceStatusReason": "Internal failure",
                        },
                    )
                },
                [],
            ),
        },
        "redis-member-ids": {
            HOLDS: ({}, groups([f"{gid}-001", f"{gid}-002"])),
            FAILS: ({}, groups([f"{gid}-0001", f"{gid}-0002"])),
            INCONCLUSIVE: ({}, [("elasticache", "describe_replication_groups", err("ReplicationGroupNotFoundFault"))]),
        },
        "elasticache-failover-two-step": {
            HOLDS: failover(["CREATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE"]),
            FAILS: failover(["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE"]),
            INCONCLUSIVE: failover(["ROLLBACK_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE"]),
        },
        "alb-access-log-test-object": {
            HOLDS: (
                {"step 1: CREATE deploy-1": step("CREATE_COMPLETE")},
                objects([log_prefix + "ELBAccessLogTestFile"]),
            ),
            FAILS: (
                {
                    "step 1: CREATE deploy-1": step(
                        "ROLLBACK_COMPLETE",
                        cause={
                            "Where": "LoadBalancer",
                            "ResourceStatus": "CREATE_FAILED",
                            "ResourceStatusReason": "Access Denied for bucket: "
                            "wealist-sbx-proof-x-accesslogbucket-1. Please "
                            "check S3bucket permission",
                        },
                    )
                },
                [],
            ),
            INCONCLUSIVE: ({"step 1: CREATE deploy-1": step("CREATE_COMPLETE")}, objects([])),
        },
        "imds-hop-limit": {
            HOLDS: ({}, console("PROOF-IMDS hop=1 host=yes container=no", "PROOF-IMDS hop=2 host=yes container=yes")),
            FAILS: ({}, console("PROOF-IMDS hop=1 host=yes container=yes", "PROOF-IMDS hop=2 host=yes container=yes")),
            INCONCLUSIVE: ({}, console("cloud-init still running", "PROOF-IMDS hop=2 host=yes container=yes")),
        },
    }


OUTPUTS = {
    "GroupName": "grp",
    "BucketName": "wealist-sbx-proof-x-accesslogbucket-1",
    "TestObjectPrefix": f"alb/AWSLogs/{ACCOUNT}/",
    "Hop1InstanceId": "i-1",
    "Hop2InstanceId": "i-2",
}


@pytest.fixture
def aws() -> Aws:
    a = Aws(REGION, local_credentials=True)
    a.account = ACCOUNT
    return a


def test_every_experiment_has_three_cases(aws):
    assert set(_cases(aws)) == {e.id for e in registry.EXPERIMENTS}


@pytest.mark.parametrize("outcome", [HOLDS, FAILS, INCONCLUSIVE])
@pytest.mark.parametrize("experiment", registry.EXPERIMENTS, ids=lambda e: e.id)
def test_verdict(aws, experiment, outcome):
    """Stubber: the observation's calls answered with the API reference's
    shapes (each one checked against the botocore model), then the verdict."""
    recorded, calls = _cases(aws)[experiment.id][outcome]
    stubbers = {}
    for service, operation, response in calls:
        stub = stubbers.setdefault(service, Stubber(aws.client(service)))
        if isinstance(response, tuple):
            stub.add_client_error(operation, service_error_code=response[1], service_message=response[2])
        else:
            stub.add_response(operation, response)
    for stub in stubbers.values():
        stub.activate()
    try:
        observed = experiment.observe(Ctx(aws, experiment, dict(recorded), OUTPUTS))
        for stub in stubbers.values():
            stub.assert_no_pending_responses()
    finally:
        for stub in stubbers.values():
            stub.deactivate()
    verdict = experiment.verdict({**recorded, **observed})
    assert verdict.outcome == outcome, verdict
    assert verdict.reason
    if outcome != INCONCLUSIVE:
        assert verdict.evidence, "a decided verdict names the responses that decided it"


@pytest.mark.parametrize(
    "statuses,cause,says",
    [
        # Rolled back, but for a reason other than ElastiCache's refusal (a quota, a throttle): not a proof.
        (
            ["CREATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE"],
            {"Where": "Group", "ResourceStatus": "UPDATE_FAILED", "ResourceStatusReason": "Rate exceeded"},
            "not with ElastiCache's refusal",
        ),
        # The one-step switch's rollback itself failed: step 2 is named, not the two-step switch.
        (["CREATE_COMPLETE", "UPDATE_ROLLBACK_FAILED"], REFUSAL, "step 2, the one-step switch"),
    ],
)
def test_failover_verdict_needs_the_documented_refusal(statuses, cause, says):
    """The recorded steps, shaped as the runner records them (API_Stack.html
    StackStatus, API_StackEvent.html ResourceStatusReason): only the refusal
    ElastiCache gives (cloudformation-coverage-roadmap #383) proves the
    one-step switch is refused; anything else is inconclusive and says
    which step."""
    exp = registry.ALL["elasticache-failover-two-step"]
    rec = {f"step {i + 1}: x": step(st, cause=cause if i == 1 else None) for i, st in enumerate(statuses)}
    verdict = exp.verdict({**rec, "DescribeReplicationGroups": {"ReplicationGroups": [{}]}})
    assert verdict.outcome == INCONCLUSIVE and says in verdict.reason, verdict


@pytest.mark.parametrize(
    "docker",
    [
        'case "$1" in pull|image) exit 1;; esac; exit 0',  # the image never arrived
        'case "$1" in run) exit 125;; esac; exit 0',  # docker run itself failed
        'case "$1" in run) exit 127;; esac; exit 0',  # no curl (or no sh) in the image
    ],
)
def test_imds_user_data_marks_a_container_that_could_not_run(tmp_path, docker):
    """The instances' user data, run by bash here with stand-ins for dnf,
    systemctl, sleep, curl (IMDS answers) and docker (failing as docker run
    does: 125 when docker itself fails, 126/127 when the command cannot run,
    docker-run reference, exit status). A container that could not ask
    prints container=broken, never container=no, and the verdict is then
    inconclusive, not FAILS."""
    import subprocess

    from wealist_cfn.prove import services

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (
        ("dnf", "exit 0"),
        ("systemctl", "exit 0"),
        ("sleep", "exit 0"),
        ("curl", "exit 0"),
        ("docker", docker),
    ):
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    console = tmp_path / "console"
    script = services._USER_DATA.replace("${Hop}", "1").replace("/dev/console", str(console))
    subprocess.run(["bash", "-c", script], env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, check=True, timeout=30)
    line = console.read_text().strip()
    assert line == "PROOF-IMDS hop=1 host=yes container=broken", line
    out = {f"GetConsoleOutput hop {h}": {"Output": line.replace("hop=1", f"hop={h}")} for h in (1, 2)}
    verdict = registry.ALL["imds-hop-limit"].verdict(out)
    assert verdict.outcome == INCONCLUSIVE and "could not be run" in verdict.reason
