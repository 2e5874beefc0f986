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
import contextlib
import os
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

import boto3
import botocore.exceptions
import botocore.parsers
from botocore.config import Config as BotoConfig

from wealist_cfn import errors
from wealist_cfn.aws import calltrace
from wealist_cfn.aws import log as awslog
from wealist_cfn.aws import target as target_mod
from wealist_cfn.errors import EXIT_FAILED, EXIT_USAGE, CommandError, Failure

# Errors that mean "your credentials are missing, expired or wrong".
CREDENTIAL_EXCEPTIONS = tuple(
    getattr(botocore.exceptions, name)
    for name in (
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "TokenRetrievalError",
        "SSOTokenLoadError",
        "UnauthorizedSSOTokenError",
        "SSOError",
        "NoAuthTokenError",
    )
    if hasattr(botocore.exceptions, name)
)
# The operation last sent, for an error that does not name it (ResponseParserError).
_last_call = ""


@contextlib.contextmanager
def keeping_last_call():
    """Calls made inside (a cleanup on an error path) do not change which
    operation an unparseable answer is blamed on: the one that failed."""
    global _last_call
    kept = _last_call
    try:
        yield
    finally:
        _last_call = kept


# Credentials that were good and ran out: signing in again is the fix.
# RequestExpired is EC2's code (EC2 API reference, "Error codes": "The
# request reached the service more than 15 minutes after the date stamp on
# the request or more than 15 minutes after the request expiration date ...,
# or the date stamp on the request is more than 15 minutes in the future"):
# an expired session, or this machine's clock; the message says both.
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
# SSOTokenLoadError is not among them: botocore raises it when no cached
# token exists at all ("Token for X does not exist"): never signed in, or
# signed out, which `aws sso login` fixes without anything having expired.
EXPIRED_EXCEPTIONS = tuple(
    getattr(botocore.exceptions, name)
    for name in ("TokenRetrievalError", "UnauthorizedSSOTokenError")
    if hasattr(botocore.exceptions, name)
)
NOT_SIGNED_IN = tuple(
    getattr(botocore.exceptions, name) for name in ("SSOTokenLoadError",) if hasattr(botocore.exceptions, name)
)
LOCAL_UP = "python build.py local up"

CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "AccessDenied",
    "RequestExpired",
}


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
        if self.endpoint_url:
            check_endpoint_url(self.endpoint_url)
        if self.local_credentials:
            self.session = boto3.Session(
                aws_access_key_id="local", aws_secret_access_key="local", region_name=self.region
            )
        else:
            try:
                self.session = boto3.Session(profile_name=self.profile, region_name=self.region)
            except botocore.exceptions.ProfileNotFound as exc:
                raise CommandError(
                    f"AWS profile not found: {exc.kwargs.get('profile', self.profile)}", EXIT_USAGE
                ) from None
        self.session.events.register("before-call", self._count)
        awslog.attach(self.session)  # -v / --debug: each call and its timing
        calltrace.attach(self.session, self.region)  # WEALIST_CFN_TRACE: the IAM trace's record
        # Standard retries (boto3 guide, "Retries"; AWS SDKs reference, "Retry
        # behavior"): throttling, transient and connection errors are retried
        # with jittered exponential backoff, up to 8 attempts a call (the
        # first included), while the client's retry quota lasts. The count is
        # ``total_max_attempts``: botocore's Config reads ``max_attempts`` as
        # retries *after* the first request ("setting this value to 2 will
        # result in the request being retried at most two times after the
        # initial request", botocore/config.py; args.py adds one to it), so
        # ``max_attempts: 8`` made 9 attempts. Not "adaptive": the SDKs call
        # it experimental, and its client-side rate limiter would only slow a
        # poll loop that already sleeps between calls. An error that outlives
        # the retries (Throttling after the quota is spent, ExpiredToken) ends
        # a watch with what still runs in AWS and the `status` command that
        # follows it (deploy.flow.Deployment.stopped), never as a failed
        # operation.
        self._config = BotoConfig(retries={"mode": "standard", "total_max_attempts": 8})
        self._clients: dict[str, object] = {}
        # Creating a client is not thread-safe (boto3 guide, "Multithreading
        # or multiprocessing with clients"): threads that need one (preflight's
        # checks) make it under this lock, on first use, so only the clients
        # a run uses are made (each loads its service model).
        self._client_lock = threading.Lock()
        self.account: str | None = None
        self._probed = False
        self._target: target_mod.Target | None = None

    def _count(self, model, **_kw):
        global _last_call
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1
        _last_call = model.name

    def _probe_local(self) -> None:
        """A local endpoint that is not running answers a connect at once
        with "refused"; botocore would retry that for seconds (standard
        retries treat it as transient, which it is for AWS, not for a server
        on this machine). One connect before the first client says so now."""
        parts = urlsplit(self.endpoint_url)
        if not is_loopback(parts.hostname):
            self._probed = True
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=2).close()
        except ConnectionRefusedError:
            # Not marked probed: the next client of this Aws (a caller that
            # went on after this error) is refused as fast.
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=self.endpoint_url) from None
        except OSError:
            pass  # anything else is botocore's to report, with its retries
        self._probed = True

    @property
    def target(self) -> target_mod.Target:
        """What this endpoint can and cannot answer (:mod:`wealist_cfn.aws.target`):
        AWS without an endpoint URL; otherwise what the endpoint says of
        itself when asked once (the local rehearsal answers its capability
        document), else an unknown custom endpoint."""
        if self._target is None:
            with self._client_lock:
                if self._target is None and not self.endpoint_url:
                    self._target = target_mod.aws_target()
                elif self._target is None:
                    # A loopback endpoint that is not running is said so now,
                    # as by the first client (not taken for an unknown one).
                    if not self._probed:
                        self._probe_local()
                    self._target = target_mod.probe(
                        self.endpoint_url, loopback=is_loopback(urlsplit(self.endpoint_url).hostname)
                    )
        return self._target

    # The two uses of the endpoint URL below are transport, not behaviour:
    # which scheme the calls travel over, and how an S3 object's URL is
    # written for that endpoint. What the endpoint answers is the Target's.

    @property
    def plain_http(self) -> bool:
        """Whether calls travel over plain http:// (where a bucket policy's
        TLS-only Deny, ``aws:SecureTransport`` false, refuses them)."""
        return (self.endpoint_url or "").startswith("http://")

    @property
    def address(self) -> str:
        """The region, and the endpoint URL when one is given (for messages)."""
        return f"{self.region} at {self.endpoint_url}" if self.endpoint_url else self.region

    @property
    def path_style(self) -> bool:
        """Whether :meth:`s3_url` writes path-style URLs (``host/bucket/key``)."""
        return bool(self.endpoint_url)

    def client(self, service: str):
        made = self._clients.get(service)
        if made is not None:
            return made
        with self._client_lock:
            if self.endpoint_url and not self._probed:
                self._probe_local()
            if service not in self._clients:
                kw = {"region_name": self.region, "config": self._config}
                if self.endpoint_url:
                    kw["endpoint_url"] = self.endpoint_url
                    if is_loopback(urlsplit(self.endpoint_url).hostname):
                        # HTTP(S)_PROXY would carry calls to this machine's
                        # endpoint through the proxy: urllib's proxy_bypass
                        # (botocore utils.should_bypass_proxies) skips only
                        # hosts NO_PROXY names. The probe connects directly;
                        # so do the calls (Config(proxies={}): no proxy).
                        kw["config"] = self._config.merge(BotoConfig(proxies={}))
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
            raise self._credentials_error(exc) from None
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in CREDENTIAL_CODES:
                raise self._credentials_error(exc) from None
            raise
        except botocore.exceptions.EndpointConnectionError as exc:
            if is_loopback(urlsplit(self.endpoint_url or "").hostname):
                raise
            raise CommandError(f"cannot reach AWS: {exc}", EXIT_FAILED) from None
        self.account = ident["Account"]
        return self.account

    def _credentials_error(self, exc: Exception) -> CommandError:
        f = describe_error(exc, profile=self.profile)
        err = CommandError(f.message, f.exit_code, f.details)
        err.credentials_cause = exc  # the command line tells it again, naming its parameter file
        return err

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def s3_url(self, bucket: str, key: str, version_id: str = "") -> str:
        """The URL CloudFormation reads a packaged template from; with a
        version ID it names that object version (``?versionId=``)."""
        query = urlencode({"versionId": version_id}) if version_id else ""
        if self.path_style:
            # Path style for a custom endpoint; moto reads a 127.0.0.1 host as a
            # bucket name, so name the loopback host "localhost" instead.
            parts = urlsplit(self.endpoint_url)
            host = parts.netloc.replace("127.0.0.1", "localhost")
            return urlunsplit((parts.scheme, host, f"{parts.path.rstrip('/')}/{bucket}/{key}", query, ""))
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://{bucket}.s3.{self.region}.{suffix}/{key}" + (f"?{query}" if query else "")


