"""Each compat piece of :mod:`wealist_cfn.rehearsal.compat` is still needed.

Every test here relies on moto's server, except those whose docstring
begins "No endpoint". The scenario is the real one
(the committed templates: create, read the outputs, flip EnableMultiAZ,
check the database was modified in place, delete the stack) passes with every piece; with
one piece left out it must go wrong exactly the way that piece's quirk
predicts. When a moto upgrade makes one of these fail, look at the new
outcome: the piece may be able to go.
"""

from __future__ import annotations

import pytest

from helpers.deploy import client, run_cli, seed_ssm, with_multi_az
from wealist_cfn import config
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.settings import PARAMS_DIR, TEMPLATES_DIR
from wealist_cfn.rehearsal import compat as local

pytestmark = pytest.mark.moto

# Each compat piece, the moto quirk it covers, and what the project's own
# scenario then does without it: the test asserts that exact failure, so a
# regression in deploy itself (which would fail differently) is not taken
# for "the piece is still needed".
# moto's HTTP 500 on ExecuteChangeSet, as the deploy reports it: one line naming the call.
HTTP_500_ON_EXECUTE = (
    "create exit 1: ['error: ExecuteChangeSet: the endpoint answered something that is not an AWS response"
)

PIECES = {
    # 1. GetAtt Child.Outputs.X into another child: moto answers HTTP 500 on execute; the create fails.
    "getatt": HTTP_500_ON_EXECUTE,
    # 2. outputs built only for the REVIEW_IN_PROGRESS shell: the deploy shows none.
    "outputs": "no outputs after create",
    # 3. parameters left out of moto's diff: the flip goes wrong. Before the alarm stack it was "no
    # changes" and the database stayed single-AZ; the alarm stack's mode-conditioned alarms now make
    # moto's half-applied update answer HTTP 500 on ListStackResources, so the update fails.
    "parameters": "update exit 1",
    # 4. moto deletes and recreates a nested stack on update: a new database, or, since the database is
    # protected (params/prod.json, piece 16), RDS refuses the deletion inside moto's ExecuteChangeSet
    # and moto answers HTTP 500.
    "nested_update": "update exit 1: ['error: ExecuteChangeSet: the endpoint answered something that is not an "
    "AWS response",
    # 5. no Fn::Cidr in moto: the network child is never made, the root's GetAtt of it fails.
    "cidr": "create exit 1: ['error: executing the change set: ValidationError: Template error",
    # 6. unmodelled types have no object: a GetAtt in Outputs crashes the child (HTTP 500).
    "unmodelled": HTTP_500_ON_EXECUTE,
    # 8. short-form tags on mappings: Fn::Base64 over Fn::Sub fails in moto (HTTP 500).
    "yaml": HTTP_500_ON_EXECUTE,
    # 7. SSM::Parameter Tags as the documented map: moto expects a list and fails (HTTP 500).
    "ssm_tags": HTTP_500_ON_EXECUTE,
    # 9. no CloudFormation update for moto's DBInstance: the Multi-AZ update fails.
    "rds_update": "update exit 1",
    # 10. no GetAtt TargetGroupFullName on moto's target group: the load balancer child fails (HTTP 500).
    "target_group_name": HTTP_500_ON_EXECUTE,
    # 11. KMS key Tags as CloudFormation spells them: moto's CreateKey expects TagKey and fails (HTTP 500).
    "kms_tags": HTTP_500_ON_EXECUTE,
    # 12. exports of a change-set-made stack unknown to moto: DeleteStack answers HTTP 500.
    "delete": "delete failed",
}


