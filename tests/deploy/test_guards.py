"""What the deploy refuses and what the stack policy denies, written down
here as data (not read from the code's constants) and asserted against the
command line and the policy the project sets.

Stand-ins: the CloudFormation side is scripted (tests/helpers/scripted.py: answers
by operation name, responses validated against botocore's output shapes, as
the DescribeChangeSet / ListStackResources / SetStackPolicy API references
document them); S3 and STS are moto's server. moto cannot produce nested
change sets with Replacement details, so it is not used for CloudFormation.

What AWS enforces, and what these tests pin down:

* A stack policy protects only the resources of the stack it is set on
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html):
  the root's policy cannot protect the database inside a nested stack, so
  every nested stack needs its own. Explicit Deny wins over Allow; with a
  policy set, whatever is not allowed is denied.
* ``Replacement`` in a ResourceChange is True, False or Conditional
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html);
  Conditional means CloudFormation may replace the resource.
"""

from __future__ import annotations

import fnmatch
import json

import pytest

from helpers import on_disk
from helpers.scripted import Cfn, Scripted, change, detail, run_cli, scripted_aws, tiny_templates
from wealist_cfn.core.settings import PARAMS_DIR

pytestmark = [pytest.mark.stubbed, pytest.mark.moto]

NESTED = "AWS::CloudFormation::Stack"

# The resources whose loss loses data or strands what depends on them.
STATEFUL = frozenset(
    {
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ECR::Repository",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
    }
)
# Removing or replacing a nested stack deletes everything in it.
GUARDED = STATEFUL | {NESTED}
# Not guarded: AWS::Logs::LogGroup. The database's and instances' log groups
# hold diagnostics kept for LogRetentionDays, nothing the service reads or
# needs to run; a guard would only block renaming a group. Records meant to
# outlive the stack (the VPC flow logs) are kept by their DeletionPolicy
# Retain, which also covers a deletion of the whole stack, where no stack
# policy applies.
UNGUARDED_LOGS = "AWS::Logs::LogGroup"

# The protective stack policy, statement by statement, as it must be set on
# the root and on every nested stack: everything may be updated, except that
# a guarded resource may be neither replaced nor deleted.
PROTECTIVE_STATEMENTS = [
    {"Effect": "Allow", "Principal": "*", "Action": ["Update:*"], "Resource": ["*"]},
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["Update:Delete", "Update:Replace"],
        "Resource": ["*"],
        "Condition": {"StringEquals": {"ResourceType": sorted(GUARDED)}},
    },
]


def _listify(v):
    return sorted(v) if isinstance(v, list) else [v]


def _normal(statement: dict) -> dict:
    out = {
        k: _listify(v) if k in ("Action", "NotAction", "Resource", "NotResource") else v for k, v in statement.items()
    }
    if "Condition" in out:
        out["Condition"] = {op: {k: _listify(v) for k, v in kv.items()} for op, kv in out["Condition"].items()}
    return out


def _allowed(policy: dict, action: str, logical_id: str, resource_type: str) -> bool:
    """Stack policy evaluation as AWS documents it: default deny once a policy
    is set, an explicit Deny overrides any Allow."""

    def matches(st):
        acts = st.get("Action", st.get("NotAction"))
        hit = any(fnmatch.fnmatchcase(action, a) for a in _listify(acts))
        if ("NotAction" in st) == hit:
            return False
        res = st.get("Resource", st.get("NotResource"))
        target = f"LogicalResourceId/{logical_id}"
        hit = any(fnmatch.fnmatchcase(target, r) or r == "*" for r in _listify(res))
        if ("NotResource" in st) == hit:
            return False
        for op, kv in st.get("Condition", {}).items():
            values = _listify(kv.get("ResourceType", []))
            test = fnmatch.fnmatchcase if op == "StringLike" else (lambda a, b: a == b)
            ok = any(test(resource_type, v) for v in values)
            if op in ("StringEquals", "StringLike") and not ok:
                return False
            if op in ("StringNotEquals", "StringNotLike") and ok:
                return False
        return True

    effects = [st["Effect"] for st in policy["Statement"] if matches(st)]
    return "Deny" not in effects and "Allow" in effects


