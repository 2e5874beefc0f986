"""One exit-code table and one error mapper (wealist_cfn/errors.py).

The README prints the table errors.EXIT_CODES defines; every error the
command line shows derives from CommandError with its exit code; and
errors.explain maps any exception, botocore's included, to the lines and
the exit code. botocore's ClientError is built here with the response shape
the API reference gives (Error.Code, Error.Message, ResponseMetadata); no
endpoint is called.
"""

from __future__ import annotations

import re

import botocore.exceptions
import pytest

from wealist_cfn import errors
from wealist_cfn.config import ConfigError
from wealist_cfn.core.settings import ROOT_DIR
from wealist_cfn.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_REFUSED, EXIT_SIGPIPE, EXIT_USAGE, CommandError
from wealist_cfn.ops import bootstrap, rollout


def test_the_readme_prints_the_one_exit_code_table():
    text = (ROOT_DIR / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", text, flags=re.MULTILINE)
    assert [(int(code), meaning) for code, meaning in rows] == list(errors.EXIT_CODES)


def test_the_help_section_is_the_table():
    lines = errors.EXIT_CODES_HELP.splitlines()
    assert lines[0] == "exit codes:"
    assert [int(line.split()[0]) for line in lines[1:]] == [code for code, _ in errors.EXIT_CODES]


def _client_error(code: str, status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeStacks"
    )


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("params/prod.json", "BackendMinSize", "'x' is not a whole number"), EXIT_USAGE),
        (bootstrap.BootstrapError("CreateBucket: AccessDenied: no"), EXIT_FAILED),
        (bootstrap.InvalidValue("parameter /wealist/prod/db/x: too long"), EXIT_USAGE),
        (rollout.RolloutError("instance refresh r-1 of g not found"), EXIT_FAILED),
        (rollout.RefreshInProgress("wealist-prod-backend-asg", None), EXIT_REFUSED),
        (CommandError("refused: not this account", EXIT_REFUSED), EXIT_REFUSED),
    ],
)
def test_every_error_the_command_line_shows_is_a_command_error_with_its_code(exc, code):
    assert isinstance(exc, CommandError)
    failure = errors.explain(exc)
    assert failure.exit_code == code
    assert failure.lines()[0] == f"error: {exc}"


def test_bad_rollout_preferences_are_bad_input():
    with pytest.raises(rollout.RolloutError) as caught:
        rollout.Preferences(min_healthy=100, max_healthy=100)
    assert caught.value.exit_code == EXIT_USAGE


def test_interrupt_and_closed_pipe_have_their_codes():
    interrupted = errors.explain(KeyboardInterrupt())
    assert interrupted.exit_code == EXIT_INTERRUPTED
    assert interrupted.lines() == ["error: interrupted; an operation already started goes on in AWS"]
    pipe = errors.explain(BrokenPipeError())
    assert (pipe.exit_code, pipe.lines()) == (EXIT_SIGPIPE, [])


def test_botocore_errors_go_through_the_same_mapper():
    """wealist_cfn.aws registers its description of botocore's errors with errors.explain."""
    import wealist_cfn.aws  # noqa: F401 - registers the translator

    assert errors.explain(_client_error("ValidationError")).exit_code == EXIT_FAILED
    assert errors.explain(_client_error("InvalidClientTokenId", 403)).exit_code == EXIT_USAGE
    assert errors.explain(botocore.exceptions.NoRegionError()).exit_code == EXIT_USAGE


def test_a_bug_is_not_mapped():
    assert errors.explain(ZeroDivisionError("x")) is None


def _main(monkeypatch, capsys, raised: BaseException, argv=("outputs", "--stack-name", "wealist-prod")):
    from wealist_cfn import cli
    from wealist_cfn.cli import daytwo as daytwo_cli

    def command(args):
        raise raised

    monkeypatch.setattr(daytwo_cli, "cmd_outputs", command)
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def test_the_command_line_ends_an_interrupt_with_130_and_one_line(monkeypatch, capsys):
    """Before, an interrupt no command caught ended with 130 and nothing said."""
    code, err = _main(monkeypatch, capsys, KeyboardInterrupt())
    assert code == EXIT_INTERRUPTED
    assert err == "error: interrupted; an operation already started goes on in AWS\n"


def test_the_command_line_shows_a_library_error_with_its_code(monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, rollout.RefreshInProgress("wealist-prod-backend-asg", None))
    assert code == EXIT_REFUSED
    assert err.startswith("error: an instance refresh is already running on wealist-prod-backend-asg")
    code, err = _main(monkeypatch, capsys, bootstrap.BootstrapError("CreateBucket: AccessDenied: no"))
    assert (code, err) == (EXIT_FAILED, "error: CreateBucket: AccessDenied: no\n")
