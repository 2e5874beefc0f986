"""Local-mode messages name only what works on the local endpoint: the
error lines the engine writes for AWS (AWS CLI commands) and the follow-up
hints are rewritten for the rehearsal (wealist_cfn/aws/target.py, whose
wording the engine and the command line use). No stand-in: text only."""

from __future__ import annotations

import pytest

from wealist_cfn.aws import target


@pytest.mark.parametrize(
    "line",
    [
        "delete it: aws cloudformation delete-change-set --stack-name wealist-prod --change-set-name deploy-1",
        "(or: aws cloudformation delete-stack --stack-name wealist-prod)",
        "aws cloudformation continue-update-rollback --stack-name wealist-prod [--resources-to-skip Db]",
    ],
)
def test_aws_cli_commands_become_the_local_way_out(line):
    out = target.local_message(line)
    assert "aws " not in out
    assert "`python build.py local down`" in out


def test_other_lines_are_kept():
    line = "change set deploy-1 failed: Template error: unresolved resource dependencies"
    assert target.local_message(line) == line


def test_follow_up_adds_local_to_build_py_commands_once():
    line = "run `python build.py rollout --params params/prod.json`, then `python build.py status --local`"
    assert target.local_follow_up(line) == (
        "run `python build.py rollout --params params/prod.json --local`, then `python build.py status --local`"
    )


def test_change_set_hints_for_both_local_modes():
    execute, delete = target.local_change_set_hints("params/prod.json", oneshot=False)
    assert execute.startswith("python build.py deploy --params params/prod.json --yes --local")
    assert "local down" in delete
    execute, delete = target.local_change_set_hints("params/prod.json", oneshot=True)
    assert "one-shot endpoint" in execute and "python build.py local up" in execute
    assert "aws " not in execute + delete
