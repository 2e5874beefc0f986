"""Load balancer: the internet-facing ALB, its HTTP and HTTPS listeners,
four target groups (user-service, board-service, Grafana, Prometheus) with
path rules, and the S3 bucket its access logs go to. Without a certificate
the site is served over HTTP; with one, HTTP redirects to HTTPS.

Which principal may write access logs depends on the region
(:func:`~wealist_cfn.core.regions.log_delivery_principal`); the template's
mapping, the commands' region check and the rehearsal's bucket-policy rule
all read the one map in :mod:`wealist_cfn.core.regions`, so they cannot
disagree.
"""

from __future__ import annotations

import awacs.s3
from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import AWSHelperFn, Equals, FindInMap, If, Not, Output, Ref, Sub, Template, s3
from troposphere import elasticloadbalancingv2 as elb

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.regions import (
    log_delivery_mapping,
)
from wealist_cfn.core.settings import BuildSettings

from .common import add_inputs, new_template, tags

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HAS_CERTIFICATE = "HasCertificate"

ELB_LOG_DELIVERY_MAP = "ElbLogDelivery"
USES_ELB_ACCOUNT = "LogDeliveryIsElbAccount"
# Objects land under <bucket>/<prefix>/AWSLogs/<account-id>/... (the guide:
# the prefix may not contain AWSLogs; ELB adds that part itself).
ACCESS_LOG_PREFIX = "alb"
# Delete markers and overwritten versions of access-log objects are kept
# this long after the current version expires (the bucket is versioned so
# that a deleted log can be brought back within that time).
NONCURRENT_DAYS = 30


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist load balancer: ALB, listeners, target groups, routing rules and the access-log bucket.")
    p = add_parameters(
        t,
        "Project",
        "Environment",
        "CertificateArn",
        "DeletionProtection",
        "MonitoringAccessCidr",
        "UserServicePort",
        "BoardServicePort",
        "UserServicePathPattern",
        "BoardServicePathPattern",
        "UserServiceHealthCheckPath",
        "BoardServiceHealthCheckPath",
        "AccessLogExpirationDays",
    )
    inputs = add_inputs(t, "VpcId", "PublicSubnetIds", "AlbSecurityGroupId")
    vpc_id, subnets, sg = inputs["VpcId"], inputs["PublicSubnetIds"], inputs["AlbSecurityGroupId"]
    has_cert = t.add_condition(HAS_CERTIFICATE, Not(Equals(p["CertificateArn"].ref(), "")))
    bucket, bucket_policy = _add_access_log_bucket(t, p["AccessLogExpirationDays"])

    alb = t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Type="application",
            Scheme="internet-facing",
            Subnets=subnets.ref(),
            SecurityGroups=[sg.ref()],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value=p["DeletionProtection"].ref()),
                elb.LoadBalancerAttributes(Key="idle_timeout.timeout_seconds", Value="60"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=bucket.ref()),
                elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value=ACCESS_LOG_PREFIX),
            ],
            Tags=tags("alb"),
            # ELB writes a test object when access logs are turned on and
            # refuses them if the bucket policy does not let it.
            DependsOn=[bucket_policy.title],
        )
    )
    groups = _add_target_groups(t, settings, p, vpc_id)
    _add_rules(t, p, groups, _add_listeners(t, alb, p, has_cert))

    t.add_output(Output("LoadBalancerArn", Description="ARN of the ALB.", Value=alb.ref()))
    t.add_output(Output("LoadBalancerDnsName", Description="DNS name of the ALB.", Value=alb.get_att("DNSName")))
    t.add_output(
        Output(
            "LoadBalancerFullName",
            Description="Name of the ALB for CloudWatch metrics.",
            Value=alb.get_att("LoadBalancerFullName"),
        )
    )
    t.add_output(
        Output(
            "AccessLogBucketName", Description="S3 bucket holding the load balancer's access logs.", Value=bucket.ref()
        )
    )
    t.add_output(
        Output(
            "ServiceUrl",
            Description="Base URL of the site.",
            Value=If(has_cert, Sub("https://${LoadBalancer.DNSName}"), Sub("http://${LoadBalancer.DNSName}")),
        )
    )
    for key, tg in groups.items():
        t.add_output(Output(f"{key}TargetGroupArn", Description=f"ARN of the {key} target group.", Value=tg.ref()))
        t.add_output(
            Output(
                f"{key}TargetGroupFullName",
                Description=f"Name of the {key} target group for CloudWatch metrics.",
                Value=tg.get_att("TargetGroupFullName"),
            )
        )
    return t


