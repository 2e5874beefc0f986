"""The review's call-outs and what it counts (wealist_cfn/deploy/review.py):
what is guarded, what is warned about, what is flagged for security, which
grants are a broadening, and which parameter values are shown, over rows
built by hand in the shape of DescribeChangeSet's ResourceChange. No stand-in
and no endpoint: the functions take rows; each case runs in microseconds
for the mutation run of review.py (the moto tests of test_review*.py take
seconds each).

What CloudFormation reports, as relied on here (API reference,
ResourceChange): ``Action`` Add / Modify / Remove / Import / Dynamic;
``Replacement`` True / False / Conditional ("Conditional: the resource
might be replaced"); ``PolicyAction`` Delete / Retain / Snapshot /
ReplaceAndDelete / ReplaceAndRetain / ReplaceAndSnapshot; with
IncludePropertyValues, ``BeforeContext`` / ``AfterContext`` hold the
resource's properties as JSON, with ``{{changeSet:KNOWN_AFTER_APPLY}}``
where a value is only known at execution.
"""

from __future__ import annotations

import pytest

from wealist_cfn.deploy import review as rv

DB, NESTED, ROLE, SG = "AWS::RDS::DBInstance", "AWS::CloudFormation::Stack", "AWS::IAM::Role", "AWS::EC2::SecurityGroup"
PENDING = "{{changeSet:KNOWN_AFTER_APPLY}}"


def row(
    action="Modify",
    type_=DB,
    lid="Db",
    path="DatabaseStack",
    replacement="",
    policy="",
    props=(),
    before=None,
    after=None,
):
    return rv.Row(
        path=path,
        action=action,
        logical_id=lid,
        resource_type=type_,
        replacement=replacement,
        policy_action=policy,
        properties=list(props),
        before=before,
        after=after,
    )


def callouts(*rows, kind="UPDATE", parameters=()):
    r = rv.Review("wealist-prod", kind, rows=list(rows), parameters=list(parameters))
    rv.analyse(r)
    return r.callouts


def only(cs, level):
    return [(c.where, c.message, c.conditional) for c in cs if c.level == level]


# ------------------------------------------------------------------ guarded


@pytest.mark.parametrize("type_", sorted(rv.STATEFUL_TYPES - rv.NAMED_TYPES))
def test_removing_or_replacing_any_stateful_resource_is_guarded(type_):
    for r, what in (
        (row("Remove", type_), "removed"),
        (row(type_=type_, replacement="True"), "replaced"),
        (row(type_=type_, policy="ReplaceAndDelete"), "replaced"),
        (row(type_=type_, replacement="Conditional"), "possibly replaced (Replacement: Conditional)"),
    ):
        (g,) = only(callouts(r), "guarded")
        assert g[0] == "DatabaseStack/Db"
        assert g[1].startswith(f"stateful resource {what}: its data is lost unless restored from a snapshot")


def test_a_guarded_call_out_names_the_policy_action_and_the_properties_that_replace():
    (g,) = only(
        callouts(
            row(
                type_="AWS::EC2::VPC",
                replacement="True",
                policy="ReplaceAndRetain",
                props=["CidrBlock (replaces)", "Tags", "EnableDnsSupport (may replace)"],
            )
        ),
        "guarded",
    )
    assert g[1] == (
        "stateful resource replaced: its data is lost unless restored from a snapshot; policy action "
        "ReplaceAndRetain (because of CidrBlock, EnableDnsSupport)"
    )


@pytest.mark.parametrize("type_", sorted(rv.NAMED_TYPES))
def test_a_custom_named_stateful_resource_cannot_be_replaced_and_its_update_would_fail(type_):
    (g,) = only(callouts(row(type_=type_, replacement="Conditional")), "guarded")
    assert g == (
        "DatabaseStack/Db",
        "custom-named, so CloudFormation cannot replace it: this update would fail and "
        "roll back (if it is possibly replaced); to replace it, it needs a new name",
        True,
    )
    (g,) = only(callouts(row(type_=type_, replacement="True")), "guarded")
    assert "(if it is replaced)" in g[1] and g[2] is False
    # removed, it is removed like any other stateful resource
    (g,) = only(callouts(row("Remove", type_)), "guarded")
    assert g[1].startswith("stateful resource removed")


def test_a_nested_stack_removed_or_replaced_takes_everything_in_it():
    for r, what in (
        (row("Remove", NESTED, "NetworkStack", ""), "removed"),
        (row(type_=NESTED, lid="NetworkStack", path="", replacement="True"), "replaced"),
    ):
        (g,) = only(callouts(r), "guarded")
        assert g == ("NetworkStack", f"nested stack {what}: every resource in it goes with it", False)


