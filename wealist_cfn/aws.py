"""AWS access for every command that calls AWS (deploy, plan, package,
status, bootstrap, rollout): one boto3 session, its clients, the caller's
account, and a count of every API call made (for honest summaries and the
benchmark).

Credentials are checked once, up front, with STS GetCallerIdentity, so a
missing profile or an expired token is one line and exit 2 before anything
is read or written, not a traceback half way through.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.exceptions
from botocore.config import Config as BotoConfig

from .errors import EXIT_FAILED, EXIT_USAGE, CommandError

# Errors that mean "your credentials are missing, expired or wrong".
CREDENTIAL_EXCEPTIONS = tuple(
    getattr(botocore.exceptions, name)
    for name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                 "TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError", "SSOError",
                 "NoAuthTokenError")
    if hasattr(botocore.exceptions, name)
)
CREDENTIAL_CODES = {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
                    "UnrecognizedClientException", "InvalidAccessKeyId", "AccessDenied", "RequestExpired"}


@dataclass
class Aws:
    """Clients for one region (and optionally one custom endpoint)."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None
    # Fixed fake credentials for the local endpoint, so a rehearsal never
    # needs (or picks up) real ones.
    local_credentials: bool = False
    calls: collections.Counter = field(default_factory=collections.Counter)

    def __post_init__(self):
        if self.local_credentials:
            self.session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                         region_name=self.region)
        else:
            try:
                self.session = boto3.Session(profile_name=self.profile, region_name=self.region)
            except botocore.exceptions.ProfileNotFound as exc:
                raise CommandError(f"AWS profile not found: {exc.kwargs.get('profile', self.profile)}",
                                   EXIT_USAGE) from None
        self.session.events.register("before-call", self._count)
        # Adaptive retries ride out CloudFormation's throttling while events are polled.
        self._config = BotoConfig(retries={"mode": "standard", "max_attempts": 8})
        self._clients: dict[str, object] = {}
        self.account: str | None = None

    def _count(self, model, **_kw):
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def client(self, service: str):
        if service not in self._clients:
            kw = {"region_name": self.region, "config": self._config}
            if self.endpoint_url:
                kw["endpoint_url"] = self.endpoint_url
            self._clients[service] = self.session.client(service, **kw)
        return self._clients[service]

    @property
    def cfn(self):
        return self.client("cloudformation")

    @property
    def s3(self):
        return self.client("s3")

    def check_credentials(self) -> str:
        """Return the account ID; raise a one-line CommandError (exit 2) when
        the credentials are missing, expired or rejected."""
        try:
            ident = self.client("sts").get_caller_identity()
        except CREDENTIAL_EXCEPTIONS as exc:
            raise CommandError(f"AWS credentials: {exc}", EXIT_USAGE) from None
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in CREDENTIAL_CODES:
                raise CommandError(f"AWS credentials rejected ({code}): {exc.response['Error'].get('Message', '')}",
                                   EXIT_USAGE) from None
            raise
        except botocore.exceptions.EndpointConnectionError as exc:
            raise CommandError(f"cannot reach AWS: {exc}", EXIT_FAILED) from None
        self.account = ident["Account"]
        return self.account

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def s3_url(self, bucket: str, key: str) -> str:
        """The URL CloudFormation reads a packaged template from."""
        if self.endpoint_url:
            # Path style for a local endpoint; moto reads a 127.0.0.1 host as a
            # bucket name, so name the loopback host "localhost" instead.
            parts = urlsplit(self.endpoint_url)
            host = parts.netloc.replace("127.0.0.1", "localhost")
            return urlunsplit((parts.scheme, host, f"{parts.path.rstrip('/')}/{bucket}/{key}", "", ""))
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://{bucket}.s3.{self.region}.{suffix}/{key}"


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)