def _scenario(ep, params, templates, tmp_path) -> str:
    """'ok', or what went wrong."""
    seed_ssm(ep, templates, config.load(params).values)
    # The endpoint answers as the rehearsal (tests/conftest.py), where preflight blocks as on AWS;
    # nothing is bootstrapped here (seed_ssm makes only what the templates resolve).
    base = (
        "deploy",
        "--skip-preflight",
        "--stack-name",
        "wealist-prod",
        "--endpoint-url",
        ep,
        "--templates",
        templates,
        "--yes",
    )
    code, out, err = run_cli(*base, "--params", params)
    if code != 0:
        return f"create exit {code}: {[ln for ln in err.strip().splitlines() if ln.startswith('error:')][:1]}"
    if "output VpcId = vpc-" not in out:
        return "no outputs after create"
    before = client("rds", ep).describe_db_instances()["DBInstances"]
    multi = with_multi_az(params, tmp_path)
    code, out, err = run_cli(*base, "--params", multi)
    if code != 0:
        return f"update exit {code}: {[ln for ln in err.strip().splitlines() if ln.startswith('error:')][:1]}"
    after = client("rds", ep).describe_db_instances()["DBInstances"]
    if len(after) != 1 or not after[0]["MultiAZ"]:
        return "database not Multi-AZ after the flip"
    if after[0]["InstanceCreateTime"] != before[0]["InstanceCreateTime"]:
        return "database replaced by the update"
    cfn = client("cloudformation", ep)
    stack_id = cfn.describe_stacks(StackName="wealist-prod")["Stacks"][0]["StackId"]
    # params/prod.json protects the database; as in AWS, it is turned off
    # before the delete (destroy --disable-protection does the same).
    client("rds", ep).modify_db_instance(
        DBInstanceIdentifier=after[0]["DBInstanceIdentifier"], DeletionProtection=False, ApplyImmediately=True
    )
    try:
        cfn.delete_stack(StackName=stack_id)
        (gone,) = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    except Exception as exc:  # noqa: BLE001 - moto's HTTP 500 reaches botocore as one of several error types
        return f"delete failed: {type(exc).__name__}"
    if gone["StackStatus"] != "DELETE_COMPLETE" or gone.get("Outputs"):
        return f"deleted stack reads {gone['StackStatus']} with outputs {gone.get('Outputs')}"
    return "ok"


def test_scenario_succeeds_with_every_piece(moto_endpoint, real_templates, prod_params, tmp_path):
    """moto with all compat pieces: create, outputs, Multi-AZ flip in place.
    This is what keeps a broken deploy from passing the tests below."""
    with local.compat():
        assert _scenario(moto_endpoint, prod_params, real_templates, tmp_path) == "ok"


@pytest.mark.parametrize("piece", list(PIECES))
def test_piece_is_still_needed(piece, moto_endpoint, real_templates, prod_params, tmp_path):
    """moto: without this one piece the scenario goes wrong in the way the
    quirk predicts, and in no other."""
    with local.compat(skip=frozenset({piece})):
        outcome = _scenario(moto_endpoint, prod_params, real_templates, tmp_path)
    assert outcome.replace('"', "'").startswith(PIECES[piece]), f"{piece}: {outcome}"


def test_fn_cidr_matches_aws_documented_example():
    """No endpoint: Fn::Cidr ["192.168.0.0/24", 6, 5] as in AWS's documentation."""
    assert local.fn_cidr("192.168.0.0/24", 6, 5) == [
        "192.168.0.0/27",
        "192.168.0.32/27",
        "192.168.0.64/27",
        "192.168.0.96/27",
        "192.168.0.128/27",
        "192.168.0.160/27",
    ]


