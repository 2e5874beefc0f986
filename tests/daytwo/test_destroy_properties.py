"""What ``destroy`` tells an operator and what it asks AWS to do, case by case.

Stand-in: in-process fakes of the CloudFormation, RDS, ELBv2, ECR, S3,
ElastiCache and CloudWatch Logs clients that record every call and answer in
the shapes of the API references (DescribeStacks' Stack with
EnableTerminationProtection; ListStackResources' StackResourceSummary;
GetTemplate's TemplateBody, which botocore hands over decoded when it is
JSON; DescribeDBInstances' DeletionProtection; DescribeLoadBalancerAttributes'
``deletion_protection.enabled`` with the value as the string "true"/"false";
ListImages' imageIds; DescribeLogGroups' logGroupName, filtered by prefix
only; DescribeDBSnapshots' DBSnapshotIdentifier; ElastiCache
DescribeSnapshots' SnapshotName), raising botocore's ClientError with the
codes AWS documents. They stand in for moto (which deletes at once and has no
termination protection) and for botocore's Stubber (which is exact about call
order, where ``plan`` reads the stacks on a thread pool), and they keep a
case to milliseconds so the mutation run of destroy.py can use them.

The real rules these cases rely on:
- Retain and RetainExceptOnCreate keep the resource when the stack is
  deleted; Snapshot deletes it after a final snapshot, for the types that
  support snapshots (AWS::RDS::DBInstance, AWS::ElastiCache::CacheCluster,
  AWS::ElastiCache::ReplicationGroup); Delete is the default
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html).
- A DB instance with DeletionProtection cannot be deleted
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html),
  nor a load balancer whose ``deletion_protection.enabled`` is "true"
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerAttribute.html),
  nor a stack with termination protection
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateTerminationProtection.html).
- DescribeDBInstances of a missing instance fails with DBInstanceNotFound
  (DBInstanceNotFoundFault in the API reference's error list); ELBv2 with
  LoadBalancerNotFound; DescribeStacks of a deleted stack with a message
  "Stack with id ... does not exist".
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from wealist_cfn.daytwo import destroy
from wealist_cfn.errors import EXIT_FAILED, CommandError

ROOT_ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-dev/1111"
DB_ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-dev-DatabaseStack-1/2222"
LB_ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-dev-LoadBalancerStack-1/3333"
LB_ARN = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/wealist-dev/abc"


def client_error(code: str, message: str, op: str = "Operation") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, op)


def summary(lid: str, rtype: str, pid: str | None, status: str = "CREATE_COMPLETE") -> dict:
    out = {"LogicalResourceId": lid, "ResourceType": rtype, "ResourceStatus": status}
    if pid is not None:
        out["PhysicalResourceId"] = pid
    return out


class Pages:
    def __init__(self, pages, error=None, expect=None):
        self.pages, self.error, self.expect = pages, error, expect
        self.kwargs = []

    def paginate(self, **kw):
        self.kwargs.append(kw)
        if self.expect is not None:
            assert kw == self.expect, kw
        if self.error:
            raise self.error
        return iter(self.pages(kw) if callable(self.pages) else self.pages)


class Fake:
    """A client: ``answers`` maps an operation to a value, an exception to
    raise, or a function of the call's arguments; every call is recorded."""

    def __init__(self, calls: list, service: str, answers: dict | None = None, pages: dict | None = None):
        self._calls, self._service = calls, service
        self._answers, self._pages = answers or {}, pages or {}

    def get_paginator(self, name):
        return self._pages[name]

    def __getattr__(self, op):
        if op.startswith("_"):
            raise AttributeError(op)

        def call(**kw):
            self._calls.append((self._service, op, kw))
            a = self._answers.get(op)
            if callable(a) and not isinstance(a, BaseException):
                a = a(**kw)
            if isinstance(a, BaseException):
                raise a
            if a is None:
                raise AssertionError(f"{self._service}.{op} was not expected: {kw}")
            return a

        return call


class FakeAws:
    def __init__(self, cfn=None, **clients):
        self.calls: list = []
        self.cfn = Fake(self.calls, "cloudformation", **(cfn or {}))
        self._clients = {k: Fake(self.calls, k, **v) for k, v in clients.items()}

    def client(self, name):
        return self._clients[name]

    def made(self, service=None, op=None):
        return [(s, o, kw) for s, o, kw in self.calls if (service is None or s == service) and (op is None or o == op)]


