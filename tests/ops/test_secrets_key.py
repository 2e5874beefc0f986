"""Bootstrap encrypts every secret under the environment's own key, the one
templates/github-oidc.yaml creates (same alias).

Stand-in: moto's server. moto keeps the KeyId a SecureString was written
with (DescribeParameters returns it) but does not check that the alias
exists; real SSM refuses a PutParameter whose KeyId it cannot find
(InvalidKeyId, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html),
so the template must be deployed before bootstrap (docs/operations.md).
"""

from __future__ import annotations

import boto3
import pytest

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.settings import TEMPLATES_DIR
from wealist_cfn.ops import bootstrap


def test_template_creates_the_alias_bootstrap_uses(prod_cfg, dev_cfg):
    template = tpl.load((TEMPLATES_DIR / "github-oidc.yaml").read_text())
    for cfg in (prod_cfg, dev_cfg):
        stack = cfnmodel.resolve_set(
            {"t": template},
            {"GitHubRepository": "octo/wealist-cfn", "Project": cfg.project, "Environment": cfg.environment},
            root_name="t",
        )["Root"]
        [alias] = stack.of_type("AWS::KMS::Alias").values()
        assert (
            alias["Properties"]["AliasName"]
            == bootstrap.secrets_key_alias(cfg)
            == f"alias/{cfg.project}-{cfg.environment}-secrets"
        )


@pytest.mark.moto
def test_every_secret_is_written_under_the_environments_key(prod_cfg, target):
    bootstrap.run(prod_cfg, target)
    ssm = boto3.client("ssm", region_name=target.region, endpoint_url=target.endpoint_url)
    described = {
        p["Name"]: p
        for page in ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/wealist/prod"]}]
        )
        for p in page["Parameters"]
    }
    secrets = {f"/wealist/prod/{n}" for n in bootstrap.SECRET_NAMES}
    assert secrets <= set(described)
    for name in secrets:
        assert described[name]["Type"] == "SecureString"
        assert described[name]["KeyId"] == "alias/wealist-prod-secrets", name
    plain = [p for n, p in described.items() if n not in secrets]
    assert plain and all(p["Type"] == "String" and "KeyId" not in p for p in plain)
