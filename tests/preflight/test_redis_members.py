"""Preflight's redis-members check: the replication group's members against
the CacheClusterIds the Redis alarms read (``<group>-001`` .. ``-003``).

What ElastiCache does (API reference, DescribeReplicationGroups /
ReplicationGroup): ``MemberClusters`` names every cache cluster of the group;
``NodeGroups[].NodeGroupMembers[]`` says which is primary. A group that does
not exist answers ``ReplicationGroupNotFoundFault`` (HTTP 404). Member IDs are
``<group>-00N`` when ElastiCache names them; a replica added with a name of
its own keeps that name.

Stand-ins: botocore's Stubber with responses shaped as the API reference's
(Stubber also validates them against botocore's service model) for groups
whose members moto cannot produce, and moto's ElastiCache for a group that
does not exist and for one it creates with three nodes.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from wealist_cfn.preflight import checks
from wealist_cfn.stacks import alarms

GROUP = "wealist-prod-redis"


def _group(members: list[str], primary: str) -> dict:
    return {
        "ReplicationGroups": [
            {
                "ReplicationGroupId": GROUP,
                "Description": "Wealist prod Redis",
                "Status": "available",
                "MemberClusters": members,
                "NodeGroups": [
                    {
                        "NodeGroupId": "0001",
                        "Status": "available",
                        "PrimaryEndpoint": {"Address": f"master.{GROUP}.abc123.apn2.cache.amazonaws.com", "Port": 6379},
                        "NodeGroupMembers": [
                            {
                                "CacheClusterId": m,
                                "CacheNodeId": "0001",
                                "PreferredAvailabilityZone": "ap-northeast-2a",
                                "CurrentRole": "primary" if m == primary else "replica",
                            }
                            for m in members
                        ],
                    }
                ],
                "AutomaticFailover": "enabled",
                "MultiAZ": "enabled",
                "ClusterEnabled": False,
                "CacheNodeType": "cache.t3.micro",
                "TransitEncryptionEnabled": True,
                "AtRestEncryptionEnabled": True,
            }
        ]
    }


def _run(ctx, response=None, error=None):
    ec = ctx.aws.client("elasticache")
    with Stubber(ec) as stub:
        if error:
            stub.add_client_error(
                "describe_replication_groups",
                error,
                "ReplicationGroup not found",
                404,
                expected_params={"ReplicationGroupId": GROUP},
            )
        else:
            stub.add_response("describe_replication_groups", response, {"ReplicationGroupId": GROUP})
        result = checks.check_redis_members(ctx)
        stub.assert_no_pending_responses()
    return result


@pytest.mark.stubbed
def test_members_the_alarms_watch_pass(ctx):
    """Stubber: after a failover and a scale-down the survivor is -002,
    still one of the alarms' IDs."""
    assert alarms.REDIS_MEMBERS == 3
    r = _run(ctx, _group([f"{GROUP}-002"], f"{GROUP}-002"))
    assert r.status == checks.OK and f"{GROUP}-002" in r.finding


@pytest.mark.stubbed
def test_a_member_beyond_the_alarms_range_is_named_with_what_to_do(ctx):
    """Stubber: repeated replacements left -002 and -004; -004 runs unwatched."""
    r = _run(ctx, _group([f"{GROUP}-002", f"{GROUP}-004"], f"{GROUP}-004"))
    assert r.status == checks.WARN
    assert f"({GROUP}-004;" in r.finding and f"{GROUP}-001 .. {GROUP}-003" in r.finding
    assert f"{GROUP}-002," not in r.finding  # the watched one is not named as unwatched
    assert "\n" not in r.finding
    assert r.fix == "raise REDIS_MEMBERS in wealist_cfn/stacks/alarms.py to 4, rebuild and deploy"
    assert r.details == [f"{GROUP}-004: not among the alarms' CacheClusterId values"]


@pytest.mark.stubbed
def test_a_member_named_by_hand_gets_the_replace_advice(ctx):
    """Stubber: a replica added with a name of its own; no REDIS_MEMBERS
    value covers it."""
    r = _run(ctx, _group([f"{GROUP}-001", "wealist-redis-spare"], f"{GROUP}-001"))
    assert r.status == checks.WARN and "wealist-redis-spare" in r.finding
    assert "decrease-replica-count" in r.fix


@pytest.mark.stubbed
def test_a_group_not_made_yet_passes(ctx):
    r = _run(ctx, error="ReplicationGroupNotFoundFault")
    assert r.status == checks.OK and "does not exist yet" in r.finding


@pytest.mark.moto
def test_moto_without_the_group_and_with_three_nodes(ctx):
    """moto: its CloudFormation makes no ElastiCache group, so the check
    first finds none; a group made with moto's ElastiCache API lists one
    member, -001, whatever NumCacheClusters says (moto is lenient there; the
    member counts above are the Stubber's), and it is watched."""
    assert checks.check_redis_members(ctx).status == checks.OK
    ec = ctx.aws.client("elasticache")
    ec.create_replication_group(
        ReplicationGroupId=GROUP,
        ReplicationGroupDescription="x",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=3,
    )
    r = checks.check_redis_members(ctx)
    assert r.status == checks.OK, r.finding
    assert ec.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"][0]["MemberClusters"] == [
        f"{GROUP}-001"
    ]
    assert f"every member ({GROUP}-001)" in r.finding