def test_only_a_conditional_replacement_may_go_ahead_with_accept_conditional():
    assert only(callouts(row(replacement="Conditional", type_="AWS::EC2::Subnet")), "guarded")[0][2] is True
    for r in (
        row(replacement="True", type_="AWS::EC2::Subnet"),
        row("Remove", "AWS::EC2::Subnet"),
        row(replacement="Conditional", type_="AWS::EC2::Subnet", policy="ReplaceAndSnapshot"),
    ):
        assert only(callouts(r), "guarded")[0][2] is False


def test_nothing_is_guarded_that_is_not_removed_or_replaced_or_on_a_first_create():
    assert callouts(row(replacement="False"), row("Add"), row(replacement="", policy="Snapshot")) == []
    assert callouts(row("Remove"), row(replacement="True", type_=NESTED), kind="CREATE") == []
    assert (
        only(callouts(row("Remove", "AWS::SNS::Topic"), row(replacement="True", type_="AWS::SQS::Queue")), "guarded")
        == []
    )


def test_every_guarded_row_is_called_out_not_only_the_first():
    cs = callouts(
        row("Remove", lid="A"),
        row(replacement="False", lid="B"),
        row(replacement="True", lid="C", type_="AWS::ECR::Repository"),
    )
    assert [g[0] for g in only(cs, "guarded")] == ["DatabaseStack/A", "DatabaseStack/C"]
    r = rv.Review("s", "UPDATE", rows=[row("Remove", lid="A"), row(replacement="False", lid="B")])
    rv.analyse(r)
    assert [c.where for c in r.guarded] == ["DatabaseStack/A"]


# ----------------------------------------------------------------- warnings


@pytest.mark.parametrize("type_", sorted(rv.WARN_TYPES))
def test_a_subnet_group_replaced_or_removed_moves_the_database_or_cache(type_):
    assert only(callouts(row(type_=type_, replacement="True")), "warning") == [
        ("DatabaseStack/Db", "replaced: the database or cache that uses it moves to the new one", False)
    ]
    assert only(callouts(row("Remove", type_)), "warning") == [
        ("DatabaseStack/Db", "removed: the database or cache that uses it moves to the new one", False)
    ]
    assert callouts(row(type_=type_, replacement="False")) == []
    assert callouts(row("Remove", type_), kind="CREATE") == []


def test_a_trust_policy_change_is_warned_about_as_one_the_service_role_cannot_make():
    cs = callouts(row(type_=ROLE, props=["Policies", "AssumeRolePolicyDocument (may replace)"]))
    assert only(cs, "warning") == [("DatabaseStack/Db", rv.TRUST_CHANGE, False)]
    assert only(callouts(row(type_=ROLE, props=["Policies"])), "warning") == []
    assert only(callouts(row("Add", ROLE, props=["AssumeRolePolicyDocument"])), "warning") == []
    assert only(callouts(row(type_="AWS::IAM::Policy", props=["AssumeRolePolicyDocument"])), "warning") == []
    assert callouts(row(type_=ROLE, props=["AssumeRolePolicyDocument"]), kind="CREATE") == []


# ----------------------------------------------------------------- security


@pytest.mark.parametrize(
    "type_, kind",
    [
        (ROLE, "IAM"),
        ("AWS::IAM::ManagedPolicy", "IAM"),
        (SG, "security group"),
        ("AWS::EC2::SecurityGroupIngress", "security group"),
        ("AWS::EC2::SecurityGroupEgress", "security group"),
        (rv.RULE_TYPE, "listener rule"),
    ],
)
def test_every_access_change_is_flagged_for_security_review(type_, kind):
    assert only(callouts(row("Remove", type_)), "security") == [
        ("DatabaseStack/Db", f"{kind} resource removed (narrows access)", False)
    ]
    assert only(callouts(row(type_=type_, props=["Tags", "Description (replaces)"])), "security") == [
        (
            "DatabaseStack/Db",
            f"{kind} change to Tags, Description; values not reported by the endpoint: check the template diff",
            False,
        )
    ]
    assert only(callouts(row(type_=type_)), "security")[0][1].startswith(f"{kind} change to properties;")
    assert only(callouts(row("Add", type_)), "security") == [
        ("DatabaseStack/Db", f"new {kind} resource: review what it grants in the template", False)
    ]
    assert callouts(row("Add", type_), kind="CREATE") == []
    assert only(callouts(row(type_="AWS::SNS::Topic")), "security") == []