def _tree_aws(root_extra=None, params=None, resources=None, templates=None, **clients) -> FakeAws:
    """A deployed root with two nested stacks; ``resources`` and
    ``templates`` by nested path ("" is the root)."""
    root = {
        "StackName": "wealist-dev",
        "StackId": ROOT_ID,
        "StackStatus": "UPDATE_COMPLETE",
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (params or {}).items()],
        **(root_extra or {}),
    }
    ids = {"": ROOT_ID, "DatabaseStack": DB_ID, "LoadBalancerStack": LB_ID}
    by_id = {sid: path for path, sid in ids.items()}
    resources = resources or {}
    listed = {
        "": [
            summary("DatabaseStack", "AWS::CloudFormation::Stack", DB_ID),
            summary("LoadBalancerStack", "AWS::CloudFormation::Stack", LB_ID),
            *resources.get("", []),
        ],
        "DatabaseStack": resources.get("DatabaseStack", []),
        "LoadBalancerStack": resources.get("LoadBalancerStack", []),
    }
    templates = templates or {}
    return FakeAws(
        cfn={
            "answers": {
                "describe_stacks": lambda StackName: {"Stacks": [root]},  # noqa: N803 - boto3's names
                "get_template": lambda StackName, TemplateStage: {  # noqa: N803
                    "TemplateBody": templates.get(by_id[StackName], {"Resources": {}})
                },
            },
            "pages": {
                "list_stack_resources": Pages(lambda kw: [{"StackResourceSummaries": listed[by_id[kw["StackName"]]]}])
            },
        },
        **clients,
    )


# -- plan: what goes, what stays ---------------------------------------------------------------------


def test_the_plan_names_every_nested_stack_but_not_the_root_and_never_lists_a_stack_as_deleted():
    aws = _tree_aws()
    p = destroy.plan(aws, "wealist-dev")
    assert (p.stack_name, p.stack_id, p.status) == ("wealist-dev", ROOT_ID, "UPDATE_COMPLETE")
    assert p.nested == {"DatabaseStack": DB_ID, "LoadBalancerStack": LB_ID}
    assert p.deleted == [] and p.kept == [] and p.protections == []
    assert not aws.made("cloudformation", "delete_stack")


def test_retain_and_retain_except_on_create_are_kept_by_kind_and_everything_else_is_deleted():
    res = {
        "DatabaseStack": [
            summary("Repo", "AWS::ECR::Repository", "user-service"),
            summary("Logs", "AWS::S3::Bucket", "wealist-dev-logs"),
            summary("Flow", "AWS::Logs::LogGroup", "/wealist/dev/flow"),
            summary("Key", "AWS::KMS::Key", "key-1"),
            summary("Queue", "AWS::SQS::Queue", "q-1"),
            summary("Topic", "AWS::SNS::Topic", "t-1"),
        ]
    }
    tpl = {
        "DatabaseStack": {
            "Resources": {
                "Repo": {"DeletionPolicy": "Retain"},
                "Logs": {"DeletionPolicy": "RetainExceptOnCreate"},
                "Flow": {"DeletionPolicy": "Retain"},
                "Key": {"DeletionPolicy": "Retain"},
                "Queue": {"DeletionPolicy": "Delete"},
                "Topic": {},
            }
        }
    }
    aws = _tree_aws(
        resources=res,
        templates=tpl,
        ecr={
            "pages": {
                "list_images": Pages(
                    [
                        {"imageIds": [{"imageDigest": "a"}, {"imageDigest": "b"}]},
                        {"imageIds": [{"imageDigest": "c"}]},
                        {},
                    ],
                    expect={"repositoryName": "user-service"},
                )
            }
        },
    )
    p = destroy.plan(aws, "wealist-dev")
    assert [(k.kind, k.what, k.physical_id, k.note) for k in p.kept] == [
        ("ecr", "DatabaseStack/Repo (AWS::ECR::Repository)", "user-service", "3 image(s) kept"),
        ("bucket", "DatabaseStack/Logs (AWS::S3::Bucket)", "wealist-dev-logs", ""),
        ("log-group", "DatabaseStack/Flow (AWS::Logs::LogGroup)", "/wealist/dev/flow", ""),
        ("retained", "DatabaseStack/Key (AWS::KMS::Key)", "key-1", ""),
    ]
    assert p.deleted == [
        ("DatabaseStack/Queue", "AWS::SQS::Queue", "q-1"),
        ("DatabaseStack/Topic", "AWS::SNS::Topic", "t-1"),
    ]


def test_a_kept_repository_whose_images_cannot_be_listed_has_no_count_rather_than_a_wrong_one():
    res = {"": [summary("Repo", "AWS::ECR::Repository", "user-service")]}
    tpl = {"": {"Resources": {"Repo": {"DeletionPolicy": "Retain"}}}}
    aws = _tree_aws(
        resources=res,
        templates=tpl,
        ecr={"pages": {"list_images": Pages([], error=client_error("AccessDeniedException", "no"))}},
    )
    [k] = destroy.plan(aws, "wealist-dev").kept
    assert (k.kind, k.what, k.note) == ("ecr", "Repo (AWS::ECR::Repository)", "")


def test_an_empty_repository_is_said_to_keep_zero_images():
    res = {"": [summary("Repo", "AWS::ECR::Repository", "user-service")]}
    tpl = {"": {"Resources": {"Repo": {"DeletionPolicy": "Retain"}}}}
    aws = _tree_aws(resources=res, templates=tpl, ecr={"pages": {"list_images": Pages([{"imageIds": []}, {}])}})
    [k] = destroy.plan(aws, "wealist-dev").kept
    assert k.note == "0 image(s) kept"


