"""Which parameter file a command reads, and which value of it wins.

No AWS call anywhere here (``no_aws_client``: creating any botocore client
fails the test). The file a command chose is read from its ``--output json``
failure document (``paramsFile``, ``parameters``), written when a
``--stack-name`` that contradicts the file stops it before any call.

One test per row of the precedence (cliopts.PRECEDENCE_HELP):
flag > environment (WEALIST_ENV) > config file (wealist-cfn.toml) > default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.deploy import run_cli
from wealist_cfn import config
from wealist_cfn.cli import options as cliopts
from wealist_cfn.core.settings import PARAMS_DIR, ROOT_DIR


@pytest.fixture
def project_config(tmp_path, monkeypatch):
    """The project config file, in a temporary place (never the checkout's)."""
    path = tmp_path / "wealist-cfn.toml"
    monkeypatch.setattr(cliopts, "PROJECT_CONFIG", path)
    monkeypatch.delenv(cliopts.ENV_VAR, raising=False)
    return path


def _chosen(*argv: str) -> dict:
    """The paramsFile of a plan stopped by a contradicting --stack-name (exit 2, no AWS call)."""
    code, out, err = run_cli("plan", "--stack-name", "someone-else", "--output", "json", *argv)
    assert code == 2, err
    assert err.startswith("error: --stack-name someone-else contradicts"), err
    return json.loads(out)


def _path(name: str) -> str:
    return (
        str((PARAMS_DIR / f"{name}.json").relative_to(ROOT_DIR))
        if Path.cwd() == ROOT_DIR
        else str(PARAMS_DIR / f"{name}.json")
    )


# -- one test per row ---------------------------------------------------------------------------


def test_row1_the_flag_wins_over_environment_and_config(project_config, monkeypatch, no_aws_client):
    project_config.write_text('env = "prod"\n')
    monkeypatch.setenv(cliopts.ENV_VAR, "prod")
    doc = _chosen("--env", "dev")
    assert doc["paramsFile"] == {"path": _path("dev"), "from": "--env", "env": "dev"}
    doc = _chosen("--params", str(PARAMS_DIR / "dev.json"))
    assert doc["paramsFile"]["from"] == "--params" and doc["paramsFile"]["path"].endswith("dev.json")
    assert {"key": "Environment", "value": "dev", "source": "file"} in doc["parameters"]


def test_row2_the_environment_wins_over_the_config_file(project_config, monkeypatch, no_aws_client):
    project_config.write_text('env = "prod"\n')
    monkeypatch.setenv(cliopts.ENV_VAR, "dev")
    assert _chosen()["paramsFile"] == {"path": _path("dev"), "from": "WEALIST_ENV", "env": "dev"}


def test_row3_the_config_file_wins_over_the_default(project_config, no_aws_client):
    project_config.write_text('# the team\'s usual environment\nenv = "dev"\n')
    assert _chosen()["paramsFile"] == {"path": _path("dev"), "from": "wealist-cfn.toml", "env": "dev"}


def test_row4_the_default_is_none_and_a_command_says_so(project_config, no_aws_client):
    code, out, err = run_cli("plan")
    assert code == 2
    assert err == (
        "error: no parameter file: give --env NAME (params/NAME.json) or --params FILE, or set "
        'WEALIST_ENV=NAME or env = "NAME" in wealist-cfn.toml\n'
    )


def test_row4_the_plain_build_checks_every_file_whatever_the_environment(project_config, monkeypatch):
    """The build's default is every params/*.json; WEALIST_ENV in a shell
    does not narrow it (only --env or --params do)."""
    import argparse

    monkeypatch.setenv(cliopts.ENV_VAR, "dev")
    args = cliopts.fill_defaults(argparse.Namespace(params=None))
    assert cliopts.resolve_environment(args, required=False, build=True).source == "default"
    assert args.params is None  # buildjob.run(None): every params/*.json
    args = cliopts.fill_defaults(argparse.Namespace(params=None, env="prod"))
    cliopts.resolve_environment(args, required=False, build=True)
    assert [p.name for p in args.params] == ["prod.json"]


# -- one clear line for each conflict or mistake ------------------------------------------------


@pytest.mark.parametrize(
    "argv, env, toml, line",
    [
        (
            ["--env", "dev", "--params", "params/prod.json"],
            None,
            None,
            "error: --params and --env both name a parameter file: give one (--env dev is params/dev.json)",
        ),
        (["--env", "staging"], None, None, "error: --env staging: no params/staging.json (environments: dev, prod)"),
        (
            ["--env", "../prod"],
            None,
            None,
            "error: --env ../prod: '../prod' is not an environment name (letters, digits, - and _)",
        ),
        ([], "staging", None, "error: WEALIST_ENV=staging: no params/staging.json (environments: dev, prod)"),
        ([], None, 'env = "qa"\n', "error: {toml}: env: no params/qa.json (environments: dev, prod)"),
        ([], None, 'environment = "dev"\n', "error: {toml}: environment: unknown setting (known: env)"),
        ([], None, "env = 3\n", 'error: {toml}: env: must be a string, e.g. env = "dev"'),
        ([], None, "env = \n", "error: {toml}: not valid TOML: "),
    ],
)
def test_a_bad_choice_is_one_line_and_exit_2(argv, env, toml, line, project_config, monkeypatch, no_aws_client):
    if env:
        monkeypatch.setenv(cliopts.ENV_VAR, env)
    if toml:
        project_config.write_text(toml)
    code, out, err = run_cli("plan", *argv)
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(line.format(toml=project_config)), err
    assert out == ""


def test_env_and_parameter_are_refused_by_commands_without_a_parameter_file(no_aws_client):
    code, _, err = run_cli("local", "status", "--env", "dev")
    assert code == 2
    assert err == "error: --env: this command takes no parameter file\n"


# -- --parameter Key=Value ----------------------------------------------------------------------


def test_an_override_wins_over_the_file_and_the_default(project_config, no_aws_client):
    doc = _chosen("--env", "prod", "--parameter", "BackendMinSize=3", "--parameter", "LogRetentionDays=90")
    values = {p["key"]: (p["value"], p["source"]) for p in doc["parameters"]}
    assert values["BackendMinSize"] == ("3", "--parameter")  # the file says 2
    assert values["LogRetentionDays"] == ("90", "--parameter")  # the file leaves it to the default
    assert values["VpcCidr"] == ("10.1.0.0/16", "file")
    assert values["FlowLogRetentionDays"][1] == "default"
    assert values["BackendHealthCheckType"][1] == "derived"


COMMANDS = [
    ["plan"],
    ["deploy"],
    ["package"],
    ["status"],
    ["bootstrap"],
    ["rollout"],
    ["diff"],
    ["preflight"],
    ["cost"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    "flag, line",
    [
        ("BackendMinSize=lots", "error: --parameter BackendMinSize: 'lots' is not a whole number"),
        ("BackendMinSise=3", "error: --parameter BackendMinSise: unknown parameter"),
        ("backendminsize=3", "error: --parameter backendminsize: unknown parameter; did you mean BackendMinSize?"),
        ("BackendMinSize", "error: --parameter: 'BackendMinSize' is not Key=Value (e.g. --parameter BackendMinSize=3)"),
        ("BackendHealthCheckType=ELB", "error: --parameter BackendHealthCheckType: is derived by deploy and plan"),
        ("BackendMinSize=9", "error: --parameter BackendMinSize: 9 is larger than BackendMaxSize 6"),
        (
            "BackendMaxSize=1",
            "error: params/prod.json with --parameter BackendMaxSize: BackendMinSize: 2 is larger "
            "than BackendMaxSize 1",
        ),
    ],
)
def test_a_bad_override_is_one_line_exit_2_and_no_aws_call(command, flag, line, no_aws_client, monkeypatch):
    monkeypatch.chdir(ROOT_DIR)
    code, out, err = run_cli(*command, "--params", "params/prod.json", "--parameter", flag)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(line), err
    assert no_aws_client == []


@pytest.mark.parametrize(
    "key, bad",
    [
        ("EnableMultiAZ", "yes"),
        ("VpcCidr", "10.1.0.1/16"),
        ("VpcCidr", "10.0.0.0/8"),
        ("BackendMinSize", "0"),
        ("AvailabilityZones", "ap-northeast-2a,ap-northeast-2a,ap-northeast-2c"),
        ("BoardServicePort", "8081"),
        ("CertificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/abc"),
        ("DeployBucketName", "a..b"),
        ("UserServicePort", "3000"),
    ],
)
def test_an_override_is_checked_by_the_same_rules_as_the_file(key, bad, tmp_path):
    """The same value, in the file or on the command line, gets the same
    verdict in the same words; only the place named differs."""
    entries = [e for e in json.loads((PARAMS_DIR / "prod.json").read_text()) if e["ParameterKey"] != key]
    entries.append({"ParameterKey": key, "ParameterValue": bad})
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(entries))
    with pytest.raises(config.ConfigError) as in_file:
        config.load(bad_file)
    config.use_overrides([PARAMS_DIR / "prod.json"], config.parse_overrides([f"{key}={bad}"]))
    try:
        with pytest.raises(config.ConfigError) as on_flag:
            config.load(PARAMS_DIR / "prod.json")
    finally:
        config.use_overrides((), {})
    assert on_flag.value.message == in_file.value.message
    assert (on_flag.value.key, in_file.value.key) == (in_file.value.key, in_file.value.key)
    assert "--parameter" in str(on_flag.value)


def test_overrides_reach_only_the_file_they_were_given_for():
    """config.use_overrides is keyed by file: params/prod.json, which destroy
    reads to know production's name, never sees a --parameter meant for dev."""
    config.use_overrides([PARAMS_DIR / "dev.json"], {"LogRetentionDays": "90"})
    try:
        assert config.load(PARAMS_DIR / "dev.json").values["LogRetentionDays"] == "90"
        assert config.load(PARAMS_DIR / "prod.json").source("LogRetentionDays") != "--parameter"
    finally:
        config.use_overrides((), {})
    assert config.load(PARAMS_DIR / "dev.json").source("LogRetentionDays") != "--parameter"


def test_the_precedence_is_in_help(capsys):
    from wealist_cfn.cli import main

    for argv in (["--help"], ["deploy", "--help"], ["status", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert "which parameter file (first match wins):" in text
        assert "1. flag         --params FILE, or --env NAME" in text
        assert "2. environment  WEALIST_ENV=NAME" in text
        assert '3. config file  env = "NAME" in wealist-cfn.toml' in text
        assert "4. default      none" in text
        assert "--parameter Key=Value > the file > the parameter's default" in text
