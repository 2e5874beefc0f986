"""One check of the caller's AWS credentials, shared by every command that
calls AWS (deploy, plan, package, status, bootstrap, rollout).

It runs once, up front, with STS GetCallerIdentity, so a missing profile or
an expired token is one line and exit 2 before anything is read or written,
not a traceback half way through.
"""

from __future__ import annotations

import boto3
import botocore.exceptions

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

EXIT_USAGE, EXIT_FAILED = 2, 1


class CredentialsError(Exception):
    """``str()`` is the one line to print; ``exit_code`` the status to end with."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


def session(profile: str | None, region: str) -> boto3.Session:
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound as exc:
        raise CredentialsError(f"AWS profile not found: {exc.kwargs.get('profile', profile)}") from None


def check(sts_client) -> str:
    """Return the caller's account ID; raise :class:`CredentialsError` when
    the credentials are missing, expired or rejected."""
    try:
        ident = sts_client.get_caller_identity()
    except CREDENTIAL_EXCEPTIONS as exc:
        raise CredentialsError(f"AWS credentials: {exc}") from None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in CREDENTIAL_CODES:
            raise CredentialsError(f"AWS credentials rejected ({code}): {exc.response['Error'].get('Message', '')}"
                                   ) from None
        raise
    except botocore.exceptions.EndpointConnectionError as exc:
        raise CredentialsError(f"cannot reach AWS: {exc}", EXIT_FAILED) from None
    return ident["Account"]