def test_skipped_rows_nested_stacks_already_deleted_rows_and_rows_without_a_logical_id():
    res = {
        "DatabaseStack": [
            summary("Gone", "AWS::SQS::Queue", "q-gone", status="DELETE_COMPLETE"),
            summary("", "AWS::SQS::Queue", "q-anon"),
            summary("NoId", "AWS::SQS::Queue", None),
            summary("EmptyId", "AWS::SQS::Queue", ""),
        ]
    }
    # A template without Resources, or none at all for a path, deletes by default.
    aws = _tree_aws(resources=res, templates={"DatabaseStack": {"Resources": None}})
    p = destroy.plan(aws, "wealist-dev")
    assert p.deleted == [
        ("DatabaseStack/NoId", "AWS::SQS::Queue", ""),
        ("DatabaseStack/EmptyId", "AWS::SQS::Queue", ""),
    ]


def test_snapshot_deletes_the_resource_and_keeps_a_final_snapshot_only_for_the_types_that_take_one():
    res = {
        "DatabaseStack": [
            summary("Database", "AWS::RDS::DBInstance", "wealist-dev-db"),
            summary("Redis", "AWS::ElastiCache::ReplicationGroup", "wealist-dev-redis"),
            summary("Memcached", "AWS::ElastiCache::CacheCluster", "wealist-dev-mc"),
            summary("Volume", "AWS::EC2::Volume", "vol-1"),
        ]
    }
    tpl = {
        "DatabaseStack": {
            "Resources": {k: {"DeletionPolicy": "Snapshot"} for k in ("Database", "Redis", "Memcached", "Volume")}
        }
    }
    aws = _tree_aws(
        resources=res,
        templates=tpl,
        rds={"answers": {"describe_db_instances": {"DBInstances": [{"DeletionProtection": False}]}}},
    )
    p = destroy.plan(aws, "wealist-dev")
    assert [w for w, _, _ in p.deleted] == [
        "DatabaseStack/Database",
        "DatabaseStack/Redis",
        "DatabaseStack/Memcached",
        "DatabaseStack/Volume",
    ]
    assert [(k.kind, k.what, k.physical_id) for k in p.kept] == [
        ("snapshot", "final snapshot of the database DatabaseStack/Database", "wealist-dev-db"),
        ("snapshot", "final snapshot of the cache DatabaseStack/Redis", "wealist-dev-redis"),
        ("snapshot", "final snapshot of the cache DatabaseStack/Memcached", "wealist-dev-mc"),
    ]
    # The snapshot's name is not known before the deletion: the note says so
    # and when it will be known.
    assert {k.note for k in p.kept} == {
        "CloudFormation names it when it deletes the resource; the name is listed when the deletion ends"
    }
    assert p.protections == []


def _protected_aws(db_answer, lb_answer, root_extra=None):
    res = {
        "DatabaseStack": [summary("Database", "AWS::RDS::DBInstance", "wealist-dev-db")],
        "LoadBalancerStack": [summary("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", LB_ARN)],
    }
    return _tree_aws(
        root_extra=root_extra,
        resources=res,
        rds={"answers": {"describe_db_instances": db_answer}},
        elbv2={"answers": {"describe_load_balancer_attributes": lb_answer}},
    )


def test_protections_are_read_from_each_service_and_named_where_they_are():
    aws = _protected_aws(
        {"DBInstances": [{"DeletionProtection": True}]},
        {
            "Attributes": [
                {"Key": "idle_timeout.timeout_seconds", "Value": "60"},
                {"Key": "deletion_protection.enabled", "Value": "true"},
            ]
        },
        root_extra={"EnableTerminationProtection": True},
    )
    p = destroy.plan(aws, "wealist-dev")
    assert [(x.kind, x.where, x.physical_id) for x in p.protections] == [
        ("termination", "root stack", "wealist-dev"),
        ("database", "DatabaseStack/Database", "wealist-dev-db"),
        ("load-balancer", "LoadBalancerStack/LoadBalancer", LB_ARN),
    ]
    assert aws.made("rds", "describe_db_instances") == [
        ("rds", "describe_db_instances", {"DBInstanceIdentifier": "wealist-dev-db"})
    ]
    assert aws.made("elbv2", "describe_load_balancer_attributes") == [
        ("elbv2", "describe_load_balancer_attributes", {"LoadBalancerArn": LB_ARN})
    ]


@pytest.mark.parametrize(
    "db_answer, lb_answer",
    [
        (
            {"DBInstances": [{"DeletionProtection": False}]},
            {"Attributes": [{"Key": "deletion_protection.enabled", "Value": "false"}]},
        ),
        (
            {"DBInstances": [{}]},  # DeletionProtection left out of the answer
            {"Attributes": [{"Key": "routing.http2.enabled", "Value": "true"}]},
        ),  # "true", but another attribute
        ({"DBInstances": []}, {"Attributes": []}),
        (
            client_error("DBInstanceNotFound", "DBInstance wealist-dev-db not found."),
            client_error("LoadBalancerNotFound", "One or more load balancers not found"),
        ),
    ],
    ids=["off", "other-attribute", "empty", "unreadable"],
)
def test_no_protection_is_reported_where_none_is_on_or_none_can_be_read(db_answer, lb_answer):
    aws = _protected_aws(db_answer, lb_answer, root_extra={"EnableTerminationProtection": False})
    assert destroy.plan(aws, "wealist-dev").protections == []


