"""destroy puts back the protections it turned off when the deletion fails.

Stand-ins: moto's server for RDS and ELBv2, which really keep
``DeletionProtection`` (ModifyDBInstance) and ``deletion_protection.enabled``
(ModifyLoadBalancerAttributes) and answer DBInstanceNotFound for a database
that is gone. botocore's Stubber for CloudFormation, shaped like the API
reference: moto does not implement UpdateTerminationProtection (HTTP 500),
and a DELETE_FAILED stack is what moto cannot produce.

The real rules: a DB instance with DeletionProtection and a load balancer
with deletion_protection.enabled cannot be deleted (ModifyDBInstance,
"DeletionProtection"; ELB user guide, "Deletion protection"), and a stack
with termination protection cannot be deleted (UpdateTerminationProtection).
So destroy turns them off first, and a DELETE_FAILED that leaves the stack
must not leave them off.
"""

from __future__ import annotations

import boto3
import pytest

from helpers.daytwo import REGION, ROOT_ID, stubbed_cfn
from wealist_cfn.aws import Aws
from wealist_cfn.daytwo import destroy
from wealist_cfn.errors import CommandError


def _moto_db_and_lb(endpoint: str) -> tuple[str, str]:
    rds = boto3.client("rds", region_name=REGION, endpoint_url=endpoint)
    rds.create_db_instance(
        DBInstanceIdentifier="wealist-dev-postgres",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="u",
        MasterUserPassword="password123",
        DeletionProtection=False,
    )
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "c"))
    ]
    elbv2 = boto3.client("elbv2", region_name=REGION, endpoint_url=endpoint)
    arn = elbv2.create_load_balancer(Name="alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    return "wealist-dev-postgres", arn


def test_protections_turned_off_are_switched_back_on_after_a_failed_delete(moto_endpoint):
    """moto: the database and the load balancer whose protection destroy
    turned off are switched back on; a database already deleted is said to
    be so (not an error)."""
    db, lb = _moto_db_and_lb(moto_endpoint)
    aws = Aws(REGION, endpoint_url=moto_endpoint)
    p = destroy.DestroyPlan(
        "wealist-dev",
        ROOT_ID,
        "DELETE_FAILED",
        protections=[
            destroy.Protection("database", "DatabaseStack/Database", db),
            destroy.Protection("load-balancer", "LoadBalancerStack/LoadBalancer", lb),
            destroy.Protection("database", "DatabaseStack/Old", "wealist-dev-gone"),
        ],
    )
    lines = destroy.restore_protections(aws, p, p.protections[1:] + p.protections[:1])
    assert lines == [
        "load-balancer protection of LoadBalancerStack/LoadBalancer switched back on",
        "database protection of DatabaseStack/Old: the resource is already deleted",
        "database protection of DatabaseStack/Database switched back on",
    ]
    rds = boto3.client("rds", region_name=REGION, endpoint_url=moto_endpoint)
    assert rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]["DeletionProtection"] is True
    attrs = boto3.client("elbv2", region_name=REGION, endpoint_url=moto_endpoint).describe_load_balancer_attributes(
        LoadBalancerArn=lb
    )["Attributes"]
    assert {"Key": "deletion_protection.enabled", "Value": "true"} in attrs


@pytest.mark.stubbed
def test_a_protection_that_cannot_be_put_back_is_named_with_its_command():
    """Stubbed UpdateTerminationProtection refused (AccessDenied): the line
    says it is still OFF and gives the exact command."""
    aws, stub = stubbed_cfn()
    stub.add_client_error("update_termination_protection", "AccessDenied", "not allowed")
    p = destroy.DestroyPlan(
        "wealist-dev",
        ROOT_ID,
        "DELETE_FAILED",
        protections=[destroy.Protection("termination", "root stack", "wealist-dev")],
    )
    [line] = destroy.restore_protections(aws, p, p.protections)
    assert line == (
        f"termination protection of root stack is still OFF (not allowed); put it back: aws "
        f"cloudformation update-termination-protection --stack-name {ROOT_ID} "
        f"--enable-termination-protection"
    )


@pytest.mark.stubbed
def test_a_turn_off_that_fails_half_way_puts_back_the_ones_already_off():
    """Stubbed: termination protection is turned off, then the database's
    turn-off is refused. Before the error reaches the user, termination
    protection is switched back on and nothing is deleted. Before the fix
    the root stayed unprotected."""
    aws, stub = stubbed_cfn()
    rds = aws.session.client("rds", region_name=REGION)
    aws._clients["rds"] = rds
    from botocore.stub import Stubber

    rstub = Stubber(rds)
    rstub.activate()
    stub.add_response(
        "update_termination_protection",
        {"StackId": ROOT_ID},
        {"StackName": ROOT_ID, "EnableTerminationProtection": False},
    )
    rstub.add_client_error("modify_db_instance", "InvalidDBInstanceState", "is not available")
    stub.add_response(
        "update_termination_protection",
        {"StackId": ROOT_ID},
        {"StackName": ROOT_ID, "EnableTerminationProtection": True},
    )
    p = destroy.DestroyPlan(
        "wealist-dev",
        ROOT_ID,
        "UPDATE_COMPLETE",
        protections=[
            destroy.Protection("termination", "root stack", "wealist-dev"),
            destroy.Protection("database", "DatabaseStack/Database", "wealist-dev-postgres"),
        ],
    )
    with pytest.raises(CommandError) as err:
        destroy.disable_protections(aws, p)
    assert "turning off database protection" in str(err.value)
    assert err.value.details == ("nothing was deleted", "termination protection of root stack switched back on")
    stub.assert_no_pending_responses()
    rstub.assert_no_pending_responses()