def _tree(mode: str = "single-az") -> dict[str, list[tuple[str, str]]]:
    """Stack path -> its resources, from the committed templates."""
    stacks = on_disk.resolved(mode)
    return {
        ("" if path == "Root" else path): [(lid, r["Type"]) for lid, r in s.resources.items()]
        for path, s in stacks.items()
    }


def test_protective_policy_is_set_on_root_and_every_nested_stack(monkeypatch):
    """Scripted CloudFormation (ListStackResources over the committed set,
    Get/SetStackPolicy): protect() sets the documented statements on the root
    and each nested stack, and evaluated per resource they deny exactly
    Update:Replace and Update:Delete of the guarded types."""
    from wealist_cfn.aws import Aws
    from wealist_cfn.deploy import policy

    tree = _tree()
    cfn = Cfn(tree=tree)
    with scripted_aws(monkeypatch, Scripted(("cloudformation",), cfn.handlers())):
        aws = Aws("ap-northeast-2")
        changed = policy.protect(aws, cfn.root_id)
    assert sorted(changed) == sorted(tree)  # root ("") and every nested stack
    assert len(cfn.policies) == len(tree) == 10
    for path, members in tree.items():
        body = json.loads(cfn.policies[cfn._stack_id(path)])
        assert sorted(map(json.dumps, map(_normal, body["Statement"]))) == sorted(
            map(json.dumps, map(_normal, PROTECTIVE_STATEMENTS))
        ), path
        for lid, rtype in members:
            guarded = rtype in GUARDED
            assert _allowed(body, "Update:Modify", lid, rtype), (path, lid)
            assert _allowed(body, "Update:Replace", lid, rtype) is not guarded, (path, lid, rtype)
            assert _allowed(body, "Update:Delete", lid, rtype) is not guarded, (path, lid, rtype)


def test_policy_evaluator_denies_and_allows_as_documented():
    """No endpoint: the evaluator above, on the documented statements."""
    body = {"Statement": PROTECTIVE_STATEMENTS}
    assert not _allowed(body, "Update:Replace", "Database", "AWS::RDS::DBInstance")
    assert _allowed(body, "Update:Replace", "LaunchTemplate", "AWS::EC2::LaunchTemplate")
    assert not _allowed({"Statement": []}, "Update:Modify", "X", "AWS::EC2::VPC")


# --- the review's refusals, through the command line -------------------------------------------


def _deploy(monkeypatch, moto_endpoint, cfn: Cfn, *extra: str) -> tuple[int, dict, str, Scripted]:
    """`deploy --output json` against the scripted change set. The review
    comes from the change set alone, so a one-resource template set stands
    in for the committed one (parsing that takes a second per run)."""
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
            moto_endpoint,
            "--output",
            "json",
            "--templates",
            tiny_templates(),
            *extra,
        )
    return code, json.loads(out), err, script


def _guarded_change_set(rtype: str, how: str, nested: bool) -> dict[str, list[dict]]:
    kw = {
        "Remove": {},
        "Replace": {"replacement": "True", "details": [detail("Name", "Always")]},
        "Conditional": {"replacement": "Conditional", "details": [detail("SubnetIds", "Conditionally")]},
    }[how]
    row = change("Remove" if how == "Remove" else "Modify", "Guarded", rtype, **kw)
    if not nested:
        return {"root": [row]}
    return {
        "root": [
            change(
                "Modify",
                "DataStack",
                NESTED,
                replacement="False",
                nested="DataStack",
                details=[detail("Parameters", "Never")],
            )
        ],
        "DataStack": [row],
    }