def test_log_groups_under_the_prefix_that_the_stack_does_not_own_are_kept_and_its_own_are_not_listed_twice():
    res = {
        "DatabaseStack": [
            summary("Boot", "AWS::Logs::LogGroup", "/wealist/dev/boot"),
            summary("Flow", "AWS::Logs::LogGroup", "/wealist/dev/flow"),
        ]
    }
    tpl = {"DatabaseStack": {"Resources": {"Flow": {"DeletionPolicy": "Retain"}}}}
    groups = Pages(
        [
            {
                "logGroups": [
                    {"logGroupName": "/wealist/dev/boot"},
                    {"logGroupName": "/wealist/dev/flow"},
                    {"logGroupName": "/wealist/dev/by-hand"},
                ]
            },
            {"logGroups": [{"logGroupName": "/wealist/dev/old-release"}]},
        ],
        expect={"logGroupNamePrefix": "/wealist/dev/"},
    )
    aws = _tree_aws(
        params={"Project": "wealist", "Environment": "dev", "DeployBucketName": "wealist-deploy"},
        resources=res,
        templates=tpl,
        logs={"pages": {"describe_log_groups": groups}},
    )
    p = destroy.plan(aws, "wealist-dev")
    assert [(k.kind, k.what, k.physical_id) for k in p.kept] == [
        ("log-group", "DatabaseStack/Flow (AWS::Logs::LogGroup)", "/wealist/dev/flow"),
        ("log-group", "log group (not owned by the stack)", "/wealist/dev/by-hand"),
        ("log-group", "log group (not owned by the stack)", "/wealist/dev/old-release"),
        ("bucket", "deploy bucket (not owned by the stack)", "wealist-deploy"),
    ]
    assert p.deleted == [("DatabaseStack/Boot", "AWS::Logs::LogGroup", "/wealist/dev/boot")]


@pytest.mark.parametrize(
    "params", [{"Project": "wealist"}, {"Environment": "dev"}, {"Project": "", "Environment": "dev"}]
)
def test_without_both_project_and_environment_no_log_group_is_looked_up(params):
    aws = _tree_aws(params=params)
    assert destroy.plan(aws, "wealist-dev").kept == []
    assert aws.made("logs") == []


def test_log_groups_that_cannot_be_listed_leave_the_plan_whole():
    aws = _tree_aws(
        params={"Project": "wealist", "Environment": "dev", "DeployBucketName": "wealist-deploy"},
        logs={"pages": {"describe_log_groups": Pages([], error=client_error("AccessDenied", "no"))}},
    )
    assert [(k.kind, k.physical_id) for k in destroy.plan(aws, "wealist-dev").kept] == [("bucket", "wealist-deploy")]


def test_a_deploy_bucket_parameter_left_empty_keeps_no_bucket():
    res = {"": [summary("Queue", "AWS::SQS::Queue", "q-1")]}
    aws = _tree_aws(root_extra={"Parameters": [{"ParameterKey": "DeployBucketName"}]}, resources=res)
    p = destroy.plan(aws, "wealist-dev")
    assert p.kept == [] and p.deleted == [("Queue", "AWS::SQS::Queue", "q-1")]


# -- production -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, production",
    [
        ("wealist-prod", True),
        ("wealist-prod-blue", True),
        ("wealist-production", False),
        ("wealist-prodx", False),
        ("wealist-dev", False),
        ("xwealist-prod", False),
    ],
)
def test_production_is_the_prod_prefix_itself_or_a_dash_after_it(name, production):
    assert destroy.production_prefix() == "wealist-prod"
    assert destroy.is_production(name) is production


def test_without_a_readable_prod_parameter_file_nothing_is_production(monkeypatch, tmp_path):
    monkeypatch.setattr(destroy, "PARAMS_DIR", tmp_path)
    assert destroy.production_prefix() is None
    assert destroy.is_production("wealist-prod") is False
    (tmp_path / "prod.json").write_text("not json")
    assert destroy.production_prefix() is None


# -- turning protections off and back on ------------------------------------------------------------


def _plan(*protections):
    return destroy.DestroyPlan("wealist-dev", ROOT_ID, "UPDATE_COMPLETE", protections=list(protections))


TERM = destroy.Protection("termination", "root stack", "wealist-dev")
DB = destroy.Protection("database", "DatabaseStack/Database", "wealist-dev-db")
LB = destroy.Protection("load-balancer", "LoadBalancerStack/LoadBalancer", LB_ARN)


def _switch_aws(**errors):
    ok = {"StackId": ROOT_ID}
    return FakeAws(
        cfn={"answers": {"update_termination_protection": errors.get("cfn", ok)}},
        rds={"answers": {"modify_db_instance": errors.get("rds", {"DBInstance": {}})}},
        elbv2={"answers": {"modify_load_balancer_attributes": errors.get("elbv2", {"Attributes": []})}},
    )


