"""boto3 sessions and clients for the operations commands (bootstrap, rollout).

One place decides the region (``--region``, else the params file's), the
profile and the endpoint (``--endpoint-url``, for a local AWS endpoint such as
moto's server), so every client of one command talks to the same place.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.config import Config as BotoConfig

from .. import credentials

# Standard retry mode: throttling and transient errors are retried with
# backoff, so a bootstrap run against a busy account does not fail half way.
_BOTO_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 8})


@dataclass(frozen=True)
class Target:
    region: str
    profile: str | None = None
    endpoint_url: str | None = None

    def session(self) -> boto3.session.Session:
        """Raises :class:`~wealist_cfn.credentials.CredentialsError` for an unknown profile."""
        return credentials.session(self.profile, self.region)

    def check_credentials(self, session: boto3.session.Session | None = None) -> str:
        """The caller's account ID; :class:`~wealist_cfn.credentials.CredentialsError`
        when the credentials are missing, expired or rejected."""
        return credentials.check(self.client("sts", session))

    def client(self, service: str, session: boto3.session.Session | None = None):
        session = session or self.session()
        return session.client(service, endpoint_url=self.endpoint_url, config=_BOTO_CONFIG)
