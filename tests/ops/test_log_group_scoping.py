"""Log-group scoping where it is easiest to get wrong: groups whose names
share a prefix with ours. IAM matches ARNs as strings with ``*`` and ``?``
wildcards (IAM User Guide, "IAM JSON policy elements: Resource"), so
``log-group:/wealist/prod/backend*`` would also grant
``/wealist/prod/backend-other``; only the exact name and the ``NAME:*``
streams form are ours. The committed templates, no endpoint.
"""

from __future__ import annotations

import pytest

from helpers.iam_eval import allowed
from helpers.iam_policies import _service_role

ACCOUNT = "123456789012"
GROUP = f"arn:aws:logs:ap-northeast-2:{ACCOUNT}:log-group:"
OURS = ["/wealist/prod/backend", "/wealist/prod/monitoring", "/aws/rds/instance/wealist-prod-postgres/postgresql"]
# Each shares a prefix with one of ours; a wildcard one character too early grants it.
NEIGHBOURS = [
    "/wealist/prod/backend-other",
    "/wealist/prod/backend2",
    "/wealist/prod/monitoringx",
    "/aws/rds/instance/wealist-prod-postgres/postgresql-audit",
    "/aws/rds/instance/wealist-prod-postgres-old/postgresql",
    "/wealist/prod",
]


@pytest.mark.parametrize(
    "action", ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup", "logs:TagResource"]
)
def test_the_service_role_reaches_our_groups_and_none_that_share_their_prefix(oidc, action):
    statements = _service_role(oidc)["statements"]
    for name in OURS:
        assert allowed(statements, action, f"{GROUP}{name}:*"), (action, name)
    reached = [
        name
        for name in NEIGHBOURS
        for arn in (f"{GROUP}{name}", f"{GROUP}{name}:*")
        if allowed(statements, action, arn)
    ]
    assert reached == []


def test_a_prefix_wildcard_would_be_caught():
    """The same check over a statement that ends the name with a wildcard."""
    loose = [{"Effect": "Allow", "Action": ["logs:DeleteLogGroup"], "Resource": [f"{GROUP}/wealist/prod/backend*"]}]
    assert [n for n in NEIGHBOURS if allowed(loose, "logs:DeleteLogGroup", f"{GROUP}{n}:*")] == [
        "/wealist/prod/backend-other",
        "/wealist/prod/backend2",
    ]