def test_turning_off_asks_each_service_to_switch_its_own_protection_off():
    aws = _switch_aws()
    lines = destroy.disable_protections(aws, _plan(TERM, DB, LB))
    assert lines == [
        "termination protection of root stack turned off",
        "database protection of DatabaseStack/Database turned off",
        "load-balancer protection of LoadBalancerStack/LoadBalancer turned off",
    ]
    assert [(s, o, kw) for s, o, kw in aws.calls] == [
        (
            "cloudformation",
            "update_termination_protection",
            {"StackName": ROOT_ID, "EnableTerminationProtection": False},
        ),
        (
            "rds",
            "modify_db_instance",
            {"DBInstanceIdentifier": "wealist-dev-db", "DeletionProtection": False, "ApplyImmediately": True},
        ),
        (
            "elbv2",
            "modify_load_balancer_attributes",
            {"LoadBalancerArn": LB_ARN, "Attributes": [{"Key": "deletion_protection.enabled", "Value": "false"}]},
        ),
    ]


def test_a_plan_without_protections_turns_nothing_off():
    aws = _switch_aws()
    assert destroy.disable_protections(aws, _plan()) == [] and aws.calls == []


def test_switching_back_on_asks_each_service_to_switch_its_own_protection_on():
    aws = _switch_aws()
    lines = destroy.restore_protections(aws, _plan(TERM, DB, LB), [TERM, DB, LB])
    assert lines == [
        "termination protection of root stack switched back on",
        "database protection of DatabaseStack/Database switched back on",
        "load-balancer protection of LoadBalancerStack/LoadBalancer switched back on",
    ]
    assert [kw for _, _, kw in aws.calls] == [
        {"StackName": ROOT_ID, "EnableTerminationProtection": True},
        {"DBInstanceIdentifier": "wealist-dev-db", "DeletionProtection": True, "ApplyImmediately": True},
        {"LoadBalancerArn": LB_ARN, "Attributes": [{"Key": "deletion_protection.enabled", "Value": "true"}]},
    ]


def test_the_first_turn_off_refused_leaves_nothing_to_put_back_and_says_nothing_was_deleted():
    aws = _switch_aws(cfn=client_error("AccessDenied", "not allowed to update termination protection"))
    with pytest.raises(CommandError) as err:
        destroy.disable_protections(aws, _plan(TERM, DB))
    assert str(err.value) == (
        "turning off termination protection of root stack: not allowed to update termination protection"
    )
    assert err.value.details == ("nothing was deleted",)
    assert len(aws.calls) == 1  # the database's protection is never touched


@pytest.mark.parametrize(
    "error",
    [
        client_error("DBInstanceNotFound", "DBInstance wealist-dev-db not found."),
        client_error("DBInstanceNotFoundFault", "gone"),
        client_error("LoadBalancerNotFound", "gone"),
        client_error("ValidationError", "Stack with id wealist-dev does not exist"),
    ],
    ids=["DBInstanceNotFound", "DBInstanceNotFoundFault", "LoadBalancerNotFound", "does-not-exist"],
)
def test_a_resource_already_deleted_is_said_to_be_gone_and_the_rest_are_still_put_back(error):
    aws = _switch_aws(rds=error)
    lines = destroy.restore_protections(aws, _plan(DB, LB), [DB, LB])
    assert lines == [
        "database protection of DatabaseStack/Database: the resource is already deleted",
        "load-balancer protection of LoadBalancerStack/LoadBalancer switched back on",
    ]


@pytest.mark.parametrize(
    "kind, protection, command",
    [
        (
            "rds",
            DB,
            "aws rds modify-db-instance --db-instance-identifier wealist-dev-db --deletion-protection "
            "--apply-immediately",
        ),
        (
            "elbv2",
            LB,
            f"aws elbv2 modify-load-balancer-attributes --load-balancer-arn {LB_ARN} "
            f"--attributes Key=deletion_protection.enabled,Value=true",
        ),
        (
            "cfn",
            TERM,
            f"aws cloudformation update-termination-protection --stack-name {ROOT_ID} --enable-termination-protection",
        ),
    ],
)
def test_a_protection_still_off_is_named_with_the_reason_and_the_command_that_puts_it_back(kind, protection, command):
    aws = _switch_aws(**{kind: client_error("Throttling", "Rate exceeded")})
    others = [x for x in (TERM, DB, LB) if x is not protection]
    lines = destroy.restore_protections(aws, _plan(protection, *others), [protection, *others])
    assert (
        lines[0] == f"{protection.kind} protection of {protection.where} is still OFF (Rate exceeded); "
        f"put it back: {command}"
    )
    # the ones after it are still put back
    assert lines[1:] == [f"{x.kind} protection of {x.where} switched back on" for x in others]
    assert destroy.restore_command(protection, ROOT_ID) == command


def test_an_unexpected_error_while_putting_back_never_hides_the_rest():
    aws = _switch_aws(rds=ConnectionResetError("reset"))
    lines = destroy.restore_protections(aws, _plan(DB, LB), [DB, LB])
    assert lines == [
        "database protection of DatabaseStack/Database is still OFF (ConnectionResetError); put it back: "
        "aws rds modify-db-instance --db-instance-identifier wealist-dev-db --deletion-protection "
        "--apply-immediately",
        "load-balancer protection of LoadBalancerStack/LoadBalancer switched back on",
    ]


