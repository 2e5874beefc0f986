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
import botocore.session
import pytest
from botocore.stub import Stubber

from deploy_helpers import run_cli
from wealist_cfn.aws import Aws
from wealist_cfn.deploy import local

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


@pytest.fixture
def no_aws_client(monkeypatch):
    """Fail the test if any botocore client is created (by boto3 or botocore)."""
    created: list[str] = []

    def refuse(self, service_name, *args, **kwargs):
        created.append(service_name)
        raise AssertionError(f"an AWS client ({service_name}) was created before the input was validated")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)

    def no_endpoint():
        raise AssertionError("the local endpoint was started before the input was validated")

    monkeypatch.setattr(local, "endpoint", no_endpoint)
    return created


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- a bad parameter file -------------------------------------------------------------------------

@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["endpoint", "local"])
def test_bad_params_file_is_refused_before_any_aws_call(command, where, moto_endpoint, prod_params, tmp_path,
                                                         no_aws_client):
    """moto: with --endpoint-url (or --local), a host-bits VpcCidr is one line
    naming the file and the key, exit 2, no AWS client created and no local
    endpoint started."""
    bad = _params_with(tmp_path, prod_params, VpcCidr="10.1.2.0/16")
    extra = ("--endpoint-url", moto_endpoint) if where == "endpoint" else ("--local",)
    code, out, err = run_cli(*_argv(command, bad, *extra))
    assert code == 2
    line = _one_line(err)
    assert line.startswith("error: ") and str(bad) in line and "VpcCidr" in line and "10.1.0.0/16" in line
    assert out == ""
    assert no_aws_client == []


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("change, key", [
    ({"VpcCidrr": "10.1.0.0/16"}, "VpcCidrr"),
    ({"EnableMultiAZ": "yes"}, "EnableMultiAZ"),
    ({"AvailabilityZones": "ap-northeast-2a,ap-northeast-2c"}, "AvailabilityZones"),
    (None, None),
], ids=["unknown-key", "bad-value", "two-zones", "not-json"])
def test_other_bad_params_files_are_one_line(command, change, key, moto_endpoint, prod_params, tmp_path,
                                             no_aws_client):
    """moto: an unknown key, a bad value, too few zones and broken JSON are
    each one line naming the file (and the key where there is one), exit 2,
    no AWS client."""
    if change is None:
        bad = tmp_path / "params.json"
        bad.write_text(prod_params.read_text().rstrip().rstrip("]"))
    else:
        bad = _params_with(tmp_path, prod_params, **change)
    code, out, err = run_cli(*_argv(command, bad, "--endpoint-url", moto_endpoint))
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
def test_missing_params_file_is_one_line(command, moto_endpoint, tmp_path, no_aws_client):
    """moto: a params path that does not exist is one line naming it, exit 2, no AWS client."""
    missing = tmp_path / "nope.json"
    code, _, err = run_cli(*_argv(command, missing, "--endpoint-url", moto_endpoint))
    assert code == 2
    assert str(missing) in _one_line(err)
    assert no_aws_client == []


# -- --region against the parameter file ----------------------------------------------------------

@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["endpoint", "local"])
def test_region_contradicting_the_params_is_refused(command, where, moto_endpoint, prod_params, no_aws_client):
    """moto: --region us-east-1 against ap-northeast-2 zones is one line
    naming both, exit 2, before any AWS client or local endpoint."""
    extra = ("--endpoint-url", moto_endpoint) if where == "endpoint" else ("--local",)
    code, out, err = run_cli(*_argv(command, prod_params, "--region", "us-east-1", *extra))
    assert code == 2
    line = _one_line(err)
    assert "--region us-east-1" in line and "ap-northeast-2a" in line and prod_params.name in line
    assert out == ""
    assert no_aws_client == []


@pytest.mark.moto
def test_region_that_agrees_is_accepted(moto_endpoint, prod_params):
    """moto: the same region as the zones passes the check (the command goes
    on to the endpoint; there is no such stack, so status says so)."""
    code, _, err = run_cli(*_argv("status", prod_params, "--region", "ap-northeast-2",
                                  "--endpoint-url", moto_endpoint))
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
    return subprocess.run([sys.executable, "build.py", *argv], cwd=REPO, env=env, capture_output=True, text=True,
                          check=False)


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
def test_missing_credentials_are_one_line_without_traceback(command, moto_endpoint, prod_params, tmp_path):
    """moto: with no credentials in the environment and no config files,
    ``python build.py COMMAND`` ends with exit 2 and one line on stderr, and
    moto's server holds nothing afterwards (no request was signed and sent)."""
    r = _run_build_py(_argv(command, prod_params, "--endpoint-url", moto_endpoint), tmp_path)
    assert r.returncode == 2, r.stderr
    line = _one_line(r.stderr)
    assert line == "error: AWS credentials: Unable to locate credentials"
    s3 = boto3.client("s3", region_name="ap-northeast-2", endpoint_url=moto_endpoint)
    cfn = boto3.client("cloudformation", region_name="ap-northeast-2", endpoint_url=moto_endpoint)
    assert s3.list_buckets()["Buckets"] == []
    assert cfn.list_stacks()["StackSummaries"] == []


@pytest.mark.moto
@pytest.mark.parametrize("command", ["deploy", "package"])
def test_unknown_profile_is_one_line(command, moto_endpoint, prod_params, tmp_path):
    """moto: --profile naming a profile that no config file has is one line, exit 2."""
    r = _run_build_py(_argv(command, prod_params, "--profile", "wealist-nope", "--endpoint-url", moto_endpoint),
                      tmp_path)
    assert r.returncode == 2, r.stderr
    assert _one_line(r.stderr) == "error: AWS profile not found: wealist-nope"


@pytest.mark.stubbed
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("code_, message", [
    ("ExpiredToken", "The security token included in the request is expired"),
    ("InvalidClientTokenId", "The security token included in the request is invalid."),
])
def test_expired_credentials_are_one_line(command, code_, message, monkeypatch, prod_params):
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
            stub.add_client_error("get_caller_identity", service_error_code=code_, service_message=message,
                                  http_status_code=403)
            stub.activate()
            stubs.append(stub)
        return self._clients["sts"]

    monkeypatch.setattr(Aws, "client", client)
    code, _, err = run_cli(*_argv(command, prod_params))
    assert code == 2
    assert _one_line(err) == f"error: AWS credentials rejected ({code_}): {message}"
    assert len(stubs) == 1
    stubs[0].assert_no_pending_responses()
    assert other == []


def test_allow_replace_and_accept_conditional_exclude_each_other(prod_params, no_aws_client, capsys):
    """No AWS call: the two answers to a guarded change are alternatives."""
    with pytest.raises(SystemExit) as exit_:
        run_cli("deploy", "--stack-name", "s", "--params", prod_params, "--allow-replace", "--accept-conditional")
    assert exit_.value.code == 2
