"""Bad input on the deploy command line: one line on stderr, exit 2, and no
AWS call before the input is known to be good.

Each test says whether it relies on moto's server (pointed at with
``--endpoint-url`` as a safety net: even a wrong call could not reach AWS)
or on botocore's Stubber answering like STS does. "No AWS call" is proved by
making the creation of any botocore client fail the test: a command that
never creates a client cannot send a request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from helpers.deploy import _one_line, run_cli
from wealist_cfn.aws import Aws

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ["deploy", "plan", "package", "status"]


def _argv(command: str, params: Path, *extra: str) -> list[str]:
    argv = [command, "--params", str(params), *extra]
    if command != "package":
        argv += ["--stack-name", "wealist-prod"]
    return argv


def _params_with(tmp_path: Path, prod_params: Path, **values: str) -> Path:
    data = json.loads(prod_params.read_text())
    for entry in data:
        if entry["ParameterKey"] in values:
            entry["ParameterValue"] = values.pop(entry["ParameterKey"])
    data += [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    path = tmp_path / "params.json"
    path.write_text(json.dumps(data))
    return path


def _line_and_steps(err: str) -> tuple[str, list[str]]:
    """One error line, then only indented lines: the next steps."""
    lines = err.splitlines()
    assert "Traceback" not in err
    assert lines and lines[0].startswith("error: "), err
    assert all(line.startswith("  ") for line in lines[1:]), err
    return lines[0], [line.strip() for line in lines[1:]]


# -- a bad parameter file -------------------------------------------------------------------------


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["endpoint", "local"])
def test_bad_params_file_is_refused_before_any_aws_call(
    command, where, undeclared_endpoint, prod_params, tmp_path, no_aws_client
):
    """moto: with --endpoint-url (or --local), a host-bits VpcCidr is one line
    naming the file and the key, exit 2, no AWS client created and no local
    endpoint started."""
    bad = _params_with(tmp_path, prod_params, VpcCidr="10.1.2.0/16")
    extra = ("--endpoint-url", undeclared_endpoint) if where == "endpoint" else ("--local",)
    code, out, err = run_cli(*_argv(command, bad, *extra))
    assert code == 2
    line = _one_line(err)
    assert line.startswith("error: ") and str(bad) in line and "VpcCidr" in line and "10.1.0.0/16" in line
    assert out == ""
    assert no_aws_client == []


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "change, key",
    [
        ({"VpcCidrr": "10.1.0.0/16"}, "VpcCidrr"),
        ({"EnableMultiAZ": "yes"}, "EnableMultiAZ"),
        ({"AvailabilityZones": "ap-northeast-2a,ap-northeast-2c"}, "AvailabilityZones"),
        (None, None),
    ],
    ids=["unknown-key", "bad-value", "two-zones", "not-json"],
)
def test_other_bad_params_files_are_one_line(
    command, change, key, undeclared_endpoint, prod_params, tmp_path, no_aws_client
):
    """moto: an unknown key, a bad value, too few zones and broken JSON are
    each one line naming the file (and the key where there is one), exit 2,
    no AWS client."""
    if change is None:
        bad = tmp_path / "params.json"
        bad.write_text(prod_params.read_text().rstrip().rstrip("]"))
    else:
        bad = _params_with(tmp_path, prod_params, **change)
    code, out, err = run_cli(*_argv(command, bad, "--endpoint-url", undeclared_endpoint))
    assert code == 2
    line = _one_line(err)
    assert str(bad) in line
    if key:
        assert f": {key}: " in line
    else:
        assert "not valid JSON" in line
    assert no_aws_client == []


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
def test_missing_params_file_is_one_line(command, undeclared_endpoint, tmp_path, no_aws_client):
    """moto: a params path that does not exist is one line naming it, exit 2, no AWS client."""
    missing = tmp_path / "nope.json"
    code, _, err = run_cli(*_argv(command, missing, "--endpoint-url", undeclared_endpoint))
    assert code == 2
    assert str(missing) in _one_line(err)
    assert no_aws_client == []


# -- --region against the parameter file ----------------------------------------------------------


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["endpoint", "local"])
def test_region_contradicting_the_params_is_refused(command, where, undeclared_endpoint, prod_params, no_aws_client):
    """moto: --region us-east-1 against ap-northeast-2 zones is one line
    naming both, exit 2, before any AWS client or local endpoint."""
    extra = ("--endpoint-url", undeclared_endpoint) if where == "endpoint" else ("--local",)
    code, out, err = run_cli(*_argv(command, prod_params, "--region", "us-east-1", *extra))
    assert code == 2
    line = _one_line(err)
    assert "--region us-east-1" in line and "ap-northeast-2a" in line and prod_params.name in line
    assert out == ""
    assert no_aws_client == []


@pytest.mark.moto
def test_region_that_agrees_is_accepted(undeclared_endpoint, prod_params):
    """moto: the same region as the zones passes the check (the command goes
    on to the endpoint; there is no such stack, so status says so)."""
    code, _, err = run_cli(
        *_argv("status", prod_params, "--region", "ap-northeast-2", "--endpoint-url", undeclared_endpoint)
    )
    assert "contradicts" not in err
    assert code == 2 and "does not exist" in _one_line(err)


# -- credentials ---------------------------------------------------------------------------------


def _run_build_py(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """``python build.py ...`` in a new process with no credentials anywhere."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # No instance metadata to fall back on (as on a laptop).
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [sys.executable, "build.py", *argv], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
def test_missing_credentials_are_one_line_without_traceback(command, undeclared_endpoint, prod_params, tmp_path):
    """moto: with no credentials in the environment and no config files,
    ``python build.py COMMAND`` ends with exit 2 and one line on stderr, and
    moto's server holds nothing afterwards (no request was signed and sent)."""
    r = _run_build_py(_argv(command, prod_params, "--endpoint-url", undeclared_endpoint), tmp_path)
    assert r.returncode == 2, r.stderr
    line, steps = _line_and_steps(r.stderr)
    assert line == (
        "error: AWS credentials: Unable to locate credentials; looked with no profile (neither "
        "--profile nor AWS_PROFILE is set)"
    )
    assert steps == [
        "IAM Identity Center (SSO): aws sso login --profile NAME, then pass --profile NAME or set AWS_PROFILE",
        "access keys: aws configure",
        "no AWS at all: python build.py local up, then add --local to this command",
    ]
    s3 = boto3.client("s3", region_name="ap-northeast-2", endpoint_url=undeclared_endpoint)
    cfn = boto3.client("cloudformation", region_name="ap-northeast-2", endpoint_url=undeclared_endpoint)
    assert s3.list_buckets()["Buckets"] == []
    assert cfn.list_stacks()["StackSummaries"] == []