def log_groups(logs, prefix: str, *, exact: bool = False) -> list[dict]:
    """Every DescribeLogGroups entry whose name starts with ``prefix``, all
    pages. The API filters by prefix only, so a longer name matches too;
    ``exact`` keeps just the group named ``prefix``."""
    return [
        g
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
        for g in page.get("logGroups", [])
        if not exact or g["logGroupName"] == prefix
    ]


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)


def check_endpoint_url(url: str | None) -> None:
    """An ``--endpoint-url`` botocore can use: http(s), a host, nothing else.
    ``localhost:5055`` (no scheme) would otherwise be botocore's ValueError.
    None or empty (no ``--endpoint-url``) passes."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.query
        or parts.fragment
    ):
        hint = f"; did you mean http://{url}?" if parts is not None and "://" not in url else ""
        raise CommandError(f"--endpoint-url {url!r} is not an http(s) URL with a host{hint}", EXIT_USAGE)


def is_loopback(host: str | None) -> bool:
    return bool(host) and (host == "localhost" or host.startswith("127.") or host == "::1")


def _profile(profile: str | None) -> tuple[str, str]:
    """The profile in use and where it came from, for the messages below:
    (name or "", a phrase naming it)."""
    if profile:
        return profile, f"profile {profile} (--profile)"
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        if os.environ.get(var):
            return os.environ[var], f"profile {os.environ[var]} ({var})"
    return "", "no profile (neither --profile nor AWS_PROFILE is set)"


def _is_expired(exc: BaseException) -> bool:
    return isinstance(exc, EXPIRED_EXCEPTIONS) or (
        isinstance(exc, botocore.exceptions.ClientError) and error_code(exc) in EXPIRED_CODES
    )


def _expired_context(exc: BaseException) -> BaseException | None:
    """The expired-token error an exception was raised while handling (its
    ``__context__`` chain, kept even under ``raise ... from None``)."""
    seen = 0
    while exc is not None and seen < 8:
        if _is_expired(exc):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _refused(exc: BaseException) -> bool:
    """Whether a connection error was a refused connect: botocore keeps the
    socket error as ``error`` (urllib3's NewConnectionError, whose cause is
    the ConnectionRefusedError); the fast-fail probe raises it bare."""
    if type(exc) is botocore.exceptions.EndpointConnectionError and "error" not in getattr(exc, "kwargs", {}):
        return True  # Aws._probe_local's: raised only for ConnectionRefusedError
    seen, node = 0, getattr(exc, "kwargs", {}).get("error")
    while node is not None and seen < 8:
        if isinstance(node, ConnectionRefusedError):
            return True
        node, seen = node.__cause__ or node.__context__, seen + 1
    return False


def _status_command(params) -> str:
    return f"python build.py status --params {params}" if params else "python build.py status --env NAME"


def describe_error(exc: BaseException, *, profile: str | None = None, params=None) -> Failure | None:
    """Map every error a command can meet to one line and a defined exit
    code, and where the user can act, the next step in the details; None for
    what is not an expected error (a bug). ``profile`` and ``params`` are the
    command's ``--profile`` and parameter file, named in those steps."""
    from wealist_cfn.config import ConfigError  # config does not import aws; kept local to keep aws.py light

    if isinstance(exc, CommandError):
        cause = getattr(exc, "credentials_cause", None)
        if cause is not None and params is not None:
            # check_credentials' refusal, told again with the command's parameter file.
            return describe_error(cause, profile=profile, params=params)
        expired = _expired_context(exc)
        if expired is not None:
            # A token that ran out in the middle of a command, whose library
            # code turned the error into its own line: the way out is the same.
            f = describe_error(expired, profile=profile, params=params)
            return Failure(f.message, f.exit_code, f.details + tuple(exc.details), exc.data)
        return Failure(str(exc), exc.exit_code, exc.details, exc.data)
    if isinstance(exc, ConfigError):
        return Failure(str(exc), EXIT_USAGE)
    name, in_use = _profile(profile)
    login = f"aws sso login --profile {name or 'NAME'}"
    if _is_expired(exc):
        what = (
            f"rejected ({error_code(exc)}): {error_message(exc)}"
            if isinstance(exc, botocore.exceptions.ClientError)
            else f"expired: {exc}"
        )
        clock = (
            ("or this machine's clock is more than 15 minutes off: set it right (NTP) and run the command again",)
            if isinstance(exc, botocore.exceptions.ClientError) and error_code(exc) == "RequestExpired"
            else ()
        )
        return Failure(
            f"AWS credentials {what}",
            EXIT_USAGE,
            (
                f"sign in again: {login} (with {in_use}), or export fresh keys",
                *clock,
                f"then look whether an operation of an earlier command still runs: {_status_command(params)}",
            ),
        )
    if isinstance(exc, NOT_SIGNED_IN):
        return Failure(
            f"AWS credentials: not signed in to IAM Identity Center ({exc}); looked with {in_use}",
            EXIT_USAGE,
            (f"sign in: {login}",),
        )
    if isinstance(exc, CREDENTIAL_EXCEPTIONS):
        return Failure(
            f"AWS credentials: {exc}; looked with {in_use}",
            EXIT_USAGE,
            (
                f"IAM Identity Center (SSO): {login}"
                + ("" if name else ", then pass --profile NAME or set AWS_PROFILE"),
                f"access keys: aws configure{' --profile ' + name if name else ''}",
                f"no AWS at all: {LOCAL_UP}, then add --local to this command",
            ),
        )
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return Failure(f"AWS profile not found: {exc.kwargs.get('profile', '')}", EXIT_USAGE)
    if isinstance(exc, botocore.exceptions.ClientError):
        code, op = error_code(exc), getattr(exc, "operation_name", "") or "AWS"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in CREDENTIAL_CODES and code != "AccessDenied":
            return Failure(f"AWS credentials rejected ({code}): {error_message(exc)}", EXIT_USAGE)
        if code in ("InvalidAction", "UnknownOperationException", "NotImplemented") or status == 501:
            return Failure(f"{op}: the endpoint does not implement this call ({code or status})", EXIT_FAILED)
        return Failure(f"{op}: {code}: {error_message(exc)}", EXIT_FAILED)
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return Failure(f"invalid request: {' '.join(str(exc).split())}", EXIT_USAGE)
    if isinstance(exc, botocore.parsers.ResponseParserError):
        return Failure(
            f"{_last_call or 'AWS'}: the endpoint answered something that is not an AWS response "
            f"(an endpoint that does not implement this call?)",
            EXIT_FAILED,
        )
    if isinstance(
        exc,
        (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectionError,
            botocore.exceptions.ReadTimeoutError,
        ),
    ):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "") or ""
        if is_loopback(urlsplit(url).hostname):
            if isinstance(exc, (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError)):
                return Failure(
                    f"the local endpoint at {url} is not answering in time ({exc}): it is busy or stuck; "
                    f"see `python build.py local status`, or restart it with `{LOCAL_UP}`",
                    EXIT_FAILED,
                )
            if _refused(exc):
                return Failure(
                    f"nothing answers at {url} (connection refused): the local endpoint is not running; "
                    f"start it with `{LOCAL_UP}` and use --local",
                    EXIT_FAILED,
                )
            return Failure(f"cannot reach the local endpoint at {url}: {exc}", EXIT_FAILED)
        return Failure(f"cannot reach the endpoint: {exc}", EXIT_FAILED)
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return Failure("no AWS region: give --region or use a params file with availability zones", EXIT_USAGE)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return Failure(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    if isinstance(exc, ValueError) and "Invalid endpoint" in str(exc):
        return Failure(f"--endpoint-url: {exc}", EXIT_USAGE)
    return None


# The command line's one mapper (errors.explain) asks this module about botocore's errors.
errors.register(describe_error)
