"""A release through botocore's Stubber: the Parameter Store tag and the Auto
Scaling instance refresh responses, shaped like the API references'."""

from __future__ import annotations

from datetime import datetime, timezone

GROUP = "wealist-prod-backend-asg"


TAG = "/wealist/prod/deploy/user_service_image_tag"


PREFS = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "SkipMatching": False}


def _refresh(rid, status, pct=0, to_update=None, reason=None):
    r = {
        "InstanceRefreshId": rid,
        "AutoScalingGroupName": GROUP,
        "Status": status,
        "PercentageComplete": pct,
        "StartTime": datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc),
        "Preferences": PREFS,
    }
    if to_update is not None:
        r["InstancesToUpdate"] = to_update
    if reason:
        r["StatusReason"] = reason
    return r


def _get(stub, value, name=TAG):
    stub.add_response(
        "get_parameter",
        {
            "Parameter": {
                "Name": name,
                "Type": "String",
                "Value": value,
                "Version": 3,
                "ARN": f"arn:aws:ssm:ap-northeast-2:123456789012:parameter{name}",
                "DataType": "text",
            }
        },
        {"Name": name},
    )


def _put(stub, value, name=TAG):
    stub.add_response(
        "put_parameter",
        {"Version": 4, "Tier": "Standard"},
        {"Name": name, "Value": value, "Type": "String", "Overwrite": True},
    )


def _quiet(stub, *history):
    """DescribeInstanceRefreshes for the group: nothing running."""
    stub.add_response(
        "describe_instance_refreshes",
        {"InstanceRefreshes": list(history)},
        {"AutoScalingGroupName": GROUP, "MaxRecords": 5},
    )


def _follow(stub, rid, *states):
    for st in states:
        stub.add_response(
            "describe_instance_refreshes",
            {"InstanceRefreshes": [st]},
            {"AutoScalingGroupName": GROUP, "InstanceRefreshIds": [rid]},
        )


def _group(health_type, instances=(), target_groups=()):
    """A DescribeAutoScalingGroups entry (Auto Scaling API reference, AutoScalingGroup)."""
    t = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    return {
        "AutoScalingGroupName": GROUP,
        "MinSize": 2,
        "MaxSize": 6,
        "DesiredCapacity": len(instances) or 2,
        "DefaultCooldown": 300,
        "AvailabilityZones": ["ap-northeast-2a"],
        "HealthCheckType": health_type,
        "CreatedTime": t,
        "TargetGroupARNs": list(target_groups),
        "Instances": [
            {
                "InstanceId": i,
                "AvailabilityZone": "ap-northeast-2a",
                "LifecycleState": "InService",
                "HealthStatus": "Healthy",
                "ProtectedFromScaleIn": False,
            }
            for i in instances
        ],
    }