@pytest.mark.moto
@pytest.mark.parametrize("command", ["deploy", "package"])
def test_unknown_profile_is_one_line(command, undeclared_endpoint, prod_params, tmp_path):
    """moto: --profile naming a profile that no config file has is one line, exit 2."""
    r = _run_build_py(
        _argv(command, prod_params, "--profile", "wealist-nope", "--endpoint-url", undeclared_endpoint), tmp_path
    )
    assert r.returncode == 2, r.stderr
    assert _one_line(r.stderr) == "error: AWS profile not found: wealist-nope"


@pytest.mark.stubbed
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "code_, message",
    [
        ("ExpiredToken", "The security token included in the request is expired"),
        ("InvalidClientTokenId", "The security token included in the request is invalid."),
    ],
)
def test_expired_credentials_are_one_line(command, code_, message, monkeypatch, settled_prod_params):
    """stubbed: STS GetCallerIdentity answering ExpiredToken (403) or
    InvalidClientTokenId is one line naming the code, exit 2, and no other
    AWS call is made."""
    stubs: list[Stubber] = []
    other: list[str] = []
    original = Aws.client

    def client(self, service):
        if service != "sts":
            other.append(service)
            raise AssertionError(f"{service} client used after credentials were rejected")
        if "sts" not in self._clients:
            c = original(self, "sts")
            stub = Stubber(c)
            stub.add_client_error(
                "get_caller_identity", service_error_code=code_, service_message=message, http_status_code=403
            )
            stub.activate()
            stubs.append(stub)
        return self._clients["sts"]

    monkeypatch.setattr(Aws, "client", client)
    code, _, err = run_cli(*_argv(command, settled_prod_params))
    assert code == 2
    line, steps = _line_and_steps(err)
    assert line == f"error: AWS credentials rejected ({code_}): {message}"
    if code_ == "ExpiredToken":
        # Expired: sign in again, then look for what the earlier command left running.
        assert steps == [
            "sign in again: aws sso login --profile NAME (with no profile (neither --profile nor "
            "AWS_PROFILE is set)), or export fresh keys",
            f"then look whether an operation of an earlier command still runs: python build.py status "
            f"--params {settled_prod_params}",
        ]
    else:
        assert steps == []
    assert len(stubs) == 1
    stubs[0].assert_no_pending_responses()
    assert other == []


