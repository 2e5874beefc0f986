"""Reading the generated templates (wealist_cfn/cfn/templates.py): the
short-form tags as CloudFormation reads them, the parse cache that must
never share a copy, and the template set a deploy packages. Files in a
temporary directory; no AWS and no stand-in, milliseconds per case for the
mutation run of templates.py.

What CloudFormation does, as relied on here (CloudFormation user guide,
"Intrinsic function reference"): the short form ``!Ref X`` is ``{"Ref":
"X"}``, ``!Condition X`` is ``{"Condition": "X"}``, every other ``!Name`` is
``{"Fn::Name": ...}``; ``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``
(split at the first dot only: an attribute such as ``Outputs.VpcId`` keeps
its own dot). A nested stack's TemplateURL is a local file path before
packaging (``aws cloudformation package``) and an S3 URL after.
"""

from __future__ import annotations

import pytest

from wealist_cfn.cfn import templates as tpl
from wealist_cfn.errors import EXIT_USAGE, CommandError

NESTED = "AWS::CloudFormation::Stack"


@pytest.fixture(autouse=True)
def fresh_parse_cache(monkeypatch):
    """Each test starts with an empty parse cache, as a new process does:
    a text parsed before (by another test, or before a fork) would
    otherwise be answered from the cache and never parsed here."""
    monkeypatch.setattr(tpl, "_PARSED", {})


def test_every_short_form_reads_as_its_long_form():
    text = """
Conditions:
  Multi: !Equals [!Ref EnableMultiAZ, "true"]
  Both: !And [!Condition Multi, !Not [!Condition Single]]
Resources:
  A:
    Type: AWS::SNS::Topic
    Properties:
      Name: !Sub "${AWS::StackName}-x"
      Vpc: !GetAtt NetworkStack.Outputs.VpcId
      Zone: !Select [0, !GetAZs ""]
      Pair: !Sub
        - "${A}-${B}"
        - {A: !Ref X, B: b}
      Keys: !If [Multi, !Ref Y, !Ref "AWS::NoValue"]
"""
    d = tpl.load(text)
    assert d["Conditions"] == {
        "Multi": {"Fn::Equals": [{"Ref": "EnableMultiAZ"}, "true"]},
        "Both": {"Fn::And": [{"Condition": "Multi"}, {"Fn::Not": [{"Condition": "Single"}]}]},
    }
    p = d["Resources"]["A"]["Properties"]
    assert p["Name"] == {"Fn::Sub": "${AWS::StackName}-x"}
    assert p["Vpc"] == {"Fn::GetAtt": ["NetworkStack", "Outputs.VpcId"]}
    assert p["Zone"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert p["Pair"] == {"Fn::Sub": ["${A}-${B}", {"A": {"Ref": "X"}, "B": "b"}]}
    assert p["Keys"] == {"Fn::If": ["Multi", {"Ref": "Y"}, {"Ref": "AWS::NoValue"}]}
    assert tpl.load("Outputs: !Base64 {Ref: X}") == {"Outputs": {"Fn::Base64": {"Ref": "X"}}}


def test_the_multi_constructor_takes_a_tag_with_or_without_its_bang():
    loader = tpl._CfnLoader("x: 1")
    node = tpl.yaml.ScalarNode("!Ref", "Vpc")
    assert tpl.construct_short_form(loader, "!Ref", node) == {"Ref": "Vpc"}
    assert tpl.construct_short_form(loader, "GetAtt", tpl.yaml.ScalarNode("!GetAtt", "A.B.C")) == {
        "Fn::GetAtt": ["A", "B.C"]
    }


def test_json_reads_too_and_anything_but_a_mapping_is_refused():
    assert tpl.load('{"Resources": {"A": {"Type": "T"}}}') == {"Resources": {"A": {"Type": "T"}}}
    for text in ("- a\n- b\n", "just text", "", "42"):
        with pytest.raises(ValueError) as e:
            tpl.load(text)
        assert str(e.value) == "a template must be a mapping"


def test_each_caller_gets_its_own_copy_of_a_parsed_template():
    text = "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {Tags: [{Key: k, Value: v}]}\n"
    assert tpl.load(text) == tpl.load(text) == tpl.load(text)
    first = tpl.load(text)
    first["Resources"]["A"]["Properties"]["Tags"].append("changed")
    first["Resources"]["B"] = {}
    second = tpl.load(text)
    assert second == {
        "Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"Tags": [{"Key": "k", "Value": "v"}]}}}
    }
    second["Resources"]["A"]["Type"] = "x"
    assert tpl.load(text)["Resources"]["A"]["Type"] == "AWS::SNS::Topic"


def test_dump_keeps_key_order_and_long_form_and_reads_back_the_same():
    data = {
        "Resources": {
            "Zed": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "x-" * 70}}},
            "Alpha": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [{"Key": "a", "Value": "b"}]}},
        },
        "Outputs": {},
    }
    text = tpl.dump(data)
    assert text.index("Zed") < text.index("Alpha") and "!" not in text and "{" not in text.replace("{}", "")
    assert tpl.load(text) == data
    assert text.startswith("Resources:\n")