def test_dynamic_references_of_the_committed_templates_are_found():
    """No endpoint: the references the database and cache resolve, named
    with the parameter file's project and environment, as ``bootstrap``
    creates them and ``deploy --local`` seeds them."""
    values = config.load(PARAMS_DIR / "prod.json").values
    texts = list(tpl.read(TEMPLATES_DIR).texts.values())
    assert sorted(local.dynamic_references(texts, values)) == [
        ("ssm", "/wealist/prod/db/postgres_db"),
        ("ssm", "/wealist/prod/db/postgres_superuser"),
        ("ssm-secure", "/wealist/prod/db/postgres_superuser_password"),
        ("ssm-secure", "/wealist/prod/redis/auth_token"),
    ]


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def test_database_windows_are_apart():
    """No endpoint: the committed database's daily backup window and weekly
    maintenance window are at least 30 minutes apart on every day. moto
    refuses windows that only touch, and the compat piece that let touching
    windows pass was removed once they no longer touched."""
    db = tpl.load((TEMPLATES_DIR / "database.yaml").read_text())
    props = next(r["Properties"] for r in db["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance")
    assert _gap(props["PreferredBackupWindow"], props["PreferredMaintenanceWindow"]) >= 30


def _gap(backup: str, maintenance: str) -> int:
    """Fewest minutes between a daily backup window ("hh:mm-hh:mm", UTC) and a
    weekly maintenance window ("ddd:hh:mm-ddd:hh:mm"); <= 0 when they touch or overlap."""
    week, day = 7 * 1440, 1440
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    b_start, b_end = (_minutes(x) for x in backup.split("-"))
    b_end += day if b_end <= b_start else 0
    m_start, m_end = (days.index(x[:3]) * day + _minutes(x[4:]) for x in maintenance.split("-"))
    m_end += week if m_end <= m_start else 0
    gaps = []
    for d in range(7):
        s, e = d * day + b_start, d * day + b_end
        for shift in (-week, 0, week):
            ms, me = m_start + shift, m_end + shift
            gaps.append(max(ms - e, s - me))
    return min(gaps)


def test_window_gap_is_measured_right():
    """No endpoint: the gap helper itself, on the old touching windows and a clear pair."""
    assert _gap("18:00-19:00", "sun:19:00-sun:20:00") == 0
    assert _gap("18:00-18:30", "sun:19:00-sun:20:00") == 30
    assert _gap("18:30-19:30", "sun:19:00-sun:20:00") < 0
    assert _gap("23:30-00:30", "mon:00:00-mon:01:00") < 0
    assert _gap("02:00-03:00", "mon:00:00-mon:01:00") == 60


# 13. stack identity: its own scenario, since the one above never leaves a
# change set unexecuted. A small template is enough: the rule is about names.
_SMALL = {
    "Resources": {
        "Flag": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": "on", "Name": "/rehearsal/flag"},
        }
    }
}


