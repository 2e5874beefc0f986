"""One face for the command line: every parser of build.py, walked.

The shared options (--params, --region, --profile, --endpoint-url, --local,
--output) are declared once, in cliopts.shared, and every command that
takes one takes that very declaration (one help text, one set of choices);
--output offers text|json|markdown wherever a command writes a report; an
option a command never reads is not offered. Offline: only the parsers are
built, nothing is run.
"""

from __future__ import annotations

import argparse
import re

import pytest

from wealist_cfn import cli
from wealist_cfn.cli import options as cliopts
from wealist_cfn.core.settings import PACKAGE_DIR
from wealist_cfn.errors import EXIT_CODES_HELP

SHARED = {f"--{name}": name for name in ("params", "region", "profile", "endpoint-url", "local", "output")}


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


@pytest.fixture(scope="module")
def tree() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    return dict(_walk(cli._parser()))


def _option(parser: argparse.ArgumentParser, flag: str):
    return next((a for a in parser._actions if flag in a.option_strings), None)


def test_no_command_changes_a_shared_options_default(tree):
    """A shared option is one Action object in every command's parser
    (cli/options.py), so a command's ``set_defaults`` on it changes it for
    all: once ``local status`` set --region's default to ap-northeast-2,
    every deploy in the same process had --region ap-northeast-2 and refused
    parameter files of any other region. After the whole tree is built,
    each shared option still has its declared default."""
    declared = {flag: _option(cliopts.shared(name)[0], flag) for flag, name in SHARED.items()}
    for flag, action in declared.items():
        fresh = argparse.ArgumentParser(add_help=False)
        cliopts._SHARED[SHARED[flag]](fresh)
        assert action.default == _option(fresh, flag).default, flag
    for path, parser in tree.items():
        for flag in SHARED:
            action = _option(parser, flag)
            if action is not None:
                assert action.default == declared[flag].default, (path, flag)


def test_every_shared_option_is_the_one_declaration(tree):
    seen = set()
    for path, parser in tree.items():
        for flag, name in SHARED.items():
            action = _option(parser, flag)
            if action is None or path == ():
                continue  # the plain build's --params (repeatable, every file by default) is its own
            seen.add(flag)
            assert action is _option(cliopts.shared(name)[0], flag), f"{' '.join(path)} {flag} is declared apart"
    assert seen == set(SHARED)


def test_the_common_options_read_the_same_everywhere(tree):
    """-q, -v, --debug, --env, --parameter, --no-color come from cliopts.common_parser on every parser."""
    reference = {a.option_strings[-1]: (a.help, a.choices) for a in cliopts.common_parser()._actions}
    for path, parser in tree.items():
        for flag, (help_text, choices) in reference.items():
            action = _option(parser, flag)
            assert action is not None, f"{' '.join(path) or 'build'} lacks {flag}"
            assert (action.help, action.choices) == (help_text, choices), f"{' '.join(path)} {flag}"


def test_no_module_declares_a_shared_option_itself():
    pattern = re.compile(r"add_argument\(\s*\"(--params|--region|--profile|--endpoint-url|--local|--output)\"")
    found = []
    for path in PACKAGE_DIR.rglob("*.py"):
        if path == PACKAGE_DIR / "cli" / "options.py":
            continue
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(PACKAGE_DIR)}: {match.group(1)}")
    # The plain build's own --params: one or more files to validate.
    assert found == ["cli/__init__.py: --params"]


REPORTS = {
    "deploy",
    "plan",
    "package",
    "cancel",
    "continue-rollback",
    "changesets",
    "status",
    "diff",
    "drift",
    "outputs",
    "events",
    "preflight",
    "cost",
    "prove",
}
NO_REPORT = {"build", "bootstrap", "rollout", "destroy", "local", "completion"}


def test_output_is_text_json_markdown_wherever_a_command_writes_a_report(tree):
    commands = {path[0] for path in tree if len(path) == 1}
    assert commands == REPORTS | NO_REPORT, "a new command: say whether it writes a report"
    for path, parser in tree.items():
        action = _option(parser, "--output")
        if path and path[0] in REPORTS:
            assert action is not None and tuple(action.choices) == ("text", "json", "markdown"), path
            assert action.default == "text"
        else:
            assert action is None, f"{' '.join(path)} offers --output"


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("status", ("--bucket", "--templates", "--role-arn")),
        ("cancel", ("--bucket", "--templates", "--role-arn")),
        ("continue-rollback", ("--bucket", "--templates", "--role-arn")),
        ("changesets", ("--bucket", "--templates", "--role-arn")),
        ("package", ("--role-arn", "--stack-name")),
        ("prove", ("--endpoint-url", "--local")),
        ("cost", ("--local",)),
        ("destroy", ("--output",)),
    ],
)
def test_an_option_the_command_never_reads_is_not_offered(tree, command, flags):
    for flag in flags:
        assert _option(tree[(command,)], flag) is None, f"{command} offers {flag}"


def test_the_commands_that_package_still_offer_what_they_read(tree):
    for command in ("deploy", "plan"):
        for flag in ("--bucket", "--templates", "--role-arn", "--local-oneshot"):
            assert _option(tree[(command,)], flag) is not None, (command, flag)
    assert _option(tree[("package",)], "--bucket") is not None


def test_an_option_not_offered_is_refused_as_bad_input(capsys):
    with pytest.raises(SystemExit) as ended:
        cli.main(["status", "--params", "params/prod.json", "--bucket", "b"])
    assert ended.value.code == 2
    assert "unrecognized arguments: --bucket b" in capsys.readouterr().err


def test_every_command_help_ends_with_its_exit_codes(tree):
    for path, parser in tree.items():
        if len(path) != 1 or path[0] == "prove":  # prove's --help says what each code means for an experiment
            continue
        assert parser.epilog and parser.epilog.rstrip().endswith(EXIT_CODES_HELP), path


def test_outputs_and_events_render_markdown_tables():
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from wealist_cfn.cli import daytwo as daytwo_cli

    md = daytwo_cli._outputs_markdown("wealist-prod", [{"key": "Url", "value": "https://a|b"}])
    assert md.splitlines()[2:] == ["| Output | Value |", "|--------|-------|", "| `Url` | https://a\\|b |"]
    event = SimpleNamespace(
        timestamp=datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc),
        status="CREATE_FAILED",
        where="DataStack/Database",
        resource_type="AWS::RDS::DBInstance",
        reason="quota\nhit",
    )
    md = daytwo_cli._events_markdown("wealist-prod", "1h", [event], [event])
    assert "| 2026-12-07 10:00:00 | CREATE_FAILED | `DataStack/Database` | AWS::RDS::DBInstance | quota hit |" in md
    assert "**Failures (1)**" in md
