"""Load balancer: the internet-facing ALB, its HTTP and HTTPS listeners, and
four target groups (user-service, board-service, Grafana, Prometheus) with
path rules. Without a certificate the site is served over HTTP; with one,
HTTP redirects to HTTPS."""

from __future__ import annotations

from troposphere import Equals, If, Not, Output, Sub, Template
from troposphere import elasticloadbalancingv2 as elb

from ..parameters import add_parameters
from ..settings import BuildSettings
from .common import add_inputs, new_template, tags

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HAS_CERTIFICATE = "HasCertificate"


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist load balancer: ALB, listeners, target groups and routing rules.")
    p = add_parameters(t, "Project", "Environment", "CertificateArn", "DeletionProtection", "MonitoringAccessCidr",
                       "UserServicePort", "BoardServicePort", "UserServicePathPattern", "BoardServicePathPattern",
                       "UserServiceHealthCheckPath", "BoardServiceHealthCheckPath")
    inputs = add_inputs(t, "VpcId", "PublicSubnetIds", "AlbSecurityGroupId")
    vpc_id, subnets, sg = inputs["VpcId"], inputs["PublicSubnetIds"], inputs["AlbSecurityGroupId"]
    has_cert = t.add_condition(HAS_CERTIFICATE, Not(Equals(p["CertificateArn"].ref(), "")))

    alb = t.add_resource(elb.LoadBalancer(
        "LoadBalancer",
        Type="application",
        Scheme="internet-facing",
        Subnets=subnets.ref(),
        SecurityGroups=[sg.ref()],
        LoadBalancerAttributes=[
            elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
            elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value=p["DeletionProtection"].ref()),
            elb.LoadBalancerAttributes(Key="idle_timeout.timeout_seconds", Value="60"),
        ],
        Tags=tags("alb"),
        Metadata={"checkov": {"skip": [{"id": "CKV_AWS_91", "comment":
                  "Access logs need a log bucket with its own retention and cost, which the SPEC leaves out; "
                  "enable them with an S3 bucket when traffic analysis is wanted."}]}},
    ))
    groups = _add_target_groups(t, settings, p, vpc_id)
    _add_rules(t, p, groups, _add_listeners(t, alb, p, has_cert))

    t.add_output(Output("LoadBalancerArn", Description="ARN of the ALB.", Value=alb.ref()))
    t.add_output(Output("LoadBalancerDnsName", Description="DNS name of the ALB.", Value=alb.get_att("DNSName")))
    t.add_output(Output("LoadBalancerFullName", Description="Name of the ALB for CloudWatch metrics.",
                        Value=alb.get_att("LoadBalancerFullName")))
    t.add_output(Output("ServiceUrl", Description="Base URL of the site.",
                        Value=If(has_cert, Sub("https://${LoadBalancer.DNSName}"),
                                 Sub("http://${LoadBalancer.DNSName}"))))
    for key, tg in groups.items():
        t.add_output(Output(f"{key}TargetGroupArn", Description=f"ARN of the {key} target group.", Value=tg.ref()))
        t.add_output(Output(f"{key}TargetGroupFullName", Description=f"Name of the {key} target group for "
                            "CloudWatch metrics.", Value=tg.get_att("TargetGroupFullName")))
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
        "UserService": t.add_resource(_target_group(
            "UserServiceTargetGroup", p["UserServicePort"].ref(), p["UserServiceHealthCheckPath"].ref(), vpc_id,
            "user-tg")),
        "BoardService": t.add_resource(_target_group(
            "BoardServiceTargetGroup", p["BoardServicePort"].ref(), p["BoardServiceHealthCheckPath"].ref(), vpc_id,
            "board-tg")),
        # Monitoring = Grafana, served under /grafana.
        "Grafana": t.add_resource(_target_group(
            "GrafanaTargetGroup", settings.grafana_port, "/grafana/api/health", vpc_id, "grafana-tg")),
        # The SPEC's fourth group, "targets", read as Prometheus, served
        # under /prometheus.
        "Prometheus": t.add_resource(_target_group(
            "PrometheusTargetGroup", settings.prometheus_port, "/prometheus/-/healthy", vpc_id, "prometheus-tg")),
    }


def _add_listeners(t, alb, p, has_cert):
    """HTTP always, HTTPS with a certificate; returns the listener that serves
    the path rules."""
    not_found = elb.Action(Type="fixed-response", FixedResponseConfig=elb.FixedResponseConfig(
        StatusCode="404", ContentType="text/plain", MessageBody="Not found"))
    redirect = elb.Action(Type="redirect", RedirectConfig=elb.RedirectConfig(
        Protocol="HTTPS", Port="443", StatusCode="HTTP_301"))
    http = t.add_resource(elb.Listener(
        "HttpListener", LoadBalancerArn=alb.ref(), Port=80, Protocol="HTTP",
        DefaultActions=[If(has_cert, redirect, not_found)],
        Metadata={"checkov": {"skip": [
            {"id": "CKV_AWS_2", "comment": "HTTP redirects to HTTPS when CertificateArn is set; "
                                           "without one, HTTP is the only listener."},
            {"id": "CKV_AWS_103", "comment": "Plain HTTP listener (redirect or certificate-less mode); "
                                             "the HTTPS listener uses a TLS 1.2/1.3 policy."},
        ]}},
    ))
    https = t.add_resource(elb.Listener(
        "HttpsListener", Condition=has_cert, LoadBalancerArn=alb.ref(), Port=443, Protocol="HTTPS",
        SslPolicy=TLS_POLICY, Certificates=[elb.Certificate(CertificateArn=p["CertificateArn"].ref())],
        DefaultActions=[not_found],
    ))
    return If(has_cert, https.ref(), http.ref())


def _add_rules(t, p, groups, listener):
    monitoring_source = elb.Condition(Field="source-ip", SourceIpConfig=elb.SourceIpConfig(
        Values=[p["MonitoringAccessCidr"].ref()]))
    rules = [
        (10, "UserService", [p["UserServicePathPattern"].ref()], []),
        (20, "BoardService", [p["BoardServicePathPattern"].ref()], []),
        (30, "Grafana", ["/grafana", "/grafana/*"], [monitoring_source]),
        (40, "Prometheus", ["/prometheus", "/prometheus/*"], [monitoring_source]),
    ]
    for priority, key, paths, extra in rules:
        t.add_resource(elb.ListenerRule(
            f"{key}ListenerRule", ListenerArn=listener, Priority=priority,
            Conditions=[elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=paths)),
                        *extra],
            Actions=[elb.ListenerRuleAction(Type="forward", TargetGroupArn=groups[key].ref())],
        ))