def _identity_scenario(ep) -> str:
    """'ok', or what went wrong: plan (a CREATE change set left
    unexecuted), then deploy (another CREATE on the same name), executed."""
    import json

    import botocore.exceptions

    cfn = client("cloudformation", ep)
    body = json.dumps(_SMALL)
    first = cfn.create_change_set(
        StackName="wealist-prod", ChangeSetName="plan-1", TemplateBody=body, ChangeSetType="CREATE"
    )
    second = cfn.create_change_set(
        StackName="wealist-prod", ChangeSetName="deploy-1", TemplateBody=body, ChangeSetType="CREATE"
    )
    live = [
        s
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackName"] == "wealist-prod" and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    if len(live) != 1:
        return f"{len(live)} stacks named wealist-prod"
    if first["StackId"] != second["StackId"]:
        return "the shell's stack ID changed"
    names = {c["ChangeSetName"] for c in cfn.list_change_sets(StackName="wealist-prod")["Summaries"]}
    if names != {"plan-1", "deploy-1"}:
        return f"change sets on the stack: {sorted(names)}"
    cfn.execute_change_set(ChangeSetName=second["Id"])
    (stack,) = cfn.describe_stacks(StackName="wealist-prod")["Stacks"]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        return f"stack is {stack['StackStatus']} after executing"
    try:
        cfn.create_change_set(
            StackName="wealist-prod", ChangeSetName="again", TemplateBody=body, ChangeSetType="CREATE"
        )
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationError":
            return "ok"
    return "a CREATE change set on an existing stack was accepted"


def test_stack_identity_scenario_succeeds_with_the_piece(moto_endpoint):
    """moto with the compat pieces: one stack per name, the shell reused
    (same stack ID, both change sets on it), CREATE refused on a live stack,
    as CloudFormation's CreateChangeSet reference says (see piece 13)."""
    with local.compat():
        assert _identity_scenario(moto_endpoint) == "ok"


def test_stack_identity_piece_is_still_needed(moto_endpoint):
    """moto without piece 13: the second CREATE change set makes a second
    stack named wealist-prod."""
    with local.compat(skip=frozenset({"stack_identity"})):
        assert _identity_scenario(moto_endpoint) == "2 stacks named wealist-prod"


def test_the_local_endpoints_declared_gaps_are_still_gaps(moto_endpoint):
    """moto: each call local.UNANSWERED lists is still not answered as AWS
    answers it (an RDS class AWS sells in every region gets no orderable
    option; the ElastiCache calls fail without an AWS response). When one
    of these starts to answer, drop it from UNANSWERED: preflight will then
    run the check on the local endpoint."""
    import botocore.parsers

    rds, ec = client("rds", moto_endpoint), client("elasticache", moto_endpoint)
    options = rds.describe_orderable_db_instance_options(Engine="postgres", DBInstanceClass="db.t3.micro")
    assert options["OrderableDBInstanceOptions"] == []
    calls = {
        "elasticache:DescribeCacheEngineVersions": lambda: ec.describe_cache_engine_versions(Engine="redis"),
        "elasticache:DescribeReservedCacheNodesOfferings": lambda: ec.describe_reserved_cache_nodes_offerings(
            CacheNodeType="cache.t3.micro"
        ),
    }
    for call, fn in calls.items():
        with pytest.raises(botocore.parsers.ResponseParserError):
            fn()
    assert set(local.UNANSWERED) == {"rds:DescribeOrderableDBInstanceOptions", *calls}


def _refused_create(ep, status: str) -> str:
    """A CREATE change set on a live stack in ``status``: AWS's error text,
    or what happened instead."""
    import json

    import botocore.exceptions
    from moto.cloudformation.models import cloudformation_backends

    cfn = client("cloudformation", ep)
    body = json.dumps(_SMALL)
    cfn.create_stack(StackName="wealist-prod", TemplateBody=body)
    if status != "CREATE_COMPLETE":
        # moto never rolls a stack back (its failures are API errors): the
        # status a failed first create leaves is set on its model directly.
        backend = cloudformation_backends["123456789012"]["ap-northeast-2"]
        next(st for st in backend.stacks.values() if st.name == "wealist-prod").status = status
    try:
        cfn.create_change_set(
            StackName="wealist-prod", ChangeSetName="deploy-2", TemplateBody=body, ChangeSetType="CREATE"
        )
    except botocore.exceptions.ClientError as exc:
        return f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    return "accepted"


@pytest.mark.parametrize("status", ["CREATE_COMPLETE", "ROLLBACK_COMPLETE"])
def test_create_on_a_live_stack_is_refused_with_aws_words(moto_endpoint, status):
    """moto with the compat pieces: a CREATE change set on a stack that
    holds its name (complete, or rolled back and not yet deleted) is refused
    with the text AWS answers (SAM CLI's recorded deploy output,
    aws/copilot-cli's tests, LocalStack's provider: see piece 13). The
    piece's own wording differed ("change set", no full stop) before."""
    with local.compat():
        assert _refused_create(moto_endpoint, status) == (
            "ValidationError: Stack [wealist-prod] already exists and cannot be created again with the "
            "changeSet [deploy-2]."
        )


def _two_stacks(ep) -> tuple[set[str], set[str]]:
    """wealist-dev deployed (its change set dev-1 executed and kept, as moto
    keeps it), then a CREATE change set made for wealist-prod: the change
    sets ListChangeSets answers for each stack."""
    import json

    cfn = client("cloudformation", ep)
    body = json.dumps(_SMALL)
    dev = cfn.create_change_set(
        StackName="wealist-dev", ChangeSetName="dev-1", TemplateBody=body, ChangeSetType="CREATE"
    )
    cfn.execute_change_set(ChangeSetName=dev["Id"])
    cfn.create_change_set(StackName="wealist-prod", ChangeSetName="plan-1", TemplateBody=body, ChangeSetType="CREATE")
    return tuple(
        {c["ChangeSetName"] for c in cfn.list_change_sets(StackName=name)["Summaries"]}
        for name in ("wealist-dev", "wealist-prod")
    )


def test_list_change_sets_answers_the_named_stacks_only(moto_endpoint):
    """moto with the compat pieces (piece 14): each stack lists its own
    change sets, as ListChangeSets' StackName (required) says."""
    with local.compat():
        assert _two_stacks(moto_endpoint) == ({"dev-1"}, {"plan-1"})


def test_list_by_stack_piece_is_still_needed(moto_endpoint):
    """moto without piece 14: ListChangeSets ignores StackName, so the
    prod shell seems to hold dev's change set (the engine then kept the
    shell, "it holds 1 other change set(s) (dev-1)")."""
    with local.compat(skip=frozenset({"list_by_stack"})):
        assert _two_stacks(moto_endpoint) == ({"dev-1", "plan-1"}, {"dev-1", "plan-1"})


def test_a_prod_shell_beside_a_deployed_dev_stack_is_deleted(moto_endpoint):
    """moto with the compat pieces, through the engine: wealist-dev
    deployed, then a prod plan discarded (its change set deleted). The
    shell is deleted; before piece 14 it was kept because it seemed to hold
    dev's change set ("it holds 1 other change set(s) (dev-1)")."""
    import json

    from wealist_cfn.aws import Aws
    from wealist_cfn.deploy import stackstate

    with local.compat():
        cfn = client("cloudformation", moto_endpoint)
        body = json.dumps(_SMALL)
        dev = cfn.create_change_set(
            StackName="wealist-dev", ChangeSetName="dev-1", TemplateBody=body, ChangeSetType="CREATE"
        )
        cfn.execute_change_set(ChangeSetName=dev["Id"])
        prod = cfn.create_change_set(
            StackName="wealist-prod", ChangeSetName="plan-1", TemplateBody=body, ChangeSetType="CREATE"
        )
        cfn.delete_change_set(ChangeSetName=prod["Id"])
        line = stackstate.delete_review_shell(
            Aws("ap-northeast-2", endpoint_url=moto_endpoint), prod["StackId"], "wealist-prod"
        )
    assert line == "deleted the empty stack shell wealist-prod (REVIEW_IN_PROGRESS, made by this run)"


def _deletion(ep, monkeypatch) -> list[str]:
    """The change set's Status as DescribeChangeSet and ListChangeSets read
    it right after DeleteChangeSet, then half the bounded time later, then
    after it: 'gone' once DescribeChangeSet no longer finds it. The clock is
    stepped by hand (no sleeping)."""
    import json

    import botocore.exceptions

    now = [1000.0]
    monkeypatch.setattr(local, "clock", lambda: now[0])
    cfn = client("cloudformation", ep)
    made = cfn.create_change_set(
        StackName="wealist-prod", ChangeSetName="plan-1", TemplateBody=json.dumps(_SMALL), ChangeSetType="CREATE"
    )
    cfn.delete_change_set(ChangeSetName=made["Id"])
    seen = []
    for step in (0.0, local.CHANGE_SET_DELETE_SECONDS / 2, local.CHANGE_SET_DELETE_SECONDS / 2):
        now[0] += step
        try:
            d = cfn.describe_change_set(ChangeSetName=made["Id"])
        except botocore.exceptions.ClientError:
            seen.append("gone")
            continue
        listed = [c["Status"] for c in cfn.list_change_sets(StackName="wealist-prod")["Summaries"]]
        seen.append(f"{d['Status']}/{d['ExecutionStatus']} listed {listed}")
    return seen


def test_a_deleted_change_set_goes_through_aws_delete_states(moto_endpoint, monkeypatch):
    """moto with piece 15 enabled: DELETE_PENDING, then DELETE_IN_PROGRESS
    (not executable), then gone after CHANGE_SET_DELETE_SECONDS; executing
    it while it is being deleted is refused (InvalidChangeSetStatus)."""
    import json

    import botocore.exceptions

    with local.compat(enable=frozenset({"async_delete"})):
        assert _deletion(moto_endpoint, monkeypatch) == [
            "DELETE_PENDING/UNAVAILABLE listed ['DELETE_PENDING']",
            "DELETE_IN_PROGRESS/UNAVAILABLE listed ['DELETE_IN_PROGRESS']",
            "gone",
        ]
        cfn = client("cloudformation", moto_endpoint)
        made = cfn.create_change_set(
            StackName="wealist-dev", ChangeSetName="plan-2", TemplateBody=json.dumps(_SMALL), ChangeSetType="CREATE"
        )
        cfn.delete_change_set(ChangeSetName=made["Id"])
        with pytest.raises(botocore.exceptions.ClientError, match="InvalidChangeSetStatus"):
            cfn.execute_change_set(ChangeSetName=made["Id"])


def test_async_delete_piece_is_still_needed(moto_endpoint, monkeypatch):
    """moto without piece 15: the change set is gone the moment
    DeleteChangeSet answers."""
    with local.compat(skip=frozenset({"async_delete"})):
        assert _deletion(moto_endpoint, monkeypatch) == ["gone", "gone", "gone"]


# A database in a nested stack, as the project's templates hold it.
_PROTECTED_CHILD = {
    "Parameters": {"Protect": {"Type": "String"}},
    "Resources": {
        "Database": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "DBInstanceIdentifier": "rehearsal-db",
                "Engine": "postgres",
                "DBInstanceClass": "db.t3.micro",
                "AllocatedStorage": "20",
                "MasterUsername": "wealist",
                "MasterUserPassword": "localRehearsal1",
                "DeletionProtection": {"Ref": "Protect"},
            },
        }
    },
}


