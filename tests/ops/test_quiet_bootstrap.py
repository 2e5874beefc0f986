"""``bootstrap -q``: the summary and what must follow, not a line per
parameter, secret and file; errors still on stderr. Relies on moto's server
(SSM PutParameter/GetParameters, S3 buckets and objects) as
tests/ops/test_bootstrap.py does."""

from __future__ import annotations

import pytest

from wealist_cfn import cli, errors

from .tools import ROOT

pytestmark = pytest.mark.moto


def test_quiet_bootstrap_prints_the_summary_and_next_steps_only(target, capsys):
    """moto: a first run with -q, a rotation with -q (it has a next step),
    then a plain run for contrast."""
    argv = ["bootstrap", "--params", str(ROOT / "params/prod.json"), "--endpoint-url", target.endpoint_url]
    assert cli.main(argv + ["-q"]) == 0
    quiet = capsys.readouterr()
    lines = quiet.out.splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("bootstrap wealist-prod in ap-northeast-2")
        and lines[0].endswith("(changed)")
    ), quiet.out
    assert quiet.err == ""

    assert cli.main(argv + ["-q", "--rotate", "redis/auth_token"]) == 0
    rotated = capsys.readouterr().out.splitlines()
    assert rotated[0].startswith("bootstrap wealist-prod") and rotated[0].endswith("(changed)")
    assert rotated[1:] and all(line.startswith("next: ") for line in rotated[1:])
    assert any("/wealist/prod/redis/auth_token" in line for line in rotated[1:])

    # Without -q the same (now unchanged) run lists every parameter, secret and file.
    assert cli.main(argv) == 0
    loud = capsys.readouterr().out.splitlines()
    assert len(loud) > 10 and loud[-1].endswith("(nothing to change)")


def test_quiet_bootstrap_still_shows_errors(target, capsys):
    """No AWS call: a rotation of what is not a generated secret is refused on stderr with -q too."""
    argv = [
        "bootstrap",
        "--params",
        str(ROOT / "params/prod.json"),
        "--endpoint-url",
        target.endpoint_url,
        "-q",
        "--rotate",
        "db/user_db_name",
    ]
    assert cli.main(argv) == errors.EXIT_USAGE
    out = capsys.readouterr()
    assert out.out == "" and "db/user_db_name" in out.err
