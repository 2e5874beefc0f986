"""The registries preflight check: before a first create, no ECR repository
of a name the templates fix may exist (a destroy keeps them).

Stand-in: moto's server for ECR, which really refuses a second
CreateRepository of a name (RepositoryAlreadyExistsException) and answers
DescribeRepositories with RepositoryNotFoundException for a missing name,
as the ECR API reference documents. That CloudFormation's create of the
AWS::ECR::Repository then fails the stack half-way is AWS's rule, cited in
the check, not shown here.
"""

from __future__ import annotations

import pytest

from wealist_cfn.deploy import stackstate
from wealist_cfn.preflight import checks

pytestmark = pytest.mark.moto


def _names(ctx) -> list[str]:
    return sorted(str(r["Properties"]["RepositoryName"]) for r in ctx.resources("AWS::ECR::Repository").values())


def test_no_kept_repository_passes(ctx):
    ctx.state = stackstate.StackState("wealist-prod", None)
    r = checks.check_registries(ctx)
    assert r.status == checks.OK and "exists yet" in r.finding


def test_a_repository_a_destroy_kept_fails_the_create_with_the_way_out(ctx):
    """moto: one of the two repositories the templates name exists (kept by
    an earlier destroy); a first create is refused with its name, the import
    or the delete command, and where the docs say more."""
    names = _names(ctx)
    assert len(names) == 2
    ctx.aws.client("ecr").create_repository(repositoryName=names[1])
    ctx.state = stackstate.StackState("wealist-prod", None)
    r = checks.check_registries(ctx)
    assert r.status == checks.FAIL
    assert r.finding == (
        f"ECR repository {names[1]} exists outside wealist-prod: the create would fail with AlreadyExists"
    )
    assert f"aws ecr delete-repository --repository-name {names[1]} --force" in r.fix
    assert checks.REGISTRIES_DOC in r.fix
    [detail] = r.details
    assert detail.startswith(f"{names[1]}: for RegistryStack/")


def test_an_update_does_not_look(ctx):
    """An existing stack holds its repositories: no ECR call is made."""
    ctx.state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", "arn:x")
    ctx.aws.client("ecr").create_repository(repositoryName=_names(ctx)[0])
    assert checks.check_registries(ctx).status == checks.OK


@pytest.mark.parametrize("status", ["CREATE_FAILED", "ROLLBACK_COMPLETE"])
def test_a_stack_that_never_completed_a_create_is_checked_as_a_create(ctx, status):
    """moto: after --no-rollback (CREATE_FAILED) or a rolled-back create, the
    next step is --replace-failed's create; a repository the stack does not
    hold (moto lists no resources for this stack ID) fails it. Before: OK,
    as for an update."""
    name = _names(ctx)[0]
    ctx.aws.client("ecr").create_repository(repositoryName=name)
    ctx.state = stackstate.StackState(
        "wealist-prod", status, "arn:aws:cloudformation:us-east-1:123456789012:stack/wealist-prod/none"
    )
    r = checks.check_registries(ctx)
    assert r.status == checks.FAIL and name in r.finding
