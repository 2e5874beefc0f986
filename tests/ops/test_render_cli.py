"""render.py's command line, in-process: what the startup script calls it
with (``env PARAMS_JSON... OUT_DIR`` with one file per parameter path, and
``template FILE``), its exit codes and its messages. No stand-in: the
parameter files are shaped like GetParametersByPath answers (SSM API
reference: Parameters, each with Name, Type, Value).
"""

from __future__ import annotations

import json

import pytest

from helpers.instance_files import BACKEND_ENV, _backend_values, _doc, render


@pytest.fixture
def backend_env(monkeypatch):
    for k, v in BACKEND_ENV.items():
        monkeypatch.setenv(k, v)


def _split(tmp_path, values: dict[str, str]):
    """The startup script's files: one answer per parameter path it reads."""
    paths = []
    for part in ("db", "redis", "deploy", "app"):
        f = tmp_path / f"parameters-{part}.json"
        f.write_text(json.dumps(_doc({k: v for k, v in values.items() if k.startswith(part + "/")})))
        paths.append(str(f))
    return paths


def test_env_reads_every_file_it_is_given_and_says_where_it_wrote(tmp_path, backend_env, capsys):
    out = tmp_path / "opt"
    out.mkdir()
    values = _backend_values(**{"deploy/board_service_image_tag": "unreleased"})
    assert render.main(["render.py", "env", *_split(tmp_path, values), str(out)]) == 0
    o = capsys.readouterr()
    # The folder written to (the last argument), not one of the parameter
    # files: with several files, argv[3] is the second of them.
    assert o.out == (
        f"rendered .env, released-services, user-service.env, db-init-user-service.env, "
        f"board-service.env, db-init-board-service.env in {out} (mode 600)\n"
    )
    assert o.err == (
        "render.py: board-service: no image released yet (/wealist/prod/deploy/board_service_image_tag "
        "is 'unreleased'); left out until its release\n"
    )
    # A value from each file arrived.
    user = (out / "user-service.env").read_text()
    assert "REDIS_HOST=redis.internal" in user and "DB_HOST=db.internal" in user and "LOG_LEVEL=info" in user
    assert (out / "released-services").read_text() == "user-service\n"


def test_env_with_a_parameter_missing_fails_and_writes_nothing(tmp_path, backend_env, capsys):
    out = tmp_path / "opt"
    out.mkdir()
    values = _backend_values()
    del values["db/board_db_password"]
    assert render.main(["render.py", "env", *_split(tmp_path, values), str(out)]) == 1
    assert capsys.readouterr().err == "render.py: error: missing parameters: db/board_db_password\n"
    assert list(out.iterdir()) == []


def test_env_with_an_unreadable_file_fails(tmp_path, backend_env, capsys):
    assert render.main(["render.py", "env", str(tmp_path / "none.json"), str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("render.py: error: [Errno 2] No such file or directory")


def test_template_fills_every_token_and_refuses_a_missing_one(tmp_path, monkeypatch, capsys):
    f = tmp_path / "prometheus.yml"
    f.write_text("region: @@AWS_REGION@@\nname: @@NAME_PREFIX@@-backend-asg @@AWS_REGION@@\n")
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    monkeypatch.setenv("NAME_PREFIX", "wealist-prod")
    assert render.main(["render.py", "template", str(f)]) == 0
    assert capsys.readouterr().out == "region: ap-northeast-2\nname: wealist-prod-backend-asg ap-northeast-2\n"
    monkeypatch.delenv("NAME_PREFIX")
    assert render.main(["render.py", "template", str(f)]) == 1
    o = capsys.readouterr()
    assert o.out == "" and o.err == "render.py: error: template variables not set: NAME_PREFIX\n"


@pytest.mark.parametrize(
    "argv", [[], ["env"], ["env", "p.json"], ["template"], ["template", "a", "b"], ["render", "x"]]
)
def test_anything_else_is_a_usage_error(argv, capsys):
    assert render.main(["render.py", *argv]) == 2
    assert capsys.readouterr().err == ("usage: render.py env PARAMS_JSON... OUT_DIR | render.py template FILE\n")
