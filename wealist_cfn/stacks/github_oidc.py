"""GitHub Actions access: a standalone template (templates/github-oidc.yaml),
deployed once per account and environment by an administrator, with the
roles the workflows assume through GitHub's OIDC provider (no AWS key is
stored in GitHub), the role CloudFormation acts with, and the key that
encrypts the environment's secrets.

* ``GitHubOidcProvider`` (optional): the account's identity provider for
  ``token.actions.githubusercontent.com``. An account holds at most one per
  URL; when it exists already, pass its ARN instead.
* ``CloudFormationServiceRole`` (``<Project>-<Environment>-cfn-role``): every
  stack operation runs under it (``RoleARN``). Its actions are the handler
  permissions that CloudFormation's resource schemas (as cfn-lint ships them)
  list for exactly the resource types of the nested set, scoped to the
  project's names where IAM allows; it can never change itself or a role
  GitHub may assume, and creates or changes the stacks' roles only with
  their permissions boundary.
* ``RoleBoundary`` (``<Project>-<Environment>-role-boundary``): the
  permissions boundary every role of the stacks carries (the instances'
  and the flow log's): at most what those roles do, so no policy the
  service role puts on them makes an administrator. Here, not in the stacks,
  so it exists before them and the service role can never edit it.
* ``SecretsKey`` (alias ``alias/<Project>-<Environment>-secrets``): bootstrap
  encrypts every SecureString with it. Its key policy lets only the service
  role (for the ``{{resolve:ssm-secure}}`` references of the templates) and
  the instance role that uses a secret decrypt that secret.
* ``DeployRole``: trusted only for jobs of the repository's main branch in
  the given GitHub environment (the subject claim carries the ref: see
  docs/operations.md). It creates, executes and deletes change sets, passes
  the service role to CloudFormation, syncs the bootstrap files, pushes the
  service images, records the released tag and starts instance refreshes.
* ``PlanRole`` (optional): trusted for the repository's pull requests and
  main's scheduled drift checks; it uploads templates under ``plan/``,
  creates and deletes change sets, detects drift, and can execute nothing,
  read no secret and write nothing the deploy uses.

Deploy it once, by hand, with an administrator's credentials::

    aws cloudformation deploy --template-file templates/github-oidc.yaml \\
      --stack-name wealist-prod-github --capabilities CAPABILITY_NAMED_IAM \\
      --parameter-overrides GitHubRepository=OWNER/REPO
"""

from __future__ import annotations

import json
import re

from awacs import acm, cloudwatch, ec2, ecr, elasticache, kms, logs, rds, s3, servicequotas, ssm, sts
from awacs import autoscaling as asg_actions
from awacs import cloudformation as cfn_actions
from awacs import elasticloadbalancing as elb_actions
from awacs import iam as iam_actions
from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    Condition,
    Deny,
    ForAllValuesStringEquals,
    Null,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import (
    AWSHelperFn,
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    Sub,
    Template,
    encode_to_dict,
    iam,
)
from troposphere import kms as kms_res

from wealist_cfn.core.parameters import PARAMS_BY_NAME, deploy_bucket_sub
from wealist_cfn.core.settings import BuildSettings
from wealist_cfn.stacks import iamdata

from .alarms import KEY_PURPOSE_TAG, PROJECT_TAG_KEYS
from .common import BACKEND_GROUP, MONITORING_GROUP, SERVICE_ROLE_NAME, new_template
from .iam import ROLE_BOUNDARY
from .network import FLOW_LOGS_SERVICE

OIDC_HOST = "token.actions.githubusercontent.com"
# GitHub's OIDC thumbprint; IAM no longer checks it for this provider (it
# trusts GitHub's certificate authority), but the API still requires one.
GITHUB_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"

NAME_PREFIX = "${Project}-${Environment}-"
SERVICE_ROLE = SERVICE_ROLE_NAME
DEPLOY_ROLE = NAME_PREFIX + "github-deploy"
PLAN_ROLE = NAME_PREFIX + "github-plan"
# Instance roles, by the fixed names the compute and IAM stacks give them.
BACKEND_ROLE = NAME_PREFIX + "ec2-role"
MONITORING_ROLE = NAME_PREFIX + "monitoring-role"
SECRETS_ALIAS = "alias/${Project}-${Environment}-secrets"
# Plan uploads here and nowhere else in the artifact bucket (the deploy uses
# the rest, pinned to object versions).
PLAN_PREFIX = "plan/"
MAIN_REF = "refs/heads/main"

HANDLERS = iamdata.HANDLERS
# IAM actions that change a role, its policies or its trust.
_ROLE_READS = ("Get", "List")
# Not core.rules.DYNAMIC_REFERENCE: these read the names before Fn::Sub
# resolves them, and "${Project}" holds the "}" that pattern stops at.
_SECURE_REF = re.compile(r"\{\{resolve:ssm-secure:(/\$\{Project\}/\$\{Environment\}/[^}:]+)\}\}")
_PLAIN_REF = re.compile(r"\{\{resolve:ssm:(/\$\{Project\}/\$\{Environment\}/[^}:]+)\}\}")


# Role calls that give a role permissions, or set or keep its boundary: the
# service role makes them only with iam:PermissionsBoundary = the boundary.
_BOUNDED_ROLE_CHANGES = frozenset(
    {"iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"}
)
# Handler permissions the service role never gets, and why (the policy
# tests accept exactly these as missing).
WITHHELD = {
    "iam:DeleteRolePermissionsBoundary": "the boundary never comes off a role the stacks make",
    "iam:AttachRolePolicy": "granted only for the managed policies the templates attach (iam:PolicyARN), "
    "and no template attaches one",
    # The Service Authorization Reference does list iam:PermissionsBoundary
    # for UpdateAssumeRolePolicy (as for DeleteRole, UpdateRole,
    # DeleteRolePolicy, DetachRolePolicy), so the call could be tied to the
    # boundary; that would not help. A boundary caps what a role may do,
    # never who may assume it, and the secrets key lets a role decrypt by
    # aws:PrincipalArn (_key_policy): a trust the service role rewrote would
    # hand the ec2 role, and the database passwords it decrypts, to any
    # principal it named, boundary or not.
    "iam:UpdateAssumeRolePolicy": "a stack role's trust changes only by an administrator (a boundary limits "
    "what a role does, not who assumes it; the secrets key trusts the role's ARN)",
}
# The stack of this template, by the name docs/operations.md gives it:
# <root stack>-github. It matches stack/${StackName}-*/*, the nested
# stacks' scope, so the GitHub roles are denied changing it by name.
TRUST_STACK = "${StackName}-github"

# The schema and action facts come from wealist_cfn/stacks/iamdata.py: a committed
# table derived from cfn-lint, read without importing cfn-lint.
SchemaError = iamdata.SchemaError


def handler_permissions(resource_type: str) -> frozenset[str]:
    """Every action CloudFormation's handlers for this type may call, from
    the resource schema's ``handlers.{create,read,update,delete,list}``."""
    return iamdata.handler_permissions(resource_type)


def required_permissions(resource_types) -> dict[str, frozenset[str]]:
    return {t: handler_permissions(t) for t in sorted(set(resource_types))}


def _iam_services() -> frozenset[str]:
    return iamdata.iam_services()


def _iam_actions(service: str) -> frozenset[str]:
    return iamdata.iam_actions(service)


def grantable(action: str) -> bool:
    """Whether IAM knows the action. A few schemas list calls of services IAM
    publishes no actions for (``managed-fleets:*`` in the Auto Scaling
    group's), and the S3 bucket's lists API operations that are no IAM
    action (``s3:DeleteBucketCors``, ``s3:REST.PUT.OBJECT``: IAM checks
    those as ``s3:PutBucketCORS``, ``s3:PutObject``, which it also lists):
    no policy can grant those."""
    return iamdata.grantable(action)


_BOUNDARY_ARN = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{ROLE_BOUNDARY}"


def _role_arn(name: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}")


def _arn(service: str, resource: str, region: bool = True, account: bool = True) -> Sub:
    r = "${AWS::Region}" if region else ""
    a = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:{r}:{a}:{resource}")


def _param_arn(path: str) -> Sub:
    return _arn("ssm", "parameter" + path)


def _in_region() -> Condition:
    return Condition(StringEquals("aws:RequestedRegion", Ref("AWS::Region")))