def test_an_unexpected_error_on_the_stack_names_the_stack_by_its_id_in_the_command():
    aws = _switch_aws(cfn=ConnectionResetError("reset"))
    [line] = destroy.restore_protections(aws, _plan(TERM), [TERM])
    assert line == (
        "termination protection of root stack is still OFF (ConnectionResetError); put it back: "
        f"aws cloudformation update-termination-protection --stack-name {ROOT_ID} "
        "--enable-termination-protection"
    )


def test_a_turn_off_refused_half_way_puts_back_exactly_the_ones_already_off():
    aws = _switch_aws(elbv2=client_error("AccessDenied", "not allowed"))
    with pytest.raises(CommandError) as err:
        destroy.disable_protections(aws, _plan(TERM, DB, LB))
    assert str(err.value) == "turning off load-balancer protection of LoadBalancerStack/LoadBalancer: not allowed"
    assert err.value.details == (
        "nothing was deleted",
        "termination protection of root stack switched back on",
        "database protection of DatabaseStack/Database switched back on",
    )
    assert [
        (s, kw.get("EnableTerminationProtection", kw.get("DeletionProtection")))
        for s, _, kw in aws.calls
        if s != "elbv2"
    ] == [("cloudformation", False), ("rds", False), ("cloudformation", True), ("rds", True)]


def test_only_what_this_run_turned_off_is_put_back():
    aws = _switch_aws()
    assert destroy.restore_protections(aws, _plan(TERM, DB, LB), [DB]) == [
        "database protection of DatabaseStack/Database switched back on"
    ]
    assert [s for s, _, _ in aws.calls] == ["rds"]


# -- the deletion and its wait ----------------------------------------------------------------------


def _deleting(statuses, delete_answer=None, nested_answer=None):
    """DeleteStack, then DescribeStacks of the root answering ``statuses``
    in turn (a status, or an exception to raise)."""
    seq = iter(statuses)

    def describe(StackName):  # noqa: N803 - boto3's name
        if StackName != ROOT_ID:
            a = nested_answer(StackName) if nested_answer else {"Stacks": [{"StackStatus": "DELETE_IN_PROGRESS"}]}
            if isinstance(a, BaseException):
                raise a
            return a
        s = next(seq)
        if isinstance(s, BaseException):
            raise s
        return {"Stacks": [{"StackStatus": s[0], **({"StackStatusReason": s[1]} if len(s) > 1 else {})}]}

    return FakeAws(cfn={"answers": {"delete_stack": delete_answer or {}, "describe_stacks": describe}})


def _dplan(nested=None):
    return destroy.DestroyPlan("wealist-dev", ROOT_ID, "UPDATE_COMPLETE", nested=nested or {})


def test_delete_stack_is_asked_of_the_root_by_its_id_and_a_refusal_is_one_line_naming_the_stack():
    aws = _deleting([], delete_answer=client_error("ValidationError", "Stack is protected"))
    with pytest.raises(CommandError) as err:
        list(destroy.delete(aws, _dplan(), sleep=lambda s: None))
    assert str(err.value) == "DeleteStack wealist-dev: Stack is protected"
    assert aws.made("cloudformation", "delete_stack") == [("cloudformation", "delete_stack", {"StackName": ROOT_ID})]
    assert not aws.made("cloudformation", "describe_stacks")


def test_a_root_that_no_longer_exists_is_deleted():
    aws = _deleting([client_error("ValidationError", f"Stack with id {ROOT_ID} does not exist")])
    assert list(destroy.delete(aws, _dplan(), sleep=lambda s: pytest.fail("no wait when it is gone"))) == []


def test_a_describe_that_fails_for_another_reason_stops_the_wait_with_the_stack_named():
    aws = _deleting([("DELETE_IN_PROGRESS",), client_error("Throttling", "Rate exceeded")])
    with pytest.raises(CommandError) as err:
        list(destroy.delete(aws, _dplan(), sleep=lambda s: None))
    assert str(err.value) == "DescribeStacks wealist-dev: Rate exceeded"
    assert not isinstance(err.value, destroy.DeleteFailed)


def test_delete_failed_exits_failed_with_the_reason_and_where_to_look():
    aws = _deleting([("DELETE_FAILED", "The following resource(s) failed to delete: [Database].")])
    with pytest.raises(destroy.DeleteFailed) as err:
        list(destroy.delete(aws, _dplan(), sleep=lambda s: None))
    assert err.value.exit_code == EXIT_FAILED
    assert str(err.value) == "deleting wealist-dev failed: The following resource(s) failed to delete: [Database]."
    assert err.value.details == (
        "see `python build.py events --stack-name wealist-dev --since 1h` for the resource that failed",
    )


def test_delete_failed_without_a_reason_still_says_it_failed():
    aws = _deleting([("DELETE_FAILED",)])
    with pytest.raises(destroy.DeleteFailed) as err:
        list(destroy.delete(aws, _dplan(), sleep=lambda s: None))
    assert str(err.value) == "deleting wealist-dev failed: "