def test_dump_folds_lines_near_120_characters_not_80():
    # PyYAML breaks at the first space past the width
    text = tpl.dump({"D": " ".join(["word"] * 60)})
    assert 100 < max(len(line) for line in text.splitlines()) <= 125 and len(text.splitlines()) > 2
    assert tpl.load(text) == {"D": " ".join(["word"] * 60)}


def test_nested_stacks_are_the_stack_resources_and_their_properties():
    t = {
        "Resources": {
            "Net": {"Type": NESTED, "Properties": {"TemplateURL": "network.yaml"}},
            "Bare": {"Type": NESTED},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        }
    }
    assert tpl.nested_stacks(t) == {"Net": {"TemplateURL": "network.yaml"}, "Bare": {}}
    assert tpl.nested_stacks({}) == {} and tpl.nested_stacks({"Resources": None}) == {}


def test_a_local_url_is_a_path_and_nothing_else_is():
    assert tpl.is_local_url("network.yaml") and tpl.is_local_url("sub/dir.yaml")
    assert not tpl.is_local_url("https://bucket.s3.amazonaws.com/network.yaml")
    assert not tpl.is_local_url("s3://bucket/network.yaml")
    assert not tpl.is_local_url({"Fn::Sub": "x.yaml"}) and not tpl.is_local_url(None)


def root_with(*children: str, extra: str = "") -> str:
    lines = ["Resources:"]
    for i, c in enumerate(children):
        lines += [f"  S{i}:", f"    Type: {NESTED}", f"    Properties: {{TemplateURL: {c}}}"]
    return "\n".join(lines) + "\n" + extra


def test_read_follows_every_local_child_once_and_no_remote_one(tmp_path):
    (tmp_path / "root.yaml").write_text(root_with("a.yaml", "b.yaml", "https://x.s3.amazonaws.com/c.yaml"))
    (tmp_path / "a.yaml").write_text(root_with("leaf.yaml"))
    (tmp_path / "b.yaml").write_text(root_with("leaf.yaml", "a.yaml"))
    (tmp_path / "leaf.yaml").write_text("Resources: {T: {Type: AWS::SNS::Topic}}\n")
    (tmp_path / "unused.yaml").write_text("Resources: {}\n")
    ts = tpl.read(tmp_path)
    assert set(ts.texts) == {"root.yaml", "a.yaml", "b.yaml", "leaf.yaml"}
    assert ts.directory == tmp_path and ts.root_name == "root.yaml"
    assert ts.root_text == (tmp_path / "root.yaml").read_text()
    assert ts.parsed("leaf.yaml") == {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}


def test_read_starts_from_the_root_it_is_given(tmp_path):
    (tmp_path / "other.yaml").write_text(root_with("leaf.yaml"))
    (tmp_path / "leaf.yaml").write_text("Resources: {}\n")
    ts = tpl.read(tmp_path, "other.yaml")
    assert set(ts.texts) == {"other.yaml", "leaf.yaml"} and ts.root_name == "other.yaml"


def test_a_missing_root_says_how_to_make_the_templates(tmp_path):
    with pytest.raises(CommandError) as e:
        tpl.read(tmp_path)
    assert (
        str(e.value) == f"{tmp_path / 'root.yaml'}: no such template; run `python build.py` to generate the templates"
    )
    assert e.value.exit_code == EXIT_USAGE


def test_a_missing_child_names_the_template_and_the_resource_that_point_at_it(tmp_path):
    (tmp_path / "root.yaml").write_text(root_with("network.yaml"))
    with pytest.raises(CommandError) as e:
        tpl.read(tmp_path)
    assert str(e.value) == f"{tmp_path / 'network.yaml'}: no such template (TemplateURL in root.yaml S0)"
    assert e.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize("text, why", [("Resources: [unclosed\n", "while parsing"), ("- a list\n", "mapping")])
def test_an_unreadable_template_is_one_line_naming_the_file(tmp_path, text, why):
    (tmp_path / "root.yaml").write_text(root_with("bad.yaml"))
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(CommandError) as e:
        tpl.read(tmp_path)
    assert str(e.value).startswith(f"{tmp_path / 'bad.yaml'}: not a readable template: ") and why in str(e.value)
    assert e.value.exit_code == EXIT_USAGE


def test_a_template_is_read_as_utf8(tmp_path):
    (tmp_path / "root.yaml").write_bytes('Description: "Wealist \u2014 prod"\n'.encode())
    assert tpl.read(tmp_path).parsed("root.yaml") == {"Description": "Wealist \u2014 prod"}