def _doc(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


class NestedSet:
    """What the nested set built from the same settings declares: resource
    types, named IAM roles and profiles, and the parameters it references."""

    def __init__(self, settings: BuildSettings):
        from wealist_cfn.stacks import root

        built = {name: t.to_dict() for name, t in root.build_all(settings).items()}
        self.types: set[str] = set()
        self.role_names: set[str] = set()
        self.flow_log_role_names: set[str] = set()  # roles the flow-logs service takes
        self.managed_policy_arns: set[str] = set()  # what the roles attach (ManagedPolicyArns)
        self.profile_names: set[str] = set()
        self.written_parameters: set[str] = set()
        # Log groups by name (a Sub over Project/Environment); True when a
        # log group without a name is made (CloudFormation names it).
        self.log_group_names: set[str] = set()
        self.unnamed_log_groups = False
        for template in built.values():
            for res in template.get("Resources", {}).values():
                self.types.add(res["Type"])
                props = res.get("Properties", {})
                if res["Type"] == "AWS::IAM::Role":
                    self.role_names.add(props["RoleName"]["Fn::Sub"])
                    # The service role creates and changes roles only with
                    # the boundary (see _service_role_statements): a role
                    # without it would fail in CloudFormation, so fail here.
                    if props.get("PermissionsBoundary") != {"Fn::Sub": _BOUNDARY_ARN}:
                        raise ValueError(
                            f"role {props['RoleName']['Fn::Sub']}: PermissionsBoundary must be "
                            f"{_BOUNDARY_ARN} (wealist_cfn.stacks.iam.boundary_arn())"
                        )
                    for arn in props.get("ManagedPolicyArns", []):
                        self.managed_policy_arns.add(arn["Fn::Sub"] if isinstance(arn, dict) else arn)
                    trusted = {
                        st.get("Principal", {}).get("Service") for st in props["AssumeRolePolicyDocument"]["Statement"]
                    }
                    if FLOW_LOGS_SERVICE in trusted:
                        self.flow_log_role_names.add(props["RoleName"]["Fn::Sub"])
                elif res["Type"] == "AWS::IAM::InstanceProfile":
                    self.profile_names.add(props["InstanceProfileName"]["Fn::Sub"])
                elif res["Type"] == "AWS::SSM::Parameter":
                    self.written_parameters.add(props["Name"]["Fn::Sub"])
                elif res["Type"] == "AWS::Logs::LogGroup":
                    if "LogGroupName" in props:
                        self.log_group_names.add(props["LogGroupName"]["Fn::Sub"])
                    else:
                        self.unnamed_log_groups = True
        text = json.dumps(built)
        self.secure_references = sorted(set(_SECURE_REF.findall(text)))
        self.plain_references = sorted(set(_PLAIN_REF.findall(text)))
        self.public_parameters = sorted(
            {
                p["Default"]
                for t in built.values()
                for p in t.get("Parameters", {}).values()
                if p["Type"].startswith("AWS::SSM::Parameter::Value<") and p.get("Default", "").startswith("/aws/")
            }
        )


def _secret_readers() -> dict[str, list[str]]:
    """Instance role -> the secrets (relative names) it needs at boot:
    Grafana's password is the monitoring instance's, every other secret the
    backend's (its database init and its services)."""
    from wealist_cfn.core.paramstore import SECRET_NAMES

    monitoring = [n for n in SECRET_NAMES if n.startswith("monitoring/")]
    return {BACKEND_ROLE: [n for n in SECRET_NAMES if n not in monitoring], MONITORING_ROLE: monitoring}


def build(settings: BuildSettings) -> Template:
    t = new_template(
        "Wealist GitHub Actions access: OIDC provider, the workflows' roles, the CloudFormation "
        "service role and the secrets key."
    )
    t.add_parameter(
        Parameter(
            "GitHubRepository",
            Type="String",
            AllowedPattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
            ConstraintDescription="must be OWNER/REPO",
            Description="The repository whose workflows may assume the roles.",
        )
    )
    env = t.add_parameter(
        Parameter(
            "GitHubEnvironment",
            Type="String",
            Default="production",
            AllowedPattern=r"^[A-Za-z0-9_.-]+$",
            Description="GitHub environment of the deploy jobs (main branch only, through the subject claim).",
        )
    )
    # The root template's constraints (parameters.py): the roles' and the
    # deploy bucket's names are built from the same two values.
    for key, default in (("Project", "wealist"), ("Environment", "prod")):
        spec = PARAMS_BY_NAME[key]
        t.add_parameter(
            Parameter(
                key,
                Type="String",
                Default=default,
                AllowedPattern=spec.allowed_pattern,
                MaxLength=spec.max_length,
                ConstraintDescription=spec.constraint,
            )
        )
    t.add_parameter(
        Parameter(
            "StackName",
            Type="String",
            Default="wealist-prod",
            AllowedPattern=r"^[A-Za-z][A-Za-z0-9-]*$",
            Description="The root stack's name.",
        )
    )
    t.add_parameter(
        Parameter(
            "DeployBucketName",
            Type="String",
            Default="",
            Description="Bucket of the instance files (bootstrap), as in the params file; "
            "empty: <Project>-<Environment>-deploy-<account ID>-<region>.",
        )
    )
    t.add_condition(DEPLOY_BUCKET_NAMED, Not(Equals(Ref("DeployBucketName"), "")))
    t.add_parameter(
        Parameter(
            "EcrRepositoryPrefix",
            Type="String",
            Default="",
            Description="As in the params file ('' for prod, 'dev/' for dev).",
        )
    )
    create_provider = t.add_parameter(
        Parameter(
            "CreateOidcProvider",
            Type="String",
            Default="true",
            AllowedValues=["true", "false"],
            Description="false when the account already has GitHub's OIDC provider (give its ARN below).",
        )
    )
    existing = t.add_parameter(
        Parameter(
            "ExistingOidcProviderArn",
            Type="String",
            Default="",
            Description="ARN of the account's existing GitHub OIDC provider, when CreateOidcProvider is false.",
        )
    )
    plan_param = t.add_parameter(
        Parameter(
            "CreatePlanRole",
            Type="String",
            Default="true",
            AllowedValues=["true", "false"],
            Description="true: a role pull requests use to post change-set reviews (creates, never executes).",
        )
    )
    readers = t.add_parameter(
        Parameter(
            "SecretReaderArns",
            Type="CommaDelimitedList",
            Default="",
            Description="ARNs (wildcards allowed) of the people's roles that may decrypt secrets by hand; empty: none. "
            "Never a role GitHub assumes.",
        )
    )
    t.add_condition("HasSecretReaders", Not(Equals(Join("", Ref(readers)), "")))
    t.add_condition("CreateProvider", Equals(Ref(create_provider), "true"))
    t.add_condition("CreatePlan", Equals(Ref(plan_param), "true"))
    # Without a provider of its own, the template needs the existing one's ARN.
    t.add_rule(
        "ExistingProviderGiven",
        {
            "RuleCondition": Equals(Ref(create_provider), "false"),
            "Assertions": [
                {
                    "Assert": Not(Equals(Ref(existing), "")),
                    "AssertDescription": "ExistingOidcProviderArn is required when CreateOidcProvider is false",
                }
            ],
        },
    )

    nested = NestedSet(settings)
    provider = t.add_resource(
        iam.OIDCProvider(
            "GitHubOidcProvider",
            Condition="CreateProvider",
            Url=f"https://{OIDC_HOST}",
            ClientIdList=["sts.amazonaws.com"],
            ThumbprintList=[GITHUB_THUMBPRINT],
        )
    )
    provider_arn = If("CreateProvider", provider.ref(), Ref(existing))
    repositories = _repositories(settings)

    service = t.add_resource(
        iam.Role(
            "CloudFormationServiceRole",
            RoleName=Sub(SERVICE_ROLE),
            Description=Sub("CloudFormation operations on ${StackName} and its nested stacks"),
            MaxSessionDuration=43200,  # CloudFormation refreshes it; a long RDS create outlives an hour
            AssumeRolePolicyDocument=_doc(
                Statement(
                    Effect=Allow,
                    Principal=Principal("Service", "cloudformation.amazonaws.com"),
                    Action=[sts.AssumeRole],
                    # Only CloudFormation acting for this account (the confused deputy).
                    Condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))),
                )
            ),
        )
    )
    # Created here, by an administrator, before any stack of the set: the
    # roles those stacks make carry it from their first create, and the
    # service role, which may create and change roles only with it, can
    # never edit it (a boundary in a nested stack would be the service
    # role's to rewrite).
    t.add_resource(
        iam.ManagedPolicy(
            "RoleBoundary",
            ManagedPolicyName=Sub(ROLE_BOUNDARY),
            Description=Sub(
                "Permissions boundary of every role ${StackName}'s stacks make: at most what the "
                "instances and the flow log do"
            ),
            PolicyDocument=_role_boundary(repositories),
            Metadata={
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_111",
                            "comment": "A boundary grants nothing: it caps the instance roles, whose Session "
                            "Manager agent calls "
                            "(ssmmessages, ec2messages, ssm:UpdateInstanceInformation) support no resource-level "
                            "scope; "
                            "every other write in it is scoped.",
                        }
                    ]
                }
            },
        )
    )
    # IAM caps a role's inline policies at 10,240 characters in all and a
    # managed policy at 6,144: the schema-derived statements go into as
    # many managed policies as they need.
    for n, statements in enumerate(_pack(_service_role_statements(nested)), start=1):
        t.add_resource(
            iam.ManagedPolicy(
                f"CloudFormationServicePolicy{n}",
                ManagedPolicyName=Sub(f"{SERVICE_ROLE}-{n}"),
                Description=Sub("Resource handler permissions of ${StackName}'s resource types"),
                Roles=[service.ref()],
                PolicyDocument=_doc(*statements),
            )
        )
    key = t.add_resource(
        kms_res.Key(
            "SecretsKey",
            Description=Sub("SecureString parameters under /${Project}/${Environment}/"),
            EnableKeyRotation=True,
            KeyPolicy=_key_policy(nested),
        )
    )
    t.add_resource(kms_res.Alias("SecretsKeyAlias", AliasName=Sub(SECRETS_ALIAS), TargetKeyId=key.ref()))

    main_subject = Sub(f"repo:${{GitHubRepository}}:environment:${{{env.title}}}:ref:{MAIN_REF}")
    deploy = t.add_resource(
        iam.Role(
            "DeployRole",
            RoleName=Sub(DEPLOY_ROLE),
            Description=Sub(
                "GitHub Actions deploys of ${StackName} from ${GitHubRepository} main (environment "
                "${GitHubEnvironment})"
            ),
            MaxSessionDuration=7200,  # a first create of the stack (RDS, NAT) takes most of an hour
            AssumeRolePolicyDocument=_trust(provider_arn, StringEquals, [main_subject]),
            Policies=[
                iam.Policy(PolicyName="cloudformation", PolicyDocument=_cloudformation(can_execute=True)),
                iam.Policy(PolicyName="release", PolicyDocument=_release(repositories)),
                iam.Policy(PolicyName="bootstrap", PolicyDocument=_bootstrap(key)),
            ],
        )
    )
    plan = t.add_resource(
        iam.Role(
            "PlanRole",
            Condition="CreatePlan",
            RoleName=Sub(PLAN_ROLE),
            Description=Sub(
                "GitHub Actions change-set reviews and drift checks of ${StackName} for ${GitHubRepository}"
            ),
            AssumeRolePolicyDocument=_trust(
                provider_arn,
                StringLike,
                [
                    Sub("repo:${GitHubRepository}:pull_request:ref:refs/pull/*/merge"),
                    # Scheduled drift checks run on main without an environment.
                    Sub(f"repo:${{GitHubRepository}}:ref:{MAIN_REF}:ref:{MAIN_REF}"),
                ],
            ),
            Policies=[
                iam.Policy(PolicyName="review", PolicyDocument=_cloudformation(can_execute=False)),
                iam.Policy(PolicyName="read-only", PolicyDocument=_plan_reads(nested, key)),
            ],
        )
    )
    # Both GitHub roles run the same preflight checks. One managed policy
    # for them keeps the plan role's inline policies under IAM's 10,240
    # characters a role (IAM User Guide, "IAM and AWS STS quotas").
    t.add_resource(
        iam.ManagedPolicy(
            "PreflightPolicy",
            ManagedPolicyName=Sub(NAME_PREFIX + "github-preflight"),
            Description=Sub("Preflight checks of ${StackName} run by the GitHub roles"),
            Roles=[deploy.ref(), If("CreatePlan", plan.ref(), Ref("AWS::NoValue"))],
            PolicyDocument=_preflight(repositories),
        )
    )
    t.add_output(
        Output(
            "DeployRoleArn",
            Value=GetAtt(deploy, "Arn"),
            Description="Set as the repository variable AWS_DEPLOY_ROLE_ARN.",
        )
    )
    t.add_output(
        Output(
            "PlanRoleArn",
            Condition="CreatePlan",
            Value=GetAtt(plan, "Arn"),
            Description="Set as the repository variable AWS_PLAN_ROLE_ARN.",
        )
    )
    t.add_output(Output("ServiceRoleArn", Value=GetAtt(service, "Arn"), Description="deploy's default --role-arn."))
    t.add_output(
        Output(
            "SecretsKeyArn", Value=GetAtt(key, "Arn"), Description="bootstrap encrypts SecureStrings with its alias."
        )
    )
    t.add_output(Output("OidcProviderArn", Value=provider_arn))
    return t


