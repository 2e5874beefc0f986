"""Updates a service refuses in one call are refused before they run, with
the two deploys that get there; a changed launch template says a rollout is
due; the mode switch's review notes.

No stand-in: updaterules.py and sequence.py read a review's rows and
parameter changes (plain data, built here as review.py builds them). The
rule itself is ElastiCache's: ModifyReplicationGroup refuses
AutomaticFailoverEnabled / MultiAZEnabled without a replica, and a replica is
added by a separate call (IncreaseReplicaCount)
(https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html;
aws-cloudformation/cloudformation-coverage-roadmap#383).
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from wealist_cfn.cfn import updaterules
from wealist_cfn.deploy import sequence
from wealist_cfn.errors import EXIT_REFUSED, CommandError

RG = "AWS::ElastiCache::ReplicationGroup"
RULE = updaterules.RULES[0]


def row(where="CacheStack/Redis", rtype=RG, action="Modify", props=(), logical_id="Redis"):
    return NS(
        where=where, resource_type=rtype, action=action, details=[NS(name=n) for n in props], logical_id=logical_id
    )


def param(key, old, new):
    return NS(key=key, old=old, new=new)


def review(rows, parameters=(), kind="UPDATE"):
    return NS(rows=rows, parameters=list(parameters), change_set_type=kind)


@pytest.mark.parametrize(
    "props, together",
    [
        (("NumCacheClusters", "AutomaticFailoverEnabled"), ("AutomaticFailoverEnabled",)),
        (("NumCacheClusters", "MultiAZEnabled"), ("MultiAZEnabled",)),
        (
            ("MultiAZEnabled", "NumCacheClusters", "AutomaticFailoverEnabled", "CacheNodeType"),
            ("AutomaticFailoverEnabled", "MultiAZEnabled"),
        ),
    ],
)
def test_the_replica_count_changed_with_failover_or_multi_az_is_a_violation(props, together):
    [v] = updaterules.violations([row(props=props)])
    assert (v.rule, v.where, v.resource_type, v.together, v.steps) == (RULE, "CacheStack/Redis", RG, together, None)
    assert updaterules.violations_in(RG, props) == [RULE]
    assert f"refuses NumCacheClusters together with {', '.join(together)} in one update" in v.message()


@pytest.mark.parametrize(
    "r",
    [
        row(props=("NumCacheClusters",)),  # alone: accepted
        row(props=("AutomaticFailoverEnabled", "MultiAZEnabled")),  # without the replica count
        row(props=("NumCacheClusters", "AutomaticFailoverEnabled"), action="Add"),
        row(props=("NumCacheClusters", "AutomaticFailoverEnabled"), action="Remove"),
        row(props=("NumCacheClusters", "AutomaticFailoverEnabled"), rtype="AWS::ElastiCache::CacheCluster"),
    ],
)
def test_anything_else_is_no_violation(r):
    assert updaterules.violations([r]) == []
    if r.action == "Modify":
        assert updaterules.violations_in(r.resource_type, [d.name for d in r.details]) == []


def test_every_row_is_looked_at_not_only_the_first():
    rows = [
        row(where="A/Queue", rtype="AWS::SQS::Queue", props=("NumCacheClusters", "MultiAZEnabled")),
        row(where="Cache/New", action="Add", props=("NumCacheClusters", "MultiAZEnabled")),
        row(where="Cache/One", props=("NumCacheClusters", "MultiAZEnabled")),
        row(where="Cache/Two", props=("NumCacheClusters", "AutomaticFailoverEnabled")),
    ]
    assert [v.where for v in updaterules.violations(rows)] == ["Cache/One", "Cache/Two"]


@pytest.mark.parametrize(
    "old, new, first, second",
    [
        ("false", "true", "EnableMultiAZ=true CacheFailover=off", "EnableMultiAZ=true CacheFailover=auto"),
        ("true", "false", "EnableMultiAZ=true CacheFailover=off", "EnableMultiAZ=false CacheFailover=auto"),
    ],
)
def test_the_mode_switch_names_the_two_deploys_that_get_there(old, new, first, second):
    [v] = updaterules.violations(
        [row(props=("NumCacheClusters", "MultiAZEnabled"))],
        [param("Other", "a", "b"), param("EnableMultiAZ", old, new)],
    )
    assert v.message() == (
        f'the service refuses NumCacheClusters together with MultiAZEnabled in one update ("{RULE.service_error}"; '
        f"{RULE.sources[0]}): CloudFormation would fail and roll back the whole update, every stack's part of it "
        f"included. --allow-replace does not change that. Deploy twice: first with {first}, then with {second}."
    )


def test_a_parameter_that_was_never_set_reads_as_empty_and_picks_no_steps():
    [v] = updaterules.violations(
        [row(props=("NumCacheClusters", "MultiAZEnabled"))], [param("EnableMultiAZ", None, "true")]
    )
    assert v.steps is None
    assert v.message().endswith("--allow-replace does not change that. Change NumCacheClusters in a deploy of its own.")
    assert "together with MultiAZEnabled in one update" in v.message()


def test_an_update_that_breaks_a_rule_is_refused_exit_3_naming_every_place():
    rows = [
        row(where="Cache/One", props=("NumCacheClusters", "MultiAZEnabled")),
        row(where="Cache/Two", props=("NumCacheClusters", "AutomaticFailoverEnabled")),
    ]
    with pytest.raises(CommandError) as e:
        sequence.refuse_one_step(review(rows, [param("EnableMultiAZ", "false", "true")]))
    one, two = updaterules.violations(rows, [param("EnableMultiAZ", "false", "true")])
    assert e.value.exit_code == EXIT_REFUSED
    assert str(e.value) == f"refused: Cache/One: {one.message()}"
    assert e.value.details == (f"Cache/Two: {two.message()}",)


@pytest.mark.parametrize(
    "rv",
    [
        None,
        review([row(props=("NumCacheClusters", "MultiAZEnabled"))], kind="CREATE"),
        review([row(props=("NumCacheClusters",))]),
    ],
)
def test_a_create_no_review_or_an_accepted_update_is_not_refused(rv):
    assert sequence.refuse_one_step(rv) is None


def test_a_changed_launch_template_says_which_rollout_is_due():
    rows = [
        row(where="Compute/LaunchTemplate", rtype="AWS::EC2::LaunchTemplate", logical_id="LaunchTemplate"),
        row(
            where="Mon/MonitoringLaunchTemplate",
            rtype="AWS::EC2::LaunchTemplate",
            logical_id="MonitoringLaunchTemplate",
        ),
        row(where="Compute/New", rtype="AWS::EC2::LaunchTemplate", action="Add", logical_id="New"),
        row(where="Compute/Group", rtype="AWS::AutoScaling::AutoScalingGroup", logical_id="Group"),
    ]
    notes = sequence.rollout_notes(rows)
    assert notes == [
        (
            "Compute/LaunchTemplate",
            "AWS::EC2::LaunchTemplate",
            "running backend instances keep the old launch template version; only instances launched after this update "
            "get it. Replace them when it is done: python build.py rollout --params PARAMS",
        ),
        (
            "Mon/MonitoringLaunchTemplate",
            "AWS::EC2::LaunchTemplate",
            "running monitoring instances keep the old launch template version; only instances launched after this "
            "update get it. Replace them when it is done: python build.py rollout --params PARAMS --group monitoring",
        ),
    ]


def test_the_mode_notes_follow_the_parameters_that_change_and_nothing_else():
    params = [
        param("EnableMultiAZ", "false", "true"),
        param("CacheFailover", "auto", "off"),
        param("CacheFailover", None, "auto"),
        param("Other", "a", "b"),
    ]
    notes = sequence.mode_notes(params)
    assert notes == [
        sequence.MODE_NOTES[("EnableMultiAZ", "false", "true")],
        sequence.MODE_NOTES[("CacheFailover", "auto", "off")],
    ]
    assert notes[0].startswith("mode switch to multi-AZ:") and notes[1].startswith("CacheFailover off:")
    assert sequence.mode_notes([param("EnableMultiAZ", "true", "false")])[0].startswith("mode switch to cost mode:")
    assert sequence.mode_notes([param("CacheFailover", "off", "auto")])[0].startswith("CacheFailover auto:")
