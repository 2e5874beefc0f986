"""Fixtures for the day-two tests: a stack deployed on moto's server with the
local compat layer (what ``deploy --local`` runs on), from a copy of the
committed templates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wealist_cfn import config
from wealist_cfn.aws import Aws
from wealist_cfn.deploy import local
from wealist_cfn.settings import PARAMS_DIR, TEMPLATES_DIR

REGION = "ap-northeast-2"


@pytest.fixture
def templates_copy(tmp_path) -> Path:
    dest = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, dest)
    return dest


@pytest.fixture
def moto_delete_with_exports(monkeypatch):
    """moto registers a stack's Outputs exports when CreateStack makes it but
    not when a change set does, and its DeleteStack then fails with KeyError
    (a 500). AWS deletes a stack whose exports no other stack imports
    (API_DeleteStack; "Exports can't be deleted while imported"), so the
    missing export is skipped here instead. Once deleted, moto also fails
    (a 500) to describe the stack by ID, evaluating outputs of resources
    that are gone; AWS answers DescribeStacks of a deleted stack's ID with
    StackStatus DELETE_COMPLETE and no outputs, which is what it returns here."""
    from moto.cloudformation import models

    original = models.CloudFormationBackend.delete_stack

    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id)
        for export in (stack.exports if stack else []):
            self.exports.setdefault(export.name, export)
        return original(self, name_or_stack_id)

    monkeypatch.setattr(models.CloudFormationBackend, "delete_stack", delete_stack)
    outputs = models.Stack.outputs

    def outputs_unless_deleted(self):
        return [] if self.status == "DELETE_COMPLETE" else outputs.fget(self)

    monkeypatch.setattr(models.Stack, "outputs", property(outputs_unless_deleted))


@pytest.fixture
def deployed(moto_endpoint, templates_copy):
    """``(endpoint, templates dir, params file, stack name)`` of a prod-parameter
    deployment named wealist-rehearsal (not the production name)."""
    from daytwo_helpers import run_cli

    params = PARAMS_DIR / "prod.json"
    with local.compat():
        local.seed_ssm(Aws(REGION, endpoint_url=moto_endpoint), templates_copy, config.load(params).values)
        code, out, err = run_cli("deploy", "--stack-name", "wealist-rehearsal", "--force-stack-name",
                                 "--params", params, "--endpoint-url", moto_endpoint, "--templates", templates_copy,
                                 "--yes")
        assert code == 0, err + out
        yield moto_endpoint, templates_copy, params, "wealist-rehearsal"
