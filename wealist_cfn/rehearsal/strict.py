"""The rules real AWS services enforce and moto does not, in one place.

moto accepts what AWS refuses, so a test (or a ``deploy --local``
rehearsal) that passes against it proves only what moto checks. This module
holds the rules this project relies on, each next to the documentation it
comes from, as plain functions (bootstrap checks its own values with them
before it writes anything) and as a strict layer over moto's in-process
models, installed by :func:`install`:

* Parameter Store ``PutParameter`` (direct calls and ``AWS::SSM::Parameter``
  resources alike): the name rules, no ``{{ }}`` in a value, the value size
  of the tier, and a secret-looking name only as SecureString.
* RDS ``CreateDBInstance``: the master user name and password rules (the
  templates pass bootstrap's values through ``{{resolve:ssm-secure}}``);
  ElastiCache is not modelled by moto, so its AUTH token rule is checked by
  bootstrap only (:func:`elasticache_auth_token_problem`).
* S3 bucket policies: evaluated the way IAM does, by the project's IAM
  evaluator (wealist_cfn/policyeval: an explicit Deny wins; a statement
  whose condition does not match does not apply), with
  ``aws:SecureTransport`` true, because the local endpoint stands in for
  AWS's HTTPS endpoint. moto itself evaluates that key as false even over
  TLS, so a bucket with the standard TLS-only Deny refuses every object
  call on moto and none on AWS.
* ELBv2 ``ModifyLoadBalancerAttributes`` turning access logs on: the bucket
  must be in the load balancer's region, encrypted with SSE-S3 only, and
  its policy must let the region's log delivery principal put the test
  object under ``<prefix>/AWSLogs/<account>/`` (:func:`access_log_bucket_problem`).
  moto sets the attribute whatever the bucket says. moto's CloudFormation
  neither applies a load balancer's attributes nor models
  ``AWS::S3::BucketPolicy``, so for the templates the same rule is checked
  on the resolved policy (tests/test_network_access_logs.py).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Iterator

from wealist_cfn import policyeval

# -- Parameter Store ------------------------------------------------------------
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html

# "Standard parameters have a value limit of 4 KB. Advanced parameters have a
# value limit of 8 KB." Intelligent-Tiering stores up to 8 KB (as Advanced
# above 4 KB).
TIER_LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
# "The maximum length for a parameter name that you create is 1011 characters."
NAME_MAX = 1011
# "Parameter hierarchies are limited to a maximum depth of fifteen levels."
MAX_DEPTH = 15
# "Parameter names can include only the following symbols and letters:
# a-zA-Z0-9_.- In addition, the slash character ( / ) is used to delineate
# hierarchies in parameter names."
NAME_CHARS = re.compile(r"^[A-Za-z0-9_./-]+$")
# "You can't include values wrapped in double brackets {{}} or
# {{ssm:parameter-name}} in a parameter value."
NESTED = re.compile(r"\{\{.*?\}\}", re.S)
# The project's rule (SPEC, and the SSM user guide's advice on sensitive
# data): a password, token or secret is stored encrypted, as SecureString.
SECRET_WORDS = re.compile(r"(password|passwd|token|secret)", re.I)
# "Description: Length Constraints: Minimum length of 0. Maximum length of 1024."
DESCRIPTION_MAX = 1024


def parameter_name_problem(name: str) -> str | None:
    """Why Parameter Store refuses ``name``, or None."""
    if not name or len(name) > NAME_MAX:
        return f"a name is 1 to {NAME_MAX} characters (PutParameter Name)"
    if not NAME_CHARS.match(name):
        return "a name holds only a-z A-Z 0-9 _ . - and / (PutParameter Name)"
    if "/" in name and not name.startswith("/"):
        return "a hierarchical name starts with / (PutParameter Name)"
    parts = name.strip("/").split("/")
    if any(not part for part in parts):
        return "a name has no empty hierarchy level (PutParameter Name)"
    if parts[0].lower().startswith(("aws", "ssm")):
        return "a name may not begin with aws or ssm, in any case (PutParameter Name)"
    if len(parts) > MAX_DEPTH:
        return f"a name has at most {MAX_DEPTH} hierarchy levels (PutParameter Name)"
    return None


def parameter_value_problem(name: str, value: str, type_: str = "String", tier: str | None = None) -> str | None:
    """Why Parameter Store refuses ``value`` for ``name`` (or the project
    does, for a secret stored as plain String), or None."""
    if value is None or value == "":
        return "a value is at least 1 character (PutParameter Value)"
    found = NESTED.search(value)
    if found:
        return (f"a value may not contain {{{{ }}}} (PutParameter Value), found "
                f"{found.group(0)[:40]!r}")
    tier = tier or "Standard"
    limit = TIER_LIMITS.get(tier)
    if limit is None:
        return f"tier {tier!r} is not one of {', '.join(TIER_LIMITS)} (PutParameter Tier)"
    size = len(value.encode("utf-8"))
    if size > limit:
        return f"{size} bytes exceed the {tier} tier's {limit} (PutParameter Value)"
    if type_ not in ("String", "StringList", "SecureString"):
        return f"type {type_!r} is not String, StringList or SecureString (PutParameter Type)"
    if type_ != "SecureString" and SECRET_WORDS.search(name.rsplit("/", 1)[-1]):
        return "a secret is stored as SecureString, never in plain text (project rule)"
    return None


def parameter_problem(name: str, value: str, type_: str = "String", tier: str | None = None,
                      description: str | None = None) -> str | None:
    """The first rule a PutParameter of these arguments breaks, or None."""
    if description is not None and len(description) > DESCRIPTION_MAX:
        return f"a description is at most {DESCRIPTION_MAX} characters (PutParameter Description)"
    return parameter_name_problem(name) or parameter_value_problem(name, value, type_, tier)


# -- Values other services read from Parameter Store ---------------------------------
# The templates hand these to RDS and ElastiCache through {{resolve:ssm-secure}};
# a value those services refuse fails the stack deep inside a nested update.

# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure):([^}:]+)(?::\d+)?\}\}")


# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
# MasterUserPassword (RDS for PostgreSQL): "Must contain from 8 to 128
# characters." "Can include any printable ASCII character except "/", """,
# or "@". Can't contain spaces."
def rds_master_password_problem(value: str) -> str | None:
    if not 8 <= len(value) <= 128:
        return "an RDS master password is 8 to 128 characters (CreateDBInstance MasterUserPassword)"
    if any(not (33 <= ord(c) <= 126) or c in '/"@' for c in value):
        return ("an RDS master password is printable ASCII without / \" @ or spaces "
                "(CreateDBInstance MasterUserPassword)")
    return None


