"""Table tests of tests/helpers/iam_eval.py ``decide``: each row is a rule from
the IAM User Guide's condition pages (cited in iam_eval.py), with the
documented outcome. Stand-in: none; pure evaluation."""

from __future__ import annotations

import pytest

from helpers.iam_eval import UnmodelledCondition, conditions_hold, decide, decide_bounded

TAGS = ["Project", "Environment"]


@pytest.mark.parametrize(
    "condition, context, holds",
    [
        # Absent key: no positive operator matches, a negated one holds, IfExists holds.
        ({"StringEquals": {"aws:RequestTag/Project": "wealist"}}, {}, False),
        ({"StringNotEquals": {"aws:RequestTag/Project": "wealist"}}, {}, True),
        ({"StringEqualsIfExists": {"aws:RequestTag/Project": "wealist"}}, {}, True),
        ({"ArnNotEquals": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"}}, {}, True),
        # Null: true exactly when the key is absent.
        ({"Null": {"aws:ResourceTag/Project": "true"}}, {}, True),
        ({"Null": {"aws:ResourceTag/Project": "true"}}, {"aws:ResourceTag/Project": "x"}, False),
        # Values for one key are alternatives; keys and operators must all hold.
        (
            {"StringEquals": {"kms:ViaService": ["ssm.x.amazonaws.com", "rds.x.amazonaws.com"]}},
            {"kms:ViaService": "rds.x.amazonaws.com"},
            True,
        ),
        (
            {"StringEquals": {"aws:SourceAccount": "1", "aws:SourceArn": "2"}},
            {"aws:SourceAccount": "1", "aws:SourceArn": "3"},
            False,
        ),
        (
            {
                "StringEquals": {"aws:SourceAccount": "1"},
                "ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:1:vpc-flow-log/*"},
            },
            {"aws:SourceAccount": "1", "aws:SourceArn": "arn:aws:ec2:r:1:vpc-flow-log/fl-1"},
            True,
        ),
        # Key names are case-insensitive, values case-sensitive.
        ({"StringEquals": {"AWS:SourceAccount": "1"}}, {"aws:sourceaccount": "1"}, True),
        ({"StringEquals": {"aws:RequestTag/Project": "Wealist"}}, {"aws:RequestTag/Project": "wealist"}, False),
        # ForAllValues: every request value listed; vacuously true when absent.
        ({"ForAllValues:StringEquals": {"aws:TagKeys": TAGS}}, {"aws:TagKeys": ["Project"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": TAGS}}, {"aws:TagKeys": ["Project", "Owner"]}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": TAGS}}, {}, True),
        # ForAnyValue: at least one request value listed; false when absent.
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": TAGS}}, {"aws:TagKeys": ["Owner", "Project"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": TAGS}}, {}, False),
    ],
)
def test_condition_rules(condition, context, holds):
    assert conditions_hold(condition, context) is holds


def test_an_unmodelled_operator_is_refused():
    with pytest.raises(UnmodelledCondition):
        conditions_hold({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"})


def test_an_applicable_deny_wins_and_a_conditional_allow_needs_its_context():
    statements = [
        {
            "Effect": "Allow",
            "Action": "iam:CreateRole",
            "Resource": "*",
            "Condition": {"ArnEquals": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"}},
        },
        {"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "arn:aws:iam::1:role/admin"},
    ]
    bounded = {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"}
    assert decide(statements, "iam:CreateRole", "arn:aws:iam::1:role/app", bounded)
    assert not decide(statements, "iam:CreateRole", "arn:aws:iam::1:role/app", {})
    assert not decide(statements, "iam:CreateRole", "arn:aws:iam::1:role/admin", bounded)


def test_a_boundary_caps_what_the_policies_allow():
    everything = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    boundary = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]
    assert decide_bounded(everything, boundary, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not decide_bounded(everything, boundary, "s3:PutObject", "arn:aws:s3:::b/k")
    assert not decide_bounded([], boundary, "s3:GetObject", "arn:aws:s3:::b/k")
