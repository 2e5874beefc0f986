"""diff's comparison on plain data (no AWS): NoEcho masking, scalar
equivalence and createOnly prediction from cfn-lint's resource schemas."""

from __future__ import annotations

from wealist_cfn.daytwo import diff

ROOT = {"Parameters": {"DbPassword": {"Type": "String", "NoEcho": True}, "Size": {"Type": "String"}}}


def test_no_echo_value_reported_by_aws_as_stars_is_not_compared_and_never_shown():
    """DescribeStacks returns ``****`` for a NoEcho parameter (API_Parameter),
    so the deployed value is unknown: listed as not compared, resolved with
    the local value, never printed."""
    diffs, resolve_with, unreadable = diff._parameter_diffs(
        ROOT, {"DbPassword": "****", "Size": "small"}, {"DbPassword": "s3cret-local", "Size": "large"}, ROOT
    )
    assert [(d.key, d.old, d.new) for d in diffs] == [("Size", "small", "large")]
    assert unreadable == ["DbPassword"] and resolve_with["DbPassword"] == "s3cret-local"


def test_no_echo_change_is_masked_on_both_sides():
    diffs, _, _ = diff._parameter_diffs(ROOT, {"DbPassword": "old-secret"}, {"DbPassword": "new-secret"}, ROOT)
    (d,) = diffs
    assert (d.old, d.new, d.no_echo) == ("****", "****", True)
    report = diff.DiffReport("s", 1, parameters=diffs)
    assert "secret" not in diff.render_text(report) + diff.render_markdown(report) + diff.render_json(report)


def test_scalars_compare_as_cloudformation_passes_them():
    """5432 and "5432", true and "true" are the same value to CloudFormation."""
    old = {"Type": "AWS::RDS::DBInstance", "Properties": {"Port": 5432, "MultiAZ": True}}
    new = {"Type": "AWS::RDS::DBInstance", "Properties": {"Port": "5432", "MultiAZ": "true"}}
    assert diff.compare_resource("DatabaseStack", "Database", old, new, "ap-northeast-2") is None


def test_create_only_property_predicts_replacement_and_others_do_not():
    """AWS::EC2::Subnet's schema lists CidrBlock as createOnly (replacement);
    Tags are not."""

    def subnet(cidr_block, tag):
        return {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"CidrBlock": cidr_block, "Tags": [{"Key": "a", "Value": tag}]},
        }

    base, tags, cidr = subnet("10.0.0.0/24", "1"), subnet("10.0.0.0/24", "2"), subnet("10.0.9.0/24", "1")
    t = diff.compare_resource("NetworkStack", "PublicSubnet1", base, tags, "ap-northeast-2")
    assert [p.path for p in t.properties] == ["Properties.Tags[0].Value"] and not t.replacement and not t.guarded
    c = diff.compare_resource("NetworkStack", "PublicSubnet1", base, cidr, "ap-northeast-2")
    assert c.properties[0].create_only and c.replacement == "predicted (a change set confirms)" and c.guarded


def test_the_stack_name_follows_the_params_file_before_any_aws_call():
    """No AWS call: as for deploy, --stack-name defaults to the file's
    <Project>-<Environment> and may not contradict it without
    --force-stack-name; with neither a file nor a name, one line, exit 2."""
    from helpers.daytwo import run_cli
    from wealist_cfn.core.settings import PARAMS_DIR

    code, _, err = run_cli(
        "outputs",
        "--params",
        PARAMS_DIR / "prod.json",
        "--stack-name",
        "wealist-dev",
        "--endpoint-url",
        "http://localhost:1",
    )
    [line] = err.strip().splitlines()
    assert code == 2 and line.startswith("error: --stack-name wealist-dev contradicts ")
    assert line.endswith(
        "prod.json: Project-Environment is wealist-prod; leave out --stack-name, or add "
        "--force-stack-name if wealist-dev is meant"
    )
    code, _, err = run_cli("events", "--region", "ap-northeast-2", "--endpoint-url", "http://localhost:1")
    assert code == 2 and "name the stack: --params FILE" in err


def test_a_derived_parameter_is_not_a_difference_from_the_file():
    """BackendHealthCheckType is derived by deploy (ELB once every service is
    released); the file's default EC2 against a stack on ELB is no drift of
    the file. A parameter the file sets still is."""
    from wealist_cfn import config
    from wealist_cfn.core.settings import PARAMS_DIR

    local = config.load(PARAMS_DIR / "prod.json").values
    deployed = dict(local, BackendHealthCheckType="ELB", BackendMinSize="3")
    values = diff.with_derived(local, deployed)
    assert values["BackendHealthCheckType"] == "ELB" and values["BackendMinSize"] == local["BackendMinSize"]
