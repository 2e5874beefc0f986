"""GitHub Actions access: a standalone template (templates/github-oidc.yaml)
with the IAM roles the workflows assume through GitHub's OIDC provider, so no
AWS key is stored in GitHub.

* ``GitHubOidcProvider`` (optional): the account's identity provider for
  ``token.actions.githubusercontent.com``. An account holds at most one per
  URL; when it exists already, pass its ARN instead.
* ``DeployRole``: trusted only for jobs of the given repository that run in
  the given GitHub environment (protect that environment to the main branch
  in the repository settings). It deploys the stack through change sets,
  syncs the bootstrap files, pushes the two service images, records the
  released tag and starts instance refreshes. CloudFormation acts with the
  caller's permissions, so the role also holds what creating this stack's
  resources needs, limited to the stack's region and, where IAM allows, to
  the project's resource names.
* ``PlanRole`` (optional): trusted for the repository's pull requests; it
  uploads templates and creates and deletes change sets for review, and can
  execute nothing.

Deploy it once, by hand, with an administrator's credentials::

    aws cloudformation deploy --template-file templates/github-oidc.yaml \\
      --stack-name wealist-prod-github --capabilities CAPABILITY_NAMED_IAM \\
      --parameter-overrides GitHubRepository=OWNER/REPO
"""

from __future__ import annotations

from awacs import autoscaling as asg_actions
from awacs import cloudformation as cfn_actions
from awacs import ecr, kms, s3, ssm, sts
from awacs import iam as iam_actions
from awacs.aws import Action, Allow, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals, StringLike
from troposphere import AWSHelperFn, Equals, GetAtt, If, Not, Output, Parameter, Ref, Sub, Template, iam

from ..settings import BuildSettings
from .common import new_template

OIDC_HOST = "token.actions.githubusercontent.com"
# GitHub's OIDC thumbprint; IAM no longer checks it for this provider (it
# trusts GitHub's certificate authority), but the API still requires one.
GITHUB_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"


def _arn(service: str, resource: str, region: bool = True, account: bool = True) -> Sub:
    r = "${AWS::Region}" if region else ""
    a = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:{r}:{a}:{resource}")


def _in_region() -> Condition:
    return Condition(StringEquals("aws:RequestedRegion", Ref("AWS::Region")))