def _trust(provider_arn: AWSHelperFn, match, subjects: list[Sub]) -> PolicyDocument:
    # Only tokens GitHub issued for AWS STS, for exactly this repository and
    # context: a fork, another repository or another branch's job gets a
    # different subject and is refused.
    return _doc(
        Statement(
            Effect=Allow,
            Principal=Principal("Federated", provider_arn),
            Action=[sts.AssumeRoleWithWebIdentity],
            # One operator per key in a Condition block: a second StringEquals
            # would replace the first, so aud and exact subs (one or several)
            # share one.
            Condition=Condition(
                StringEquals(
                    {
                        f"{OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{OIDC_HOST}:sub": subjects[0] if len(subjects) == 1 else subjects,
                    }
                )
                if match is StringEquals
                else [StringEquals(f"{OIDC_HOST}:aud", "sts.amazonaws.com"), match(f"{OIDC_HOST}:sub", subjects)]
            ),
        )
    )


def _stack_arns() -> list[Sub]:
    # The root stack and its nested stacks (named <root>-<Child>Stack-<id>).
    return [_arn("cloudformation", "stack/${StackName}/*"), _arn("cloudformation", "stack/${StackName}-*/*")]


DEPLOY_BUCKET_NAMED = "DeployBucketNamed"


def _deploy_bucket(suffix: str = "") -> Sub:
    """The deploy bucket's ARN (plus ``suffix``): the name the params file
    gives, or when empty the account-unique one the root stack computes the
    same way (parameters.deploy_bucket_sub)."""
    name = If(DEPLOY_BUCKET_NAMED, Ref("DeployBucketName"), Sub(deploy_bucket_sub()))
    return Sub("arn:${AWS::Partition}:s3:::${DeployBucket}" + suffix, DeployBucket=name)


def _bucket() -> str:
    # build.py's default template bucket: <project>-cfn-artifacts-<account>-<region>.
    return "arn:${AWS::Partition}:s3:::${Project}-cfn-artifacts-${AWS::AccountId}-${AWS::Region}"


def _preflight(repositories: list[Sub]) -> PolicyDocument:
    """What `plan` and `deploy` read first (wealist_cfn/preflight, docs/deploy.md
    "Preflight"): a check that may not ask fails, and against AWS a failed
    check stops the deploy."""
    return _doc(
        # Existence and type of every parameter the templates and instances
        # use: metadata only, never a value (DescribeParameters takes no
        # resource ARN).
        Statement(Sid="ParameterMetadata", Effect=Allow, Action=[ssm.DescribeParameters], Resource=["*"]),
        # The files instances fetch, compared byte for byte.
        Statement(
            Sid="DeployBucketFiles",
            Effect=Allow,
            Action=[s3.ListBucket, s3.GetBucketLocation],
            Resource=[_deploy_bucket()],
        ),
        Statement(Sid="DeployBucketObjects", Effect=Allow, Action=[s3.GetObject], Resource=[_deploy_bucket("/*")]),
        # Offerings, quotas and usage in the region; none of these calls
        # takes a resource ARN.
        Statement(
            Sid="OfferingsAndQuotas",
            Effect=Allow,
            Resource=["*"],
            Condition=_in_region(),
            Action=[
                ec2.DescribeAvailabilityZones,
                ec2.DescribeInstanceTypeOfferings,
                ec2.DescribeAddresses,
                ec2.DescribeNatGateways,
                ec2.DescribeSubnets,
                ec2.DescribeVpcs,
                ec2.DescribeSecurityGroups,
                rds.DescribeOrderableDBInstanceOptions,
                elasticache.DescribeCacheEngineVersions,
                elasticache.DescribeReservedCacheNodesOfferings,
                servicequotas.GetServiceQuota,
            ],
        ),
        # The replication group's members, against the IDs the Redis alarms
        # read (preflight redis-members). DescribeReplicationGroups takes the
        # replicationgroup resource type (Service Authorization Reference,
        # Amazon ElastiCache), so the group's own ARN.
        Statement(
            Sid="RedisMembers",
            Effect=Allow,
            Action=[elasticache.DescribeReplicationGroups],
            Resource=[_arn("elasticache", "replicationgroup:${Project}-${Environment}-redis")],
        ),
        # The certificate the parameter file names (status, expiry, names).
        Statement(
            Sid="Certificates", Effect=Allow, Action=[acm.DescribeCertificate], Resource=[_arn("acm", "certificate/*")]
        ),
        # The image tags instances will pull; and, before a first create,
        # whether a repository a destroy kept still holds its fixed name.
        Statement(
            Sid="ReleasedImages",
            Effect=Allow,
            Action=[ecr.DescribeImages, ecr.DescribeRepositories],
            Resource=repositories,
        ),
        # BackendHealthCheckType follows the release tags and, before a
        # switch to ELB, the backend's target health
        # (ops/releasestate.py derive); the ELB and Auto Scaling reads take
        # no resource-level scope (Service Authorization Reference).
        # Preflight's images check reads each service's repository name
        # with its tag, in one GetParameters call, which IAM authorises only
        # when every name is allowed: without the repositories the plan
        # role's call was denied and its preflight failed.
        Statement(
            Sid="ReleaseState",
            Effect=Allow,
            Action=[ssm.GetParameters],
            Resource=[
                _arn("ssm", "parameter/${Project}/${Environment}/deploy/*_image_tag"),
                _arn("ssm", "parameter/${Project}/${Environment}/deploy/*_repository"),
            ],
        ),
        Statement(
            Sid="ReleaseTargetHealth",
            Effect=Allow,
            Resource=["*"],
            Condition=_in_region(),
            Action=[asg_actions.DescribeAutoScalingGroups, elb_actions.DescribeTargetHealth],
        ),
        # Whether a log group the stack names exists outside it (RDS makes
        # its export groups itself): names and metadata, never an event.
        # DescribeLogGroups takes no resource ARN (IAM's action table for
        # CloudWatch Logs lists no resource type for it).
        Statement(
            Sid="NamedLogGroups", Effect=Allow, Action=[logs.DescribeLogGroups], Resource=["*"], Condition=_in_region()
        ),
        # The boundary exists before a deploy names it (the stacks' roles
        # carry it; without it PutRolePermissionsBoundary fails), and this
        # stack's parameters match the params file (the boundary names the
        # deploy bucket and repositories from them): preflight
        # check_trust_stack.
        Statement(
            Sid="TrustStackAndBoundary",
            Effect=Allow,
            Action=[cfn_actions.DescribeStacks],
            Resource=[_arn("cloudformation", f"stack/{TRUST_STACK}/*")],
        ),
        Statement(Sid="BoundaryExists", Effect=Allow, Action=[iam_actions.GetPolicy], Resource=[Sub(_BOUNDARY_ARN)]),
        # The stack's critical alarms, read before a change set names them as
        # rollback triggers (deploy/triggers.py): their ARNs and states.
        Statement(
            Sid="RollbackTriggerAlarms",
            Effect=Allow,
            Action=[cloudwatch.DescribeAlarms],
            Resource=[_arn("cloudwatch", "alarm:${Project}-${Environment}-alarm-*")],
        ),
    )