def _protection_scenario(ep) -> str:
    """'ok', or what went wrong: a stack whose nested stack holds a database
    with DeletionProtection true; DeleteStack; then the protection turned
    off and DeleteStack again."""
    import json

    s3 = client("s3", ep)
    s3.create_bucket(Bucket="rehearsal-templates", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    s3.put_object(Bucket="rehearsal-templates", Key="database.json", Body=json.dumps(_PROTECTED_CHILD).encode())
    root = {
        "Resources": {
            "DatabaseStack": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": f"{ep}/rehearsal-templates/database.json",
                    "Parameters": {"Protect": "true"},
                },
            }
        }
    }
    cfn, rds = client("cloudformation", ep), client("rds", ep)
    stack_id = cfn.create_stack(StackName="wealist-dev", TemplateBody=json.dumps(root))["StackId"]
    (db,) = rds.describe_db_instances()["DBInstances"]
    if not db["DeletionProtection"]:
        return "DeletionProtection not recorded"
    try:
        cfn.delete_stack(StackName=stack_id)
        (root_st,) = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    except Exception as exc:  # noqa: BLE001 - moto's HTTP 500 reaches botocore as one of several error types
        return f"DeleteStack failed: {type(exc).__name__}"
    if root_st["StackStatus"] != "DELETE_FAILED":
        return f"root {root_st['StackStatus']} after DeleteStack"
    assert root_st["StackStatusReason"] == "The following resource(s) failed to delete: [DatabaseStack]. "
    child_id = next(s["StackId"] for s in cfn.describe_stacks()["Stacks"] if s["StackName"] != "wealist-dev")
    failed = [
        (e["LogicalResourceId"], e.get("ResourceStatusReason"))
        for stack in (child_id, stack_id)
        for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
        if e["ResourceStatus"] == "DELETE_FAILED"
    ]
    assert ("Database", local.PROTECTED_DB) in failed, failed
    assert (
        "DatabaseStack",
        f"Embedded stack {child_id} was not successfully deleted: The following resource(s) "
        f"failed to delete: [Database]. ",
    ) in failed, failed
    if not rds.describe_db_instances()["DBInstances"]:
        return "the database was deleted"
    rds.modify_db_instance(
        DBInstanceIdentifier=db["DBInstanceIdentifier"], DeletionProtection=False, ApplyImmediately=True
    )
    cfn.delete_stack(StackName=stack_id)
    if cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] != "DELETE_COMPLETE":
        return "not deleted once the protection was off"
    if rds.describe_db_instances()["DBInstances"]:
        return "the database outlived its stack"
    return "ok"


def test_deletion_protection_fails_a_delete_stack_as_aws_does(moto_endpoint):
    """moto with piece 16: the database records DeletionProtection; DeleteStack
    is accepted and ends DELETE_FAILED, the instance's resource failing with
    RDS's words and the nested-stack resource and root naming what failed;
    with the protection off, DeleteStack deletes it all."""
    with local.compat():
        assert _protection_scenario(moto_endpoint) == "ok"


def test_deletion_protection_piece_is_still_needed(moto_endpoint):
    """moto without piece 16: the instance made by CloudFormation reads
    DeletionProtection false, so nothing would stop its deletion."""
    with local.compat(skip=frozenset({"deletion_protection"})):
        assert _protection_scenario(moto_endpoint) == "DeletionProtection not recorded"
