"""The trace check: every recorded call of the story, evaluated under the
policies of the principal that really runs its job, from the committed
templates resolved for params/prod.json in one mode; CloudFormation's own
calls under the service role. One line per denial; the allows no job uses
as a least-privilege report.

Principals and where their policies come from:

* ``github-plan``, ``github-deploy``, ``cfn-role``: templates/github-oidc.yaml
  (resolved as tests/ops/test_iam_policies.py does);
* ``operator``: docs/operator-policy.json, the policy docs/operations.md
  names for whoever runs bootstrap, a rotation, destroy and ``cost --refresh``;
* KMS calls are also evaluated under the secrets key's policy (same
  account, the key policy names the account: both the key policy and the
  caller's IAM policy must allow, KMS developer guide, "Key policies",
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html).

What CloudFormation itself calls, as the service role, is derived here,
not recorded (moto evaluates no role): each nested template's fetch, pinned
by ``versionId`` (s3:GetObjectVersion, S3 API reference GetObject,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html); each
``{{resolve:ssm-secure:...}}`` resolution (ssm:GetParameters and kms:Decrypt
with Parameter Store's encryption context through ssm.<region>, KMS
developer guide, "How Parameter Store uses AWS KMS",
https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html);
and the resource handlers' permissions (resource schemas, wealist_cfn/stacks/iamdata.py)
for every resource of the templates in that mode, on that resource's ARN.

The only evaluator used is :func:`_decide` (tests/helpers/iam_eval.py ``decide``),
so that the product evaluator can replace it in one place.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

from helpers.iam_eval import decide, listify
from helpers.iam_policies import (
    ACCOUNT,
    KEY_ARN,
    OIDC_MODES,
    REGION,
    _committed,
    _concrete,
    _key_policy,
    _oidc_stack,
    _roles,
)
from wealist_cfn import config, policyeval
from wealist_cfn.aws import iamcalls
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.core.paramstore import SECRET_NAMES
from wealist_cfn.stacks import github_oidc, iamdata

from .jobs import DEPLOY, OPERATOR, PLAN, ROOT

SERVICE = "cfn-role"
PREFIX = "wealist-prod"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-"
ARTIFACTS = f"wealist-cfn-artifacts-{ACCOUNT}-{REGION}"
KEY_ALIAS = f"alias/{PREFIX}-secrets"
MODES = {"single-AZ": {}, "multi-AZ": {"EnableMultiAZ": "true", "CacheFailover": "auto"}}
OPERATOR_POLICY = ROOT / "docs" / "operator-policy.json"

# Calls the story makes only because the endpoint is local, each denied on
# AWS on purpose and handled by the code that makes it. The check asserts
# that each is indeed denied (a grant would be a least-privilege leak).
EXPECTED_DENIALS = {
    # Against AWS a plan before the first deploy stops with one line: the
    # plan role never creates or reconfigures the artifact bucket
    # (deploy/package.py ensure_bucket; docs/operations.md, trust model).
    (PLAN, "s3:CreateBucket"): "a plan never creates the artifact bucket (NeverReconfigureTheBucket)",
    (PLAN, "s3:PutBucketPublicAccessBlock"): "the same bucket creation",
    (PLAN, "s3:PutEncryptionConfiguration"): "the same bucket creation",
    (PLAN, "s3:PutBucketVersioning"): "the same bucket creation",
    (PLAN, "s3:GetLifecycleConfiguration"): "the same bucket creation",
    (PLAN, "s3:PutLifecycleConfiguration"): "the same bucket creation",
    # Locally the plan may create the bucket, so it also checks an existing
    # one's settings; against AWS a plan never does (create=False).
    (PLAN, "s3:GetBucketPublicAccessBlock"): "the settings check of a bucket the run may create",
    (PLAN, "s3:GetEncryptionConfiguration"): "the settings check of a bucket the run may create",
    # A plan looks the service role up and passes it where it may; refused,
    # it plans without it (deploy/flow.py service_role_arn, create).
    (PLAN, "iam:GetRole"): "a plan may not look the service role up (flow.service_role_arn tolerates it)",
    (PLAN, "iam:PassRole"): "a plan may not pass the service role (flow retries without it)",
}


BUCKET_CREATION = (
    "CreateBucket",
    "PutPublicAccessBlock",
    "PutBucketEncryption",
    "PutBucketVersioning",
    "GetBucketLifecycleConfiguration",
    "PutBucketLifecycleConfiguration",
    "GetPublicAccessBlock",
    "GetBucketEncryption",
)


def _may_match(statement: dict, service: str) -> bool:
    """Whether the statement names any action of ``service`` (or uses
    NotAction): a statement that cannot match is left out before the
    evaluator runs, which changes no decision and saves most of its time."""
    if "Action" not in statement:
        return True
    return any(p == "*" or p.split(":", 1)[0].lower() == service for p in listify(statement["Action"]))


def _decide(statements: list[dict], action: str, resource: str, context: dict) -> bool:
    """The one evaluator call of this check (the adapter to swap)."""
    service = action.split(":", 1)[0].lower()
    return decide([s for s in statements if _may_match(s, service)], action, resource, context)


@dataclass
class Principal:
    name: str
    statements: list[dict]
    boundary: list[dict] | None = None
    arn: str = ""


@dataclass
class Finding:
    job: str
    principal: str
    need: iamcalls.Need
    why: str

    def line(self) -> str:
        return f"{self.job}: {self.principal} may not {self.need.action} on {self.need.resource}: {self.why}"


@dataclass
class Result:
    denials: list[Finding] = field(default_factory=list)
    expected: dict = field(default_factory=dict)  # (principal, action) -> allowed?
    used: dict = field(default_factory=lambda: defaultdict(set))  # principal -> {(sid, action pattern)}
    checked: int = 0


def principals() -> dict[str, Principal]:
    oidc = _oidc_stack(OIDC_MODES["own provider, plan role"])
    out = {
        arn.removeprefix(ROLE): Principal(arn.removeprefix(ROLE), r["statements"], arn=arn)
        for arn, r in _roles(oidc).items()
    }
    doc = json.loads(OPERATOR_POLICY.read_text(encoding="utf-8"))
    text = json.dumps(doc["Statement"]).replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION)
    out[OPERATOR] = Principal(OPERATOR, json.loads(text), arn=f"arn:aws:iam::{ACCOUNT}:role/admin")
    return out


def instance_principals(mode: str) -> dict[str, Principal]:
    """The instance roles of the nested set in ``mode``, each with the
    permissions boundary that github-oidc.yaml defines."""
    from helpers.iam_policies import _managed

    stacks = root_set(mode)
    oidc = _oidc_stack(OIDC_MODES["own provider, plan role"])
    boundary = _managed(oidc)[f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-role-boundary"]["document"]["Statement"]
    out = {}
    for rid, res in stacks["IamStack"].of_type("AWS::IAM::Role").items():
        props = _concrete(res["Properties"], stacks)
        statements = [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        out[rid] = Principal(rid, statements, boundary, f"arn:aws:iam::{ACCOUNT}:role/{props['RoleName']}")
    return out


def key_policy() -> list[dict]:
    return _key_policy(_oidc_stack(OIDC_MODES["own provider, plan role"]))


def root_set(mode: str, **values: str) -> dict[str, cfnmodel.Stack]:
    """The committed templates resolved for params/prod.json in ``mode``,
    with ``values`` (root parameters) on top."""
    cfg = config.load(ROOT / "params" / "prod.json")
    return cfnmodel.resolve_set(_committed(), {**cfg.values, **MODES[mode], **values}, region=cfg.region)


def _explain(statements: list[dict], need: iamcalls.Need) -> str:
    """The statement or the missing context behind a denial."""
    for s in statements:
        if s["Effect"] == "Deny" and _decide([{**s, "Effect": "Allow"}], need.action, need.resource, need.context):
            return f"denied by statement {s.get('Sid', '?')}"
    for s in statements:
        if (
            s["Effect"] == "Allow"
            and "Condition" in s
            and _decide([{k: v for k, v in s.items() if k != "Condition"}], need.action, need.resource, {})
        ):
            return (
                f"statement {s.get('Sid', '?')} needs {json.dumps(s['Condition'], sort_keys=True)}; "
                f"the request carries {json.dumps(need.context, sort_keys=True)}"
            )
    return "no statement allows it"


def _allowing(statements: list[dict], need: iamcalls.Need) -> list[tuple[str, str]]:
    """(Sid, action pattern) of each Allow that grants the need: what the job uses."""
    hits = []
    service = need.action.split(":", 1)[0].lower()
    for s in statements:
        if (
            s["Effect"] != "Allow"
            or "Action" not in s
            or not _may_match(s, service)
            or not _decide([s], need.action, need.resource, need.context)
        ):
            continue
        for pattern in listify(s["Action"]):
            if pattern != "*" and pattern.split(":", 1)[0].lower() != service:
                continue
            if _decide([{**s, "Action": pattern}], need.action, need.resource, need.context):
                hits.append((s.get("Sid", "?"), pattern))
    return hits


# The alarm topic's key as the handler needs see it.
ALARM_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111aaaa-2222-4333-8444-555566667777"


@cache
def _alarm_key_policy() -> tuple[dict, ...]:
    stacks = root_set("single-AZ")
    [key] = [res for st in stacks.values() for res in st.of_type("AWS::KMS::Key").values()]
    return tuple(_concrete(key["Properties"]["KeyPolicy"], stacks)["Statement"])


def evaluate(p: Principal, need: iamcalls.Need, keypolicy: list[dict]) -> str | None:
    """None when allowed; else why not. A call on the alarm key is decided
    over the caller's policies and the key's own policy together, as KMS
    does (a key policy that names the role grants by itself; IAM policies
    count only where it delegates to the account: KMS developer guide, "Key
    policies in AWS KMS"), by the product evaluator."""
    ctx = {**need.context, "aws:PrincipalArn": p.arn}
    need = iamcalls.Need(need.action, need.resource, ctx, need.source)
    if need.action.startswith("kms:") and need.resource == ALARM_KEY_ARN:
        decision = policyeval.evaluate(
            need.action,
            need.resource,
            ctx,
            principal=policyeval.Principal.aws(p.arn),
            identity=p.statements,
            boundary=p.boundary,
            resource_policy=list(_alarm_key_policy()),
            key_policy=True,
        )
        return None if decision.allowed else f"the alarm key's policy and the role's: {decision.reason}"
    if not _decide(p.statements, need.action, need.resource, ctx):
        return _explain(p.statements, need)
    if p.boundary is not None and not _decide(p.boundary, need.action, need.resource, ctx):
        return "the permissions boundary: " + _explain(p.boundary, need)
    if (
        need.action.startswith("kms:")
        and need.resource == KEY_ARN
        and not _decide(keypolicy, need.action, need.resource, ctx)
    ):
        return "the secrets key's policy: " + _explain(keypolicy, need)
    return None


def _stacks_of_change_sets(calls: list[dict]) -> dict[str, str]:
    """Change-set name -> its stack: the ones a job made, and the nested
    change sets of a root change set (the local endpoint names them
    local-model-<NestedStack>-...; AWS makes them in the nested stack)."""
    out = {
        c["params"]["ChangeSetName"]: c["params"]["StackName"]
        for c in calls
        if c["operation"] == "CreateChangeSet" and "StackName" in c["params"]
    }
    for c in calls:
        m = re.search(r":changeSet/(local-model-(\w+)-[0-9a-f]+)/", str(c["params"].get("ChangeSetName", "")))
        if m:
            out[m[1]] = f"{PREFIX}-{m[2]}-1A2B3C4D5E6F"
    return out


def _on_aws(calls: list[dict]) -> list[dict]:
    """The calls as AWS sees them: against the local endpoint a deploy passes
    no role (deploy/flow.py service_role_arn); against AWS it looks up and
    passes the environment's service role on every change set it makes
    (a plan too, on a create; refused, it goes on without)."""
    out = []
    service_role = ROLE + SERVICE
    for c in calls:
        if (
            c["principal"] == PLAN
            and c["service"] == "s3"
            and c["params"].get("Bucket") == ARTIFACTS
            and c["operation"] in BUCKET_CREATION
        ):
            # Against AWS the first merge deploy makes the bucket (ensure_bucket), not a plan.
            out.append({**c, "job": "merge-deploy (creates the artifact bucket)", "principal": DEPLOY})
        if (
            c["service"] == "cloudformation"
            and c["operation"] == "CreateChangeSet"
            and c["principal"] in (PLAN, DEPLOY)
            and "RoleARN" not in c["params"]
        ):
            if c["principal"] == DEPLOY or c["params"].get("ChangeSetType") == "CREATE":
                out.append(
                    {**c, "service": "iam", "operation": "GetRole", "params": {"RoleName": f"{PREFIX}-{SERVICE}"}}
                )
                c = {**c, "params": {**c["params"], "RoleARN": service_role}}
        out.append(c)
    return out


def _nested_fetches(calls: list[dict]) -> list[tuple[str, iamcalls.Need]]:
    """CloudFormation fetches each nested template a job packaged, as the
    service role, by its pinned URL (?versionId=): s3:GetObjectVersion."""
    keys = {
        c["params"]["Key"]
        for c in calls
        if c["service"] == "s3"
        and c["principal"] in (PLAN, DEPLOY)
        and c["params"].get("Bucket") == ARTIFACTS
        and re.match(r"(deploy|plan)/", c["params"].get("Key", ""))
        and c["params"]["Key"].endswith(".yaml")
    }
    return [
        (
            "cloudformation (nested template)",
            iamcalls.Need("s3:GetObjectVersion", f"arn:aws:s3:::{ARTIFACTS}/{k}", {"aws:RequestedRegion": REGION}),
        )
        for k in sorted(keys)
    ]


def _dynamic_references(stacks: dict[str, cfnmodel.Stack]) -> list[tuple[str, iamcalls.Need]]:
    """Each ``{{resolve:ssm[-secure]:NAME}}`` of the templates, resolved by
    CloudFormation as the service role."""
    text = json.dumps([s.resources for s in stacks.values()], default=str)
    out = []
    for kind, name in sorted(set(re.findall(r"\{\{resolve:(ssm-secure|ssm):([^}:]+)\}\}", text))):
        call = {
            "service": "ssm",
            "operation": "GetParameters",
            "region": REGION,
            "params": {"Names": [name], "WithDecryption": kind == "ssm-secure"},
        }
        out += [
            (f"cloudformation (resolve:{kind})", n)
            for n in iamcalls.needs(call, account=ACCOUNT, secure={name: KEY_ARN} if kind == "ssm-secure" else {})
        ]
    return out


# The service a resource type belongs to: a handler's call of that service acts on the resource itself.
OWN_SERVICE = {
    "EC2": "ec2",
    "ElasticLoadBalancingV2": "elasticloadbalancing",
    "AutoScaling": "autoscaling",
    "Logs": "logs",
    "IAM": "iam",
    "SSM": "ssm",
    "KMS": "kms",
    "ECR": "ecr",
    "RDS": "rds",
    "ElastiCache": "elasticache",
    "SNS": "sns",
    "CloudWatch": "cloudwatch",
    "S3": "s3",
    "CloudFormation": "cloudformation",
}
# Handlers CloudFormation runs for a stack operation (the ``list`` handler is Cloud Control's).
STACK_HANDLERS = ("create", "read", "update", "delete")


def _handler_permissions(rtype: str) -> set[str]:
    from wealist_cfn.stacks import iamdata

    handlers = iamdata.resource_schema(rtype).get("handlers", {})
    return {a for h in STACK_HANDLERS for a in handlers.get(h, {}).get("permissions", [])}


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _resources_for(service: str, rtype: str, rid: str, props: dict) -> list[tuple[str, dict]]:
    """The ARNs a handler's call of ``service`` names for this resource, with
    the context it carries. A call of the type's own service acts on the
    resource; a call of another service only on what the properties name
    (an S3 flow-log destination, a snapshot to seed from): none named, no
    call."""
    ctx = {"aws:RequestedRegion": REGION}
    own = OWN_SERVICE.get(rtype.split("::")[1])
    if service != own:
        named = [s for s in _strings(props) if s.startswith(f"arn:aws:{service}:")]
        if service == "s3" and rtype == "AWS::S3::BucketPolicy":
            named = [f"arn:aws:s3:::{props['Bucket']}"]
        return [(arn, ctx) for arn in named]
    if service == "s3":
        name = props.get("BucketName") or props.get("Bucket") or f"{PREFIX}-{rid.lower()}-1a2b3c4d5e6f"
        name = name if not name.startswith("Root/") and "/" not in name else f"{PREFIX}-{rid.lower()}-1a2b3c4d5e6f"
        return [(f"arn:aws:s3:::{name}", ctx)]
    if service == "logs":
        name = props.get("LogGroupName") or f"{PREFIX}-{rid}-1A2B3C4D5E6F"
        return [(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*", ctx)]
    if service == "iam":
        # IAM's one endpoint is in us-east-1, which its requests name (IAM User Guide, aws:RequestedRegion).
        glob = {"aws:RequestedRegion": "us-east-1"}
        if rtype == "AWS::IAM::InstanceProfile":
            role = str((props.get("Roles") or ["?"])[0]).split("/")[-1]
            return [(f"arn:aws:iam::{ACCOUNT}:instance-profile/{props.get('InstanceProfileName', role)}", glob)]
        return [
            (
                f"arn:aws:iam::{ACCOUNT}:role/{props['RoleName']}",
                {**glob, "iam:PermissionsBoundary": props.get("PermissionsBoundary", "")},
            )
        ]
    if service == "cloudwatch" and rtype == "AWS::CloudWatch::Alarm":
        return [(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{props['AlarmName']}", ctx)]
    if service == "cloudwatch" and rtype == "AWS::CloudWatch::Dashboard":
        return [(f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{props['DashboardName']}", ctx)]
    if service == "sns" and rtype == "AWS::SNS::Topic":
        return [(f"arn:aws:sns:{REGION}:{ACCOUNT}:{props['TopicName']}", ctx)]
    if service == "sns" and rtype == "AWS::SNS::Subscription":
        # A subscription's ARN is its topic's plus an ID; IAM's resource type
        # for its calls (GetSubscriptionAttributes, Unsubscribe) is the topic
        # (Service Authorization Reference, Amazon SNS).
        return [(str(props["TopicArn"]), ctx)]
    if service == "kms" and rtype == "AWS::KMS::Key":
        tags = {f"aws:ResourceTag/{t['Key']}": t["Value"] for t in props.get("Tags", [])}
        return [(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111aaaa-2222-4333-8444-555566667777", {**ctx, **tags})]
    if service == "ssm":
        return [(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{props['Name']}", ctx)]
    if service == "cloudformation":
        return [
            (f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{PREFIX}-{rid}-1A2B3C4D5E6F/{iamcalls.SOME_ID}", ctx)
        ]
    return [("*", ctx)]


def resources_for(action: str, rtype: str, rid: str, props: dict) -> list[tuple[str, dict]]:
    """The ARNs a handler's ``action`` is authorised on for this resource: an
    action whose Service Authorization Reference row lists no resource type
    is authorised on "*" whatever the call names: with no value in the
    Resource types column, a policy must name all resources ("*") for it
    (Service Authorization Reference, any service's "Actions defined by"
    table; the table here is wealist_cfn/stacks/iamdata.json); else
    :func:`_resources_for`."""
    service = action.split(":")[0]
    named = _resources_for(service, rtype, rid, props)
    if named and not iamdata.resource_types(action):
        return [("*", ctx) for ctx in {json.dumps(c, sort_keys=True): c for _, c in named}.values()]
    return named


def _handler_needs(stacks: dict[str, cfnmodel.Stack]) -> list[tuple[str, iamcalls.Need]]:
    """The resource handlers' permissions (create, read, update, delete) for
    every resource of the set, on its own ARN (the service role's statements
    scope S3, logs, IAM, Parameter Store and nested stacks by name; the rest
    by region). KMS keys and role passing are asked with the context their
    calls carry (below); actions IAM cannot grant, and those withheld on
    purpose (github_oidc.WITHHELD), are not asked."""
    out = []
    for path, stack in stacks.items():
        for rid, res in stack.resources.items():
            rtype = res["Type"]
            props = _concrete(res.get("Properties", {}), stacks)
            for action in sorted(_handler_permissions(rtype)):
                if not github_oidc.grantable(action) or action in github_oidc.WITHHELD:
                    continue
                service = action.split(":")[0]
                if service == "kms" or action in ("iam:PassRole", "iam:CreateServiceLinkedRole"):
                    continue  # asked below with their own context
                for resource, ctx in resources_for(action, rtype, rid, props):
                    out.append((f"cloudformation ({path}/{rid} {rtype})", iamcalls.Need(action, resource, ctx)))
    return out + _special_handler_needs(stacks)


def _special_handler_needs(stacks) -> list[tuple[str, iamcalls.Need]]:
    out = []
    # The alarm key: CreateKey with the stack's and the key's tags, then what the handler does to it.
    import types

    from wealist_cfn.deploy import flow

    cfg = config.load(ROOT / "params" / "prod.json")
    stack_tags = flow.Deployment._tags(types.SimpleNamespace(config=cfg))
    for path, stack in stacks.items():
        for rid, res in stack.of_type("AWS::KMS::Key").items():
            tags = {t["Key"]: t["Value"] for t in stack_tags + _concrete(res["Properties"].get("Tags", []), stacks)}
            create = {
                "aws:RequestedRegion": REGION,
                **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
                "aws:TagKeys": sorted(tags),
            }
            where = f"cloudformation ({path}/{rid} AWS::KMS::Key)"
            out += [
                (where, iamcalls.Need("kms:CreateKey", "*", create)),
                (where, iamcalls.Need("kms:TagResource", "*", create)),
            ]
            # Right after CreateKey the key's tags may not count for
            # authorisation yet ("It might take up to five minutes", KMS
            # developer guide, "ABAC for AWS KMS"): asked without them.
            owned = {"aws:RequestedRegion": REGION}
            for action in (
                "kms:DescribeKey",
                "kms:PutKeyPolicy",
                "kms:EnableKeyRotation",
                "kms:GetKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:ListResourceTags",
                "kms:ScheduleKeyDeletion",
            ):
                out.append((where, iamcalls.Need(action, ALARM_KEY_ARN, owned)))
        # Instance profiles and launch templates pass the instance roles to EC2; the flow log its role.
        for rid, res in stack.of_type("AWS::IAM::Role").items():
            props = _concrete(res["Properties"], stacks)
            trusted = json.dumps(props["AssumeRolePolicyDocument"])
            service = "ec2.amazonaws.com" if "ec2.amazonaws.com" in trusted else "vpc-flow-logs.amazonaws.com"
            out.append(
                (
                    f"cloudformation ({path}/{rid} pass)",
                    iamcalls.Need(
                        "iam:PassRole",
                        f"arn:aws:iam::{ACCOUNT}:role/{props['RoleName']}",
                        {"iam:PassedToService": service},
                    ),
                )
            )
    return out


def check(calls: list[dict], mode: str, pols: dict[str, Principal] | None = None) -> Result:
    """Every call of the trace (and CloudFormation's own) under its principal."""
    pols = pols or principals()
    keypolicy = key_policy()
    stacks = root_set(mode)
    result = Result()
    calls = _on_aws([c for c in calls if c["command"] != "local"])  # `local up|status|down`: never on AWS
    changes = _stacks_of_change_sets(calls)
    secure = {f"/wealist/prod/{n}": KEY_ARN for n in SECRET_NAMES}
    asked: list[tuple[str, str, iamcalls.Need]] = []
    for c in calls:
        for need in iamcalls.needs(c, account=ACCOUNT, secure=secure, keys={KEY_ALIAS: KEY_ARN}, stacks=changes):
            asked.append((c["job"], c["principal"], need))
    for job, need in _nested_fetches(calls) + _dynamic_references(stacks) + _handler_needs(stacks):
        asked.append((job, SERVICE, need))
    seen = set()
    for job, principal, need in asked:
        mark = (job, principal, need.action, need.resource, json.dumps(need.context, sort_keys=True))
        if mark in seen:
            continue
        seen.add(mark)
        p = pols[principal]
        result.checked += 1
        why = evaluate(p, need, keypolicy)
        if (principal, need.action) in EXPECTED_DENIALS:
            result.expected[(principal, need.action)] = why is None or result.expected.get(
                (principal, need.action), False
            )
            continue
        if why is not None:
            result.denials.append(Finding(job, principal, need, why))
        else:
            result.used[principal].update(_allowing(p.statements, need))
    return result


def unused_allows(result: Result, pols: dict[str, Principal]) -> dict[str, list[str]]:
    """Per principal, each Allow's action that no job's call used."""
    out = {}
    for name, p in sorted(pols.items()):
        used = result.used.get(name, set())
        lines = [
            f"{s.get('Sid', '?')}: {pattern}"
            for s in p.statements
            if s["Effect"] == "Allow" and "Action" in s
            for pattern in listify(s["Action"])
            if (s.get("Sid", "?"), pattern) not in used
        ]
        out[name] = lines
    return out


def uses(p: Principal, needs: list[iamcalls.Need], keypolicy: list[dict]) -> set[tuple[str, str]]:
    """The (Sid, action pattern) of ``p``'s allows that these needs use (denied ones use none)."""
    out = set()
    for need in needs:
        if evaluate(p, need, keypolicy) is None:
            out |= set(
                _allowing(
                    p.statements, iamcalls.Need(need.action, need.resource, {**need.context, "aws:PrincipalArn": p.arn})
                )
            )
    return out


def report(
    results: dict[str, Result],
    pols: dict[str, Principal],
    calls: list[dict],
    extra: dict[str, tuple[str, set]] | None = None,
) -> str:
    """docs/iam-trace.md: what each principal's jobs used, and each allow no
    job uses. ``extra``: principal -> (job, allows used) of checks outside
    the story (the drift run, the instances' boot)."""
    jobs = defaultdict(set)
    for c in calls:
        if c["command"] != "local":
            jobs[c["principal"]].add(c["job"])
    jobs[SERVICE].add("CloudFormation, for every resource of both modes")
    for name, (job, _) in (extra or {}).items():
        jobs[name].add(job)
    lines = [
        "# IAM trace: every call of the production story, under the principal that runs it",
        "",
        "Generated by `make iam-trace` (tests/iamtrace/test_story.py, which fails when this file is stale);",
        "do not edit. The story: bootstrap; the pull-request plan; the merge deploy executing the reviewed",
        "change set; status; the first release of both services and another of one; a second pull request",
        "planned and deployed; the multi-AZ switch and back; a secret rotation and its rollout; drift",
        "(refused on the local endpoint); destroy. Each recorded call (wealist_cfn/aws/calltrace.py) is mapped",
        "to what IAM authorises (wealist_cfn/aws/iamcalls.json, from the Service Authorization Reference) and",
        "evaluated under the principal's policies from the committed templates, in both modes",
        "(tests/iamtrace/check.py). Any denial fails the test. Checked beside the story, and counted",
        "here: the weekly drift under the plan role (tests/iamtrace/test_drift_calls.py, Stubber) and",
        "each instance's boot under its role (tests/iamtrace/test_boot_calls.py).",
        "",
        "## Denied on purpose (and checked to stay denied)",
        "",
    ]
    for (principal, action), reason in sorted(EXPECTED_DENIALS.items()):
        lines.append(f"- `{principal}` `{action}`: {reason}")
    lines += [
        "",
        "## Allows no job uses (least privilege: candidates to remove, not failures)",
        "",
        "An allow counts as used when some call of the story needs it. The service role's handler",
        "permissions are asked for every resource of both modes, so an unused one there is granted for",
        "a handler call the story's resources never make.",
        "",
    ]
    used = defaultdict(set)
    for r in results.values():
        for name, hits in r.used.items():
            used[name] |= hits
    for name, (_, hits) in (extra or {}).items():
        used[name] |= hits
    merged = Result(used=used)
    for name, unused in unused_allows(merged, pols).items():
        lines += [f"### `{name}`", "", f"Jobs: {', '.join(sorted(jobs.get(name, {'none in the story'})))}.", ""]
        lines += [f"- {u}" for u in unused] or ["- none"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