def sg(*ingress, egress=()):
    return {"SecurityGroupIngress": list(ingress), "SecurityGroupEgress": list(egress)}


def rule(proto="tcp", lo=443, hi=443, **peer):
    return {"IpProtocol": proto, "FromPort": lo, "ToPort": hi, **peer}


def security(before, after, type_=SG, action="Modify"):
    (c,) = only(callouts(row(action, type_, before=before, after=after)), "security")
    return c[1]


def test_a_wider_source_or_a_new_port_is_a_broadening():
    old = sg(rule(CidrIp="10.0.0.0/16"))
    # the old block is inside the new one: a broadening, and no narrowing
    assert security(old, sg(rule(CidrIp="0.0.0.0/0"))) == "broadens security group: ingress tcp/443 from 0.0.0.0/0"
    assert (
        security(old, sg(rule(CidrIp="10.0.0.0/16"), rule(lo=22, hi=22, CidrIp="10.0.0.0/16")))
        == "broadens security group: ingress tcp/22 from 10.0.0.0/16"
    )
    assert (
        security(old, sg(rule(CidrIp="10.0.0.0/16"), egress=[rule("-1", -1, -1, CidrIp="0.0.0.0/0")]))
        == "broadens security group: egress -1/-1 to 0.0.0.0/0"
    )


def test_what_the_old_rules_already_allowed_is_no_broadening():
    old = sg(rule(lo=0, hi=65535, CidrIp="10.0.0.0/16"), egress=[rule("-1", CidrIp="0.0.0.0/0")])
    new = sg(
        rule(lo=443, hi=443, CidrIp="10.0.1.0/24"),
        rule(lo=80, hi=80, CidrIp="10.0.0.0/16"),
        egress=[rule("udp", 53, 53, CidrIp="10.0.0.2/32")],
    )
    assert security(old, new) == (
        "narrows security group: egress -1/443 to 0.0.0.0/0; ingress tcp/0-65535 from 10.0.0.0/16"
    )
    assert security(old, old) == "security group change that neither adds nor removes a grant"


def test_a_rule_of_another_direction_protocol_or_address_family_is_never_covered():
    old = sg(rule(lo=0, hi=65535, CidrIp="0.0.0.0/0"))
    assert security(old, sg(*old["SecurityGroupIngress"], rule("udp", 53, 53, CidrIp="10.0.0.0/8"))).startswith(
        "broadens security group: ingress udp/53 from 10.0.0.0/8"
    )
    assert security(old, sg(*old["SecurityGroupIngress"], rule(CidrIpv6="::/0"))).startswith(
        "broadens security group: ingress tcp/443 from ::/0"
    )
    assert security(old, sg(*old["SecurityGroupIngress"], egress=[rule(CidrIp="10.0.0.0/8")])).startswith(
        "broadens security group: egress tcp/443 to 10.0.0.0/8"
    )
    # a rule on all ports (-1) is not inside a port range
    assert security(old, sg(*old["SecurityGroupIngress"], rule("tcp", -1, -1, CidrIp="10.0.0.0/8"))).startswith(
        "broadens"
    )
    # another group as the source is not inside any address block
    assert security(old, sg(*old["SecurityGroupIngress"], rule(SourceSecurityGroupId="sg-1"))).startswith(
        "broadens security group: ingress tcp/443 from sg-1"
    )


def test_a_separate_ingress_or_egress_resource_is_read_as_one_rule():
    assert security(
        rule(CidrIp="10.0.0.0/16"), rule(lo=22, hi=22, CidrIp="10.0.0.0/16"), "AWS::EC2::SecurityGroupIngress"
    ).startswith("broadens security group: ingress tcp/22 from 10.")
    assert security(
        rule(DestinationSecurityGroupId="sg-a"),
        rule(DestinationSecurityGroupId="sg-b"),
        "AWS::EC2::SecurityGroupEgress",
    ) == ("broadens security group: egress tcp/443 to sg-b; narrows security group: egress tcp/443 to sg-a")


