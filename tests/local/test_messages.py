"""Local-mode messages name only what works on the local endpoint: the
error lines the engine writes for AWS (AWS CLI commands) and the follow-up
hints are rewritten when ``--local`` is given. No stand-in: text only."""

from __future__ import annotations

import pytest

from wealist_cfn import rehearsal as localenv


@pytest.mark.parametrize(
    "line",
    [
        "delete it: aws cloudformation delete-change-set --stack-name wealist-prod --change-set-name deploy-1",
        "(or: aws cloudformation delete-stack --stack-name wealist-prod)",
        "aws cloudformation continue-update-rollback --stack-name wealist-prod [--resources-to-skip Db]",
    ],
)
def test_aws_cli_commands_become_the_local_way_out(line):
    out = localenv.local_message(line)
    assert "aws " not in out
    assert "`python build.py local down`" in out


def test_other_lines_are_kept():
    line = "change set deploy-1 failed: Template error: unresolved resource dependencies"
    assert localenv.local_message(line) == line


def test_follow_up_adds_local_to_build_py_commands_once():
    line = "run `python build.py rollout --params params/prod.json`, then `python build.py status --local`"
    assert localenv.local_follow_up(line) == (
        "run `python build.py rollout --params params/prod.json --local`, then `python build.py status --local`"
    )


def test_change_set_hints_for_both_local_modes():
    import argparse

    persistent = argparse.Namespace(params="params/prod.json", local=True, local_oneshot=False)
    execute, delete = localenv.change_set_hints(persistent)
    assert execute.startswith("python build.py deploy --params params/prod.json --yes --local")
    assert "local down" in delete
    oneshot = argparse.Namespace(params="params/prod.json", local=False, local_oneshot=True)
    execute, delete = localenv.change_set_hints(oneshot)
    assert "one-shot endpoint" in execute and "python build.py local up" in execute
    assert "aws " not in execute + delete
