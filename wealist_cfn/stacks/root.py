"""Root: the deploy-time parameters and one nested stack per part of the
system, wired output to parameter, plus the outputs operators need.

Children are referenced by relative TemplateURL (``network.yaml``): cfn-lint
then follows them and checks every child parameter and every
``GetAtt Child.Outputs.X``; packaging rewrites the URLs to S3.
"""

from __future__ import annotations

from troposphere import Equals, Export, GetAtt, If, Join, Not, Output, Ref, Sub, Template, cloudformation

from wealist_cfn.core.parameters import (
    PARAMS_BY_NAME,
    PLAIN_HTTP,
    PUBLIC_MONITORING,
    ROOT_PARAMETERS,
    deploy_bucket_sub,
    to_parameter,
)
from wealist_cfn.core.settings import BuildSettings
from wealist_cfn.stacks import alarms, cache, compute, database, iam, loadbalancer, network, registry, security
from wealist_cfn.stacks.common import new_template, tags

# (logical ID, file, module), in wiring order: a child may only take outputs
# of the children before it.
CHILDREN = (
    ("NetworkStack", "network.yaml", network),
    ("SecurityStack", "security.yaml", security),
    ("RegistryStack", "registry.yaml", registry),
    ("IamStack", "iam.yaml", iam),
    ("DatabaseStack", "database.yaml", database),
    ("CacheStack", "cache.yaml", cache),
    ("LoadBalancerStack", "loadbalancer.yaml", loadbalancer),
    ("ComputeStack", "compute.yaml", compute),
    ("AlarmsStack", "alarms.yaml", alarms),
)

# Order that no output wiring gives. The backend's boot reads the database's
# and the cache's endpoints from Parameter Store (database.py, cache.py
# publish them when they exist) instead of taking them as parameters, so
# without these dependencies CloudFormation creates the compute stack in
# parallel with RDS and ElastiCache (10+ minutes each) and the first
# instances find no endpoint ("DependsOn attribute", CloudFormation user
# guide: a resource is created only after the resources it depends on).
DEPENDS_ON = {
    "ComputeStack": ("DatabaseStack", "CacheStack"),
}

# Child parameters made of several outputs; every other child parameter is
# a root parameter or an earlier child's output of the same name.
COMPOSITE_WIRES = {
    "RepositoryArns": ("UserServiceRepositoryArn", "BoardServiceRepositoryArn"),
    "BackendTargetGroupArns": ("UserServiceTargetGroupArn", "BoardServiceTargetGroupArn"),
    "MonitoringTargetGroupArns": ("GrafanaTargetGroupArn", "PrometheusTargetGroupArn"),
}

# Root parameters a child receives as a value the root computes. An empty
# DeployBucketName is the account-unique name (parameters.deploy_bucket_name,
# docs/deploy.md "The deploy bucket's name"), so every child that names the
# bucket (the instance role's policy, the boot script) gets a whole name.
DEPLOY_BUCKET_NAMED = "DeployBucketNamed"
COMPUTED_WIRES = {
    "DeployBucketName": If(DEPLOY_BUCKET_NAMED, Ref("DeployBucketName"), Sub(deploy_bucket_sub())),
}

# Child outputs the root passes on, under the same name and description.
ROOT_OUTPUTS = (
    "VpcId",
    "PublicSubnetIds",
    "PrivateSubnetIds",
    "LoadBalancerDnsName",
    "ServiceUrl",
    "UserServiceRepositoryUri",
    "BoardServiceRepositoryUri",
    "DatabaseEndpoint",
    "DatabasePort",
    "RedisEndpoint",
    "RedisPort",
    "BackendAsgName",
    "MonitoringAsgName",
    "Ec2RoleName",
    "MonitoringRoleName",
    "AlarmTopicArn",
    "FlowLogGroupName",
    "AccessLogBucketName",
)


class WiringError(RuntimeError):
    """A child parameter that neither the root nor an earlier child provides."""


def _child_output(child: cloudformation.Stack, output: str) -> GetAtt:
    return child.get_att(f"Outputs.{output}")


def _wire(child_id: str, child: Template, provided: dict[str, cloudformation.Stack]) -> dict:
    values = {}
    for pname, param in child.parameters.items():
        if pname in COMPUTED_WIRES:
            values[pname] = COMPUTED_WIRES[pname]
        elif pname in PARAMS_BY_NAME:
            ref = Ref(pname)
            values[pname] = Join(",", ref) if PARAMS_BY_NAME[pname].type.startswith("List<") else ref
        elif pname in COMPOSITE_WIRES:
            values[pname] = Join(",", [_child_output(provided[o], o) for o in COMPOSITE_WIRES[pname]])
        elif pname in provided:
            values[pname] = _child_output(provided[pname], pname)
        elif "Default" in param.properties:
            continue  # a build-time default the root does not override (the AMI path)
        else:
            raise WiringError(f"{child_id}: parameter {pname} has no source")
    return values