def _cloudformation(*, can_execute: bool) -> PolicyDocument:
    statements = [
        # Read the stacks, their events, change sets, templates and policies:
        # the review and the event watching. Every CloudFormation action here
        # and below is authorised against the stack (Service Authorization
        # Reference, AWS CloudFormation: resource type stack for the
        # change-set calls too), so the project's stacks are the whole scope.
        Statement(
            Sid="ReadStacks",
            Effect=Allow,
            Resource=_stack_arns(),
            Action=[
                cfn_actions.DescribeStacks,
                cfn_actions.DescribeStackEvents,
                cfn_actions.DescribeStackResources,
                cfn_actions.DescribeStackResource,
                cfn_actions.ListStackResources,
                cfn_actions.DescribeChangeSet,
                cfn_actions.ListChangeSets,
                cfn_actions.GetTemplate,
                cfn_actions.GetStackPolicy,
            ],
        ),
        # Validation and the template summary have no resource-level scope.
        Statement(
            Sid="ValidateTemplates",
            Effect=Allow,
            Resource=["*"],
            Action=[cfn_actions.ValidateTemplate, cfn_actions.GetTemplateSummary],
        ),
        # Creating a change set is the review itself; deleting one cleans up
        # a review nobody executes; only on the project's stacks (a change
        # set's own ARN, changeSet/*/*, is not what IAM checks these against).
        Statement(
            Sid="ReviewChangeSets",
            Effect=Allow,
            Resource=_stack_arns(),
            Action=[cfn_actions.CreateChangeSet, cfn_actions.DeleteChangeSet],
        ),
        # The trust stack (this template) is named <root stack>-github and
        # so falls inside the nested stacks' scope above: no change set,
        # execution or stack call on it from a workflow, whatever a
        # statement allows. It is an administrator's, by hand; reading it
        # stays (preflight compares its parameters with the params file).
        Statement(
            Sid="NeverTheTrustStack",
            Effect=Deny,
            Resource=[_arn("cloudformation", f"stack/{TRUST_STACK}/*")],
            Action=[
                cfn_actions.CreateChangeSet,
                cfn_actions.DeleteChangeSet,
                cfn_actions.ExecuteChangeSet,
                cfn_actions.CreateStack,
                cfn_actions.UpdateStack,
                cfn_actions.DeleteStack,
                cfn_actions.SetStackPolicy,
                cfn_actions.ContinueUpdateRollback,
                cfn_actions.CancelUpdateStack,
                cfn_actions.UpdateTerminationProtection,
                cfn_actions.RollbackStack,
            ],
        ),
        # Packaging finds the artifact bucket (HeadBucket is s3:ListBucket)
        # and reads its settings, never changes them.
        Statement(
            Sid="ArtifactBucket",
            Effect=Allow,
            Resource=[Sub(_bucket())],
            Action=[s3.ListBucket, s3.GetBucketLocation, s3.GetBucketVersioning],
        ),
        # The AMI parameter is resolved at change-set creation with the
        # caller's rights; it is public.
        Statement(
            Sid="ResolvePublicParameters",
            Effect=Allow,
            Action=[ssm.GetParameters, ssm.GetParameter],
            Resource=[_arn("ssm", "parameter/aws/service/*", account=False)],
        ),
    ]
    if can_execute:
        statements += [
            # The first deploy creates the artifact bucket, hardened
            # (deploy/package.py ensure_bucket); only main's deploy may
            # create or configure it: a pull request that suspended
            # versioning would unpin the deploy's TemplateURLs. Its
            # lifecycle rules (ops/artifacts.py ensure_lifecycle) are read
            # and put when it is made and by every bootstrap of the deploy
            # job: without them the first deploy failed after CreateBucket.
            # A deploy stopped right after CreateBucket leaves the bucket
            # bare; the next one reads each setting (public access block,
            # default encryption) and puts back only what is missing.
            Statement(
                Sid="CreateArtifactBucket",
                Effect=Allow,
                Resource=[Sub(_bucket())],
                Action=[
                    s3.CreateBucket,
                    s3.PutBucketPublicAccessBlock,
                    s3.PutEncryptionConfiguration,
                    s3.PutBucketVersioning,
                    s3.GetLifecycleConfiguration,
                    s3.PutLifecycleConfiguration,
                    s3.GetBucketPublicAccessBlock,
                    s3.GetEncryptionConfiguration,
                ],
            ),
            # Every stack operation runs as the service role; hand it that
            # role and no other, and only to CloudFormation. (A plan needs
            # none: CloudFormation uses the role the stack already has, even
            # for a caller who may not pass it.)
            Statement(
                Sid="PassServiceRole",
                Effect=Allow,
                Action=[iam_actions.PassRole],
                Resource=[_role_arn(SERVICE_ROLE)],
                Condition=Condition(StringEquals("iam:PassedToService", "cloudformation.amazonaws.com")),
            ),
            # deploy checks that the service role exists before it names it.
            Statement(
                Sid="FindServiceRole", Effect=Allow, Action=[iam_actions.GetRole], Resource=[_role_arn(SERVICE_ROLE)]
            ),
            # Templates by content hash, everywhere in the bucket but plan/.
            Statement(
                Sid="TemplateArtifacts",
                Effect=Allow,
                Action=[s3.GetObject, s3.GetObjectVersion, s3.PutObject],
                Resource=[Sub(_bucket() + "/*")],
            ),
            # Run a reviewed change set; keep the stack policy that guards
            # the stateful resources current; protect a new stack from
            # deletion once its create succeeded.
            Statement(
                Sid="ExecuteChangeSets",
                Effect=Allow,
                Resource=_stack_arns(),
                Action=[
                    cfn_actions.ExecuteChangeSet,
                    cfn_actions.SetStackPolicy,
                    cfn_actions.ContinueUpdateRollback,
                    cfn_actions.CancelUpdateStack,
                    cfn_actions.UpdateTerminationProtection,
                ],
            ),
            # CI never deletes the root stack (and with it the database): a
            # failed first create is cleared by an operator with the command
            # deploy prints.
            Statement(
                Sid="NeverDeleteTheRootStack", Effect=Deny, Action=[cfn_actions.DeleteStack], Resource=_stack_arns()[:1]
            ),
        ]
    else:
        statements += [
            # Templates for review go under plan/ only: nothing a deploy
            # reads can be written from a pull request.
            Statement(
                Sid="PlanArtifacts",
                Effect=Allow,
                Action=[s3.GetObject, s3.GetObjectVersion, s3.PutObject],
                Resource=[Sub(_bucket() + "/" + PLAN_PREFIX + "*")],
            ),
            # A plan reuses the templates the deploy stored, unchanged ones
            # keeping the URLs the stack names (deploy/package.py, key
            # deploy/<Project>-<Environment>/<name>.<sha256>.yaml): read only.
            Statement(
                Sid="ReadDeployedTemplates",
                Effect=Allow,
                Action=[s3.GetObject, s3.GetObjectVersion],
                Resource=[Sub(_bucket() + "/deploy/${Project}-${Environment}/*")],
            ),
            # The bucket's settings are the deploy's: a pull request never
            # changes them, whatever a later statement allows.
            Statement(
                Sid="NeverReconfigureTheBucket",
                Effect=Deny,
                Resource=["*"],
                Action=[
                    s3.CreateBucket,
                    s3.DeleteBucket,
                    s3.PutBucketVersioning,
                    s3.PutEncryptionConfiguration,
                    s3.PutBucketPublicAccessBlock,
                    s3.PutBucketPolicy,
                    s3.DeleteBucketPolicy,
                    s3.PutLifecycleConfiguration,
                    s3.PutBucketOwnershipControls,
                    s3.PutBucketAcl,
                ],
            ),
            Statement(
                Sid="NoWritesOutsidePlanPrefix",
                Effect=Deny,
                Action=[
                    s3.PutObject,
                    s3.DeleteObject,
                    s3.DeleteObjectVersion,
                    s3.PutObjectAcl,
                    s3.PutObjectTagging,
                    s3.RestoreObject,
                ],
                NotResource=[Sub(_bucket() + "/" + PLAN_PREFIX + "*")],
            ),
            # A pull request's job may review, never change the stack.
            Statement(
                Sid="NoChangesFromPullRequests",
                Effect=Deny,
                Resource=["*"],
                Action=[
                    cfn_actions.ExecuteChangeSet,
                    cfn_actions.UpdateStack,
                    cfn_actions.CreateStack,
                    cfn_actions.DeleteStack,
                    cfn_actions.SetStackPolicy,
                    cfn_actions.UpdateTerminationProtection,
                    cfn_actions.ContinueUpdateRollback,
                    cfn_actions.CancelUpdateStack,
                ],
            ),
        ]
    return _doc(*statements)


