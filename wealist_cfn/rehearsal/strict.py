"""The rules real AWS services enforce and moto does not, as a layer over moto.

moto accepts what AWS refuses, so a test (or a ``deploy --local``
rehearsal) that passes against it proves only what moto checks. This module
holds the rules this project relies on, each next to the documentation it
comes from, as a strict layer over moto's in-process models, installed by
:func:`install`; the value rules are plain functions in
:mod:`wealist_cfn.core.rules` (bootstrap checks its own values with them
before it writes anything):

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
from typing import Iterator

from wealist_cfn import policyeval
from wealist_cfn.core.rules import (
    DYNAMIC_REFERENCE,
    parameter_problem,
    rds_master_password_problem,
    rds_master_username_problem,
)

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


def bucket_policy_decision(
    policy: dict, action: str, resource: str, context: dict[str, str], principal: dict[str, str] | None = None
) -> policyeval.Decision:
    """The bucket policy's verdict with its reason (see
    :func:`evaluate_bucket_policy`)."""
    return policyeval.evaluate_statements(
        policy, action, resource, context, principal=_caller(principal), policy="bucket policy"
    )


def evaluate_bucket_policy(
    policy: dict, action: str, resource: str, context: dict[str, str], principal: dict[str, str] | None = None
) -> str:
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


def access_log_bucket_problem(
    bucket: str,
    bucket_region: str,
    policy: dict | None,
    sse_algorithms: list[str],
    prefix: str,
    account: str,
    region: str,
) -> str | None:
    """Why ELB refuses to turn access logs on into ``bucket``, or None."""
    from wealist_cfn.core.regions import UnknownRegion, log_delivery_principal, partition

    if bucket_region != region:
        return f"bucket {bucket} is in {bucket_region}, the load balancer in {region}: they must share a region"
    if "AWSLogs" in prefix:
        return f"the prefix {prefix!r} may not contain AWSLogs (ELB adds that part itself)"
    other = sorted({a for a in sse_algorithms if a != "AES256"})
    if other:
        return f"bucket {bucket} encrypts with {', '.join(other)}: access-log delivery supports SSE-S3 (AES256) only"
    try:
        who = log_delivery_principal(region)
    except UnknownRegion as exc:
        return str(exc)
    key = f"{prefix}/AWSLogs/{account}/ELBAccessLogTestFile" if prefix else f"AWSLogs/{account}/ELBAccessLogTestFile"
    verdict = evaluate_bucket_policy(
        policy or {},
        "s3:PutObject",
        f"arn:{partition(region)}:s3:::{bucket}/{key}",
        {"aws:SecureTransport": "true"},
        principal={who.kind: who.value},
    )
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

    def put_parameter(
        self,
        name,
        description,
        value,
        parameter_type,
        allowed_pattern,
        keyid,
        overwrite,
        tags,
        data_type,
        tier,
        policies,
    ):
        existing = self._parameters.get(name) if name in self._parameters else None
        type_ = parameter_type or (existing[-1].parameter_type if existing else "String")
        problem = parameter_problem(name, value, type_, tier, description)
        if problem:
            raise ValidationException(f"{name}: {problem}")
        return saved_put(
            self,
            name,
            description,
            value,
            parameter_type,
            allowed_pattern,
            keyid,
            overwrite,
            tags,
            data_type,
            tier,
            policies,
        )

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        verdict = evaluate_bucket_policy(
            policy, action, resource, {"aws:SecureTransport": "true" if secure_transport else "false"}
        )
        return {ALLOW: PermissionResult.PERMITTED, DENY: PermissionResult.DENIED}.get(verdict, PermissionResult.NEUTRAL)

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
            policy = (
                json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy)
                if bucket.policy
                else None
            )
            problem = access_log_bucket_problem(
                name,
                bucket.region_name,
                policy,
                _sse_algorithms(bucket.encryption),
                attrs.get("access_logs.s3.prefix", ""),
                self.account_id,
                self.region_name,
            )
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
