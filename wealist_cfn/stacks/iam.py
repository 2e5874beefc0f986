"""IAM: the instances' role (``<project>-<env>-ec2-role``) and its instance
profile, each permission scoped to the one environment it serves."""

from __future__ import annotations

import awacs.ec2
import awacs.ec2messages
import awacs.ecr
import awacs.kms
import awacs.s3
import awacs.ssm
import awacs.ssmmessages
import awacs.sts
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Output, Sub, Template, iam

from ..parameters import add_parameters
from ..settings import BuildSettings
from .common import SSM_PREFIX, add_inputs, name, new_template, tags


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist IAM: the EC2 instance role and instance profile.")
    add_parameters(t, "Project", "Environment", "DeployBucketName")
    repos = add_inputs(t, "RepositoryArns")["RepositoryArns"]

    role = t.add_resource(iam.Role(
        "Ec2Role",
        RoleName=name("ec2-role"),
        Description=Sub("Wealist ${Environment} instances: config, secrets and images of this environment only"),
        AssumeRolePolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[Statement(
            Effect=Allow, Principal=Principal("Service", "ec2.amazonaws.com"), Action=[awacs.sts.AssumeRole],
        )]),
        Policies=[
            iam.Policy(PolicyName="parameters", PolicyDocument=_parameters_policy()),
            iam.Policy(PolicyName="deploy-bucket", PolicyDocument=_bucket_policy()),
            iam.Policy(PolicyName="images", PolicyDocument=_images_policy(repos.ref())),
            iam.Policy(PolicyName="service-discovery", PolicyDocument=_discovery_policy()),
            iam.Policy(PolicyName="session-manager", PolicyDocument=_session_manager_policy()),
        ],
        Tags=tags("ec2-role"),
        Metadata={"checkov": {"skip": [{"id": "CKV_AWS_111", "comment":
                  "The Session Manager agent's calls (ssmmessages, ec2messages, ssm:UpdateInstanceInformation) "
                  "support no resource-level scope; every other write is scoped."}]}},
    ))
    profile = t.add_resource(iam.InstanceProfile(
        "Ec2InstanceProfile", InstanceProfileName=name("ec2-profile"), Roles=[role.ref()],
    ))

    t.add_output(Output("Ec2RoleName", Description="Name of the instances' IAM role.", Value=role.ref()))
    t.add_output(Output("Ec2RoleArn", Description="ARN of the instances' IAM role.", Value=role.get_att("Arn")))
    t.add_output(Output("Ec2InstanceProfileArn", Description="ARN of the instance profile.",
                        Value=profile.get_att("Arn")))
    return t


def _doc(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def _parameters_policy() -> PolicyDocument:
    return _doc(
        # The startup script reads its own text and renders the service
        # environment from every parameter under the environment's path.
        Statement(
            Sid="ReadEnvironmentParameters", Effect=Allow,
            Action=[awacs.ssm.GetParameter, awacs.ssm.GetParameters, awacs.ssm.GetParametersByPath],
            Resource=[
                Sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{SSM_PREFIX}"),
                Sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{SSM_PREFIX}/*"),
            ],
        ),
        # SecureString values are encrypted with a KMS key; decrypting is
        # allowed only when the request comes through Parameter Store.
        Statement(
            Sid="DecryptSecureStringsViaSsm", Effect=Allow, Action=[awacs.kms.Decrypt],
            Resource=[Sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")],
            Condition=Condition(StringEquals("kms:ViaService", Sub("ssm.${AWS::Region}.amazonaws.com"))),
        ),
    )


def _bucket_policy() -> PolicyDocument:
    return _doc(
        # Compose files and Prometheus config are downloaded at boot.
        Statement(Sid="ReadDeployFiles", Effect=Allow, Action=[awacs.s3.GetObject],
                  Resource=[Sub("arn:${AWS::Partition}:s3:::${DeployBucketName}/*")]),
        # `aws s3 sync` lists the bucket to know what to download.
        Statement(Sid="ListDeployFiles", Effect=Allow, Action=[awacs.s3.ListBucket],
                  Resource=[Sub("arn:${AWS::Partition}:s3:::${DeployBucketName}")]),
    )


def _images_policy(repository_arns) -> PolicyDocument:
    return _doc(
        # `docker login` to ECR; the token call has no resource-level scope.
        Statement(Sid="EcrLogin", Effect=Allow, Action=[awacs.ecr.GetAuthorizationToken], Resource=["*"]),
        # `docker compose pull` of the two service images, nothing else.
        Statement(Sid="PullServiceImages", Effect=Allow,
                  Action=[awacs.ecr.BatchCheckLayerAvailability, awacs.ecr.BatchGetImage,
                          awacs.ecr.GetDownloadUrlForLayer],
                  Resource=repository_arns),
    )


def _discovery_policy() -> PolicyDocument:
    # Prometheus finds the backend instances with ec2_sd_configs; Describe
    # calls have no resource-level scope.
    return _doc(Statement(Sid="PrometheusEc2Discovery", Effect=Allow,
                          Action=[awacs.ec2.DescribeInstances, awacs.ec2.DescribeAvailabilityZones],
                          Resource=["*"]))


def _session_manager_policy() -> PolicyDocument:
    # Session Manager replaces SSH. These are the calls the agent makes for
    # sessions, taken from AmazonSSMManagedInstanceCore; the managed policy
    # itself is not attached because it also grants ssm:GetParameter(s) on
    # "*", which would let an instance read every environment's secrets.
    return _doc(Statement(
        Sid="SessionManagerAgent", Effect=Allow,
        Action=[
            awacs.ssm.UpdateInstanceInformation,
            awacs.ssmmessages.CreateControlChannel, awacs.ssmmessages.CreateDataChannel,
            awacs.ssmmessages.OpenControlChannel, awacs.ssmmessages.OpenDataChannel,
            awacs.ec2messages.AcknowledgeMessage, awacs.ec2messages.DeleteMessage,
            awacs.ec2messages.FailMessage, awacs.ec2messages.GetEndpoint, awacs.ec2messages.GetMessages,
            awacs.ec2messages.SendReply,
        ],
        Resource=["*"],
    ))