def policy(*statements):
    return {"PolicyDocument": {"Statement": list(statements)}}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_a_new_action_resource_or_principal_is_an_iam_broadening():
    old = policy(allow("s3:GetObject", "arn:aws:s3:::b/*"))
    assert (
        security(old, policy(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::b/*")), "AWS::IAM::ManagedPolicy")
        == "broadens IAM: allow s3:PutObject on arn:aws:s3:::b/*"
    )
    assert (
        security(old, policy(allow("s3:GetObject", "*")), "AWS::IAM::ManagedPolicy")
        == "broadens IAM: allow s3:GetObject on *"
    )
    assert (
        security(policy(allow("s3:GetObject", "*")), old, "AWS::IAM::ManagedPolicy")
        == "narrows IAM: allow s3:GetObject on *"
    )
    trust = {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]
        }
    }
    wider = {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["ec2.amazonaws.com"], "AWS": "arn:aws:iam::1:root"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
    }
    assert security(trust, wider, ROLE) == "broadens IAM: allow sts:AssumeRole to AWS:arn:aws:iam::1:root"


def test_a_deny_a_wildcard_already_granted_and_a_managed_policy():
    old = {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [allow("s3:*", "*")]}}]}
    new = {
        "Policies": [
            {
                "PolicyName": "p",
                "PolicyDocument": {
                    "Statement": [
                        allow("s3:GetObject", "arn:aws:s3:::b/*"),
                        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
                    ]
                },
            }
        ],
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
    }
    assert security(old, new, ROLE) == (
        "broadens IAM: managed policy arn:aws:iam::aws:policy/AdministratorAccess; narrows IAM: allow s3:* on *"
    )


def test_more_than_eight_new_grants_are_counted_not_hidden():
    new = policy(allow([f"s3:Action{i:02}" for i in range(11)]))
    msg = security(policy(), new, "AWS::IAM::ManagedPolicy")
    assert msg.endswith("; and 3 more") and msg.count("allow s3:Action") == 8


def test_a_value_known_only_at_execution_is_neither_broadening_nor_narrowing():
    old = policy(allow("s3:GetObject", "arn:aws:s3:::old/*"))
    new = policy(allow("s3:GetObject", PENDING))
    assert security(old, new, "AWS::IAM::ManagedPolicy") == (
        f"values known only at execution, check them after the deploy: allow s3:GetObject on {rv.KNOWN_AT_EXECUTION}"
    )
    assert security(policy(), {"PolicyDocument": PENDING}, "AWS::IAM::ManagedPolicy") == (
        f"values known only at execution, check them after the deploy: PolicyDocument {rv.KNOWN_AT_EXECUTION}"
    )


def test_a_listener_rule_that_opens_to_more_addresses_is_a_broadening():
    def lr(*sources):
        return {
            "Actions": [{"Type": "forward"}],
            "Conditions": [
                {"Field": "path-pattern", "Values": ["/grafana*"]},
                *([{"Field": "source-ip", "SourceIpConfig": {"Values": list(sources)}}] if sources else []),
            ],
        }

    assert (
        security(lr("203.0.113.0/24"), lr("203.0.113.0/24", "198.51.100.7/32"), rv.RULE_TYPE)
        == "broadens listener rule: requests from 198.51.100.7/32"
    )
    assert (
        security(lr("203.0.113.0/24"), lr(), rv.RULE_TYPE)
        == "broadens listener rule: requests from any address (0.0.0.0/0)"
    )
    assert (
        security(lr("203.0.113.0/24"), lr("203.0.113.128/25"), rv.RULE_TYPE)
        == "narrows listener rule: requests from 203.0.113.0/24"
    )


# --------------------------------------------------------- counts, params


def test_counts_every_row_once_and_a_replacing_modify_as_replace():
    r = rv.Review(
        "s",
        "UPDATE",
        rows=[
            row("Add"),
            row("Add"),
            row(replacement="True"),
            row(replacement="Conditional"),
            row(replacement="False"),
            row("Remove"),
            row("Import"),
            row("Dynamic"),
        ],
    )
    assert r.counts == {"Add": 2, "Modify": 1, "Replace": 2, "Remove": 1, "Import": 1, "Dynamic": 1}
    assert list(r.counts) == ["Add", "Modify", "Replace", "Remove", "Import", "Dynamic"]
    assert r.conditional_replacements == 1
    assert rv.Review("s", "UPDATE").counts == {}


def test_a_changed_parameter_is_listed_a_noecho_one_never_shown(monkeypatch):
    # No root parameter is NoEcho today; one made so must still never show.
    import dataclasses

    secret, listed, plain = "AlarmEmail", "AvailabilityZones", "BackendInstanceType"
    monkeypatch.setitem(rv.PARAMS_BY_NAME, secret, dataclasses.replace(rv.PARAMS_BY_NAME[secret], no_echo=True))
    changes = rv.parameter_changes(
        {secret: "old", plain: "a", listed: "['x', 'y']"}, {secret: "new", plain: "b", listed: "x, y", "Unknown": "v"}
    )
    assert [(c.key, c.old, c.new) for c in changes] == [
        (secret, "****", "****"),
        (plain, "a", "b"),
        ("Unknown", None, "v"),
    ]
    assert [(c.key, c.old, c.new) for c in rv.parameter_changes({}, {secret: "s"})] == [(secret, None, "****")]
    assert rv.parameter_changes({plain: "a"}, {plain: "a"}) == []
    assert [(c.key, c.old) for c in rv.parameter_changes({listed: "['x']"}, {listed: "x,y"})] == [(listed, "x")]


def test_a_list_value_reads_back_as_cloudformation_takes_it():
    assert rv.list_value("['a', 'b']") == "a,b" and rv.list_value(' ["a","b"] ') == "a,b"
    assert rv.list_value("a,b") == "a,b" and rv.list_value("[]") == ""
    assert rv._as_items(["a ", " b"]) == ["a", "b"] and rv._as_items("a, ,b") == ["a", "b"]


def test_a_placeholder_is_a_value_known_only_at_execution():
    assert rv.is_placeholder(PENDING) and rv.is_placeholder(f"arn:{PENDING}/x")
    assert not rv.is_placeholder("{{resolve:ssm:/x}}") and not rv.is_placeholder(None)
    assert not rv.is_placeholder({"Ref": "X"})


def test_a_rule_on_every_port_or_a_prefix_list_is_named_as_such():
    # IpProtocol -1 carries no ports (AWS::EC2::SecurityGroup Ingress: "-1
    # ... all protocols"; FromPort/ToPort then absent)
    assert (
        security(sg(), sg({"IpProtocol": "-1", "CidrIp": "10.0.0.0/8"}))
        == "broadens security group: ingress -1/all from 10.0.0.0/8"
    )
    assert security(sg(), sg({"CidrIp": "10.0.0.0/8"})) == "broadens security group: ingress ?/all from 10.0.0.0/8"
    assert (
        security(sg(), sg(rule(lo=8000, hi=8100, SourcePrefixListId="pl-1")))
        == "broadens security group: ingress tcp/8000-8100 from pl-1"
    )
    assert (
        security(sg(), sg(egress=[rule(DestinationPrefixListId="pl-2")]))
        == "broadens security group: egress tcp/443 to pl-2"
    )
    assert security(sg(), sg(rule())) == "broadens security group: ingress tcp/443 from ?"
    # a rule on all ports is not inside an old range, nor a range inside an all-ports rule of tcp only
    old = sg(rule(lo=0, hi=1000, CidrIp="10.0.0.0/8"))
    assert (
        security(old, sg(*old["SecurityGroupIngress"], {"IpProtocol": "tcp", "CidrIp": "10.0.0.0/8"}))
        == "broadens security group: ingress tcp/all from 10.0.0.0/8"
    )
    # the old all-traffic rule covers everything from its peers
    old = sg({"IpProtocol": "-1", "CidrIp": "10.0.0.0/8"})
    assert (
        security(old, sg(*old["SecurityGroupIngress"], rule("udp", 53, 53, CidrIp="10.1.0.0/16")))
        == "security group change that neither adds nor removes a grant"
    )
    # a port range written with a parameter (no number) is never read as covered
    old = sg(rule(lo=0, hi=65535, CidrIp="10.0.0.0/8"))
    assert (
        security(old, sg(*old["SecurityGroupIngress"], rule(lo="x", hi="x", CidrIp="10.0.0.0/8")))
        == "broadens security group: ingress tcp/x from 10.0.0.0/8"
    )
    # one port: the range read as from..from
    old = sg(rule(lo=440, hi=450, CidrIp="10.0.0.0/8"))
    assert (
        security(old, sg(*old["SecurityGroupIngress"], {"IpProtocol": "tcp", "FromPort": 445, "CidrIp": "10.0.0.0/8"}))
        == "security group change that neither adds nor removes a grant"
    )
    assert (
        security(old, sg(*old["SecurityGroupIngress"], {"IpProtocol": "tcp", "FromPort": 451, "CidrIp": "10.0.0.0/8"}))
        == "broadens security group: ingress tcp/451 from 10.0.0.0/8"
    )


def test_a_listener_rule_that_now_does_something_else_is_not_covered_by_the_old_one():
    def lr(actions, source, *conditions):
        return {
            "Actions": actions,
            "Conditions": [*conditions, {"Field": "source-ip", "SourceIpConfig": {"Values": [source]}}],
        }

    fwd_a, fwd_b = [{"Type": "forward", "TargetGroupArn": "a"}], [{"Type": "forward", "TargetGroupArn": "b"}]
    path, other = {"Field": "path-pattern", "Values": ["/grafana*"]}, {"Field": "path-pattern", "Values": ["/*"]}
    # fewer addresses, the same action and match: only a narrowing
    assert (
        security(lr(fwd_a, "203.0.113.0/24", path), lr(fwd_a, "203.0.113.0/25", path), rv.RULE_TYPE)
        == "narrows listener rule: requests from 203.0.113.0/24"
    )
    # fewer addresses but another target, or another path: what they reach is new
    assert (
        security(lr(fwd_a, "203.0.113.0/24", path), lr(fwd_b, "203.0.113.0/25", path), rv.RULE_TYPE)
        == "broadens listener rule: requests from 203.0.113.0/25; narrows listener rule: requests from 203.0.113.0/24"
    )
    assert (
        security(lr(fwd_a, "203.0.113.0/24", path), lr(fwd_a, "203.0.113.0/25", other), rv.RULE_TYPE)
        == "broadens listener rule: requests from 203.0.113.0/25; narrows listener rule: requests from 203.0.113.0/24"
    )


def test_a_value_known_only_at_execution_in_any_policy_field_is_named():
    for key in ("AssumeRolePolicyDocument", "PolicyDocument", "Policies", "SecurityGroupIngress"):
        assert security({}, {key: PENDING}, ROLE) == (
            f"values known only at execution, check them after the deploy: {key} {rv.KNOWN_AT_EXECUTION}"
        )


def test_every_inline_policy_and_every_principal_and_notaction_is_read():
    new = {
        "Policies": [
            {"PolicyName": "a", "PolicyDocument": {"Statement": [allow("s3:GetObject")]}},
            {"PolicyDocument": {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}},
            "not a policy",
            {"PolicyName": "c", "PolicyDocument": "not a document"},
        ],
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": ["arn:aws:iam::1:root", "arn:aws:iam::2:root"],
                    "Action": "sts:AssumeRole",
                }
            ]
        },
    }
    assert security({}, new, ROLE) == (
        "broadens IAM: allow (NotAction) on *; allow s3:GetObject on *; allow sts:AssumeRole to arn:aws:iam::1:root; "
        "allow sts:AssumeRole to arn:aws:iam::2:root"
    )
    arn = {"ManagedPolicyArns": [f"arn:aws:iam::aws:policy/{PENDING}"]}
    assert security({}, arn, ROLE) == (
        f"values known only at execution, check them after the deploy: managed policy {rv.KNOWN_AT_EXECUTION}"
    )
    # a managed policy the role had is no broadening, one it loses a narrowing
    had = {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}
    assert security(had, had, ROLE) == "IAM change that neither adds nor removes a grant"
    assert security(had, {}, ROLE) == "narrows IAM: managed policy arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_a_list_parameter_in_any_rendering_is_compared_as_a_list():
    assert rv._as_items("['a', \"b\"]") == ["a", "b"] and rv._as_items("[a]") == ["a"]
    assert rv._as_items("a]") == ["a]"] and rv._as_items("[a") == ["[a"]
    assert rv.list_value("[a") == "[a" and rv.list_value("a]") == "a]"
    assert rv._is_list_type("AvailabilityZones") and not rv._is_list_type("VpcCidr")
    assert not rv._is_list_type("NoSuchParameter")


def test_a_comma_delimited_list_parameter_is_a_list(monkeypatch):
    import dataclasses

    monkeypatch.setitem(
        rv.PARAMS_BY_NAME,
        "AcceptedRisks",
        dataclasses.replace(rv.PARAMS_BY_NAME["AcceptedRisks"], type="CommaDelimitedList"),
    )
    assert rv._is_list_type("AcceptedRisks")
    assert rv.parameter_changes({"AcceptedRisks": "a, b"}, {"AcceptedRisks": "a,b"}) == []


def test_the_edges_of_what_an_old_rule_covers():
    same = "security group change that neither adds nor removes a grant"
    # a tcp rule without ports is every tcp port
    old = sg({"IpProtocol": "tcp", "CidrIp": "10.0.0.0/8"})
    assert security(old, sg(*old["SecurityGroupIngress"], rule(CidrIp="10.0.0.0/8"))) == same
    # a range starting at port 1 is a range like any other
    old = sg(rule(lo=1, hi=10, CidrIp="10.0.0.0/8"))
    assert security(old, sg(*old["SecurityGroupIngress"], rule(CidrIp="10.0.0.0/8"))).startswith("broadens")
    old = sg(rule(lo=0, hi=1000, CidrIp="10.0.0.0/8"))
    assert security(old, sg(*old["SecurityGroupIngress"], rule(lo=1, hi=2, CidrIp="10.0.0.0/8"))) == same
    # a block written with host bits set is still the block
    old = sg(rule(CidrIp="10.0.0.1/8"))
    assert security(old, sg(*old["SecurityGroupIngress"], rule(CidrIp="10.1.0.0/16"))) == same


def test_the_edges_of_what_an_old_statement_covers():
    same = "IAM change that neither adds nor removes a grant"
    anyone = {"AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:*"}]}}
    one = {
        "AssumeRolePolicyDocument": {
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sts:AssumeRole"}]
        }
    }
    assert (
        security(
            {**anyone},
            {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        *anyone["AssumeRolePolicyDocument"]["Statement"],
                        *one["AssumeRolePolicyDocument"]["Statement"],
                    ]
                }
            },
            ROLE,
        )
        == same
    )
    # a managed policy swapped for another is a broadening and a narrowing
    assert security(
        {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
        {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
        ROLE,
    ) == (
        "broadens IAM: managed policy arn:aws:iam::aws:policy/AdministratorAccess; narrows IAM: managed policy "
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    # a Deny before an Allow does not hide the Allow
    assert (
        security(
            policy(),
            policy({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}, allow("s3:GetObject")),
            "AWS::IAM::ManagedPolicy",
        )
        == "broadens IAM: allow s3:GetObject on *"
    )


def test_eight_grants_are_listed_and_more_are_counted():
    for n, tail in ((8, ""), (9, "; and 1 more")):
        msg = security(policy(), policy(allow([f"s3:A{i}" for i in range(n)])), "AWS::IAM::ManagedPolicy")
        assert msg.count("allow s3:A") == 8 and msg.endswith("allow s3:A7 on *" + tail)
    msg = security(policy(allow([f"s3:A{i}" for i in range(9)])), policy(), "AWS::IAM::ManagedPolicy")
    assert msg.count("allow s3:A") == 8
    msg = security(policy(), policy(allow([f"s3:A{i}" for i in range(9)], PENDING)), "AWS::IAM::ManagedPolicy")
    assert msg.count("allow s3:A") == 8 and "on (known only at execution); allow s3:A1 on" in msg


def test_a_new_resource_whose_values_are_reported_lists_what_it_grants():
    assert (
        security(None, sg(rule(CidrIp="0.0.0.0/0")), action="Add")
        == "broadens security group: ingress tcp/443 from 0.0.0.0/0"
    )


def test_a_listener_rule_read_in_another_key_order_is_the_same_rule():
    a = {
        "Actions": [{"Type": "forward", "TargetGroupArn": "t"}],
        "Conditions": [
            {"Field": "path-pattern", "Values": ["/x"]},
            {"Field": "source-ip", "SourceIpConfig": {"Values": ["1.0.0.0/8"]}},
        ],
    }
    b = {
        "Actions": [{"TargetGroupArn": "t", "Type": "forward"}],
        "Conditions": [
            {"Values": ["/x"], "Field": "path-pattern"},
            {"Field": "source-ip", "SourceIpConfig": {"Values": ["1.2.0.0/16"]}},
        ],
    }
    assert security(a, b, rv.RULE_TYPE) == "narrows listener rule: requests from 1.0.0.0/8"


def detail(name):
    return rv.Detail(name=name, attribute="Properties", recreation="Never")


def test_an_update_the_service_would_refuse_is_guarded_and_the_rollout_and_mode_are_said():
    """The review carries updaterules' and sequence's findings (their own
    rules are tested in test_update_rules_properties.py): a Redis change
    CloudFormation refuses in one update is guarded, a launch template
    change says which instances keep the old one, a mode change its note."""
    redis = rv.Row(
        "CacheStack",
        "Modify",
        "Redis",
        "AWS::ElastiCache::ReplicationGroup",
        details=[detail("NumCacheClusters"), detail("AutomaticFailoverEnabled")],
    )
    lt = rv.Row("ComputeStack", "Modify", "BackendLaunchTemplate", "AWS::EC2::LaunchTemplate")
    change = rv.ParameterChange("EnableMultiAZ", "false", "true")
    r = rv.Review("s", "UPDATE", rows=[redis, lt], parameters=[change], notes=["earlier note"])
    rv.analyse(r)
    guarded = [(c.where, c.resource_type) for c in r.guarded]
    assert guarded == [("CacheStack/Redis", "AWS::ElastiCache::ReplicationGroup")]
    (g,) = r.guarded
    assert g.message.startswith("the service refuses NumCacheClusters together with AutomaticFailoverEnabled")
    warnings = [(c.where, c.resource_type) for c in r.callouts if c.level == "warning"]
    assert warnings == [("ComputeStack/BackendLaunchTemplate", "AWS::EC2::LaunchTemplate")]
    assert [c.message for c in r.callouts if c.level == "warning"][0]
    from wealist_cfn.deploy import sequence

    note = sequence.MODE_NOTES[("EnableMultiAZ", "false", "true")]
    assert r.notes == ["earlier note", note]
    rv.analyse(r)  # analysing again adds no note twice
    assert r.notes == ["earlier note", note]
    # on a first create none of this applies
    r = rv.Review("s", "CREATE", rows=[redis, lt], parameters=[change])
    rv.analyse(r)
    assert r.callouts == [] and r.notes == []


def test_every_call_out_names_the_resource_type():
    for r in (
        row("Remove"),
        row(type_="AWS::RDS::DBSubnetGroup", replacement="True"),
        row(type_=ROLE, props=["AssumeRolePolicyDocument"]),
        row(type_=SG),
    ):
        assert {c.resource_type for c in callouts(r)} == {r.resource_type}


def test_a_guarded_call_out_without_a_policy_action_adds_nothing_for_it():
    (g,) = only(callouts(row("Remove", "AWS::EC2::VPC")), "guarded")
    assert g[1] == "stateful resource removed: its data is lost unless restored from a snapshot"


def test_a_removal_with_a_conditional_replacement_is_not_conditional():
    (g,) = only(callouts(row("Remove", "AWS::EC2::Subnet", replacement="Conditional")), "guarded")
    assert g[2] is False


def test_changed_list_parameters_are_shown_as_cloudformation_takes_them_each_of_them():
    changes = rv.parameter_changes(
        {"AvailabilityZones": "['a', 'b']", "BackendInstanceType": "t3.small"},
        {"AvailabilityZones": "a,c", "BackendInstanceType": "t3.micro"},
    )
    assert [(c.key, c.old, c.new) for c in changes] == [
        ("AvailabilityZones", "a,b", "a,c"),
        ("BackendInstanceType", "t3.small", "t3.micro"),
    ]
    # a list parameter set for the first time
    assert [(c.key, c.old) for c in rv.parameter_changes({}, {"AvailabilityZones": "a"})] == [
        ("AvailabilityZones", None)
    ]


def test_a_value_that_is_no_rendered_list_is_left_as_it_is():
    assert rv.list_value("a, b") == "a, b" and rv.list_value("a, b]") == "a, b]" and rv.list_value("[a, b") == "[a, b"


def test_an_unchanged_list_parameter_does_not_hide_the_changes_after_it():
    changes = rv.parameter_changes(
        {"AvailabilityZones": "['a', 'b']", "VpcCidr": "10.0.0.0/16"},
        {"AvailabilityZones": "a, b", "VpcCidr": "10.1.0.0/16"},
    )
    assert [(c.key, c.old, c.new) for c in changes] == [("VpcCidr", "10.0.0.0/16", "10.1.0.0/16")]


def test_the_refused_update_names_the_two_deploys_the_parameter_change_calls_for():
    redis = rv.Row(
        "CacheStack",
        "Modify",
        "Redis",
        "AWS::ElastiCache::ReplicationGroup",
        details=[detail("NumCacheClusters"), detail("AutomaticFailoverEnabled")],
    )
    r = rv.Review("s", "UPDATE", rows=[redis], parameters=[rv.ParameterChange("EnableMultiAZ", "false", "true")])
    rv.analyse(r)
    (g,) = r.guarded
    assert "EnableMultiAZ=true CacheFailover=off" in g.message and "EnableMultiAZ=true CacheFailover=auto" in g.message


def test_an_unchanged_value_does_not_hide_the_changes_after_it():
    changes = rv.parameter_changes(
        {"VpcCidr": "10.0.0.0/16", "BackendInstanceType": "t3.small"},
        {"VpcCidr": "10.0.0.0/16", "BackendInstanceType": "t3.micro"},
    )
    assert [(c.key, c.old, c.new) for c in changes] == [("BackendInstanceType", "t3.small", "t3.micro")]