# MasterUsername (RDS for PostgreSQL): "Must be 1 to 63 letters or numbers."
# "First character must be a letter." "Can't be a reserved word for the
# chosen database engine."
def rds_master_username_problem(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", value or ""):
        return ("an RDS master user name is 1 to 63 letters, digits or _, starting with a letter "
                "(CreateDBInstance MasterUsername)")
    if value.lower() in ("postgres", "rdsadmin", "rds_superuser", "public", "user", "all"):
        return f"{value!r} is reserved for RDS for PostgreSQL (CreateDBInstance MasterUsername)"
    return None


# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
# AuthToken: "Must be only printable ASCII characters." "Must be at least 16
# characters and no more than 128 characters in length." "The only permitted
# printable special characters are !, &, #, $, ^, <, >, and -."
def elasticache_auth_token_problem(value: str) -> str | None:
    if not 16 <= len(value) <= 128:
        return "an ElastiCache AUTH token is 16 to 128 characters (CreateReplicationGroup AuthToken)"
    if not re.fullmatch(r"[A-Za-z0-9!&#$^<>-]+", value):
        return ("an ElastiCache AUTH token holds letters, digits and ! & # $ ^ < > - only "
                "(CreateReplicationGroup AuthToken)")
    return None


# -- S3 bucket policies -----------------------------------------------------------
# Decided by the project's IAM evaluator (wealist_cfn/policyeval), which
# follows IAM's policy evaluation logic and cites each rule:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-securetransport

# A policy using an element, operator or key the evaluator does not model:
# refused rather than guessed.
UnsupportedPolicy = policyeval.UnmodelledPolicy

ALLOW, DENY, NEUTRAL = "allow", "deny", "neutral"
_VERDICTS = {policyeval.ALLOW: ALLOW, policyeval.EXPLICIT_DENY: DENY, policyeval.IMPLICIT_DENY: NEUTRAL}


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _caller(principal: dict[str, str] | None) -> policyeval.Principal:
    if not principal:
        return policyeval.Principal.anonymous()
    [(kind, value)] = principal.items()
    if kind == "Service":
        return policyeval.Principal.service(value)
    if kind == "AWS":
        return policyeval.Principal.aws(value)
    raise UnsupportedPolicy(f"caller kind {kind} is not modelled")


def bucket_policy_decision(policy: dict, action: str, resource: str, context: dict[str, str],
                           principal: dict[str, str] | None = None) -> policyeval.Decision:
    """The bucket policy's verdict with its reason (see
    :func:`evaluate_bucket_policy`)."""
    return policyeval.evaluate_statements(policy, action, resource, context, principal=_caller(principal),
                                          policy="bucket policy")


def evaluate_bucket_policy(policy: dict, action: str, resource: str, context: dict[str, str],
                           principal: dict[str, str] | None = None) -> str:
    """ALLOW, DENY or NEUTRAL for a caller: by default an anonymous caller
    (statements naming ``*`` apply, and statements without a Principal, so
    an identity policy can be asked too); with ``principal``
    (``{"Service": ...}`` or ``{"AWS": arn}``) the statements naming that
    principal apply as well. An explicit Deny wins over any Allow; a
    statement applies only when its principal, action, resource and
    conditions all match."""
    return _VERDICTS[bucket_policy_decision(policy, action, resource, context, principal).effect]


# -- ELB access logs ----------------------------------------------------------------------
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
# Step 1: "The bucket must be located in the same Region as the load
# balancer." "The prefix that you specify must not include AWSLogs." "The only
# server-side encryption option that's supported is Amazon S3-managed keys
# (SSE-S3)." Step 2: the bucket policy grants the region's principal
# s3:PutObject on bucket/prefix/AWSLogs/<account>/*. Step 4: ELB writes
# ELBAccessLogTestFile there when access logs are turned on; AWS answers a
# bucket that does not allow it with "Access Denied for bucket: <bucket>.
# Please check S3bucket permission".


def access_log_bucket_problem(bucket: str, bucket_region: str, policy: dict | None, sse_algorithms: list[str],
                              prefix: str, account: str, region: str) -> str | None:
    """Why ELB refuses to turn access logs on into ``bucket``, or None."""
    from wealist_cfn.core.regions import UnknownRegion, log_delivery_principal, partition

    if bucket_region != region:
        return f"bucket {bucket} is in {bucket_region}, the load balancer in {region}: they must share a region"
    if "AWSLogs" in prefix:
        return f"the prefix {prefix!r} may not contain AWSLogs (ELB adds that part itself)"
    other = sorted({a for a in sse_algorithms if a != "AES256"})
    if other:
        return (f"bucket {bucket} encrypts with {', '.join(other)}: access-log delivery supports SSE-S3 (AES256) "
                "only")
    try:
        who = log_delivery_principal(region)
    except UnknownRegion as exc:
        return str(exc)
    key = f"{prefix}/AWSLogs/{account}/ELBAccessLogTestFile" if prefix else f"AWSLogs/{account}/ELBAccessLogTestFile"
    verdict = evaluate_bucket_policy(policy or {}, "s3:PutObject", f"arn:{partition(region)}:s3:::{bucket}/{key}",
                                     {"aws:SecureTransport": "true"}, principal={who.kind: who.value})
    if verdict != ALLOW:
        return f"Access Denied for bucket: {bucket}. Please check S3bucket permission"
    return None


def _sse_algorithms(encryption: dict | None) -> list[str]:
    """The default encryption algorithms of a moto bucket's configuration."""
    if not encryption:
        return []
    rules = _listed(encryption.get("Rule", []))
    return [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "") for r in rules]