def _doc(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist GitHub Actions access: OIDC provider and the roles the workflows assume.")
    t.add_parameter(Parameter(
        "GitHubRepository", Type="String", AllowedPattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        ConstraintDescription="must be OWNER/REPO", Description="The repository whose workflows may assume the roles."))
    env = t.add_parameter(Parameter(
        "GitHubEnvironment", Type="String", Default="production", AllowedPattern=r"^[A-Za-z0-9_.-]+$",
        Description="GitHub environment of the deploy jobs; restrict it to the main branch in the repository."))
    t.add_parameter(Parameter("Project", Type="String", Default="wealist", AllowedPattern=r"^[a-z][a-z0-9-]*$"))
    t.add_parameter(Parameter("Environment", Type="String", Default="prod", AllowedPattern=r"^[a-z][a-z0-9-]*$"))
    t.add_parameter(Parameter("StackName", Type="String", Default="wealist-prod",
                              AllowedPattern=r"^[A-Za-z][A-Za-z0-9-]*$", Description="The root stack's name."))
    t.add_parameter(Parameter("DeployBucketName", Type="String", Default="wealist-deploy-scripts",
                              Description="Bucket of the instance files (bootstrap)."))
    t.add_parameter(Parameter("EcrRepositoryPrefix", Type="String", Default="",
                              Description="As in the params file ('' for prod, 'dev/' for dev)."))
    create_provider = t.add_parameter(Parameter(
        "CreateOidcProvider", Type="String", Default="true", AllowedValues=["true", "false"],
        Description="false when the account already has GitHub's OIDC provider (give its ARN below)."))
    existing = t.add_parameter(Parameter(
        "ExistingOidcProviderArn", Type="String", Default="",
        Description="ARN of the account's existing GitHub OIDC provider, when CreateOidcProvider is false."))
    plan_param = t.add_parameter(Parameter(
        "CreatePlanRole", Type="String", Default="true", AllowedValues=["true", "false"],
        Description="true: a role pull requests use to post change-set reviews (creates, never executes)."))
    t.add_condition("CreateProvider", Equals(Ref(create_provider), "true"))
    t.add_condition("CreatePlan", Equals(Ref(plan_param), "true"))
    # Without a provider of its own, the template needs the existing one's ARN.
    t.add_rule("ExistingProviderGiven", {
        "RuleCondition": Equals(Ref(create_provider), "false"),
        "Assertions": [{"Assert": Not(Equals(Ref(existing), "")),
                        "AssertDescription": "ExistingOidcProviderArn is required when CreateOidcProvider is false"}],
    })

    provider = t.add_resource(iam.OIDCProvider(
        "GitHubOidcProvider", Condition="CreateProvider", Url=f"https://{OIDC_HOST}",
        ClientIdList=["sts.amazonaws.com"], ThumbprintList=[GITHUB_THUMBPRINT],
    ))
    provider_arn = If("CreateProvider", provider.ref(), Ref(existing))
    repositories = _repositories(settings)

    deploy = t.add_resource(iam.Role(
        "DeployRole",
        RoleName=Sub("${Project}-${Environment}-github-deploy"),
        Description=Sub("GitHub Actions deploys of ${StackName} from ${GitHubRepository} (environment "
                        "${GitHubEnvironment})"),
        MaxSessionDuration=7200,  # a first create of the stack (RDS, NAT) takes most of an hour
        AssumeRolePolicyDocument=_trust(provider_arn, Sub(f"repo:${{GitHubRepository}}:environment:${{{env.title}}}")),
        Policies=[
            iam.Policy(PolicyName="cloudformation", PolicyDocument=_cloudformation(can_execute=True)),
            iam.Policy(PolicyName="stack-resources", PolicyDocument=_stack_resources(repositories)),
            iam.Policy(PolicyName="release", PolicyDocument=_release(repositories)),
            iam.Policy(PolicyName="bootstrap", PolicyDocument=_bootstrap()),
        ],
    ))
    plan = t.add_resource(iam.Role(
        "PlanRole", Condition="CreatePlan",
        RoleName=Sub("${Project}-${Environment}-github-plan"),
        Description=Sub("GitHub Actions change-set reviews of ${StackName} for pull requests of ${GitHubRepository}"),
        AssumeRolePolicyDocument=_trust(provider_arn, Sub("repo:${GitHubRepository}:pull_request")),
        Policies=[iam.Policy(PolicyName="review", PolicyDocument=_cloudformation(can_execute=False))],
    ))
    t.add_output(Output("DeployRoleArn", Value=GetAtt(deploy, "Arn"),
                        Description="Set as the repository variable AWS_DEPLOY_ROLE_ARN."))
    t.add_output(Output("PlanRoleArn", Condition="CreatePlan", Value=GetAtt(plan, "Arn"),
                        Description="Set as the repository variable AWS_PLAN_ROLE_ARN."))
    t.add_output(Output("OidcProviderArn", Value=provider_arn))
    return t


def _trust(provider_arn: AWSHelperFn, subject: Sub) -> PolicyDocument:
    # Only tokens GitHub issued for AWS STS, for exactly this repository and
    # context (environment or pull request): a fork, another repository or
    # another branch's job gets a different subject and is refused.
    return _doc(Statement(
        Effect=Allow, Principal=Principal("Federated", provider_arn), Action=[sts.AssumeRoleWithWebIdentity],
        Condition=Condition([StringEquals({f"{OIDC_HOST}:aud": "sts.amazonaws.com", f"{OIDC_HOST}:sub": subject})]),
    ))


def _stack_arns() -> list[Sub]:
    # The root stack and its nested stacks (named <root>-<Child>Stack-<id>).
    return [_arn("cloudformation", "stack/${StackName}/*"), _arn("cloudformation", "stack/${StackName}-*/*"),
            _arn("cloudformation", "changeSet/*")]


def _artifacts() -> list[Sub]:
    # build.py's default template bucket: <project>-cfn-artifacts-<account>-<region>.
    return [Sub("arn:${AWS::Partition}:s3:::${Project}-cfn-artifacts-${AWS::AccountId}-${AWS::Region}"),
            Sub("arn:${AWS::Partition}:s3:::${Project}-cfn-artifacts-${AWS::AccountId}-${AWS::Region}/*")]


def _cloudformation(*, can_execute: bool) -> PolicyDocument:
    statements = [
        # Read the stacks, their events, change sets, templates and policies:
        # the review and the event watching.
        Statement(Sid="ReadStacks", Effect=Allow, Resource=_stack_arns(), Action=[
            cfn_actions.DescribeStacks, cfn_actions.DescribeStackEvents, cfn_actions.DescribeStackResources,
            cfn_actions.DescribeStackResource, cfn_actions.ListStackResources, cfn_actions.DescribeChangeSet,
            cfn_actions.ListChangeSets, cfn_actions.GetTemplate, cfn_actions.GetStackPolicy]),
        # Validation and the template summary have no resource-level scope.
        Statement(Sid="ValidateTemplates", Effect=Allow, Resource=["*"],
                  Action=[cfn_actions.ValidateTemplate, cfn_actions.GetTemplateSummary]),
        # Creating a change set is the review itself; deleting one cleans up
        # a review nobody executes.
        Statement(Sid="ReviewChangeSets", Effect=Allow, Resource=_stack_arns(),
                  Action=[cfn_actions.CreateChangeSet, cfn_actions.DeleteChangeSet]),
        # Packaging uploads the nested templates by content hash; the bucket
        # is created (hardened) on first use.
        Statement(Sid="TemplateArtifacts", Effect=Allow, Resource=_artifacts(), Action=[
            s3.GetObject, s3.PutObject, s3.ListBucket, s3.GetBucketLocation, s3.CreateBucket,
            s3.PutBucketPublicAccessBlock, s3.PutEncryptionConfiguration, s3.PutBucketVersioning]),
        # Parameters of type AWS::SSM::Parameter::Value (the AMI) and the
        # {{resolve:ssm...}} references are read with the caller's rights.
        Statement(Sid="ResolveParameters", Effect=Allow, Action=[ssm.GetParameters, ssm.GetParameter],
                  Resource=[_arn("ssm", "parameter/aws/service/ami-amazon-linux-latest/*", account=False),
                            _arn("ssm", "parameter/${Project}/${Environment}/*")]),
    ]
    if can_execute:
        statements += [
            # Run a reviewed change set; keep the stack policy that guards
            # the stateful resources current.
            Statement(Sid="ExecuteChangeSets", Effect=Allow, Resource=_stack_arns(),
                      Action=[cfn_actions.ExecuteChangeSet, cfn_actions.SetStackPolicy,
                              cfn_actions.ContinueUpdateRollback, cfn_actions.CancelUpdateStack]),
            # CI never deletes the root stack (and with it the database).
            Statement(Sid="NeverDeleteTheRootStack", Effect=Deny, Action=[cfn_actions.DeleteStack],
                      Resource=[_arn("cloudformation", "stack/${StackName}/*")]),
        ]
    else:
        # A pull request's job may review, never change the stack.
        statements.append(Statement(
            Sid="NoChangesFromPullRequests", Effect=Deny, Resource=["*"],
            Action=[cfn_actions.ExecuteChangeSet, cfn_actions.UpdateStack, cfn_actions.CreateStack,
                    cfn_actions.DeleteStack, cfn_actions.SetStackPolicy]))
    return _doc(*statements)


def _stack_resources(repositories: list[Sub]) -> PolicyDocument:
    name_prefix = "${Project}-${Environment}-"
    return _doc(
        # Network, security groups and launch templates. EC2 scopes these
        # by resource id, which a stack cannot know before it creates them:
        # limited to this region instead. RunInstances: an ASG may be
        # created only by someone who may launch its launch template.
        Statement(Sid="Ec2NetworkAndLaunchTemplates", Effect=Allow, Resource=["*"], Condition=_in_region(), Action=[
            Action("ec2", "Describe*"), Action("ec2", "*Vpc*"), Action("ec2", "*Subnet*"), Action("ec2", "*Route*"),
            Action("ec2", "*InternetGateway*"), Action("ec2", "*NatGateway*"), Action("ec2", "AllocateAddress"),
            Action("ec2", "ReleaseAddress"), Action("ec2", "*SecurityGroup*"), Action("ec2", "*LaunchTemplate*"),
            Action("ec2", "CreateTags"), Action("ec2", "DeleteTags"), Action("ec2", "RunInstances")]),
        # Load balancer, Auto Scaling, RDS and ElastiCache: the stack's own
        # kinds of resources, in its region.
        Statement(Sid="StackServices", Effect=Allow, Resource=["*"], Condition=_in_region(), Action=[
            Action("elasticloadbalancing", "*"), Action("autoscaling", "*"), Action("rds", "*"),
            Action("elasticache", "*"), Action("application-autoscaling", "Describe*")]),
        # The instances' role and profile, by their names only.
        Statement(Sid="InstanceRole", Effect=Allow, Action=[
            iam_actions.CreateRole, iam_actions.DeleteRole, iam_actions.GetRole, iam_actions.UpdateRole,
            iam_actions.UpdateAssumeRolePolicy, iam_actions.PutRolePolicy, iam_actions.DeleteRolePolicy,
            iam_actions.GetRolePolicy, iam_actions.ListRolePolicies, iam_actions.TagRole, iam_actions.UntagRole,
            iam_actions.CreateInstanceProfile, iam_actions.DeleteInstanceProfile, iam_actions.GetInstanceProfile,
            iam_actions.AddRoleToInstanceProfile, iam_actions.RemoveRoleFromInstanceProfile,
            iam_actions.TagInstanceProfile],
            Resource=[Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name_prefix}*"),
                      Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:instance-profile/{name_prefix}*")]),
        # Hand that role to EC2 (launch template, ASG) and to nothing else.
        Statement(Sid="PassInstanceRole", Effect=Allow, Action=[iam_actions.PassRole],
                  Resource=[Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name_prefix}*")],
                  Condition=Condition(StringEquals("iam:PassedToService", "ec2.amazonaws.com"))),
        # The first ASG, load balancer, RDS or ElastiCache resource in an
        # account creates that service's linked role.
        Statement(Sid="ServiceLinkedRoles", Effect=Allow, Action=[iam_actions.CreateServiceLinkedRole],
                  Resource=["*"], Condition=Condition(StringLike("iam:AWSServiceName", [
                      "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com",
                      "elasticache.amazonaws.com"]))),
        # The services' repositories, by name.
        Statement(Sid="Repositories", Effect=Allow, Action=[
            ecr.CreateRepository, ecr.DeleteRepository, ecr.DescribeRepositories, ecr.PutLifecyclePolicy,
            ecr.GetLifecyclePolicy, ecr.DeleteLifecyclePolicy, ecr.PutImageScanningConfiguration,
            ecr.PutImageTagMutability, ecr.TagResource, ecr.UntagResource, ecr.ListTagsForResource],
            Resource=repositories),
        # The non-secret parameters the stacks write (database and Redis endpoints).
        Statement(Sid="StackParameters", Effect=Allow, Action=[
            ssm.PutParameter, ssm.DeleteParameter, ssm.AddTagsToResource, ssm.RemoveTagsFromResource,
            ssm.ListTagsForResource], Resource=[_arn("ssm", "parameter/${Project}/${Environment}/*")]),
        # KMS-encrypted RDS storage, Redis at rest, ECR images and
        # SecureString parameters use the AWS managed keys through those
        # services only.
        Statement(Sid="ManagedKeysThroughServices", Effect=Allow, Resource=["*"],
                  Action=[kms.DescribeKey, kms.CreateGrant, kms.Decrypt, kms.Encrypt, kms.GenerateDataKey],
                  Condition=Condition(StringEquals("kms:ViaService", [
                      Sub(f"{svc}.${{AWS::Region}}.amazonaws.com") for svc in ("rds", "elasticache", "ecr", "ssm")]))),
    )


def _repositories(settings: BuildSettings) -> list[Sub]:
    return [_arn("ecr", "repository/${EcrRepositoryPrefix}" + svc.name) for svc in settings.services]


def _release(repositories: list[Sub]) -> PolicyDocument:
    return _doc(
        # docker login to ECR; the token call has no resource-level scope.
        Statement(Sid="EcrLogin", Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        # docker push of a service image (and the layer checks before it).
        Statement(Sid="PushServiceImages", Effect=Allow, Resource=repositories, Action=[
            ecr.BatchCheckLayerAvailability, ecr.InitiateLayerUpload, ecr.UploadLayerPart,
            ecr.CompleteLayerUpload, ecr.PutImage, ecr.BatchGetImage, ecr.DescribeImages]),
        # Record the released tag that new instances run.
        Statement(Sid="RecordReleasedTag", Effect=Allow, Action=[ssm.PutParameter, ssm.GetParameter],
                  Resource=[_arn("ssm", "parameter/${Project}/${Environment}/deploy/*")]),
        # build.py rollout: start and follow an instance refresh of this
        # environment's groups; describe calls have no resource-level scope.
        Statement(Sid="InstanceRefresh", Effect=Allow,
                  Action=[asg_actions.StartInstanceRefresh, asg_actions.CancelInstanceRefresh],
                  Resource=[_arn("autoscaling",
                                 "autoScalingGroup:*:autoScalingGroupName/${Project}-${Environment}-*")]),
        Statement(Sid="FollowInstanceRefresh", Effect=Allow, Resource=["*"],
                  Action=[asg_actions.DescribeInstanceRefreshes, asg_actions.DescribeAutoScalingGroups]),
    )


def _bootstrap() -> PolicyDocument:
    bucket = Sub("arn:${AWS::Partition}:s3:::${DeployBucketName}")
    return _doc(
        # build.py bootstrap on main keeps the startup script and the
        # instance files in step with the repository; it reads the
        # parameters without decrypting them (only existence matters) and
        # creates a missing secret.
        Statement(Sid="EnvironmentParameters", Effect=Allow, Resource=[
            _arn("ssm", "parameter/${Project}/${Environment}"), _arn("ssm", "parameter/${Project}/${Environment}/*")],
            Action=[ssm.GetParametersByPath, ssm.PutParameter, ssm.AddTagsToResource]),
        # Check the bucket's settings, repair one that drifted.
        Statement(Sid="DeployBucketSettings", Effect=Allow, Resource=[bucket], Action=[
            s3.ListBucket, s3.GetBucketLocation, s3.GetBucketVersioning, s3.PutBucketVersioning,
            s3.GetEncryptionConfiguration, s3.PutEncryptionConfiguration, s3.GetBucketPublicAccessBlock,
            s3.PutBucketPublicAccessBlock, s3.GetBucketPolicy, s3.PutBucketPolicy, s3.GetBucketOwnershipControls,
            s3.PutBucketOwnershipControls, s3.GetLifecycleConfiguration, s3.PutLifecycleConfiguration]),
        # Upload a changed instance file.
        Statement(Sid="DeployBucketFiles", Effect=Allow, Action=[s3.GetObject, s3.PutObject],
                  Resource=[Sub("arn:${AWS::Partition}:s3:::${DeployBucketName}/*")]),
    )