def _plan_reads(nested: NestedSet, key: kms_res.Key) -> PolicyDocument:
    readable = [*nested.plain_references, *sorted(nested.written_parameters)]
    return _doc(
        # The non-secret parameters the templates resolve when a change set
        # is created, and those the stacks write (drift detection reads
        # them). Nothing else under the environment's prefix.
        Statement(
            Sid="NonSecretParameters",
            Effect=Allow,
            Action=[ssm.GetParameters, ssm.GetParameter],
            Resource=[_param_arn(p) for p in readable],
        ),
        # The weekly drift check (drift.yml): start it, wait for it, read it.
        Statement(
            Sid="DetectDrift",
            Effect=Allow,
            Resource=_stack_arns(),
            Action=[
                cfn_actions.DetectStackDrift,
                cfn_actions.DetectStackResourceDrift,
                cfn_actions.DescribeStackResourceDrifts,
            ],
        ),
        Statement(
            Sid="DriftStatus", Effect=Allow, Resource=["*"], Action=[cfn_actions.DescribeStackDriftDetectionStatus]
        ),
        # Drift detection reads each resource's live state with the
        # caller's rights: the read handlers' describe calls, in this region.
        # The stack's log groups, alarm topic, alarms and dashboard are read
        # too (their read handlers, checked by tests/iamtrace): without
        # them the weekly drift could not read a third of the stack.
        Statement(
            Sid="ReadResourcesForDrift",
            Effect=Allow,
            Resource=["*"],
            Condition=_in_region(),
            Action=[
                Action("ec2", "Describe*"),
                Action("elasticloadbalancing", "Describe*"),
                Action("autoscaling", "Describe*"),
                Action("rds", "Describe*"),
                Action("rds", "ListTagsForResource"),
                Action("elasticache", "Describe*"),
                Action("elasticache", "ListTagsForResource"),
                ecr.DescribeRepositories,
                ecr.GetLifecyclePolicy,
                ecr.GetRepositoryPolicy,
                ecr.ListTagsForResource,
                ssm.DescribeParameters,
                ssm.ListTagsForResource,
                Action("logs", "Describe*"),
                logs.ListTagsForResource,
                logs.GetDataProtectionPolicy,
            ],
        ),
        # GetSubscriptionAttributes is the read handler of the alarm topic's
        # email subscription (AWS::SNS::Subscription, present when AlarmEmail
        # is set); IAM scopes it to the topic (Service Authorization
        # Reference, Amazon SNS), so the same topic pattern covers it.
        Statement(
            Sid="ReadAlarmsForDrift",
            Effect=Allow,
            Action=[
                Action("sns", "GetTopicAttributes"),
                Action("sns", "ListSubscriptionsByTopic"),
                Action("sns", "GetSubscriptionAttributes"),
                Action("sns", "ListTagsForResource"),
                Action("sns", "GetDataProtectionPolicy"),
                cloudwatch.DescribeAlarms,
                cloudwatch.GetDashboard,
                cloudwatch.ListTagsForResource,
            ],
            Resource=[
                _arn("sns", "${Project}-${Environment}-*"),
                _arn("cloudwatch", "alarm:${Project}-${Environment}-*"),
                _arn("cloudwatch", "dashboard/${Project}-${Environment}", region=False),
            ],
        ),
        # IAM answers in us-east-1 (the region its requests name), so its
        # reads cannot share the region condition above: the stack's own
        # roles and instance profiles only.
        Statement(
            Sid="ReadRolesForDrift",
            Effect=Allow,
            Action=[
                iam_actions.GetRole,
                iam_actions.GetRolePolicy,
                iam_actions.ListRolePolicies,
                iam_actions.ListAttachedRolePolicies,
                iam_actions.GetInstanceProfile,
            ],
            Resource=[
                *[_role_arn(n) for n in sorted(nested.role_names)],
                *[
                    Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:instance-profile/{n}")
                    for n in sorted(nested.profile_names)
                ],
            ],
        ),
        # The stack's buckets' settings (never an object), and the alarm
        # key's metadata and policy (no use of the key). A tag is not unique
        # to one key: every environment's alarm key carries the purpose tag,
        # and anyone who may tag keys could put it on another, so the
        # statement also asks for this environment's Project and Environment
        # tags; what it reaches by a stray tag is still metadata only.
        Statement(
            Sid="ReadBucketsForDrift",
            Effect=Allow,
            Resource=[Sub("arn:${AWS::Partition}:s3:::${StackName}-*")],
            Action=[
                Action("s3", "GetBucket*"),
                s3.GetAccelerateConfiguration,
                s3.GetAnalyticsConfiguration,
                s3.GetEncryptionConfiguration,
                s3.GetIntelligentTieringConfiguration,
                s3.GetInventoryConfiguration,
                s3.GetLifecycleConfiguration,
                s3.GetMetricsConfiguration,
                s3.GetReplicationConfiguration,
                s3.ListBucket,
                s3.ListTagsForResource,
            ],
        ),
        Statement(
            Sid="ReadAlarmKeyForDrift",
            Effect=Allow,
            Resource=["*"],
            Condition=Condition(
                StringEquals(
                    {
                        f"aws:ResourceTag/{KEY_PURPOSE_TAG[0]}": KEY_PURPOSE_TAG[1],
                        "aws:ResourceTag/Project": Ref("Project"),
                        "aws:ResourceTag/Environment": Ref("Environment"),
                    }
                )
            ),
            Action=[kms.DescribeKey, kms.GetKeyPolicy, kms.GetKeyRotationStatus, kms.ListResourceTags],
        ),
        # Belt and braces on top of the key policy: no secret, by name or
        # by key, whatever a later statement allows.
        Statement(
            Sid="NeverSecrets",
            Effect=Deny,
            Action=[Action("ssm", "GetParameter*"), ssm.GetParameterHistory],
            Resource=[_param_arn("/${Project}/${Environment}/" + n) for n in _all_secrets()],
        ),
        Statement(Sid="NeverDecrypt", Effect=Deny, Action=[kms.Decrypt, Action("kms", "ReEncrypt*")], Resource=["*"]),
    )


def _all_secrets() -> list[str]:
    return sorted({n for names in _secret_readers().values() for n in names})


def _key_policy(nested: NestedSet) -> dict:
    account = Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    via_ssm = Sub("ssm.${AWS::Region}.amazonaws.com")

    def readers(sid: str, role: str, names: list[str]) -> Statement:
        # The instance roles do not exist yet when the key is created (KMS
        # refuses a principal it cannot find): the account is the principal
        # and the role's ARN a condition. SSM names the parameter in the
        # encryption context, so each role decrypts only its own secrets.
        return Statement(
            Sid=sid,
            Effect=Allow,
            Principal=Principal("AWS", account),
            Action=[kms.Decrypt],
            Resource=["*"],
            Condition=Condition(
                [
                    ArnEquals("aws:PrincipalArn", _role_arn(role)),
                    StringEquals(
                        {
                            "kms:ViaService": via_ssm,
                            "kms:EncryptionContext:PARAMETER_ARN": [
                                _param_arn(n if n.startswith("/") else "/${Project}/${Environment}/" + n) for n in names
                            ],
                        }
                    ),
                ]
            ),
        )

    statements = [
        # Administrators manage the key through IAM; decryption is not part
        # of that, so no IAM policy alone can read a secret.
        Statement(
            Sid="KeyAdministration",
            Effect=Allow,
            Principal=Principal("AWS", account),
            Resource=["*"],
            # CreateGrant is left out: a grant could hand decryption
            # to anyone.
            Action=[
                Action("kms", "Describe*"),
                Action("kms", "Get*"),
                Action("kms", "List*"),
                Action("kms", "CreateAlias"),
                Action("kms", "DeleteAlias"),
                Action("kms", "Put*"),
                Action("kms", "Update*"),
                Action("kms", "Enable*"),
                Action("kms", "Disable*"),
                Action("kms", "Revoke*"),
                Action("kms", "TagResource"),
                Action("kms", "UntagResource"),
                Action("kms", "ScheduleKeyDeletion"),
                Action("kms", "CancelKeyDeletion"),
            ],
        ),
        # Writing a SecureString (bootstrap, by an administrator or the
        # deploy role) encrypts and reveals nothing.
        Statement(
            Sid="EncryptThroughSsm",
            Effect=Allow,
            Principal=Principal("AWS", account),
            Resource=["*"],
            Action=[kms.Encrypt, Action("kms", "GenerateDataKey*")],
            Condition=Condition(StringEquals("kms:ViaService", via_ssm)),
        ),
        # CloudFormation resolves the templates' {{resolve:ssm-secure}}
        # references (RDS master password, Redis AUTH) as the service role.
        readers("ServiceRoleDecryptsTemplateSecrets", SERVICE_ROLE, nested.secure_references),
        # The service role may tag keys on "*" while it creates the alarm
        # key (tag-on-create has no key to scope to): this key refuses it
        # that and every administrative call. Everyone, narrowed by
        # aws:PrincipalArn, as the IAM User Guide recommends over
        # NotPrincipal ("AWS JSON policy elements: NotPrincipal").
        Statement(
            Sid="ServiceRoleNeverAdministers",
            Effect=Deny,
            Principal=Principal("*"),
            Resource=["*"],
            Action=[
                Action("kms", "TagResource"),
                Action("kms", "UntagResource"),
                Action("kms", "Put*"),
                Action("kms", "CreateGrant"),
                Action("kms", "ScheduleKeyDeletion"),
                Action("kms", "Disable*"),
                Action("kms", "Update*"),
                Action("kms", "CreateAlias"),
                Action("kms", "DeleteAlias"),
            ],
            Condition=Condition(ArnEquals("aws:PrincipalArn", _role_arn(SERVICE_ROLE))),
        ),
    ]
    for role, names in _secret_readers().items():
        if names:
            sid = "".join(w.capitalize() for w in role.removeprefix(NAME_PREFIX).split("-")) + "DecryptsItsSecrets"
            statements.append(readers(sid, role, names))
    policy = encode_to_dict(_doc(*statements))
    # People who read a secret by hand (Grafana's password, the rotation
    # commands): only the principals named at deploy time, through SSM.
    policy["Statement"].append(
        If(
            "HasSecretReaders",
            encode_to_dict(
                Statement(
                    Sid="NamedPeopleDecryptSecrets",
                    Effect=Allow,
                    Principal=Principal("AWS", account),
                    Action=[kms.Decrypt],
                    Resource=["*"],
                    Condition=Condition(
                        [ArnLike("aws:PrincipalArn", Ref("SecretReaderArns")), StringEquals("kms:ViaService", via_ssm)]
                    ),
                )
            ),
            Ref("AWS::NoValue"),
        )
    )
    return policy