# -- The layer over moto ----------------------------------------------------------------


@contextlib.contextmanager
def install(secure_transport: bool = True) -> Iterator[None]:
    """Patch moto's in-process models (its server, when run in this process,
    included) with the rules above; removed on exit.

    ``secure_transport``: what ``aws:SecureTransport`` evaluates to. True by
    default: the local endpoint stands in for AWS's HTTPS endpoint."""
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend
    from moto.iam.access_control import PermissionResult
    from moto.rds.exceptions import InvalidParameterValue
    from moto.rds.models import DBInstance
    from moto.s3.models import FakeBucket
    from moto.ssm import models as ssm_models
    from moto.ssm.exceptions import ValidationException

    saved_put = ssm_models.SimpleSystemManagerBackend.put_parameter
    saved_lb_attributes = ELBv2Backend.modify_load_balancer_attributes
    saved_permission = FakeBucket.get_permission
    saved_password, saved_username = DBInstance.master_user_password, DBInstance.master_username

    def resolved(instance, value):
        """The value RDS receives: CloudFormation resolves a
        ``{{resolve:ssm[-secure]:name}}`` reference before the call (moto does
        not resolve it at all); a reference to a missing parameter fails."""
        ref = DYNAMIC_REFERENCE.fullmatch(value)
        if not ref:
            return value
        from moto.ssm.models import ssm_backends

        param = ssm_backends[instance.account_id][instance.region].get_parameter(ref.group(2))
        if param is None:
            raise InvalidParameterValue(f"dynamic reference {value}: parameter {ref.group(2)} not found")
        return param.decrypt(param.value)

    def set_password(self, value):
        # None: a modify that leaves the password alone.
        problem = value is not None and rds_master_password_problem(resolved(self, value))
        if problem:
            raise InvalidParameterValue(problem)
        saved_password.fset(self, value)

    def set_username(self, value):
        problem = value is not None and rds_master_username_problem(resolved(self, value))
        if problem:
            raise InvalidParameterValue(problem)
        saved_username.fset(self, value)

    def put_parameter(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite, tags,
                      data_type, tier, policies):
        existing = self._parameters.get(name) if name in self._parameters else None
        type_ = parameter_type or (existing[-1].parameter_type if existing else "String")
        problem = parameter_problem(name, value, type_, tier, description)
        if problem:
            raise ValidationException(f"{name}: {problem}")
        return saved_put(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite, tags,
                         data_type, tier, policies)

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        verdict = evaluate_bucket_policy(policy, action, resource,
                                         {"aws:SecureTransport": "true" if secure_transport else "false"})
        return {ALLOW: PermissionResult.PERMITTED, DENY: PermissionResult.DENIED}.get(verdict,
                                                                                     PermissionResult.NEUTRAL)

    def modify_load_balancer_attributes(self, arn, attrs):
        if str(attrs.get("access_logs.s3.enabled", "")).lower() == "true":
            from moto.s3.exceptions import MissingBucket
            from moto.s3.models import s3_backends
            from moto.utilities.utils import get_partition

            name = attrs.get("access_logs.s3.bucket", "")
            try:
                bucket = s3_backends[self.account_id][get_partition(self.region_name)].get_bucket(name)
            except MissingBucket:
                raise ELBClientError("InvalidConfigurationRequest", f"The bucket {name!r} does not exist") from None
            policy = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy) \
                if bucket.policy else None
            problem = access_log_bucket_problem(name, bucket.region_name, policy, _sse_algorithms(bucket.encryption),
                                                attrs.get("access_logs.s3.prefix", ""), self.account_id,
                                                self.region_name)
            if problem:
                raise ELBClientError("InvalidConfigurationRequest", problem)
        return saved_lb_attributes(self, arn, attrs)

    ssm_models.SimpleSystemManagerBackend.put_parameter = put_parameter
    ELBv2Backend.modify_load_balancer_attributes = modify_load_balancer_attributes
    FakeBucket.get_permission = get_permission
    DBInstance.master_user_password = saved_password.setter(set_password)
    DBInstance.master_username = saved_username.setter(set_username)
    try:
        yield
    finally:
        ssm_models.SimpleSystemManagerBackend.put_parameter = saved_put
        ELBv2Backend.modify_load_balancer_attributes = saved_lb_attributes
        FakeBucket.get_permission = saved_permission
        DBInstance.master_user_password, DBInstance.master_username = saved_password, saved_username