@pytest.mark.parametrize("how", ["Remove", "Replace", "Conditional"])
@pytest.mark.parametrize("rtype", sorted(GUARDED))
def test_every_guarded_change_in_a_nested_stack_is_refused_even_with_yes(rtype, how, monkeypatch, moto_endpoint):
    """Scripted CloudFormation (UPDATE change set whose nested ChangeSetId is
    walked): `deploy --yes` on a removal, replacement or conditional
    replacement of a guarded type inside a nested stack ends with exit 3,
    the change set not executed, no stack policy relaxed."""
    cfn = Cfn(change_sets=_guarded_change_set(rtype, how, nested=True))
    code, doc, err, script = _deploy(monkeypatch, moto_endpoint, cfn, "--yes")
    assert code == 3, err
    assert doc["result"]["status"] == "REFUSED"
    assert [(c["where"], c["resource_type"]) for c in doc["review"]["callouts"] if c["level"] == "guarded"] == [
        ("DataStack/Guarded", rtype)
    ]
    assert not script.ops("cloudformation", "ExecuteChangeSet")
    assert not script.ops("cloudformation", "SetStackPolicy")
    assert "--allow-replace" in err


@pytest.mark.parametrize("how", ["Remove", "Replace", "Conditional"])
def test_guarded_change_in_the_root_is_refused_and_accept_conditional_covers_only_conditional(
    how, monkeypatch, moto_endpoint
):
    """Scripted CloudFormation: the same refusal for a root-level row; with
    --accept-conditional a certain removal or replacement is still refused,
    a Conditional one executes with the protective policies kept."""
    cfn = Cfn(change_sets=_guarded_change_set("AWS::ECR::Repository", how, nested=False))
    code, doc, err, script = _deploy(monkeypatch, moto_endpoint, cfn, "--yes")
    assert code == 3 and doc["result"]["status"] == "REFUSED", err
    assert not script.ops("cloudformation", "ExecuteChangeSet")
    cfn = Cfn(change_sets=_guarded_change_set("AWS::ECR::Repository", how, nested=False))
    code, doc, err, script = _deploy(monkeypatch, moto_endpoint, cfn, "--yes", "--accept-conditional")
    if how == "Conditional":
        assert code == 0, err
        assert script.ops("cloudformation", "ExecuteChangeSet")
        relaxed = [
            p
            for p in script.ops("cloudformation", "SetStackPolicy")
            if _allowed(json.loads(p["StackPolicyBody"]), "Update:Replace", "Guarded", "AWS::ECR::Repository")
        ]
        assert relaxed == []
    else:
        assert code == 3 and not script.ops("cloudformation", "ExecuteChangeSet"), err


def test_every_guarded_row_gets_its_call_out(monkeypatch, moto_endpoint):
    """Scripted CloudFormation: one change set holding, for every guarded
    type, a removal, a replacement and a conditional replacement, in the root
    and in a nested stack: each of the 48 rows gets exactly one guarded
    call-out, marked conditional only for Replacement: Conditional."""
    hows = ("Remove", "Replace", "Conditional")
    root, inner, expected = [], [], {}
    for i, rtype in enumerate(sorted(GUARDED)):
        for how in hows:
            for rows, prefix in ((root, ""), (inner, "DataStack/")):
                lid = f"R{i}{how}"
                rows.append(_guarded_change_set(rtype, how, nested=False)["root"][0])
                rows[-1]["ResourceChange"]["LogicalResourceId"] = lid
                expected[f"{prefix}{lid}"] = (rtype, how == "Conditional")
    root.append(
        change(
            "Modify",
            "DataStack",
            NESTED,
            replacement="False",
            nested="DataStack",
            details=[detail("Parameters", "Never")],
        )
    )
    cfn = Cfn(change_sets={"root": root, "DataStack": inner})
    code, doc, err, _ = _deploy(monkeypatch, moto_endpoint, cfn, "--no-execute")
    assert code == 0, err
    got = {
        c["where"]: (c["resource_type"], c["conditional"]) for c in doc["review"]["callouts"] if c["level"] == "guarded"
    }
    assert got == expected
    assert len([c for c in doc["review"]["callouts"] if c["level"] == "guarded"]) == len(expected) == 48