# Room per managed policy, measured on the template's form (longer than the
# resolved one for every pseudo parameter), below IAM's 6,144.
POLICY_BUDGET = 5000
ACTIONS_PER_STATEMENT = 60


def _size(statement: Statement) -> int:
    return len(json.dumps(encode_to_dict(statement), separators=(",", ":")))


def _pack(statements: list[Statement]) -> list[list[Statement]]:
    """Split long action lists, then fill policies in order up to the budget."""
    parts = []
    for st in statements:
        actions = st.Action
        if len(actions) <= ACTIONS_PER_STATEMENT:
            parts.append(st)
            continue
        for i in range(0, len(actions), ACTIONS_PER_STATEMENT):
            kw = {k: v for k, v in st.properties.items() if k not in ("Action", "Sid")}
            parts.append(
                Statement(
                    Sid=f"{st.Sid}{i // ACTIONS_PER_STATEMENT + 1}", Action=actions[i : i + ACTIONS_PER_STATEMENT], **kw
                )
            )
    policies: list[list[Statement]] = [[]]
    used = 0
    for st in parts:
        size = _size(st)
        if policies[-1] and used + size > POLICY_BUDGET:
            policies.append([])
            used = 0
        policies[-1].append(st)
        used += size
    return policies


def _service_role_statements(nested: NestedSet) -> list[Statement]:
    needed = {a for perms in required_permissions(nested.types).values() for a in perms if grantable(a)}
    by_service: dict[str, list[str]] = {}
    for action in sorted(needed):
        by_service.setdefault(action.split(":")[0], []).append(action)

    role_arns = [_role_arn(n) for n in sorted(nested.role_names - nested.flow_log_role_names)]
    flow_log_role_arns = [_role_arn(n) for n in sorted(nested.flow_log_role_names)]
    profile_arns = [
        Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:instance-profile/{n}")
        for n in sorted(nested.profile_names)
    ]
    iam_all = by_service.pop("iam", [])
    iam_reads = [a for a in iam_all if a.split(":")[1].startswith(_ROLE_READS)]
    iam_writes = [a for a in iam_all if a not in iam_reads and a not in ("iam:PassRole", "iam:CreateServiceLinkedRole")]
    # Calls that give a role permissions go only with the boundary; the
    # boundary itself never comes off; the rest (deletes, detaches, tags,
    # descriptions, instance profiles) only take away or describe.
    bounded = [
        a
        for a in iam_writes
        if a in _BOUNDED_ROLE_CHANGES and (a != "iam:AttachRolePolicy" or nested.managed_policy_arns)
    ]
    iam_writes = [a for a in iam_writes if a not in bounded and a not in WITHHELD]
    ssm_all = by_service.pop("ssm", [])
    kms_all = by_service.pop("kms", [])
    # The stack's own keys (the alarm topic's) are created directly, not
    # through a service: CreateKey and its tags get statements of their own;
    # the key's administration is granted by its own key policy (alarms.py).
    key_admin = sorted(
        a for a in kms_all if "AWS::KMS::Key" in nested.types and a in handler_permissions("AWS::KMS::Key")
    )
    # What the other types' handlers call stays allowed through their
    # services, on any key (ECR and RDS describe the key they encrypt with).
    through_services = {a for t, perms in required_permissions(nested.types - {"AWS::KMS::Key"}).items() for a in perms}
    kms_all = [a for a in kms_all if a not in key_admin or a in through_services]
    cfn_all = by_service.pop("cloudformation", [])
    s3_all = by_service.pop("s3", [])
    # Log-group actions (IAM's action table lists log-group among their
    # resource types) on the stack's own groups; the rest of CloudWatch
    # Logs' (deliveries, resource policies, DescribeLogGroups) has no such
    # scope and stays with the other handlers.
    group_actions = [a for a in by_service.get("logs", []) if "log-group" in _resource_types(a)]
    by_service["logs"] = [a for a in by_service.get("logs", []) if a not in group_actions]
    others = sorted(a for actions in by_service.values() for a in actions)

    statements = [
        # Everything the handlers of the stack's EC2, load balancer, Auto
        # Scaling, RDS, ElastiCache, ECR and logging resources call. Most of
        # these scope by resource id, which a stack cannot know before it
        # creates them: limited to the stack's region instead.
        Statement(
            Sid="ResourceHandlers",
            Effect=Allow,
            Resource=["*"],
            Condition=_in_region(),
            Action=[Action(*a.split(":", 1)) for a in others],
        ),
        # Reading roles and profiles (the handlers look before they write).
        Statement(Sid="ReadRoles", Effect=Allow, Resource=["*"], Action=[Action(*a.split(":", 1)) for a in iam_reads]),
        # The instance roles and profiles, by their exact names: never this
        # role, never a role GitHub may assume.
        Statement(
            Sid="InstanceRoles",
            Effect=Allow,
            Resource=role_arns + flow_log_role_arns + profile_arns,
            Action=[Action(*a.split(":", 1)) for a in iam_writes],
        ),
        # Creating those roles, putting their policies, and setting
        # their boundary only when the role carries (or gets) the boundary
        # github-oidc.yaml owns: whatever policy the stack puts on a role, it
        # can do no more than the boundary allows, so this role can mint no
        # administrator (an ARN-typed key, hence ArnEquals; the guide's
        # example uses StringEquals). iam:PermissionsBoundary is the condition the IAM
        # User Guide's delegation example puts on exactly these calls
        # ("Permissions boundaries for IAM entities", CreateOrChangeOnlyWithBoundary;
        # Service Authorization Reference, IAM: CreateRole, PutRolePolicy,
        # PutRolePermissionsBoundary, AttachRolePolicy list the key.
        # UpdateAssumeRolePolicy lists it too, but is withheld for another
        # reason: a boundary does not limit who assumes a role: WITHHELD).
        Statement(
            Sid="BoundedRoleChanges",
            Effect=Allow,
            Resource=role_arns + flow_log_role_arns,
            Action=[Action(*a.split(":", 1)) for a in bounded],
            Condition=Condition(ArnEquals("iam:PermissionsBoundary", Sub(_BOUNDARY_ARN))),
        ),
        Statement(
            Sid="NoRoleChangeWithoutTheBoundary",
            Effect=Deny,
            Resource=["*"],
            Action=[Action(*a.split(":", 1)) for a in sorted(_BOUNDED_ROLE_CHANGES)],
            Condition=Condition(ArnNotEquals("iam:PermissionsBoundary", Sub(_BOUNDARY_ARN))),
        ),
        Statement(
            Sid="NeverRemoveTheBoundary",
            Effect=Deny,
            Resource=["*"],
            Action=[iam_actions.DeleteRolePermissionsBoundary],
        ),
        # Managed policies: only those the templates attach (iam:PolicyARN;
        # none today, so none at all): never AdministratorAccess or any
        # other policy of the account.
        _attach_policies_statement(nested),
        # Hand the instance roles to EC2 (launch templates, instance
        # profiles) and to nothing else.
        Statement(
            Sid="PassInstanceRoles",
            Effect=Allow,
            Action=[iam_actions.PassRole],
            Resource=role_arns,
            Condition=Condition(StringEquals("iam:PassedToService", "ec2.amazonaws.com")),
        ),
        # Hand the flow-log delivery role to the VPC's flow log (CreateFlowLogs'
        # DeliverLogsPermissionArn). No iam:PassedToService: the VPC user
        # guide ("IAM role for publishing flow logs to CloudWatch Logs")
        # grants PassRole by the role's ARN only and names no service that
        # PassRole is checked for (its Firehose cross-account example uses
        # delivery.logs.amazonaws.com, a different destination); a guessed
        # name would refuse every flow log. The role's trust admits the
        # flow-logs service alone, and its boundary caps what it can do.
        Statement(Sid="PassFlowLogRole", Effect=Allow, Action=[iam_actions.PassRole], Resource=flow_log_role_arns),
        # Nested stacks run under this same role.
        Statement(
            Sid="PassItselfToNestedStacks",
            Effect=Allow,
            Action=[iam_actions.PassRole],
            Resource=[_role_arn(SERVICE_ROLE)],
            Condition=Condition(StringEquals("iam:PassedToService", "cloudformation.amazonaws.com")),
        ),
        # The first ASG, load balancer, RDS or ElastiCache resource in an
        # account creates that service's linked role.
        Statement(
            Sid="ServiceLinkedRoles",
            Effect=Allow,
            Action=[iam_actions.CreateServiceLinkedRole],
            Resource=["*"],
            Condition=Condition(
                StringLike(
                    "iam:AWSServiceName",
                    [
                        "autoscaling.amazonaws.com",
                        "elasticloadbalancing.amazonaws.com",
                        "rds.amazonaws.com",
                        "elasticache.amazonaws.com",
                    ],
                )
            ),
        ),
        # The nested stacks of this root stack only; listing stacks has no
        # resource-level scope.
        Statement(
            Sid="NestedStacks",
            Effect=Allow,
            Resource=_stack_arns(),
            Action=[Action(*a.split(":", 1)) for a in cfn_all if not a.startswith("cloudformation:List")],
        ),
        Statement(
            Sid="ListStacks",
            Effect=Allow,
            Resource=["*"],
            Action=[Action(*a.split(":", 1)) for a in cfn_all if a.startswith("cloudformation:List")],
        ),
        # The environment's parameters (stack outputs it writes, the
        # references it resolves) and AWS's public AMI parameters.
        Statement(
            Sid="Parameters",
            Effect=Allow,
            Action=[Action(*a.split(":", 1)) for a in ssm_all if a != "ssm:DescribeParameters"],
            Resource=[
                _arn("ssm", "parameter/${Project}/${Environment}/*"),
                _arn("ssm", "parameter/aws/service/*", account=False),
            ],
        ),
        # DescribeParameters has no resource-level scope.
        Statement(Sid="DescribeParameters", Effect=Allow, Action=[ssm.DescribeParameters], Resource=["*"]),
        # Encrypted RDS storage, Redis at rest and ECR images use KMS through
        # those services only; the template secrets through SSM (the key
        # policy limits which).
        Statement(
            Sid="KeysThroughServices",
            Effect=Allow,
            Resource=["*"],
            Action=[Action(*a.split(":", 1)) for a in kms_all],
            Condition=Condition(
                StringEquals(
                    "kms:ViaService",
                    [Sub(f"{svc}.${{AWS::Region}}.amazonaws.com") for svc in ("rds", "elasticache", "ecr", "ssm")],
                )
            ),
        ),
        # Belt and braces: whatever a statement above allows, this role
        # never changes itself, a role GitHub's jobs assume, or the boundary.
        Statement(
            Sid="NeverTheTrustRoles",
            Effect=Deny,
            Action=[Action("iam", "*")],
            Resource=[_role_arn(SERVICE_ROLE), _role_arn(DEPLOY_ROLE), _role_arn(PLAN_ROLE), Sub(_BOUNDARY_ARN)],
        ),
    ]
    if key_admin:
        tag_key, tag_value = KEY_PURPOSE_TAG
        statements[-1:-1] = [
            # CreateKey only with the purpose tag on the new key; ListKeys
            # has no resource-level scope.
            Statement(
                Sid="CreateStackKeys",
                Effect=Allow,
                Resource=["*"],
                Action=[kms.CreateKey],
                Condition=Condition(
                    StringEquals({f"aws:RequestTag/{tag_key}": tag_value, "aws:RequestedRegion": Ref("AWS::Region")})
                ),
            ),
            # The KMS key handler passes the key's tags (and the stack's)
            # inside CreateKey. KMS authorises those as kms:TagResource "in
            # an IAM policy that isn't restricted to particular KMS keys",
            # and a key that does not exist yet has no aws:ResourceTag (KMS
            # developer guide, "Controlling access to tags"): so on "*",
            # limited by what the request carries (the purpose tag, the
            # project's tag keys only) and to keys that carry none of the
            # project's tag keys yet, which a key being created never does:
            # no key of this or another environment can be retagged here.
            # Everything else the handler does to the key, retagging on an
            # update included, the key's own policy grants this role by name
            # (alarms.py); no statement grants key administration by tag.
            Statement(
                Sid="TagStackKeysOnCreate",
                Effect=Allow,
                Resource=["*"],
                Action=[kms.TagResource],
                Condition=Condition(
                    [
                        StringEquals(
                            {f"aws:RequestTag/{tag_key}": tag_value, "aws:RequestedRegion": Ref("AWS::Region")}
                        ),
                        ForAllValuesStringEquals("aws:TagKeys", list(PROJECT_TAG_KEYS)),
                        Null({f"aws:ResourceTag/{k}": "true" for k in PROJECT_TAG_KEYS}),
                    ]
                ),
            ),
            Statement(Sid="ListKeys", Effect=Allow, Resource=["*"], Action=[kms.ListKeys], Condition=_in_region()),
        ]
    if group_actions:
        statements.insert(
            1,
            Statement(
                Sid="StackLogGroups",
                Effect=Allow,
                Action=[Action(*a.split(":", 1)) for a in group_actions],
                Resource=_log_group_arns(nested),
            ),
        )
    object_reads = [a for a in s3_all if a == "s3:GetObject"]
    bucket_actions = [a for a in s3_all if a not in object_reads]
    if "AWS::CloudFormation::Stack" in nested.types:
        # Nested stacks: CloudFormation fetches each TemplateURL as this
        # role. deploy pins them with ?versionId=, and a GET of a version is
        # authorised as s3:GetObjectVersion, not s3:GetObject (S3 API
        # reference, GetObject, "Permissions"). Both areas: a plan's change
        # set names templates under plan/ as well as deploy/.
        statements.insert(
            1,
            Statement(
                Sid="NestedTemplates",
                Effect=Allow,
                Action=[s3.GetObject, s3.GetObjectVersion],
                Resource=[Sub(_bucket() + f"/{area}/${{Project}}-${{Environment}}/*") for area in ("deploy", "plan")],
            ),
        )
    # No SeedObjects grant: the replication group's handler lists
    # s3:GetObject for seeding from an .rdb snapshot in S3 (SnapshotArns),
    # which cache.py never sets. NestedTemplates' read of deploy/ and plan/
    # covers the schema's action; nothing needs the rest of the artifact
    # bucket or the deploy bucket (README, docs/deploy.md).
    if bucket_actions:
        # The buckets the stack makes (the load balancer's access logs) carry
        # no fixed name: CloudFormation names them after the (nested) stack,
        # lower-cased, so <root stack name>-... is theirs.
        statements.insert(
            1,
            Statement(
                Sid="StackBuckets",
                Effect=Allow,
                Action=[Action(*a.split(":", 1)) for a in bucket_actions],
                Resource=[Sub("arn:${AWS::Partition}:s3:::${StackName}-*")],
            ),
        )
        # The account-unique deploy bucket (<project>-<env>-deploy-...) falls
        # inside that prefix, but it is bootstrap's, never a stack's: an
        # explicit Deny wins over the Allow (IAM User Guide, "Policy
        # evaluation logic"), so no template can reconfigure or delete it.
        statements.insert(
            2,
            Statement(
                Sid="NotTheDeployBucket",
                Effect=Deny,
                Action=[Action("s3", "*")],
                Resource=[_deploy_bucket(), _deploy_bucket("/*")],
            ),
        )
    return statements