def build_all(settings: BuildSettings) -> dict[str, Template]:
    """The root and every child, by file name, root first."""
    root = new_template("Wealist production environment: root of the nested stacks.")
    for spec in ROOT_PARAMETERS:
        root.add_parameter(to_parameter(spec))
    _add_interface(root)
    _add_exposure_rules(root)
    root.add_condition(DEPLOY_BUCKET_NAMED, Not(Equals(Ref("DeployBucketName"), "")))

    children: dict[str, Template] = {}
    provided: dict[str, cloudformation.Stack] = {}  # output name -> child that has it
    descriptions: dict[str, str] = {}
    for child_id, filename, module in CHILDREN:
        child = module.build(settings)
        children[filename] = child
        stack = root.add_resource(
            cloudformation.Stack(
                child_id,
                TemplateURL=filename,
                Parameters=_wire(child_id, child, provided),
                Tags=tags(),
                **({"DependsOn": list(DEPENDS_ON[child_id])} if child_id in DEPENDS_ON else {}),
            )
        )
        for oname in child.outputs:
            provided.setdefault(oname, stack)
            descriptions.setdefault(oname, child.outputs[oname].Description)

    for oname in ROOT_OUTPUTS:
        root.add_output(
            Output(
                oname,
                Description=descriptions[oname],
                Value=_child_output(provided[oname], oname),
                Export=Export(Sub(f"${{AWS::StackName}}-{oname}")),
            )
        )
    return {"root.yaml": root, **children}


def build(settings: BuildSettings) -> Template:
    return build_all(settings)["root.yaml"]


def _add_interface(root: Template) -> None:
    """Group the parameters in the console's create-stack form."""
    groups = (
        ("Environment", ("Project", "Environment", "EnableMultiAZ", "CacheFailover")),
        ("Network", ("VpcCidr", "SubnetBits", "AvailabilityZones")),
        (
            "Compute",
            (
                "BackendHealthCheckType",
                "BackendInstanceType",
                "BackendMinSize",
                "BackendMaxSize",
                "BackendTargetCpu",
                "MonitoringInstanceType",
                "DeployBucketName",
                "EcrRepositoryPrefix",
            ),
        ),
        (
            "Data",
            (
                "DbInstanceClass",
                "DbAllocatedStorage",
                "DbBackupRetentionDays",
                "DeletionProtection",
                "CacheNodeType",
                "CacheSnapshotRetentionDays",
            ),
        ),
        (
            "Load balancer",
            (
                "CertificateArn",
                "MonitoringAccessCidr",
                "AcceptedRisks",
                "UserServicePort",
                "BoardServicePort",
                "UserServicePathPattern",
                "BoardServicePathPattern",
                "UserServiceHealthCheckPath",
                "BoardServiceHealthCheckPath",
            ),
        ),
        ("Alarms", ("AlarmEmail",)),
        ("Logs", ("LogRetentionDays", "FlowLogRetentionDays", "AccessLogExpirationDays")),
    )
    grouped = {n for _, names in groups for n in names}
    missing = [p.name for p in ROOT_PARAMETERS if p.name not in grouped]
    if missing:
        raise WiringError(f"root parameters missing from the console groups: {', '.join(missing)}")
    root.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": label}, "Parameters": list(names)} for label, names in groups
                ],
            }
        }
    )


def _add_exposure_rules(root: Template) -> None:
    """A prod stack with monitoring open to the internet, or without TLS,
    only when the parameter file accepts it in AcceptedRisks. The deploy
    tooling refuses the same before any AWS call
    (wealist_cfn/preflight/exposure.py); these rules hold for any other way
    of deploying the template. CloudFormation validates the parameters
    against Rules "during a stack creation or stack update", before it
    creates or updates any resource ("Template Rules syntax", CloudFormation
    User Guide); that a change set is checked when it is created, not only
    when executed, is not stated there and is unproven here."""
    prod = {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}

    def accepted(risk: str) -> dict:
        return {
            "Fn::Contains": [
                [v for v in PARAMS_BY_NAME["AcceptedRisks"].allowed_values if risk in v.split(",")],
                {"Ref": "AcceptedRisks"},
            ]
        }

    # A Rule compares strings, not ranges: it holds the literal 0.0.0.0/0
    # (the only spelling the parameter's pattern lets through); a wider
    # public range such as 0.0.0.0/1 is refused by preflight alone
    # (wealist_cfn/preflight/exposure.py, too_wide).
    root.add_rule(
        "ProdMonitoringNotPublic",
        {
            "RuleCondition": prod,
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Or": [
                            {"Fn::Not": [{"Fn::Equals": [{"Ref": "MonitoringAccessCidr"}, "0.0.0.0/0"]}]},
                            accepted(PUBLIC_MONITORING),
                        ]
                    },
                    "AssertDescription": f"Environment prod: set MonitoringAccessCidr to your own range, or accept "
                    f"0.0.0.0/0 with AcceptedRisks {PUBLIC_MONITORING}",
                }
            ],
        },
    )
    root.add_rule(
        "ProdServedOverTls",
        {
            "RuleCondition": prod,
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Or": [{"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}, accepted(PLAIN_HTTP)]
                    },
                    "AssertDescription": "Environment prod: set CertificateArn, or accept plain HTTP with "
                    "AcceptedRisks "
                    f"{PLAIN_HTTP}",
                }
            ],
        },
    )
