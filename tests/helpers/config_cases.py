"""Parameter files broken one way each, and what the refusal must say:
shared by tests/test_config.py (each case refused with one line naming the
file and the key) and tests/test_template_safety.py (the CIDR cases agree
with the templates' own rules)."""

from __future__ import annotations


def set_value(entries, key, value):
    """``entries`` (a parameter file's list) with ``key`` set to ``value``."""
    out = [e for e in entries if e["ParameterKey"] != key]
    out.append({"ParameterKey": key, "ParameterValue": value})
    return out


BAD_CASES = [
    # (id, how to break the file, key named in the message, words in the message)
    ("not-json", lambda e: "[{not json", None, "not valid JSON"),
    ("object-not-list", lambda e: {"Parameters": {}}, None, "must be a JSON list"),
    ("entry-not-object", lambda e: e + ["VpcCidr=10.1.0.0/16"], "[15]", "must be an object"),
    ("unknown-key", lambda e: set_value(e, "VpcCIDR", "10.1.0.0/16"), "VpcCIDR", "did you mean VpcCidr"),
    (
        "duplicate-key",
        lambda e: e + [{"ParameterKey": "VpcCidr", "ParameterValue": "10.2.0.0/16"}],
        "VpcCidr",
        "set twice",
    ),
    (
        "duplicate-field",
        lambda e: '[{"ParameterKey": "Project", "ParameterKey": "Environment", "ParameterValue": "x"}]',
        "ParameterKey",
        "twice",
    ),
    (
        "extra-field",
        lambda e: e + [{"ParameterKey": "Project", "ParameterValue": "x", "UsePreviousValue": True}],
        "Project",
        "unexpected field",
    ),
    (
        "missing-required",
        lambda e: [x for x in e if x["ParameterKey"] != "Environment"],
        "Environment",
        "required and missing",
    ),
    (
        "missing-value",
        lambda e: [x for x in e if x["ParameterKey"] != "Project"] + [{"ParameterKey": "Project"}],
        "Project",
        "no ParameterValue",
    ),
    ("non-string-value", lambda e: set_value(e, "BackendMinSize", 2), "BackendMinSize", "must be a string"),
    ("boolean-value", lambda e: set_value(e, "EnableMultiAZ", True), "EnableMultiAZ", 'write "true"'),
    ("allowed-values", lambda e: set_value(e, "EnableMultiAZ", "yes"), "EnableMultiAZ", "not one of"),
    ("pattern", lambda e: set_value(e, "BackendInstanceType", "huge"), "BackendInstanceType", "must be"),
    ("number", lambda e: set_value(e, "BackendMaxSize", "six"), "BackendMaxSize", "not a whole number"),
    ("number-range", lambda e: set_value(e, "DbAllocatedStorage", "10"), "DbAllocatedStorage", "below the minimum"),
    ("min-over-max", lambda e: set_value(e, "BackendMinSize", "7"), "BackendMinSize", "larger than BackendMaxSize"),
    ("cidr-malformed", lambda e: set_value(e, "VpcCidr", "10.1.0.0/33"), "VpcCidr", "must be an IPv4 CIDR block"),
    ("cidr-octet", lambda e: set_value(e, "VpcCidr", "10.300.0.0/16"), "VpcCidr", "must be an IPv4 CIDR block"),
    ("cidr-host-bits", lambda e: set_value(e, "VpcCidr", "10.1.2.0/16"), "VpcCidr", "host bits set"),
    ("cidr-too-large", lambda e: set_value(e, "VpcCidr", "10.0.0.0/8"), "VpcCidr", "/16 to /28"),
    (
        "cidr-too-small",
        lambda e: set_value(e, "VpcCidr", "10.1.0.0/22"),
        "VpcCidr",
        "holds only 4 subnets of /24, 6 are needed",
    ),
    (
        "subnet-bigger-than-vpc",
        lambda e: set_value(set_value(e, "VpcCidr", "10.1.0.0/24"), "SubnetBits", "12"),
        "VpcCidr",
        "holds only 0 subnets of /20",
    ),
    ("cidr-not-cidr", lambda e: set_value(e, "VpcCidr", "vpc"), "VpcCidr", "IPv4 CIDR block"),
    (
        "monitoring-cidr-malformed",
        lambda e: set_value(e, "MonitoringAccessCidr", "203.0.113.0/33"),
        "MonitoringAccessCidr",
        "must be an IPv4 CIDR block",
    ),
    (
        "monitoring-cidr-octet",
        lambda e: set_value(e, "MonitoringAccessCidr", "203.0.300.0/24"),
        "MonitoringAccessCidr",
        "must be an IPv4 CIDR block",
    ),
    (
        "monitoring-cidr-host-bits",
        lambda e: set_value(e, "MonitoringAccessCidr", "203.0.113.7/24"),
        "MonitoringAccessCidr",
        "host bits set",
    ),
    (
        "monitoring-cidr-not-cidr",
        lambda e: set_value(e, "MonitoringAccessCidr", "office"),
        "MonitoringAccessCidr",
        "IPv4 CIDR block",
    ),
    (
        "monitoring-cidr-ipv6",
        lambda e: set_value(e, "MonitoringAccessCidr", "2001:db8::/32"),
        "MonitoringAccessCidr",
        "IPv4 CIDR block",
    ),
    (
        "certificate-not-acm",
        lambda e: set_value(e, "CertificateArn", "arn:aws:iam::123456789012:server-certificate/x"),
        "CertificateArn",
        "ACM certificate ARN",
    ),
    (
        "certificate-other-region",
        lambda e: set_value(
            e, "CertificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
        ),
        "CertificateArn",
        "from its own region",
    ),
    ("name-uppercase", lambda e: set_value(e, "Project", "Wealist"), "Project", "lower-case"),
    ("name-too-long", lambda e: set_value(e, "Environment", "production-eu"), "Environment", "longer than 10"),
    ("name-double-hyphen", lambda e: set_value(e, "Environment", "pr--od"), "Environment", "lower-case"),
    ("bucket-name", lambda e: set_value(e, "DeployBucketName", "Wealist_Scripts"), "DeployBucketName", "S3 bucket"),
    ("bucket-ip", lambda e: set_value(e, "DeployBucketName", "192.168.1.1"), "DeployBucketName", "not a name S3"),
    (
        "bucket-placeholder",
        lambda e: set_value(e, "DeployBucketName", "wealist-deploy-scripts-{account_id}"),
        "DeployBucketName",
        "'{account_id}' is a placeholder nothing expands",
    ),
    (
        "bucket-cfn-placeholder",
        lambda e: set_value(e, "DeployBucketName", "wealist-deploy-${AWS::AccountId}"),
        "DeployBucketName",
        "'${AWS::AccountId}' is a placeholder nothing expands",
    ),
    (
        "az-count",
        lambda e: set_value(e, "AvailabilityZones", "ap-northeast-2a,ap-northeast-2c"),
        "AvailabilityZones",
        "exactly 3",
    ),
    (
        "az-regions",
        lambda e: set_value(e, "AvailabilityZones", "ap-northeast-2a,ap-northeast-2c,us-east-1a"),
        "AvailabilityZones",
        "several regions",
    ),
    (
        "az-duplicate",
        lambda e: set_value(e, "AvailabilityZones", "ap-northeast-2a,ap-northeast-2a,ap-northeast-2c"),
        "AvailabilityZones",
        "twice",
    ),
    ("port-clash", lambda e: set_value(e, "UserServicePort", "9090"), "UserServicePort", "monitoring"),
]