def _target_group(title, port, health_path, vpc_id, name_suffix, matcher="200"):
    return elb.TargetGroup(
        title,
        Protocol="HTTP",
        Port=port,
        TargetType="instance",
        VpcId=vpc_id.ref(),
        HealthCheckEnabled=True,
        HealthCheckProtocol="HTTP",
        HealthCheckPath=health_path,
        HealthCheckIntervalSeconds=15,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=3,
        Matcher=elb.Matcher(HttpCode=matcher),
        # Requests in flight finish during a rollout, without making a
        # deploy wait the default 5 minutes per instance.
        TargetGroupAttributes=[elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")],
        Tags=tags(name_suffix),
    )


def _add_target_groups(t, settings, p, vpc_id):
    return {
        "UserService": t.add_resource(
            _target_group(
                "UserServiceTargetGroup",
                p["UserServicePort"].ref(),
                p["UserServiceHealthCheckPath"].ref(),
                vpc_id,
                "user-tg",
            )
        ),
        "BoardService": t.add_resource(
            _target_group(
                "BoardServiceTargetGroup",
                p["BoardServicePort"].ref(),
                p["BoardServiceHealthCheckPath"].ref(),
                vpc_id,
                "board-tg",
            )
        ),
        # Monitoring = Grafana, served under /grafana.
        "Grafana": t.add_resource(
            _target_group("GrafanaTargetGroup", settings.grafana_port, "/grafana/api/health", vpc_id, "grafana-tg")
        ),
        # The SPEC's fourth group, "targets", read as Prometheus, served
        # under /prometheus.
        "Prometheus": t.add_resource(
            _target_group(
                "PrometheusTargetGroup", settings.prometheus_port, "/prometheus/-/healthy", vpc_id, "prometheus-tg"
            )
        ),
    }


def _add_listeners(t, alb, p, has_cert):
    """HTTP always, HTTPS with a certificate; returns the listener that serves
    the path rules."""
    not_found = elb.Action(
        Type="fixed-response",
        FixedResponseConfig=elb.FixedResponseConfig(
            StatusCode="404", ContentType="text/plain", MessageBody="Not found"
        ),
    )
    redirect = elb.Action(
        Type="redirect", RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301")
    )
    http = t.add_resource(
        elb.Listener(
            "HttpListener",
            LoadBalancerArn=alb.ref(),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[If(has_cert, redirect, not_found)],
            Metadata={
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_2",
                            "comment": "HTTP redirects to HTTPS when CertificateArn is set; "
                            "without one, HTTP is the only listener.",
                        },
                        {
                            "id": "CKV_AWS_103",
                            "comment": "Plain HTTP listener (redirect or certificate-less mode); "
                            "the HTTPS listener uses a TLS 1.2/1.3 policy.",
                        },
                    ]
                }
            },
        )
    )
    https = t.add_resource(
        elb.Listener(
            "HttpsListener",
            Condition=has_cert,
            LoadBalancerArn=alb.ref(),
            Port=443,
            Protocol="HTTPS",
            SslPolicy=TLS_POLICY,
            Certificates=[elb.Certificate(CertificateArn=p["CertificateArn"].ref())],
            DefaultActions=[not_found],
        )
    )
    return If(has_cert, https.ref(), http.ref())