def _attach_policies_statement(nested: NestedSet) -> Statement:
    """AttachRolePolicy for the managed policies the templates attach, with
    the boundary; with none (today), a Deny of every attachment."""
    if not nested.managed_policy_arns:
        return Statement(
            Sid="AttachNoManagedPolicy", Effect=Deny, Resource=["*"], Action=[iam_actions.AttachRolePolicy]
        )
    return Statement(
        Sid="AttachOnlyTheTemplatesPolicies",
        Effect=Deny,
        Resource=["*"],
        Action=[iam_actions.AttachRolePolicy],
        Condition=Condition(ArnNotEquals("iam:PolicyARN", [Sub(a) for a in sorted(nested.managed_policy_arns)])),
    )


def _resource_types(action: str) -> list[str]:
    """The resource types IAM's action table (as cfn-lint ships it) lists
    for an action; empty when it lists none (no resource-level scope)."""
    return iamdata.resource_types(action)


def _log_group_arns(nested: NestedSet) -> list[Sub]:
    """The stack's log groups: each named one, as ``log-group:NAME`` (the
    tagging calls) and ``log-group:NAME:*`` (the older calls, which IAM
    checks against the group's streams form); an unnamed one is named by
    CloudFormation after its nested stack, ``<root stack name>-...``."""
    arns = []
    for group in sorted(nested.log_group_names):
        arns += [_arn("logs", f"log-group:{group}"), _arn("logs", f"log-group:{group}:*")]
    if nested.unnamed_log_groups:
        arns.append(_arn("logs", "log-group:${StackName}-*"))
    return arns


