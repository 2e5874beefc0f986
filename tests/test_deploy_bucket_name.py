"""The deploy bucket's account-unique name, computed in one place
(parameters.deploy_bucket_name) and agreed on by the params file's reader,
the root template (which hands it to every child), and the trust template.

Stand-in: none. The templates are resolved by wealist_cfn.cfn.model with its
fixed account ID, as CloudFormation resolves ``${AWS::AccountId}`` and
``${AWS::Region}`` ("Pseudo parameters reference", CloudFormation User
Guide). What S3 enforces: a bucket name is 3 to 63 characters, unique across
every account in the partition ("General purpose bucket naming rules", S3
User Guide).
"""

from __future__ import annotations

import json
import re

import pytest

from wealist_cfn import cli, config
from wealist_cfn.aws import Aws
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.core.parameters import BUCKET_PATTERN, deploy_bucket_name, deploy_bucket_sub
from wealist_cfn.core.settings import PARAMS_DIR, TEMPLATES_DIR

ACCOUNT = cfnmodel.ACCOUNT


def _committed() -> dict[str, dict]:
    from wealist_cfn.cfn import templates as tpl

    return {p.name: tpl.load(p.read_text(encoding="utf-8")) for p in TEMPLATES_DIR.glob("*.yaml")}


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_every_child_gets_the_name_config_computes(env):
    """An empty DeployBucketName reaches the instance role's policy and the
    boot script as the same whole name bootstrap creates."""
    cfg = config.load(PARAMS_DIR / f"{env}.json")
    assert cfg.values["DeployBucketName"] == ""
    want = cfg.deploy_bucket_name(ACCOUNT)
    assert want == f"wealist-{env}-deploy-{ACCOUNT}-ap-northeast-2"
    stacks = cfnmodel.resolve_set(_committed(), cfg.values, region=cfg.region)
    for child in ("IamStack", "ComputeStack"):
        assert stacks[child].params["DeployBucketName"] == want, child
    policies = json.dumps(stacks["IamStack"].resources["Ec2Role"]["Properties"]["Policies"])
    assert f"arn:aws:s3:::{want}/boot/" in policies


def test_a_name_given_in_the_file_is_used_as_it_is():
    cfg = config.load(PARAMS_DIR / "prod.json").with_values(DeployBucketName="team-boot-files")
    assert cfg.deploy_bucket_name(ACCOUNT) == "team-boot-files"
    stacks = cfnmodel.resolve_set(_committed(), cfg.values, region=cfg.region)
    assert stacks["ComputeStack"].params["DeployBucketName"] == "team-boot-files"


def test_the_trust_templates_default_names_the_same_bucket():
    """github-oidc.yaml with its defaults (prod) grants the deploy role the
    bucket the root stack's instances read."""
    stacks = cfnmodel.resolve_set(
        _committed(), {"GitHubRepository": "octo/wealist-cfn"}, root_name="github-oidc.yaml", region="ap-northeast-2"
    )
    text = json.dumps(stacks["Root"].resources)
    want = config.load(PARAMS_DIR / "prod.json").deploy_bucket_name(ACCOUNT)
    assert f"arn:aws:s3:::{want}/*" in text
    assert "wealist-deploy-scripts" not in text and "${" not in text


def test_the_template_form_is_the_python_form():
    assert deploy_bucket_sub() == "${Project}-${Environment}-deploy-${AWS::AccountId}-${AWS::Region}"
    assert deploy_bucket_name("a", "b", "c", "d") == "a-b-deploy-c-d"


def test_the_longest_names_the_params_allow_fit_s3s_limit():
    """Project at most 16 characters, Environment 10, an account ID 12
    digits, and the longest region of the load balancer mapping."""
    from wealist_cfn.core.regions import ELB_LOG_DELIVERY_ACCOUNTS, ELB_LOG_DELIVERY_SERVICE_REGIONS

    region = max((*ELB_LOG_DELIVERY_ACCOUNTS, *ELB_LOG_DELIVERY_SERVICE_REGIONS), key=len)
    name = deploy_bucket_name("p" * 16, "e" * 10, "1" * 12, region)
    assert len(name) <= 63 and re.fullmatch(BUCKET_PATTERN, name), name


def _params(tmp_path, **values) -> str:
    entries = json.loads((PARAMS_DIR / "prod.json").read_text())
    for e in entries:
        if e["ParameterKey"] in values:
            e["ParameterValue"] = values.pop(e["ParameterKey"])
    entries += [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    path = tmp_path / "params.json"
    path.write_text(json.dumps(entries))
    return str(path)


def test_a_derived_name_over_63_characters_is_refused_in_one_line(tmp_path):
    path = _params(
        tmp_path,
        Project="p" * 16,
        Environment="e" * 10,
        AvailabilityZones="xx-verylongregion-1a,xx-verylongregion-1b,xx-verylongregion-1c",
    )
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    line = str(err.value)
    assert line.startswith(f"{path}: DeployBucketName: empty, and the account-unique name") and "63" in line


@pytest.mark.parametrize(
    "value,placeholder",
    [
        ("wealist-deploy-scripts-{account_id}", "{account_id}"),
        ("wealist-deploy-${AWS::AccountId}", "${AWS::AccountId}"),
        ("wealist-deploy-<account>", "<account>"),
    ],
)
def test_a_placeholder_stops_bootstrap_before_any_aws_call(tmp_path, capsys, monkeypatch, value, placeholder):
    """Nothing expands a placeholder (CloudFormation would receive it as
    it is, and S3 refuses braces): one line naming the file, the key and
    the placeholder, exit 2, and no client is ever made."""

    def no_client(self, service):
        raise AssertionError(f"an AWS client was made: {service}")

    monkeypatch.setattr(Aws, "client", no_client)
    path = _params(tmp_path, DeployBucketName=value)
    code = cli.main(["bootstrap", "--params", path])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {path}: DeployBucketName: {placeholder!r} is a placeholder nothing expands")
    assert "wealist-prod-deploy-<account ID>-<region>" in err[0]


@pytest.mark.parametrize(
    "values,reserved",
    [
        ({"Project": "sthree"}, "the prefix sthree- is reserved"),
        ({"Project": "amzn-s3-demo"}, "the prefix amzn-s3-demo- is reserved"),
    ],
)
def test_a_derived_name_s3_reserves_is_refused_in_one_line(tmp_path, values, reserved):
    """S3 User Guide, "General purpose bucket naming rules": a name must not
    start with xn--, sthree- or amzn-s3-demo- (nor end with -s3alias,
    --ol-s3, .mrap, --x-s3, --table-s3). The derived name starts with the
    Project, which the root template's pattern lets be "sthree"; refused
    before any AWS call, like a name over 63 characters."""
    path = _params(tmp_path, **values)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    line = str(err.value)
    assert line.startswith(f"{path}: DeployBucketName: empty, and the account-unique name") and reserved in line
    assert "\n" not in line


@pytest.mark.parametrize(
    "name,reserved",
    [
        ("wealist-deploy-s3alias", "-s3alias"),
        ("wealist-deploy--ol-s3", "--ol-s3"),
        ("sthree-wealist", "sthree-"),
        ("xn--wealist", "xn--"),
        ("wealist.mrap", ".mrap"),
    ],
)
def test_a_given_name_s3_reserves_is_refused(tmp_path, name, reserved):
    path = _params(tmp_path, DeployBucketName=name)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert f"{path}: DeployBucketName: {name!r} is not a name S3 accepts" in str(err.value)
    assert reserved in str(err.value)
