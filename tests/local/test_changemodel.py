"""The local change-set model on small template pairs, and the server's
strict-layer hook.

Stand-in: none for the model (pure functions over templates); the rules it
applies are CloudFormation's: a property in the type's
``createOnlyProperties`` (resource schemas shipped by cfn-lint) requires
replacement, other properties update in place ("Update behaviors of stack
resources", CloudFormation User Guide); a value only known at execution is
reported with ``Evaluation: Dynamic`` (DescribeChangeSet API reference,
ResourceChangeDetail)."""

from __future__ import annotations

import sys
import types

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.rehearsal import changemodel, server

TEMPLATE = {
    "Parameters": {"Cidr": {"Type": "String"}, "Multi": {"Type": "String"}},
    "Conditions": {"IsMulti": {"Fn::Equals": [{"Ref": "Multi"}, "true"]}},
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": {"Ref": "Cidr"}}},
        "Db": {
            "Type": "AWS::RDS::DBInstance",
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
            "Properties": {"MultiAZ": {"Fn::If": ["IsMulti", True, False]}, "DBInstanceClass": "db.t4g.micro"},
        },
        "Second": {"Type": "AWS::EC2::EIP", "Condition": "IsMulti", "Properties": {"Domain": "vpc"}},
    },
}


def _rows(old: dict, new: dict) -> dict[str, dict]:
    before = {"Root": cfnmodel._resolve("Root", TEMPLATE, old, "ap-northeast-2", {})}
    after = {"Root": cfnmodel._resolve("Root", TEMPLATE, new, "ap-northeast-2", {})}
    return {r["LogicalResourceId"]: r for r in changemodel.model(before, after, "ap-northeast-2")["Root"]}


def test_create_only_property_replaces_and_the_replacement_cascades():
    rows = _rows({"Cidr": "10.0.0.0/16", "Multi": "false"}, {"Cidr": "10.9.0.0/16", "Multi": "false"})
    vpc = rows["Vpc"]
    assert vpc["Replacement"] == "True" and vpc["PolicyAction"] == "ReplaceAndDelete"
    assert [
        (d["Target"]["Name"], d["Target"]["RequiresRecreation"], d["ChangeSource"], d.get("CausingEntity"))
        for d in vpc["Details"]
    ] == [("CidrBlock", "Always", "ParameterReference", "Cidr")]
    subnet = rows["Subnet"]
    # VpcId names the replaced VPC: known only at execution, and create-only on a subnet.
    vpc_id = [d for d in subnet["Details"] if d["Target"]["Name"] == "VpcId"]
    assert vpc_id and vpc_id[0]["Evaluation"] == "Dynamic"
    assert vpc_id[0]["ChangeSource"] == "ResourceReference" and vpc_id[0]["CausingEntity"] == "Vpc"
    assert subnet["Replacement"] == "True"
    assert "Db" not in rows


def test_in_place_property_and_condition_add():
    rows = _rows({"Cidr": "10.0.0.0/16", "Multi": "false"}, {"Cidr": "10.0.0.0/16", "Multi": "true"})
    assert set(rows) == {"Db", "Second"}
    assert rows["Second"]["Action"] == "Add"
    db = rows["Db"]
    assert db["Replacement"] == "False" and "PolicyAction" not in db
    assert [(d["Target"]["Name"], d["Target"]["RequiresRecreation"], d["CausingEntity"]) for d in db["Details"]] == [
        ("MultiAZ", "Never", "Multi")
    ]


def test_condition_off_removes_with_the_deletion_policy():
    rows = _rows({"Cidr": "10.0.0.0/16", "Multi": "true"}, {"Cidr": "10.0.0.0/16", "Multi": "false"})
    assert rows["Second"]["Action"] == "Remove" and rows["Second"]["PolicyAction"] == "Delete"


def test_create_only_comes_from_the_shipped_schemas():
    assert "CidrBlock" in changemodel.create_only("AWS::EC2::VPC", "ap-northeast-2")
    assert "MultiAZ" not in changemodel.create_only("AWS::RDS::DBInstance", "ap-northeast-2")
    assert "DBName" in changemodel.create_only("AWS::RDS::DBInstance", "ap-northeast-2")
    assert changemodel.create_only("AWS::Not::AType", "ap-northeast-2") == frozenset()


def test_strict_hook_installs_the_strict_layer_when_present(monkeypatch):
    calls = []
    fake = types.ModuleType("wealist_cfn.rehearsal.strict")
    fake.install = lambda: calls.append("installed")
    monkeypatch.setitem(sys.modules, "wealist_cfn.rehearsal.strict", fake)
    import wealist_cfn.rehearsal

    monkeypatch.setattr(wealist_cfn.rehearsal, "strict", fake, raising=False)
    assert server.install_strict() == "strict"
    assert calls == ["installed"]


def test_strict_hook_holds_a_context_manager_layer(monkeypatch):
    import contextlib

    events = []

    @contextlib.contextmanager
    def install():
        events.append("entered")
        yield
        events.append("exited")

    fake = types.ModuleType("wealist_cfn.rehearsal.strict")
    fake.install = install
    monkeypatch.setitem(sys.modules, "wealist_cfn.rehearsal.strict", fake)
    import wealist_cfn.rehearsal

    monkeypatch.setattr(wealist_cfn.rehearsal, "strict", fake, raising=False)
    held = list(server._HELD)
    try:
        assert server.install_strict() == "strict"
        import gc

        gc.collect()
        assert events == ["entered"], "the layer must stay installed, not be exited when collected"
    finally:
        server._HELD[:] = held