def _add_rules(t, p, groups, listener):
    monitoring_source = elb.Condition(
        Field="source-ip", SourceIpConfig=elb.SourceIpConfig(Values=[p["MonitoringAccessCidr"].ref()])
    )
    rules = [
        (10, "UserService", [p["UserServicePathPattern"].ref()], []),
        (20, "BoardService", [p["BoardServicePathPattern"].ref()], []),
        (30, "Grafana", ["/grafana", "/grafana/*"], [monitoring_source]),
        (40, "Prometheus", ["/prometheus", "/prometheus/*"], [monitoring_source]),
    ]
    for priority, key, paths, extra in rules:
        t.add_resource(
            elb.ListenerRule(
                f"{key}ListenerRule",
                ListenerArn=listener,
                Priority=priority,
                Conditions=[
                    elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=paths)),
                    *extra,
                ],
                Actions=[elb.ListenerRuleAction(Type="forward", TargetGroupArn=groups[key].ref())],
            )
        )


def _add_access_log_bucket(t: Template, expiration) -> tuple[s3.Bucket, s3.BucketPolicy]:
    """The bucket the ALB writes its access logs to, and its policy."""
    t.add_mapping(ELB_LOG_DELIVERY_MAP, log_delivery_mapping())
    t.add_condition(USES_ELB_ACCOUNT, Equals(FindInMap(ELB_LOG_DELIVERY_MAP, Ref("AWS::Region"), "Kind"), "AWS"))
    bucket = t.add_resource(
        s3.Bucket(
            "AccessLogBucket",
            # SSE-S3 is the only server-side encryption ALB log delivery
            # supports (ELB user guide, "Enable access logs for your Application
            # Load Balancer", step 1: "The only server-side encryption option
            # that's supported is Amazon S3-managed keys (SSE-S3)").
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            # The account owns every object ELB writes; ACLs play no part.
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            # A deleted or overwritten log can be brought back for NONCURRENT_DAYS.
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-access-logs",
                        Status="Enabled",
                        ExpirationInDays=expiration.ref(),
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_DAYS),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=1),
                    ),
                    # Once their noncurrent versions are gone, the delete markers
                    # that expiry leaves behind go too.
                    s3.LifecycleRule(
                        Id="remove-expired-delete-markers", Status="Enabled", ExpiredObjectDeleteMarker=True
                    ),
                ]
            ),
            Tags=tags("alb-logs"),
            # Audit records outlive the stack; unnamed (CloudFormation names
            # it), so a retained bucket never collides with a re-created stack's.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata={
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_18",
                            "comment": "Server access logging of the access-log bucket would need a further "
                            "bucket, which would need its own; where an audit asks who read or "
                            "deleted these logs, CloudTrail S3 data events record it.",
                        },
                        {
                            "id": "CKV_AWS_145",
                            "comment": "ALB access-log delivery supports SSE-S3 only, not KMS (ELB user guide, "
                            "Enable access logs for your Application Load Balancer).",
                        },
                    ]
                }
            },
        )
    )
    policy = t.add_resource(
        s3.BucketPolicy(
            "AccessLogBucketPolicy",
            Bucket=bucket.ref(),
            PolicyDocument=access_log_bucket_policy(bucket),
        )
    )
    return bucket, policy


def access_log_bucket_policy(bucket) -> PolicyDocument:
    """TLS only for everyone; the region's ELB log delivery may put objects
    under ``<prefix>/AWSLogs/<this account>/`` and nowhere else."""
    arn = bucket.get_att("Arn")
    principal: AWSHelperFn = If(
        USES_ELB_ACCOUNT,
        {"AWS": FindInMap(ELB_LOG_DELIVERY_MAP, Ref("AWS::Region"), "Principal")},
        {"Service": FindInMap(ELB_LOG_DELIVERY_MAP, Ref("AWS::Region"), "Principal")},
    )
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="DenyInsecureTransport",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[awacs.s3.Action("*")],
                Resource=[arn, Sub("${AccessLogBucket.Arn}/*")],
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            ),
            Statement(
                Sid="ElbLogDelivery",
                Effect=Allow,
                Principal=principal,
                Action=[awacs.s3.PutObject],
                Resource=[Sub(f"${{AccessLogBucket.Arn}}/{ACCESS_LOG_PREFIX}/AWSLogs/${{AWS::AccountId}}/*")],
            ),
        ],
    )
