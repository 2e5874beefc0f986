"""The update review: parameters, counts, Modify details and values known only
at execution.

Stand-in: botocore's Stubber answering DescribeChangeSet with responses shaped
like the CloudFormation API reference (DescribeChangeSet, Change,
ResourceChange, ResourceChangeDetail, ResourceTargetDefinition). What the real
service does that the stubs encode:

* ``Details`` lists one entry per changed property *and cause*; ``ChangeSource``
  is one of ResourceReference, ParameterReference, ResourceAttribute,
  DirectModification, Automatic; ``RequiresRecreation`` is Never,
  Conditionally or Always (ResourceTargetDefinition).
* With ``IncludePropertyValues`` a value CloudFormation only knows when the
  change set runs is written ``{{changeSet:KNOWN_AFTER_APPLY}}`` in
  BeforeContext/AfterContext and in Target.AfterValue, with Evaluation
  ``Dynamic`` (User Guide, "View a change set": property-level changes).
* DescribeStacks returns a list parameter's value as one comma-joined string
  (API reference, Parameter.ParameterValue).
"""

from __future__ import annotations

from helpers.deploy import stubbed_aws
from helpers.scripted import change
from wealist_cfn.deploy import changeset, review

ACCOUNT = "123456789012"
ROOT = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod/1111"
ROOT_CS = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-1/aaaa"
NET = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod-NetworkStack-X/2222"
NET_CS = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-1-NetworkStack/bbbb"
PLACEHOLDER = "{{changeSet:KNOWN_AFTER_APPLY}}"


def _page(cs_id, stack_id, changes):
    return {
        "ChangeSetId": cs_id,
        "ChangeSetName": cs_id.split("/")[1],
        "StackId": stack_id,
        "StackName": "wealist-prod",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Changes": changes,
    }


def _modify(lid, rtype, details, replacement="False", cs_id=None, before=None, after=None):
    """A Modify row (scripted.change), the nested change set given by its full ID."""
    row = change("Modify", lid, rtype, replacement=replacement, details=details, before=before, after=after)
    if cs_id:
        row["ResourceChange"]["ChangeSetId"] = cs_id
    return row


def _detail(
    name,
    recreation="Never",
    source="DirectModification",
    causing=None,
    evaluation="Static",
    attribute="Properties",
    after=None,
):
    target = {"Attribute": attribute, "RequiresRecreation": recreation}
    if name:
        target["Name"] = name
    if after is not None:
        target["AfterValue"] = after
    d = {"Target": target, "Evaluation": evaluation, "ChangeSource": source}
    if causing:
        d["CausingEntity"] = causing
    return d


def _describe(root_changes, nested=None):
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response(
        "describe_change_set",
        _page(ROOT_CS, ROOT, root_changes),
        {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True},
    )
    if nested is not None:
        cfn.add_response(
            "describe_change_set", _page(NET_CS, NET, nested), {"ChangeSetName": NET_CS, "IncludePropertyValues": True}
        )
    rev = changeset.describe(
        aws, changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, "UPDATE"), "wealist-prod", sleep=lambda s: None
    )
    review.analyse(rev)
    cfn.assert_no_pending_responses()
    return rev


# -- parameters ---------------------------------------------------------------------------------


def test_list_parameter_is_compared_as_a_list():
    """No AWS call: the same zones, as DescribeStacks (``a,b``), moto
    (``['a', 'b']``) or a hand-edited ``a, b`` return them, are no change; a
    different zone is one, shown comma-joined on both sides."""
    wanted = {"AvailabilityZones": "ap-northeast-2a,ap-northeast-2c", "BackendMinSize": "2"}
    for deployed in (
        "ap-northeast-2a,ap-northeast-2c",
        "['ap-northeast-2a', 'ap-northeast-2c']",
        "ap-northeast-2a, ap-northeast-2c",
    ):
        assert review.parameter_changes({"AvailabilityZones": deployed, "BackendMinSize": "2"}, wanted) == []
    changed = review.parameter_changes(
        {"AvailabilityZones": "['ap-northeast-2a', 'ap-northeast-2b']", "BackendMinSize": "2"}, wanted
    )
    assert [(c.key, c.old, c.new) for c in changed] == [
        ("AvailabilityZones", "ap-northeast-2a,ap-northeast-2b", "ap-northeast-2a,ap-northeast-2c")
    ]