def test_exactly_the_stateful_types_are_guarded(monkeypatch, moto_endpoint):
    """Scripted CloudFormation: one change set replacing (Replacement True)
    one resource of every type the committed templates hold, plus the
    stateful types they do not use yet; the review guards exactly the
    stateful types and nested stacks, nothing else."""
    types = {r["Type"] for m in on_disk.MODES for r in on_disk.resources(m).values()} | GUARDED
    rows = [
        change("Modify", f"R{i}", t, replacement="True", details=[detail("Name", "Always")])
        for i, t in enumerate(sorted(types))
    ]
    code, doc, err, _ = _deploy(monkeypatch, moto_endpoint, Cfn(change_sets={"root": rows}), "--no-execute")
    assert code == 0, err
    guarded = {c["resource_type"] for c in doc["review"]["callouts"] if c["level"] == "guarded"}
    assert guarded == GUARDED
    # The committed set holds log groups, and replacing one is not refused.
    assert UNGUARDED_LOGS in types and UNGUARDED_LOGS not in guarded


def test_nested_stacks_holding_stateful_resources_are_among_the_guarded():
    """No endpoint: the committed set's stateful resources sit in nested
    stacks; those stacks are of the nested type the review and policy guard."""
    holders = {path for path, members in _tree().items() if any(t in STATEFUL for _, t in members)}
    assert holders == {"NetworkStack", "DatabaseStack", "CacheStack", "RegistryStack"}
    root = dict(_tree()[""])
    assert all(root[h] == NESTED for h in holders)


# Records the stack keeps by its deletion policy instead of the guard: the VPC
# flow logs and the load balancer's access logs. Both are Retain on delete and
# on replacement and carry no fixed name, so removing or replacing one leaves
# the old group or bucket, with every record in it, beside the new one, and a
# replacement cannot fail on a name collision. Guarding them would refuse
# such changes without protecting a single record.
RETAINED_RECORDS = {
    "NetworkStack/FlowLogGroup": "AWS::Logs::LogGroup",
    "LoadBalancerStack/AccessLogBucket": "AWS::S3::Bucket",
}


@pytest.mark.parametrize("mode", sorted(on_disk.MODES))
def test_log_records_are_retained_rather_than_guarded(mode):
    """No endpoint: in the committed set, the flow-log group and the
    access-log bucket are kept by DeletionPolicy and UpdateReplacePolicy
    Retain, unnamed, and their types are not among the guarded."""
    resources = on_disk.resources(mode)
    for key, type_ in RETAINED_RECORDS.items():
        res = resources[key]
        assert res["Type"] == type_ and type_ not in GUARDED
        assert res["DeletionPolicy"] == res["UpdateReplacePolicy"] == "Retain", key
        assert not {"LogGroupName", "BucketName"} & set(res["Properties"]), key


def test_a_non_guarded_replacement_goes_ahead_with_yes(monkeypatch, moto_endpoint):
    """Scripted CloudFormation: replacing a launch template is not refused;
    `deploy --yes` executes it (the guard is not a blanket refusal)."""
    cfn = Cfn(
        change_sets={
            "root": [
                change(
                    "Modify",
                    "BackendLaunchTemplate",
                    "AWS::EC2::LaunchTemplate",
                    replacement="True",
                    details=[detail("LaunchTemplateName", "Always")],
                )
            ]
        }
    )
    code, doc, err, script = _deploy(monkeypatch, moto_endpoint, cfn, "--yes")
    assert code == 0, err
    assert script.ops("cloudformation", "ExecuteChangeSet")
    assert doc["result"]["status"] == "UPDATE_COMPLETE"