def test_the_wait_is_bounded_and_says_the_deletion_goes_on():
    slept = []
    aws = _deleting([("DELETE_IN_PROGRESS",)] * 10)
    with pytest.raises(CommandError) as err:
        list(destroy.delete(aws, _dplan(), sleep=slept.append, interval=7.0, timeout=14.0))
    assert str(err.value) == "wealist-dev still DELETE_IN_PROGRESS after 14s; the deletion goes on in AWS"
    assert slept == [7.0, 7.0]


def test_progress_counts_nested_stacks_deleted_or_gone_and_not_those_still_there():
    nested = {"A": "id-a", "B": "id-b", "C": "id-c", "D": "id-d", "E": "id-e"}

    def child(sid):
        return {
            "id-a": {"Stacks": [{"StackStatus": "DELETE_COMPLETE"}]},
            "id-b": client_error("ValidationError", "Stack with id id-b does not exist"),
            "id-c": client_error("Throttling", "Rate exceeded"),
            "id-d": {"Stacks": [{"StackStatus": "DELETE_IN_PROGRESS"}]},
            "id-e": client_error("ValidationError", "Stack with id id-e does not exist"),
        }[sid]

    aws = _deleting([("DELETE_IN_PROGRESS",), ("DELETE_COMPLETE",)], nested_answer=child)
    waits = list(destroy.delete(aws, _dplan(nested), sleep=lambda s: None, interval=5.0))
    assert [(w.status, w.waited, w.nested_done, w.nested_total) for w in waits] == [("DELETE_IN_PROGRESS", 0.0, 3, 5)]


def test_the_default_wait_is_ten_seconds_between_looks():
    slept = []
    aws = _deleting([("DELETE_IN_PROGRESS",), ("DELETE_IN_PROGRESS",), ("DELETE_COMPLETE",)])
    waits = list(destroy.delete(aws, _dplan(), sleep=slept.append))
    assert slept == [10.0, 10.0] and [w.waited for w in waits] == [0.0, 10.0]


# -- what remains -----------------------------------------------------------------------------------


def test_what_remains_names_the_final_snapshots_found_and_says_when_none_is():
    kept = [
        destroy.Kept("bucket", "deploy bucket (not owned by the stack)", "wealist-deploy"),
        destroy.Kept("snapshot", "final snapshot of the database DatabaseStack/Database", "wealist-dev-db"),
        destroy.Kept("snapshot", "final snapshot of the cache CacheStack/Redis", "wealist-dev-redis"),
        destroy.Kept("snapshot", "final snapshot of the cache CacheStack/Other", "wealist-dev-other"),
        destroy.Kept("snapshot", "final snapshot of the database DatabaseStack/Old", "wealist-dev-old"),
    ]

    def db_snaps(DBInstanceIdentifier, SnapshotType):  # noqa: N803 - boto3's names
        assert SnapshotType == "manual"  # CloudFormation's final snapshot is a manual one
        if DBInstanceIdentifier == "wealist-dev-old":
            raise client_error("AccessDenied", "no")
        return {"DBSnapshots": [{"DBSnapshotIdentifier": "final-1"}, {"DBSnapshotIdentifier": "final-2"}]}

    def cache_snaps(ReplicationGroupId):  # noqa: N803
        return {"Snapshots": [{"SnapshotName": "redis-final"}]} if ReplicationGroupId == "wealist-dev-redis" else {}

    aws = FakeAws(
        rds={"answers": {"describe_db_snapshots": db_snaps}},
        elasticache={"answers": {"describe_snapshots": cache_snaps}},
    )
    left = destroy.remaining(aws, _dplan())
    assert left == []  # the plan kept nothing
    p = _dplan()
    p.kept = kept
    assert [(k.kind, k.what, k.physical_id, k.note) for k in destroy.remaining(aws, p)] == [
        ("bucket", "deploy bucket (not owned by the stack)", "wealist-deploy", ""),
        ("snapshot", kept[1].what, "wealist-dev-db", "snapshot final-1, final-2"),
        ("snapshot", kept[2].what, "wealist-dev-redis", "snapshot redis-final"),
        ("snapshot", kept[3].what, "wealist-dev-other", "no final snapshot found"),
        ("snapshot", kept[4].what, "wealist-dev-old", "no final snapshot found"),
    ]


# -- what it costs ----------------------------------------------------------------------------------


class _Price:
    def __init__(self, usd, read="2026-11-01"):
        self.usd, self.read = usd, read


