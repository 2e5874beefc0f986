"""The deploy's gates as data (wealist_cfn/deploy/gate.py), over every
combination of their inputs: whether a change set with guarded changes may
run, whether --no-rollback may, and whether it was approved.

No endpoint and no AWS call: the gates take the review's guarded call-outs
and the flags, and return a decision. What CloudFormation itself enforces
(the stack policy that denies Update:Replace and Update:Delete on stateful
resources, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html)
is tested against moto in test_guards.py; these tests pin the decision the
command line makes before any call that would execute.
"""

from __future__ import annotations

import itertools

import pytest

from wealist_cfn.deploy import gate
from wealist_cfn.deploy.review import Callout

CS = "deploy-20261207-101500-abc1234-9f3e"


def guarded(rtype: str, *, conditional: bool) -> Callout:
    return Callout("guarded", f"DataStack/{rtype.split('::')[-1]}", rtype, "replaced", conditional=conditional)


DATABASE = guarded("AWS::RDS::DBInstance", conditional=False)
CONDITIONAL_SUBNET = guarded("AWS::EC2::Subnet", conditional=True)
CONDITIONAL_CACHE = guarded("AWS::ElastiCache::ReplicationGroup", conditional=True)

GUARDED_SETS = {
    "none": [],
    "database": [DATABASE],
    "conditional": [CONDITIONAL_SUBNET],
    "two-conditional": [CONDITIONAL_SUBNET, CONDITIONAL_CACHE],
    "database-and-conditional": [CONDITIONAL_SUBNET, DATABASE],
}
BY_NAME = {"unset": "", "this": CS, "this-padded": f"  {CS}\n", "another": "deploy-older-one"}

CASES = list(itertools.product(GUARDED_SETS, [False, True], [False, True], BY_NAME, [False, True]))


def expected(changes, allow, accept, by_name, executes) -> str:
    """The rule, written from docs/deploy.md ('Guarded changes'), independently of gate.py."""
    if not changes or not executes:
        return gate.GO
    if allow:
        return gate.ALLOWED
    if all(c.conditional for c in changes) and (accept or by_name.strip() == CS):
        return gate.ACCEPTED_CONDITIONAL
    return gate.REFUSED


@pytest.mark.parametrize(("changes", "allow", "accept", "by_name", "executes"), CASES)
def test_the_replacement_gate_follows_the_documented_rule_for_every_combination(
    changes, allow, accept, by_name, executes
):
    d = gate.replacement(
        GUARDED_SETS[changes],
        change_set_name=CS,
        allow_replace=allow,
        accept_conditional=accept,
        accepted_by_name=BY_NAME[by_name],
        executes=executes,
    )
    assert d.outcome == expected(GUARDED_SETS[changes], allow, accept, BY_NAME[by_name], executes)
    assert d.go == (d.outcome != gate.REFUSED)
    if d.outcome == gate.REFUSED:
        # A refusal always names the way out.
        assert "--allow-replace" in d.message and d.message.startswith("refused:")


def test_allowed_with_allow_replace_even_for_a_database():
    d = gate.replacement([DATABASE, CONDITIONAL_SUBNET], change_set_name=CS, allow_replace=True)
    assert (d.outcome, d.go) == (gate.ALLOWED, True)


@pytest.mark.parametrize("by_name", ["", CS])
def test_a_database_replacement_is_refused_by_accept_conditional_and_its_ci_form(by_name):
    """A certain replacement of the database is never 'conditional': neither
    --accept-conditional nor WEALIST_ACCEPT_CONDITIONAL lets it through."""
    d = gate.replacement([DATABASE], change_set_name=CS, accept_conditional=not by_name, accepted_by_name=by_name)
    assert d.outcome == gate.REFUSED and not d.go
    assert "1 guarded change(s)" in d.message
    # The Conditional-only advice would mislead here: it is not given.
    assert not any("--accept-conditional" in line for line in d.details)


def test_refused_without_allow_replace_names_the_count_and_for_conditional_ones_the_ways_out():
    d = gate.replacement(
        [CONDITIONAL_SUBNET, CONDITIONAL_CACHE], change_set_name=CS, accepted_by_name="deploy-older-one"
    )
    assert d.outcome == gate.REFUSED
    assert "2 guarded change(s)" in d.message
    assert any("--accept-conditional" in line for line in d.details)
    assert any(f"names deploy-older-one, not this change set ({CS})" in line for line in d.details)
    assert any(f"accept-conditional = {CS}" in line for line in d.details)


def test_the_ci_name_accepts_only_the_change_set_it_names():
    ok = gate.replacement([CONDITIONAL_SUBNET], change_set_name=CS, accepted_by_name=CS)
    other = gate.replacement([CONDITIONAL_SUBNET], change_set_name="deploy-newer", accepted_by_name=CS)
    assert ok.outcome == gate.ACCEPTED_CONDITIONAL and f"{gate.ACCEPT_CONDITIONAL_ENV}={CS}" in ok.message
    assert other.outcome == gate.REFUSED


def test_a_plan_refuses_nothing():
    d = gate.replacement([DATABASE], change_set_name=CS, executes=False)
    assert d.outcome == gate.GO and d.go


@pytest.mark.parametrize(
    ("no_rollback", "kind", "go"),
    [(False, "UPDATE", True), (False, "CREATE", True), (True, "CREATE", True), (True, "UPDATE", False)],
)
def test_no_rollback_is_for_a_first_create_only(no_rollback, kind, go):
    d = gate.first_create_only(
        no_rollback=no_rollback, change_set_type=kind, stack_name="wealist-prod", status="UPDATE_COMPLETE"
    )
    assert d.go is go
    if not go:
        assert "wealist-prod exists (UPDATE_COMPLETE)" in d.message


@pytest.mark.parametrize(
    ("yes", "interactive", "answer", "go"),
    [
        (True, False, None, True),
        (True, True, None, True),
        (False, True, "y", True),
        (False, True, " YES\n", True),
        (False, True, "", False),
        (False, True, "n", False),
        (False, True, "yep", False),
        (False, True, None, False),
        (False, False, None, False),
        (False, False, "yes", False),  # no terminal: an answer from nowhere approves nothing
    ],
)
def test_only_yes_or_a_typed_yes_at_a_terminal_approves(yes, interactive, answer, go):
    d = gate.approval(yes=yes, interactive=interactive, answer=answer)
    assert d.go is go
    assert d.outcome == (gate.APPROVED if go else gate.NOT_APPROVED)
    if not interactive and not yes:
        assert d.message == "not approved: no terminal to ask and no --yes"