def test_order_of_zones_is_a_change():
    """No AWS call: a list parameter's order matters (the 1-based AZ suffix
    maps position to subnet), so a reordering is reported."""
    changed = review.parameter_changes(
        {"AvailabilityZones": "ap-northeast-2c,ap-northeast-2a"},
        {"AvailabilityZones": "ap-northeast-2a,ap-northeast-2c"},
    )
    assert [c.key for c in changed] == ["AvailabilityZones"]


# -- counts ---------------------------------------------------------------------------------------


def test_summary_counts_nested_stack_rows():
    """Stubbed DescribeChangeSet: three nested stacks modified, no change set
    below them (an endpoint that does not report nested change sets). The
    summary counts all three; it never says "no resource changes" under
    Modify rows."""
    rows = [
        _modify(f"{n}Stack", "AWS::CloudFormation::Stack", [_detail("TemplateURL", source="DirectModification")])
        for n in ("Network", "Compute", "Cache")
    ]
    rev = _describe(rows)
    assert rev.counts == {"Modify": 3}
    text = review.render_text(rev)
    assert "Summary: 3 modify" in text
    assert "no resource changes" not in text
    assert "**3 modify**" in review.render_markdown(rev)


def test_summary_counts_every_action_once_nested_rows_included():
    """Stubbed: a root row, a replacement, a conditional replacement, an add
    and a remove inside a nested change set: each row counted once, the
    conditional one named."""
    nested = [
        _modify("NatGateway1", "AWS::EC2::NatGateway", [_detail("SubnetId", "Always")], replacement="True"),
        _modify("RouteTable1", "AWS::EC2::RouteTable", [_detail("VpcId", "Conditionally")], replacement="Conditional"),
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Add",
                "LogicalResourceId": "NatGateway2",
                "ResourceType": "AWS::EC2::NatGateway",
                "Scope": [],
                "Details": [],
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Remove",
                "LogicalResourceId": "Eip3",
                "PhysicalResourceId": "eip-3",
                "ResourceType": "AWS::EC2::EIP",
                "PolicyAction": "Delete",
                "Scope": [],
                "Details": [],
            },
        },
    ]
    rev = _describe(
        [
            _modify(
                "NetworkStack",
                "AWS::CloudFormation::Stack",
                [_detail("Parameters", source="ParameterReference", causing="EnableMultiAZ")],
                cs_id=NET_CS,
            )
        ],
        nested,
    )
    assert rev.counts == {"Add": 1, "Modify": 1, "Replace": 2, "Remove": 1}
    assert sum(rev.counts.values()) == len(rev.rows) == 5
    assert "Summary: 1 add, 1 modify, 2 replace (1 only conditionally), 1 remove" in review.render_text(rev)


# -- Modify details -------------------------------------------------------------------------------


def test_modify_row_names_property_cause_and_recreation():
    """Stubbed: one property changed directly and through a parameter, a
    ResourceAttribute change (DeletionPolicy), and an Automatic change: each
    is named with its cause(s) and recreation requirement, never as "-"."""
    rev = _describe(
        [
            _modify(
                "BackendLaunchTemplate",
                "AWS::EC2::LaunchTemplate",
                [
                    _detail("LaunchTemplateData", "Never", "DirectModification"),
                    _detail("LaunchTemplateData", "Never", "ParameterReference", "BackendInstanceType"),
                ],
            ),
            _modify(
                "Database",
                "AWS::RDS::DBInstance",
                [
                    _detail(None, "Never", "ResourceAttribute", attribute="DeletionPolicy"),
                    _detail("DBInstanceClass", "Conditionally", "ParameterReference", "DbInstanceClass"),
                ],
                replacement="Conditional",
            ),
            _modify(
                "BackendGroup",
                "AWS::AutoScaling::AutoScalingGroup",
                [
                    _detail("LaunchTemplate", "Never", "Automatic", evaluation="Dynamic"),
                ],
            ),
        ]
    )
    text = review.render_text(rev)
    lines = {
        r.logical_id: line
        for r in rev.rows
        for line in text.splitlines()
        if line.startswith(f"wealist-prod  Modify  {r.logical_id} ")
    }
    assert (
        "LaunchTemplateData (DirectModification + ParameterReference BackendInstanceType; recreation Never)"
    ) in lines["BackendLaunchTemplate"]
    assert "DeletionPolicy (ResourceAttribute; recreation Never)" in lines["Database"]
    assert "DBInstanceClass (ParameterReference DbInstanceClass; recreation Conditionally)" in lines["Database"]
    assert "LaunchTemplate (Automatic; recreation Never; value (known only at execution))" in lines["BackendGroup"]
    details = rev.to_dict()["changes"][1]["details"]
    assert details[0] == {
        "name": "DeletionPolicy",
        "attribute": "DeletionPolicy",
        "recreation": "Never",
        "causes": ["ResourceAttribute"],
        "known_at_execution": False,
    }


