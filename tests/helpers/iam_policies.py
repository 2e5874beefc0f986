"""The project's IAM policies read from the committed templates and resolved for
real parameter values (wealist_cfn/cfn/model.py): the stacks, roles, managed
and key policies the IAM tests evaluate with helpers/iam_eval.py."""

from __future__ import annotations

import re

from wealist_cfn import config
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.settings import TEMPLATES_DIR

ACCOUNT = cfnmodel.ACCOUNT


REGION = "ap-northeast-2"


OIDC = "github-oidc.yaml"


OIDC_MODES = {
    "own provider, plan role": {"GitHubRepository": "octo/wealist-cfn"},
    "existing provider, no plan role": {
        "GitHubRepository": "octo/wealist-cfn",
        "CreateOidcProvider": "false",
        "CreatePlanRole": "false",
        "ExistingOidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com",
    },
}


KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b5f1a2c-1111-4222-8333-944455556666"


def _committed() -> dict[str, dict]:
    return {p.name: tpl.load(p.read_text()) for p in TEMPLATES_DIR.glob("*.yaml")}


def _concrete(value, stacks: dict[str, cfnmodel.Stack] | None = None):
    """The resolver names a resource attribute symbolically
    (``Stack/Resource.Arn``); give those symbols the ARN shapes AWS returns,
    so checkers see real ARNs."""
    if isinstance(value, str):
        if value == "Root/SecretsKey.Arn":
            return KEY_ARN
        m = re.fullmatch(r"(\w+)/(\w+)", value)
        if m and stacks and m[1] in stacks and m[2] in stacks[m[1]].resources:
            res = stacks[m[1]].resources[m[2]]
            if res["Type"] == "AWS::SNS::Topic":
                # Ref of a topic is its ARN (CloudFormation, AWS::SNS::Topic return values).
                return f"arn:aws:sns:{REGION}:{ACCOUNT}:{res['Properties']['TopicName']}"
        m = re.fullmatch(r"(\w+)/(\w+)\.Arn", value)
        if m and stacks and m[1] in stacks:
            res = stacks[m[1]].resources[m[2]]
            if res["Type"] == "AWS::ECR::Repository":
                return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{res['Properties']['RepositoryName']}"
            if res["Type"] == "AWS::Logs::LogGroup":
                # CloudFormation names a group without LogGroupName <stack>-<id>-<suffix>.
                group = res["Properties"].get("LogGroupName") or f"wealist-prod-{m[1]}-{m[2]}-1A2B3C4D5E6F"
                return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
        return value
    if isinstance(value, list):
        return [_concrete(v, stacks) for v in value]
    if isinstance(value, dict):
        return {k: _concrete(v, stacks) for k, v in value.items()}
    return value


def _oidc_stack(values: dict) -> cfnmodel.Stack:
    stacks = cfnmodel.resolve_set(_committed(), values, root_name=OIDC, region=REGION)
    return stacks["Root"]


def _root_set(params: str) -> dict[str, cfnmodel.Stack]:
    cfg = config.load(f"params/{params}.json")
    return cfnmodel.resolve_set(_committed(), cfg.values, region=cfg.region)


def _managed(stack: cfnmodel.Stack) -> dict[str, dict]:
    """Managed policy ARN -> {"roles": [logical ids], "document": ...}."""
    return {
        f"arn:aws:iam::{ACCOUNT}:policy/{res['Properties']['ManagedPolicyName']}": {
            "roles": [r.split("/", 1)[1] for r in res["Properties"].get("Roles", [])],
            "document": _concrete(res["Properties"]["PolicyDocument"]),
        }
        for res in stack.of_type("AWS::IAM::ManagedPolicy").values()
    }


def _roles(stack: cfnmodel.Stack, where: str = "") -> dict[str, dict]:
    """Role ARN -> {"trust": [...], "statements": [...], "id": ...}: inline
    policies and the managed policies attached to the role."""
    out = {}
    managed = _managed(stack)
    for rid, res in stack.of_type("AWS::IAM::Role").items():
        props = _concrete(res["Properties"])
        statements = [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        statements += [s for m in managed.values() if rid in m["roles"] for s in m["document"]["Statement"]]
        out[f"arn:aws:iam::{ACCOUNT}:role/{props['RoleName']}"] = {
            "id": f"{where}{rid}",
            "trust": props["AssumeRolePolicyDocument"]["Statement"],
            "statements": statements,
        }
    return out


def _service_role(oidc) -> dict:
    [role] = [r for arn, r in _roles(oidc).items() if arn.endswith("-cfn-role")]
    return role


def _key_policy(oidc) -> list[dict]:
    [key] = oidc.of_type("AWS::KMS::Key").values()
    return _concrete(key["Properties"]["KeyPolicy"])["Statement"]