def test_allow_replace_and_accept_conditional_exclude_each_other(prod_params, no_aws_client, capsys):
    """No AWS call: the two answers to a guarded change are alternatives."""
    with pytest.raises(SystemExit) as exit_:
        run_cli("deploy", "--stack-name", "s", "--params", prod_params, "--allow-replace", "--accept-conditional")
    assert exit_.value.code == 2


# -- the stack name -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["deploy", "plan", "status"])
def test_stack_name_defaults_to_project_and_environment(command, prod_params):
    """No AWS call: without --stack-name the name is <Project>-<Environment>
    from the params file (wealist-prod for params/prod.json)."""
    from wealist_cfn import config
    from wealist_cfn.cli import _parser
    from wealist_cfn.cli import deploy as deploy_cli

    args = _parser().parse_args([command, "--params", str(prod_params)])
    assert deploy_cli.resolve_stack_name(args, config.load(prod_params)) == "wealist-prod"


@pytest.mark.parametrize("command", ["deploy", "plan", "status"])
def test_stack_name_contradicting_the_params_is_refused(command, prod_params, no_aws_client):
    """No AWS call: ``--stack-name wealist-dev --params params/prod.json`` is
    one line naming both and the file, exit 2, before any AWS client."""
    code, out, err = run_cli(command, "--stack-name", "wealist-dev", "--params", prod_params)
    assert code == 2
    line = _one_line(err)
    assert "--stack-name wealist-dev contradicts params/prod.json" in line and "wealist-prod" in line
    assert "--force-stack-name" in line
    assert out == "" and no_aws_client == []


@pytest.mark.moto
def test_force_stack_name_lets_a_different_name_through(undeclared_endpoint, prod_params):
    """moto: with --force-stack-name the other name is used (status then
    finds no such stack on the endpoint)."""
    code, _, err = run_cli(
        "status",
        "--stack-name",
        "wealist-prod-blue",
        "--force-stack-name",
        "--params",
        prod_params,
        "--endpoint-url",
        undeclared_endpoint,
    )
    assert code == 2 and _one_line(err) == "error: stack wealist-prod-blue does not exist"


@pytest.mark.parametrize("name", ["9wealist", "wealist_prod", "wealist prod", "w" * 129, ""])
@pytest.mark.parametrize("command", ["deploy", "plan"])
def test_stack_name_cloudformation_rejects_is_refused_before_packaging(command, name, prod_params, no_aws_client):
    """No AWS call: a name CloudFormation's StackName rule refuses (letters,
    digits, hyphens, a letter first, at most 128 characters: CreateStack API
    reference) is one line, exit 2, even with --force-stack-name, before any
    upload."""
    code, out, err = run_cli(command, "--stack-name", name, "--force-stack-name", "--params", prod_params)
    assert code == 2
    assert "CloudFormation accepts only letters, digits and hyphens" in _one_line(err)
    assert no_aws_client == []


# -- no input reaches a traceback -----------------------------------------------------------------


