"""`deploy --no-wait-healthy` and `status` against moto's server (strict
layer and compat installed, tests/deploy/conftest.py).

moto registers the Auto Scaling groups' instances in their target groups and
reports every running instance as healthy: it runs no software, so this
proves only the wiring (the load balancer stack's outputs, the release
parameters, the printed table); what AWS's TargetHealth says when targets
fail is tested with Stubber in test_health.py."""

from __future__ import annotations

import dataclasses

import pytest

from helpers.deploy import client, run_cli, seed_ssm
from wealist_cfn import config
from wealist_cfn.aws import target
from wealist_cfn.rehearsal import compat as local

pytestmark = pytest.mark.moto


def test_status_shows_target_health_and_releases(compat_endpoint, real_templates, prod_params, monkeypatch):
    ep = compat_endpoint
    seed_ssm(ep, real_templates, config.load(prod_params).values)
    common = (
        "--stack-name",
        "wealist-prod",
        "--params",
        prod_params,
        "--endpoint-url",
        ep,
        "--templates",
        real_templates,
    )

    # The endpoint answers as the rehearsal (tests/conftest.py): no service role; nothing bootstrapped.
    code, out, err = run_cli("deploy", *common, "--yes", "--no-wait-healthy", "--skip-preflight")
    assert code == 0, err + out
    assert "target health not checked (--no-wait-healthy)" in out

    # A release overwrites the tag the deploy's seeding left "unreleased".
    client("ssm", ep).put_parameter(
        Name="/wealist/prod/deploy/board_service_image_tag", Value="abc123", Type="String", Overwrite=True
    )
    # The rehearsal declares it reports no instance health (nothing runs); moto's
    # DescribeTargetHealth stands in for AWS's here: status asks it as on AWS.
    health = dataclasses.replace(target.from_document(local.target_document(), ep), reports_instance_health=True)
    monkeypatch.setattr(target, "probe", lambda url, **kw: health)
    code, out, err = run_cli("status", *common[:-2])  # status packages nothing: no --templates

    assert code == 0, err + out
    table = out[out.index("target health:") :]
    assert "user-service   not released yet" in table
    assert "board-service  healthy" in table
    assert "grafana        healthy (1/1 targets healthy)" in table
    assert "prometheus     healthy (1/1 targets healthy)" in table
