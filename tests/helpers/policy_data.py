"""IAM and key policies as data: who may do what on which resource, under
which condition, with the template's Sub and Ref resolved for one account.
Used by the policy-level tests of the template builders (no build of the
whole set, no endpoint)."""

from __future__ import annotations

import json
import re

from troposphere import encode_to_dict

VALUES = {
    "AWS::Partition": "aws",
    "AWS::Region": "ap-northeast-2",
    "AWS::AccountId": "123456789012",
    "Project": "wealist",
    "Environment": "prod",
    "DeployBucketName": "wealist-deploy",
}
ACCOUNT, REGION = VALUES["AWS::AccountId"], VALUES["AWS::Region"]
# The templates' conditions that :func:`resolve` decides from the values.
CONDITIONS = {"DeployBucketNamed": lambda values: values.get("DeployBucketName", "") != ""}


def plain(template) -> dict:
    """A troposphere Template (or a part of one, troposphere objects inside
    plain data included) as plain JSON data."""
    return json.loads(json.dumps(encode_to_dict(template.to_dict() if hasattr(template, "to_dict") else template)))


def resolve(v, values=VALUES):
    """Sub and Ref resolved from ``values``; a Ref to anything else stays
    ``ref:Name``, a GetAtt ``getatt:Name.Attr``; anything else as it is."""
    if isinstance(v, dict):
        if set(v) == {"Fn::Sub"} and isinstance(v["Fn::Sub"], str):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: values.get(m.group(1), "${%s}" % m.group(1)), v["Fn::Sub"])
        if set(v) == {"Fn::Sub"}:  # [text, {name: value}]
            text, names = v["Fn::Sub"]
            return resolve({"Fn::Sub": text}, {**values, **{k: resolve(x, values) for k, x in names.items()}})
        if set(v) == {"Fn::If"} and v["Fn::If"][0] in CONDITIONS:
            name, yes, no = v["Fn::If"]
            return resolve(yes if CONDITIONS[name](values) else no, values)
        if set(v) == {"Ref"}:
            return values.get(v["Ref"], f"ref:{v['Ref']}")
        if set(v) == {"Fn::GetAtt"}:
            return "getatt:" + ".".join(v["Fn::GetAtt"])
        return {k: resolve(x, values) for k, x in v.items()}
    if isinstance(v, list):
        return [resolve(x, values) for x in v]
    return v


def _many(v) -> list:
    return v if isinstance(v, list) else [v]


def grants(document: dict, values=VALUES) -> set[tuple]:
    """``{(effect, principal, action, resource, condition)}``, one per
    action and resource of every statement; ``NotAction`` / ``NotResource``
    are spelled ``not:ACTION`` / ``not:RESOURCE``; principal and condition as
    sorted JSON (``""`` when absent)."""
    out = set()
    for s in _many(document["Statement"]):
        s = resolve(s, values)
        actions = [a for a in _many(s.get("Action", []))] + [f"not:{a}" for a in _many(s.get("NotAction", []))]
        resources = [r for r in _many(s.get("Resource", []))] + [f"not:{r}" for r in _many(s.get("NotResource", []))]
        principal = json.dumps(s["Principal"], sort_keys=True) if "Principal" in s else ""
        condition = json.dumps(s["Condition"], sort_keys=True) if "Condition" in s else ""
        resources = [r if isinstance(r, str) else json.dumps(r, sort_keys=True) for r in resources]
        for a in actions:
            for r in resources or [""]:
                out.add((s["Effect"], principal, a, r, condition))
    return out


def cond(**operators) -> str:
    """A condition in the form :func:`grants` gives it:
    ``cond(StringEquals={"kms:ViaService": "ssm..."})``."""
    return json.dumps(operators, sort_keys=True)
