"""Resolve a nested template set for one set of parameter values, the way
CloudFormation would, without AWS: which resources would exist and with
which properties.

Conditions are evaluated, resources whose Condition is false are dropped,
``Fn::If`` picks its branch, ``Fn::FindInMap`` reads the template's Mappings, ``AWS::NoValue`` removes a property, and
``Ref`` / ``Fn::GetAtt`` of a resource become symbols such as
``NetworkStack/PrivateSubnet1`` or ``DatabaseStack/Database.Endpoint.Address``.
A child's ``GetAtt Child.Outputs.X`` in the root resolves to that child's
resolved output, so tests can follow a value across stacks (which subnets
the database really sits in, which group an ingress rule really names).

The tests use it to check both modes against the resource table; the deploy
review uses it where an endpoint reports no nested change sets.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field

ACCOUNT = "123456789012"
NESTED = "AWS::CloudFormation::Stack"
REMOVE = object()


@dataclass
class Stack:
    path: str  # "Root" or the nested stack's logical ID
    params: dict
    conditions: dict[str, bool] = field(default_factory=dict)
    resources: dict[str, dict] = field(default_factory=dict)  # id -> {"Type", "Properties", ...}
    outputs: dict[str, object] = field(default_factory=dict)
    template: dict = field(default_factory=dict)

    def of_type(self, type_: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == type_}


class Pending(LookupError):
    """A value depends on a nested stack whose outputs are not resolved yet."""


class Resolver:
    def __init__(self, stack: Stack, region: str, children: dict[str, Stack]):
        self.stack, self.region, self.children = stack, region, children
        self.t = stack.template

    def pseudo(self, name):
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": f"stack-{self.stack.path}",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": REMOVE,
        }[name]

    def ref(self, name):
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.stack.params:
            return self.stack.params[name]
        if name in self.t.get("Resources", {}):
            return f"{self.stack.path}/{name}"
        raise KeyError(f"{self.stack.path}: Ref to unknown {name}")

    def getatt(self, res, attr):
        if res not in self.t.get("Resources", {}):
            raise KeyError(f"{self.stack.path}: GetAtt of unknown {res}")
        if attr.startswith("Outputs.") and self.t["Resources"][res]["Type"] == NESTED:
            if res not in self.children:
                raise Pending(res)
            return self.children[res].outputs[attr.split(".", 1)[1]]
        return f"{self.stack.path}/{res}.{attr}"

    def sub(self, text, variables):
        def repl(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                res, attr = name.split(".", 1)
                return str(self.getatt(res, attr))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", repl, text)

    def condition(self, node):
        return bool(self.eval(node))

    def eval(self, node):
        if isinstance(node, list):
            return [v for v in (self.eval(x) for x in node) if v is not REMOVE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                res, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(res, attr)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self.sub(text, {k: self.eval(v) for k, v in variables.items()})
                return self.sub(arg, {})
            if key == "Fn::If":
                cond, a, b = arg
                return self.eval(a if self.stack.conditions[cond] else b)
            if key == "Fn::Join":
                sep, items = arg
                items = self.eval(items)
                return sep.join(str(i) for i in items)
            if key == "Fn::Select":
                i, items = arg
                items = self.eval(items)
                items = items.split(",") if isinstance(items, str) else items
                return items[int(self.eval(i))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.eval(text)).split(sep)
            if key == "Fn::Cidr":
                block, count, bits = (self.eval(x) for x in arg)
                net = ipaddress.IPv4Network(block)
                subnets = net.subnets(new_prefix=32 - int(bits))
                return [str(next(subnets)) for _ in range(int(count))]
            if key == "Fn::Base64":
                return self.eval(arg)
            if key == "Fn::FindInMap":
                # A key the mapping lacks fails the stack in CloudFormation.
                mapping, top, second = (self.eval(x) for x in arg)
                try:
                    return self.t["Mappings"][mapping][top][second]
                except KeyError:
                    raise KeyError(
                        f"{self.stack.path}: Fn::FindInMap {mapping}/{top}/{second} is not in the mapping"
                    ) from None
            if key == "Fn::Equals":
                a, b = (self.eval(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.condition(arg[0])
            if key == "Fn::And":
                return all(self.condition(x) for x in arg)
            if key == "Fn::Or":
                return any(self.condition(x) for x in arg)
            if key == "Condition":
                return self.stack.conditions[arg]
        out = {}
        for k, v in node.items():
            v = self.eval(v)
            if v is not REMOVE:
                out[k] = v
        return out


def _param_values(template: dict, given: dict) -> dict:
    values = {}
    for name, decl in template.get("Parameters", {}).items():
        if name in given:
            value = given[name]
        elif "Default" in decl:
            value = decl["Default"]
        else:
            raise KeyError(f"parameter {name} has no value")
        if decl["Type"].startswith("List<") or decl["Type"] == "CommaDelimitedList":
            value = value if isinstance(value, list) else str(value).split(",")
        values[name] = value
    return values


def _resolve(path: str, template: dict, given: dict, region: str, children: dict[str, Stack], load_child=None) -> Stack:
    """Resolve one template. Nested stacks among its resources are resolved
    too when ``load_child(logical_id, properties) -> template`` is given, in
    dependency order, since one child may take another child's outputs."""
    stack = Stack(path=path, params=_param_values(template, given), template=template)
    r = Resolver(stack, region, children)
    for name, expr in template.get("Conditions", {}).items():
        stack.conditions[name] = r.condition(expr)
    pending = {
        rid: res
        for rid, res in template.get("Resources", {}).items()
        if "Condition" not in res or stack.conditions[res["Condition"]]
    }
    while pending:
        progressed = False
        for rid, res in list(pending.items()):
            try:
                props = r.eval(res.get("Properties", {}))
            except Pending:
                continue
            if res["Type"] == NESTED and load_child:
                children[rid] = _resolve(rid, load_child(rid, props), props.get("Parameters", {}), region, children)
            stack.resources[rid] = {**res, "Properties": props}
            del pending[rid]
            progressed = True
        if not progressed:
            raise ValueError(f"circular or unresolvable nested stack outputs: {', '.join(sorted(pending))}")
    for oname, out in template.get("Outputs", {}).items():
        if "Condition" not in out or stack.conditions[out["Condition"]]:
            stack.outputs[oname] = r.eval(out["Value"])
    return stack


