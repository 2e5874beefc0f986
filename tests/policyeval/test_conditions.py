"""Table tests of the Condition element (wealist_cfn/policyeval/conditions.py),
each row an example or a stated rule of the IAM User Guide, with the page
it comes from. Stand-in: none; pure evaluation."""

from __future__ import annotations

import pytest

from wealist_cfn.policyeval import UnmodelledCondition, UnmodelledPolicy, conditions, evaluate_statements

OPERATORS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
MULTI = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html"
SETS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html"
GLOBAL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"
VARIABLES = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"


def holds(condition: dict, context: dict) -> bool:
    return conditions.evaluate(condition, context).holds


# (page, condition, request context, documented outcome)
ROWS = [
    # "If the key that you specify in a policy condition is not present in the
    # request context, the values do not match and the condition is false. If
    # the policy condition requires that the key is not matched, such as
    # StringNotLike or ArnNotLike, and the right key is not present, the
    # condition is true."
    (OPERATORS, {"StringLike": {"aws:PrincipalTag/job-category": "iamuser-*"}}, {}, False),
    (OPERATORS, {"StringNotLike": {"aws:PrincipalTag/job-category": "iamuser-*"}}, {}, True),
    (OPERATORS, {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}, {}, True),
    (OPERATORS, {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}, {}, False),
    # String operators: StringEquals "Exact matching, case sensitive";
    # StringEqualsIgnoreCase ignores case; StringLike takes * and ?.
    (
        OPERATORS,
        {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "iamuser-admin"},
        True,
    ),
    (
        OPERATORS,
        {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "IAMUser-Admin"},
        False,
    ),
    (
        OPERATORS,
        {"StringEqualsIgnoreCase": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "IAMUser-Admin"},
        True,
    ),
    (OPERATORS, {"StringLike": {"s3:prefix": ["home/?/", "home/*/docs/*"]}}, {"s3:prefix": "home/a/"}, True),
    (OPERATORS, {"StringLike": {"s3:prefix": ["home/?/"]}}, {"s3:prefix": "home/ab/"}, False),
    # ARN: "Each of the six colon-delimited components of the ARN is checked
    # separately": * does not run across a colon; ArnEquals takes wildcards too.
    (
        OPERATORS,
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"}},
        {"aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"},
        True,
    ),
    (
        OPERATORS,
        {"ArnEquals": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:vpc-flow-log/*"}},
        {"aws:SourceArn": "arn:aws:ec2:ap-northeast-2:111122223333:vpc-flow-log/fl-1"},
        True,
    ),
    (
        OPERATORS,
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
        {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:t"},
        False,
    ),
    (
        OPERATORS,
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}},
        {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/admin"},
        True,
    ),
    (
        OPERATORS,
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:topic"}},
        {"aws:SourceArn": "arn:aws:sns:us-east-1:999999999999:123456789012:topic"},
        False,
    ),
    (
        OPERATORS,
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}},
        {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/admin"},
        False,
    ),
    # Bool: the global keys page's aws:SecureTransport example.
    (GLOBAL, {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}, True),
    (GLOBAL, {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": True}, False),
    # ...IfExists: "If the key is not present, evaluate the condition element
    # as true"; present, it is processed as the operator without IfExists.
    # The global keys page's MFA example: Bool on an absent
    # aws:MultiFactorAuthPresent does not match, BoolIfExists does.
    (GLOBAL, {"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {}, False),
    (GLOBAL, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {}, True),
    (GLOBAL, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {"aws:MultiFactorAuthPresent": "true"}, False),
    (OPERATORS, {"StringEqualsIfExists": {"aws:RequestTag/Project": "wealist"}}, {}, True),
    (
        OPERATORS,
        {"StringEqualsIfExists": {"aws:RequestTag/Project": "wealist"}},
        {"aws:RequestTag/Project": "other"},
        False,
    ),
    # Null: "true (the key doesn't exist — it is null) or false (the key exists
    # and its value is not null)"; the page's example allows EC2 only when
    # aws:TokenIssueTime is absent (no temporary credentials).
    (OPERATORS, {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    (OPERATORS, {"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2026-12-07T21:00:00Z"}, False),
    (OPERATORS, {"Null": {"aws:ResourceTag/Project": "false"}}, {"aws:ResourceTag/Project": "x"}, True),
    # Several operators AND; several keys under one AND; values of one key OR;
    # values of a negated operator NOR.
    (MULTI, {"StringEquals": {"aws:PrincipalTag/team": ["dev", "qa"]}}, {"aws:PrincipalTag/team": "qa"}, True),
    (
        MULTI,
        {"StringEquals": {"aws:PrincipalTag/team": "dev", "aws:PrincipalTag/dept": "123"}},
        {"aws:PrincipalTag/team": "dev", "aws:PrincipalTag/dept": "124"},
        False,
    ),
    (
        MULTI,
        {"StringEquals": {"aws:PrincipalTag/team": "dev"}, "Bool": {"aws:SecureTransport": "true"}},
        {"aws:PrincipalTag/team": "dev", "aws:SecureTransport": "false"},
        False,
    ),
    (MULTI, {"StringNotEquals": {"aws:PrincipalTag/team": ["dev", "qa"]}}, {"aws:PrincipalTag/team": "qa"}, False),
    (MULTI, {"StringNotEquals": {"aws:PrincipalTag/team": ["dev", "qa"]}}, {"aws:PrincipalTag/team": "ops"}, True),
    # Key names are not case-sensitive; values of String operators are.
    (OPERATORS, {"StringEquals": {"AWS:SourceAccount": "111122223333"}}, {"aws:sourceaccount": "111122223333"}, True),
    # The multivalued-keys examples: a Deny with ForAllValues:StringNotLike
    # aws:TagKeys "key1*". Per the page's table: key1:legal -> no match;
    # key1:hr + key1:personnel -> no match; key2:audit -> match; no
    # aws:TagKeys in the request -> match ("The ForAllValues set operator
    # also returns true if there are no context keys in the request").
    (SETS, {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {"aws:TagKeys": ["key1:legal"]}, False),
    (
        SETS,
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:TagKeys": ["key1:hr", "key1:personnel"]},
        False,
    ),
    (SETS, {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {"aws:TagKeys": ["key2:audit"]}, True),
    (SETS, {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {}, True),
    (SETS, {"ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "Environment"]}}, {"aws:TagKeys": []}, True),
    (
        SETS,
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "Environment"]}},
        {"aws:TagKeys": ["Project", "Owner"]},
        False,
    ),
    # ForAnyValue: at least one request value matches; false with no key.
    (
        SETS,
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
        {"aws:TagKeys": ["environment", "owner"]},
        True,
    ),
    (
        SETS,
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
        {"aws:TagKeys": ["owner"]},
        False,
    ),
    (SETS, {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}, {}, False),
    # Policy variables: ${aws:username}; a default for an absent key.
    (
        VARIABLES,
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
        {"s3:prefix": "home/carlos/docs", "aws:username": "carlos"},
        True,
    ),
    (
        VARIABLES,
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
        {"s3:prefix": "home/maria/docs", "aws:username": "carlos"},
        False,
    ),
    (
        VARIABLES,
        {"StringEquals": {"aws:PrincipalTag/team": "${aws:PrincipalTag/department, 'none'}"}},
        {"aws:PrincipalTag/team": "none"},
        True,
    ),
]


@pytest.mark.parametrize("page, condition, context, expected", ROWS, ids=[str(i) for i in range(len(ROWS))])
def test_documented_condition_outcomes(page, condition, context, expected):
    assert holds(condition, context) is expected, page


def test_a_condition_failed_for_a_missing_key_names_it():
    outcome = conditions.evaluate(
        {
            "StringEquals": {"aws:RequestTag/KeyPurpose": "alarm-notifications"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["KeyPurpose"]},
        },
        {},
    )
    assert outcome == conditions.Outcome(False, ("aws:RequestTag/KeyPurpose",))
    # Failing on a value that is present names nothing.
    assert (
        conditions.evaluate(
            {"StringEquals": {"kms:ViaService": "ssm.x.amazonaws.com"}}, {"kms:ViaService": "rds.x.amazonaws.com"}
        ).missing
        == ()
    )


@pytest.mark.parametrize(
    "condition, context",
    [
        ({"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}, {}),  # an operator not modelled
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}),
        ({"IpAddress": {}}, {}),  # refused even with nothing under it
        ({"StringEquals": {"ec2:InstanceType": "t3.micro"}}, {}),  # a key not modelled
        ({"ForEveryValue:StringEquals": {"aws:TagKeys": "x"}}, {}),
        # A multivalued key needs a set operator ("Single-valued vs. multivalued
        # context keys": "Multivalued context keys require a condition set operator").
        ({"StringEquals": {"aws:TagKeys": "Project"}}, {"aws:TagKeys": ["Project"]}),
    ],
)
def test_what_is_not_modelled_is_refused_never_guessed(condition, context):
    with pytest.raises(UnmodelledCondition):
        conditions.evaluate(condition, context)


def test_an_unmodelled_principal_kind_is_refused():
    from wealist_cfn.policyeval import Principal

    statement = {
        "Effect": "Allow",
        "Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"},
        "Action": "s3:GetObject",
        "Resource": "*",
    }
    with pytest.raises(UnmodelledPolicy):
        evaluate_statements([statement], "s3:GetObject", "arn:aws:s3:::b/k", principal=Principal.anonymous())