def _repositories(settings: BuildSettings) -> list[Sub]:
    return [_arn("ecr", "repository/${EcrRepositoryPrefix}" + svc.name) for svc in settings.services]


def _role_boundary(repositories: list[Sub]) -> PolicyDocument:
    """The most any role of the stacks may do: the union of what the backend
    and monitoring instances (stacks/iam.py) and the flow-log delivery role
    (stacks/network.py) are given, on the environment's resources. No IAM,
    no STS; the only writes are to the logs and one to Auto Scaling:
    SetInstanceHealth on the environment's two groups, with which an
    instance marks itself (or any instance of its own group) Unhealthy, and
    Auto Scaling replaces it (stacks/iam.py _boot_health_policy). A policy
    the service role puts on such a role can add nothing beyond this
    (tests/ops/test_role_boundary.py checks both directions)."""
    env_params = "parameter/${Project}/${Environment}"
    return _doc(
        # The instances' parameter sub-paths (GetParametersByPath), read only.
        Statement(
            Sid="EnvironmentParameters",
            Effect=Allow,
            Action=[ssm.GetParametersByPath, ssm.GetParameter, ssm.GetParameters],
            Resource=[_arn("ssm", env_params), _arn("ssm", env_params + "/*")],
        ),
        # SecureString values, through Parameter Store only (the key policy
        # says which role may decrypt which secret).
        Statement(
            Sid="DecryptThroughSsm",
            Effect=Allow,
            Action=[kms.Decrypt],
            Resource=[_arn("kms", "key/*")],
            Condition=Condition(StringEquals("kms:ViaService", Sub("ssm.${AWS::Region}.amazonaws.com"))),
        ),
        # Boot and instance files.
        Statement(Sid="DeployBucketReads", Effect=Allow, Action=[s3.GetObject], Resource=[_deploy_bucket("/*")]),
        Statement(Sid="DeployBucketListing", Effect=Allow, Action=[s3.ListBucket], Resource=[_deploy_bucket()]),
        # docker login and pulls of the service images.
        Statement(Sid="EcrLogin", Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        Statement(
            Sid="PullServiceImages",
            Effect=Allow,
            Resource=repositories,
            Action=[ecr.BatchCheckLayerAvailability, ecr.BatchGetImage, ecr.GetDownloadUrlForLayer],
        ),
        # Log delivery: the instances' groups by name, the flow-log group
        # (CloudFormation names it after the network stack).
        Statement(
            Sid="WriteOwnLogs",
            Effect=Allow,
            Action=[logs.CreateLogStream, logs.PutLogEvents, logs.DescribeLogStreams],
            Resource=[_arn("logs", "log-group:/${Project}/${Environment}/*"), _arn("logs", "log-group:${StackName}-*")],
        ),
        # A boot that gives up marks its instance Unhealthy in its own group
        # (stacks/iam.py _boot_health_policy): the environment's two groups.
        Statement(
            Sid="ReportBootFailure",
            Effect=Allow,
            Action=[asg_actions.SetInstanceHealth],
            Resource=[
                _arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{NAME_PREFIX}{g}")
                for g in (BACKEND_GROUP, MONITORING_GROUP)
            ],
        ),
        # Session Manager's agent, Prometheus's EC2 discovery, Grafana's
        # metric reads and tag lookups: none of these takes a resource ARN.
        Statement(
            Sid="AgentsAndReads",
            Effect=Allow,
            Resource=["*"],
            Action=[
                ssm.UpdateInstanceInformation,
                Action("ssmmessages", "CreateControlChannel"),
                Action("ssmmessages", "CreateDataChannel"),
                Action("ssmmessages", "OpenControlChannel"),
                Action("ssmmessages", "OpenDataChannel"),
                Action("ec2messages", "AcknowledgeMessage"),
                Action("ec2messages", "DeleteMessage"),
                Action("ec2messages", "FailMessage"),
                Action("ec2messages", "GetEndpoint"),
                Action("ec2messages", "GetMessages"),
                Action("ec2messages", "SendReply"),
                ec2.DescribeInstances,
                ec2.DescribeAvailabilityZones,
                Action("cloudwatch", "GetMetricData"),
                Action("cloudwatch", "ListMetrics"),
                Action("tag", "GetResources"),
            ],
        ),
    )


def _release(repositories: list[Sub]) -> PolicyDocument:
    return _doc(
        # docker login to ECR; the token call has no resource-level scope.
        Statement(Sid="EcrLogin", Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        # docker push of a service image (and the layer checks before it).
        Statement(
            Sid="PushServiceImages",
            Effect=Allow,
            Resource=repositories,
            Action=[
                ecr.BatchCheckLayerAvailability,
                ecr.InitiateLayerUpload,
                ecr.UploadLayerPart,
                ecr.CompleteLayerUpload,
                ecr.PutImage,
                ecr.BatchGetImage,
                ecr.DescribeImages,
            ],
        ),
        # Record the released tag that new instances run (and read the one
        # it replaces, to restore it when the rollout fails; GetParameters:
        # both services' tags, which decide the backend's health checks).
        Statement(
            Sid="RecordReleasedTag",
            Effect=Allow,
            Action=[ssm.PutParameter, ssm.GetParameter, ssm.GetParameters],
            Resource=[_arn("ssm", "parameter/${Project}/${Environment}/deploy/*")],
        ),
        # A release on EC2 health checks is judged on its target group's
        # health (ops/rollout.py TargetCheck); these ELB reads take no
        # resource-level scope (Service Authorization Reference, Elastic Load
        # Balancing V2: no resource type for either action).
        Statement(
            Sid="JudgeReleaseHealth",
            Effect=Allow,
            Resource=["*"],
            Action=[elb_actions.DescribeTargetGroups, elb_actions.DescribeTargetHealth],
        ),
        # build.py rollout: start and follow an instance refresh of this
        # environment's groups; describe calls have no resource-level scope.
        Statement(
            Sid="InstanceRefresh",
            Effect=Allow,
            Action=[
                asg_actions.StartInstanceRefresh,
                asg_actions.CancelInstanceRefresh,
                asg_actions.RollbackInstanceRefresh,
            ],
            Resource=[_arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/${Project}-${Environment}-*")],
        ),
        Statement(
            Sid="FollowInstanceRefresh",
            Effect=Allow,
            Resource=["*"],
            Action=[
                asg_actions.DescribeInstanceRefreshes,
                asg_actions.DescribeAutoScalingGroups,
                asg_actions.DescribeScalingActivities,
            ],
        ),
    )


def _bootstrap(key: kms_res.Key) -> PolicyDocument:
    bucket = _deploy_bucket()
    return _doc(
        # build.py bootstrap on main keeps the startup script and the
        # instance files in step with the repository; it lists the
        # parameters without decrypting them (only existence matters) and
        # creates a missing secret under the secrets key.
        Statement(
            Sid="EnvironmentParameters",
            Effect=Allow,
            Resource=[
                _arn("ssm", "parameter/${Project}/${Environment}"),
                _arn("ssm", "parameter/${Project}/${Environment}/*"),
            ],
            Action=[ssm.GetParametersByPath, ssm.PutParameter, ssm.AddTagsToResource],
        ),
        # Encrypting a new secret through SSM; the key policy allows no
        # decryption to this role.
        Statement(
            Sid="EncryptNewSecrets",
            Effect=Allow,
            Resource=[GetAtt(key, "Arn")],
            Action=[kms.Encrypt, kms.GenerateDataKey],
            Condition=Condition(StringEquals("kms:ViaService", Sub("ssm.${AWS::Region}.amazonaws.com"))),
        ),
        # Check the bucket's settings, repair one that drifted.
        Statement(
            Sid="DeployBucketSettings",
            Effect=Allow,
            Resource=[bucket],
            Action=[
                s3.ListBucket,
                s3.GetBucketLocation,
                s3.GetBucketVersioning,
                s3.PutBucketVersioning,
                s3.GetEncryptionConfiguration,
                s3.PutEncryptionConfiguration,
                s3.GetBucketPublicAccessBlock,
                s3.PutBucketPublicAccessBlock,
                s3.GetBucketPolicy,
                s3.PutBucketPolicy,
                s3.GetBucketOwnershipControls,
                s3.PutBucketOwnershipControls,
                s3.GetLifecycleConfiguration,
                s3.PutLifecycleConfiguration,
            ],
        ),
        # Upload a changed instance file.
        Statement(
            Sid="DeployBucketFiles", Effect=Allow, Action=[s3.GetObject, s3.PutObject], Resource=[_deploy_bucket("/*")]
        ),
    )