def test_each_kept_item_is_measured_by_its_own_stored_size(monkeypatch):
    from wealist_cfn.preflight import cost

    table = {
        "rds:backup": _Price(0.1),
        "ecr:storage": _Price(0.2),
        "s3:standard": _Price(0.5),
        "logs:storage": _Price(1.0),
    }
    monkeypatch.setattr(cost, "load_prices", lambda region: table if region == "ap-northeast-2" else {})
    gib = 1024**3
    aws = FakeAws(
        rds={
            "answers": {
                "describe_db_snapshots": {"DBSnapshots": [{"AllocatedStorage": 20}, {"AllocatedStorage": 30}, {}]}
            }
        },
        ecr={
            "pages": {
                "describe_images": Pages(
                    [
                        {"imageDetails": [{"imageSizeInBytes": gib}, {}]},
                        {"imageDetails": [{"imageSizeInBytes": gib}]},
                        {},
                    ],
                    expect={"repositoryName": "user-service"},
                )
            }
        },
        s3={
            "pages": {
                "list_object_versions": Pages(
                    [{"Versions": [{"Size": gib}, {}]}, {"Versions": [{"Size": gib}]}, {}],
                    expect={"Bucket": "wealist-deploy"},
                )
            }
        },
        logs={
            "pages": {
                "describe_log_groups": Pages(
                    [
                        {
                            "logGroups": [
                                {"logGroupName": "/wealist/dev/boot", "storedBytes": 2 * gib},
                                {"logGroupName": "/wealist/dev/boot-old", "storedBytes": 7 * gib},
                            ]
                        },
                        {
                            "logGroups": [
                                {"logGroupName": "/wealist/dev/boot", "storedBytes": gib},
                                {"logGroupName": "/wealist/dev/boot"},
                            ]
                        },
                    ],
                    expect={"logGroupNamePrefix": "/wealist/dev/boot"},
                )
            }
        },
    )
    left = [
        destroy.Kept("snapshot", "final snapshot of the database X", "wealist-dev-db"),
        destroy.Kept("ecr", "Repo", "user-service"),
        destroy.Kept("bucket", "deploy bucket", "wealist-deploy"),
        destroy.Kept("log-group", "log group", "/wealist/dev/boot"),
    ]
    got = [(c.usd, c.basis) for c in destroy.monthly_cost(aws, left, "ap-northeast-2")]
    assert got[0][0] == pytest.approx(50 * 0.1)
    assert got[0][1] == "at most 50.0 GB of snapshot storage at $0.1/GB-month (rds:backup, read 2026-11-01)"
    assert got[1][0] == pytest.approx(2 * 0.2) and got[1][1].startswith("2.00 GB of images at $0.2/GB-month (ecr")
    assert got[2][0] == pytest.approx(2 * 0.5) and got[2][1].startswith("2.000 GB of object versions at $0.5")
    assert got[3][0] == pytest.approx(3 * 1.0) and got[3][1].startswith("3.000 GB of log events stored at $1.0")
    assert aws.made("rds", "describe_db_snapshots")[0][2] == {
        "DBInstanceIdentifier": "wealist-dev-db",
        "SnapshotType": "manual",
    }


def test_what_cannot_be_priced_or_measured_says_why_and_is_never_zero(monkeypatch):
    from wealist_cfn.preflight import cost

    table = {"rds:backup": _Price(None), "ecr:storage": _Price(0.2)}
    monkeypatch.setattr(cost, "load_prices", lambda region: table)
    aws = FakeAws(
        rds={"answers": {"describe_db_snapshots": {"DBSnapshots": [{"AllocatedStorage": 20}]}}},
        ecr={"pages": {"describe_images": Pages([], error=client_error("AccessDenied", "not allowed"))}},
    )
    left = [
        destroy.Kept("retained", "Key (AWS::KMS::Key)", "key-1"),
        destroy.Kept("snapshot", "final snapshot of the cache Redis", "wealist-dev-redis"),
        destroy.Kept("ecr", "Repo", "user-service"),
        destroy.Kept("snapshot", "final snapshot of the database Db", "wealist-dev-db"),
        destroy.Kept("retained", "Topic (AWS::SNS::Topic)", "topic-1"),
    ]
    got = [(c.kept.physical_id, c.usd, c.basis) for c in destroy.monthly_cost(aws, left, "ap-northeast-2")]
    assert got == [
        ("key-1", None, "a retained resource: priced by what it is, which the table does not cover"),
        ("wealist-dev-redis", None, "ElastiCache snapshot storage is not in the price table"),
        ("user-service", None, "could not measure it: not allowed"),
        ("wealist-dev-db", None, "at most 20.0 GB of snapshot storage; rds:backup has no sourced price"),
        ("topic-1", None, "a retained resource: priced by what it is, which the table does not cover"),
    ]
    assert not aws.made("elasticache")


def test_a_database_answer_without_snapshots_is_none_found_and_priced_at_zero_gb(monkeypatch):
    """botocore leaves a member out of the parsed answer when the response
    does not carry it: an instance with no snapshot is then neither a crash
    nor a made-up size."""
    from wealist_cfn.preflight import cost

    monkeypatch.setattr(cost, "load_prices", lambda region: {"rds:backup": _Price(0.1)})
    aws = FakeAws(rds={"answers": {"describe_db_snapshots": {}}})
    kept = destroy.Kept("snapshot", "final snapshot of the database Db", "wealist-dev-db")
    p = _dplan()
    p.kept = [kept]
    [left] = destroy.remaining(aws, p)
    assert left.note == "no final snapshot found"
    [c] = destroy.monthly_cost(aws, [kept], "ap-northeast-2")
    assert c.usd == 0 and c.basis.startswith("at most 0.0 GB of snapshot storage")