def _botocore_error(kind: str) -> Exception:
    import botocore.exceptions as be
    import botocore.parsers

    return {
        "ClientError": be.ClientError(
            {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
            "DescribeStacks",
        ),
        "ParamValidationError": be.ParamValidationError(report="Invalid length for parameter StackName, value: 0"),
        "ResponseParserError": botocore.parsers.ResponseParserError("Unable to parse response (syntax error)"),
        "EndpointConnectionError": be.EndpointConnectionError(endpoint_url="http://localhost:5055/"),
        "NoCredentialsError": be.NoCredentialsError(),
        "NotImplemented": be.ClientError(
            {
                "Error": {"Code": "InvalidAction", "Message": "not implemented"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "StartInstanceRefresh",
        ),
    }[kind]


# (error, exit code, what the one line must say). The library may name the call
# it was making ("DescribeStacks wealist-prod: Rate exceeded"); the line keeps AWS's words.
ERRORS = [
    ("ClientError", 1, "Rate exceeded"),
    ("ParamValidationError", 2, "Invalid length for parameter StackName"),
    ("ResponseParserError", 1, "not an AWS response"),
    (
        "EndpointConnectionError",
        1,
        "nothing answers at http://localhost:5055/ (connection refused): the local "
        "endpoint is not running; start it with `python build.py local up`",
    ),
    ("NoCredentialsError", 2, "Unable to locate credentials"),
    ("NotImplemented", 1, "not implemented"),
]

ALL_COMMANDS = ["deploy", "plan", "package", "status", "bootstrap", "rollout", "diff", "drift", "outputs", "events"]


@pytest.mark.moto
@pytest.mark.parametrize("command", ALL_COMMANDS)
@pytest.mark.parametrize("kind, exit_code, text", ERRORS, ids=[e[0] for e in ERRORS])
def test_botocore_errors_are_one_line_with_a_defined_exit_code(
    command, kind, exit_code, text, monkeypatch, undeclared_endpoint, prod_params
):
    """moto's server behind, and every botocore error type raised by the
    first AWS call after the credentials check (botocore raises these from
    the client call: a throttled or refused call, a request botocore's model
    refuses, an answer it cannot parse as moto gives for calls it lacks, a
    connection refused, no credentials): one line on stderr, no traceback,
    the documented exit code."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def failing(self, operation_name, api_params):
        if operation_name != "GetCallerIdentity":
            raise _botocore_error(kind)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
    argv = [command, "--params", str(prod_params), "--endpoint-url", undeclared_endpoint]
    if command == "rollout":
        argv.append("--no-wait")
    code, _, err = run_cli(*argv)
    line, steps = _line_and_steps(err)
    assert text in line, err
    assert code == exit_code, err
    if kind != "NoCredentialsError":
        assert steps == []


@pytest.mark.moto
def test_rollout_against_an_endpoint_without_the_call(undeclared_endpoint, prod_params):
    """moto: its server has no StartInstanceRefresh and answers HTTP 500 with
    an HTML page (botocore: ResponseParserError). ``rollout`` ends with one
    line naming the call, exit 1."""
    code, _, err = run_cli("rollout", "--params", prod_params, "--endpoint-url", undeclared_endpoint, "--no-wait")
    assert code == 1
    assert _one_line(err) == (
        "error: StartInstanceRefresh: the endpoint answered something that is not an AWS "
        "response (an endpoint that does not implement this call?)"
    )


BAD_URLS = ["localhost:5055", "http://", "ftp://localhost:5055", "http://localhost:99999", "localhost"]


@pytest.mark.parametrize("command", ALL_COMMANDS)
@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_endpoint_url_is_one_line(command, url, prod_params, no_aws_client):
    """No AWS call: an --endpoint-url botocore cannot use (no scheme, no
    host, another scheme, a port out of range) is one line naming it, exit 2,
    never botocore's ValueError."""
    code, out, err = run_cli(command, "--params", prod_params, "--endpoint-url", url)
    assert code == 2
    line = _one_line(err)
    assert f"--endpoint-url {url!r} is not an http(s) URL with a host" in line
    if "://" not in url:
        assert f"did you mean http://{url}?" in line
    assert no_aws_client == []


def test_endpoint_url_check_runs_in_a_new_process(prod_params, tmp_path):
    """A new ``python build.py`` process with ``--endpoint-url localhost:5055``
    (the reported case): exit 2, one line, no traceback."""
    r = _run_build_py(["deploy", "--params", str(prod_params), "--endpoint-url", "localhost:5055"], tmp_path)
    assert r.returncode == 2
    assert _one_line(r.stderr).startswith("error: --endpoint-url 'localhost:5055'")


def test_an_unexpected_error_is_one_line_too(monkeypatch, prod_params):
    """No AWS call: an exception that is no known error type (a bug) is still
    one line and exit 1, the traceback only with WEALIST_CFN_DEBUG."""
    from wealist_cfn.deploy import flow

    def boom(*_a, **_kw):
        raise RuntimeError("something broke")

    monkeypatch.setattr(flow.Deployment, "__init__", boom)
    monkeypatch.delenv("WEALIST_CFN_DEBUG", raising=False)
    code, _, err = run_cli("package", "--params", prod_params)
    assert code == 1
    assert _one_line(err) == (
        "error: unexpected RuntimeError: something broke "
        "(run again with --debug, or set WEALIST_CFN_DEBUG=1, for the traceback)"
    )
    # --debug (and WEALIST_CFN_DEBUG, kept as its alias) adds the traceback.
    for argv, env in ((["--debug"], None), ([], "1")):
        if env:
            monkeypatch.setenv("WEALIST_CFN_DEBUG", env)
        code, _, err = run_cli("package", "--params", prod_params, *argv)
        assert code == 1
        assert "Traceback (most recent call last)" in err and "RuntimeError: something broke" in err


# -- failure documents ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["deploy", "plan", "status"])
def test_json_output_writes_a_document_on_failure(command, prod_params, no_aws_client):
    """No AWS call: --output json with a refused stack name still writes a
    JSON document to stdout with the error and the exit code."""
    code, out, err = run_cli(command, "--stack-name", "wealist-dev", "--params", prod_params, "--output", "json")
    assert code == 2
    doc = json.loads(out)
    assert doc["exitCode"] == 2
    assert "contradicts" in doc["error"]["message"]
    assert _one_line(err).startswith("error: ")


@pytest.mark.moto
def test_markdown_output_writes_a_document_on_failure(undeclared_endpoint, prod_params):
    """moto: --output markdown for a stack that does not exist: stdout is a
    markdown section naming the stack, the exit code and the error."""
    code, out, _ = run_cli(
        "status", "--params", prod_params, "--endpoint-url", undeclared_endpoint, "--output", "markdown"
    )
    assert code == 2
    assert out.splitlines()[0] == "### `wealist-prod`: failed (exit 2)"
    assert "> stack wealist-prod does not exist" in out


def test_json_failure_document_carries_the_change_set_failure(monkeypatch, settled_prod_params):
    """No AWS call (the deploy's prepare is replaced by one that raises the
    error a FAILED change set gives): the JSON document holds the failure's
    cause, validations and exit code 1, after the error line on stderr."""
    from wealist_cfn.deploy import flow
    from wealist_cfn.errors import CommandError

    failure = {"cause": "DatabaseStack/Database: bad", "validations": [{"path": "/Resources/Database"}]}

    def prepare(self):
        raise CommandError(
            "change set deploy-1 failed: DatabaseStack/Database: bad",
            1,
            details=("delete it: ...",),
            data={"changeSetFailure": failure},
        )
        yield

    monkeypatch.setattr(flow.Deployment, "prepare", prepare)
    code, out, err = run_cli("plan", "--params", settled_prod_params, "--output", "json", "--skip-preflight")
    assert code == 1
    doc = json.loads(out)
    # The parameter file and its values come first, before anything can fail (test_params_precedence.py).
    assert doc.pop("paramsFile") == {"path": str(settled_prod_params), "from": "--params", "env": None}
    assert {"key": "Project", "value": "wealist", "source": "file"} in doc.pop("parameters")
    assert doc == {
        "stack": "wealist-prod",
        "exitCode": 1,
        "preflight": {"skipped": True},
        "error": {
            "message": "change set deploy-1 failed: DatabaseStack/Database: bad",
            "details": ["delete it: ..."],
            "changeSetFailure": failure,
        },
    }
    assert err.splitlines()[:2] == [
        "preflight: skipped (--skip-preflight)",
        "error: change set deploy-1 failed: DatabaseStack/Database: bad",
    ]


# -- help and version -----------------------------------------------------------------------------


def test_every_command_has_description_examples_and_exit_codes():
    """No AWS call: ``--help`` of every command shows a description, at least
    one example of that command and the exit codes 0-3."""
    import argparse

    from wealist_cfn.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(ALL_COMMANDS) <= set(sub.choices)
    for name, p in sub.choices.items():
        text = p.format_help()
        assert p.description, name
        assert f"examples:\n  python build.py {name}" in text, name
        assert "exit codes:" in text and all(f"\n  {c} " in text for c in "0123"), name


def test_version(capsys):
    """No AWS call: --version prints the version and the commit, exit 0."""
    from wealist_cfn import __version__
    from wealist_cfn.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"build.py (wealist-cfn) {__version__}, commit ")