def resolve_set(
    templates: dict[str, dict],
    values: dict[str, str],
    *,
    root_name: str = "root.yaml",
    region: str = "ap-northeast-2",
    child_files: dict[str, str] | None = None,
) -> dict[str, Stack]:
    """Every stack of a one-level nested set as it would exist for these root
    parameter values: ``{"Root": ..., "NetworkStack": ..., ...}``.
    ``templates`` maps file names to parsed templates; a child is found by
    its logical ID in ``child_files`` when given (packaged templates point at
    S3), else by its relative TemplateURL."""
    children: dict[str, Stack] = {}

    def load_child(rid: str, props: dict) -> dict:
        return templates[(child_files or {}).get(rid) or props["TemplateURL"]]

    root_stack = _resolve("Root", templates[root_name], values, region, children, load_child)
    return {"Root": root_stack, **children}


def resolve(values: dict[str, str], region: str = "ap-northeast-2") -> dict[str, Stack]:
    """The set this project's code builds, resolved for these values."""
    from wealist_cfn.core.settings import DEFAULT_SETTINGS
    from wealist_cfn.stacks import root as root_mod

    built = {name: t.to_dict() for name, t in root_mod.build_all(DEFAULT_SETTINGS).items()}
    return resolve_set(built, values, region=region)


def all_resources(stacks: dict[str, Stack]) -> dict[str, dict]:
    """Every resource of every child, keyed ``Child/LogicalId``."""
    return {f"{path}/{rid}": res for path, s in stacks.items() if path != "Root" for rid, res in s.resources.items()}


def count_by_type(stacks: dict[str, Stack]) -> dict[str, int]:
    return dict(Counter(res["Type"] for res in all_resources(stacks).values()))