def test_modify_row_without_details_says_so():
    """Stubbed: a Modify row whose Details are empty (as moto reports) says
    the endpoint did not report the properties instead of a bare "-"."""
    rev = _describe([_modify("Vpc", "AWS::EC2::VPC", [])])
    assert "changed (Properties); properties not reported by the endpoint" in review.render_text(rev)


# -- values known only at execution ---------------------------------------------------------------


def test_known_after_apply_is_never_a_grant():
    """Stubbed: an IAM policy whose Resource and a security group rule whose
    source are ``{{changeSet:KNOWN_AFTER_APPLY}}`` (a resource replaced in
    the same change set) are neither "broadens" nor "narrows": the review
    names them as values known only at execution."""
    stmt = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::wealist-prod-assets/*"}
    rev = _describe(
        [
            _modify(
                "BackendPolicy",
                "AWS::IAM::ManagedPolicy",
                [_detail("PolicyDocument", evaluation="Dynamic", after=PLACEHOLDER)],
                before={"PolicyDocument": {"Statement": [stmt]}},
                after={"PolicyDocument": {"Statement": [dict(stmt, Resource=PLACEHOLDER)]}},
            ),
            _modify(
                "DatabaseSecurityGroup",
                "AWS::EC2::SecurityGroup",
                [_detail("SecurityGroupIngress", evaluation="Dynamic")],
                before={
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": "sg-ec2"}
                    ]
                },
                after={
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": PLACEHOLDER}
                    ]
                },
            ),
        ]
    )
    messages = {c.where: c.message for c in rev.callouts if c.level == "security"}
    iam, sg = messages["BackendPolicy"], messages["DatabaseSecurityGroup"]
    for msg in (iam, sg):
        assert "broadens" not in msg and PLACEHOLDER not in msg
        assert "values known only at execution" in msg
    assert "allow s3:GetObject on (known only at execution)" in iam
    assert "ingress tcp/5432 from (known only at execution)" in sg
    # The old grant is not "narrowed" either: its replacement is only not known yet.
    assert "narrows" not in iam and "narrows" not in sg
    assert "value (known only at execution)" in review.render_text(rev)


def test_a_real_new_grant_is_still_a_broadening():
    """Stubbed: the placeholder handling leaves a real new grant a
    broadening, and a removed grant that no pending value can stand for a
    narrowing."""
    stmt = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a/*"}
    rev = _describe(
        [
            _modify(
                "BackendPolicy",
                "AWS::IAM::ManagedPolicy",
                [_detail("PolicyDocument")],
                before={"PolicyDocument": {"Statement": [stmt]}},
                after={"PolicyDocument": {"Statement": [stmt, dict(stmt, Action="s3:*")]}},
            ),
            _modify(
                "OtherPolicy",
                "AWS::IAM::ManagedPolicy",
                [_detail("PolicyDocument")],
                before={"PolicyDocument": {"Statement": [stmt, dict(stmt, Action="s3:PutObject")]}},
                after={"PolicyDocument": {"Statement": [dict(stmt, Resource=PLACEHOLDER)]}},
            ),
        ]
    )
    msgs = [c.message for c in rev.callouts if c.level == "security"]
    assert msgs[0] == "broadens IAM: allow s3:* on arn:aws:s3:::a/*"
    assert msgs[1] == (
        "narrows IAM: allow s3:PutObject on arn:aws:s3:::a/*; values known only at execution, "
        "check them after the deploy: allow s3:GetObject on (known only at execution)"
    )


def test_a_deployed_list_reads_as_cloudformation_takes_it():
    """No AWS call: DescribeStacks gives a List parameter comma-joined (AWS)
    or as the list's rendering (moto); the no-change check of the deploy and
    day-two diff read both as ``a,b``, and leave other values alone."""
    from wealist_cfn.deploy.review import list_value

    assert list_value("['ap-northeast-2a', 'ap-northeast-2c']") == "ap-northeast-2a,ap-northeast-2c"
    assert list_value("ap-northeast-2a,ap-northeast-2c") == "ap-northeast-2a,ap-northeast-2c"
    assert list_value("10.1.0.0/16") == "10.1.0.0/16"
