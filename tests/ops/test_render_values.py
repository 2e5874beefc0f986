"""What render.py (instance-files/config/render.py) puts in each file, as
data: every service's variables, the URLs parsed back, the image of each
service with its repository and release state, the Grafana password's name,
the files' mode, and each refusal's exact message. No stand-in: render.py
in-process on GetParametersByPath-shaped input.
"""

from __future__ import annotations

import json
import os
import stat
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from helpers.instance_files import BACKEND_ENV, HOSTILE, MONITORING_ENV, _backend_values, _doc, render

REGISTRY = BACKEND_ENV["ECR_REGISTRY"]


def _env_file(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_each_service_gets_exactly_its_own_variables():
    envs = render.service_envs(
        render.parameters(_doc(_backend_values()), "/wealist/prod"),
        render.SERVICES,
        {"user-service": "8081", "board-service": "8000"},
    )
    common = {
        "DB_HOST": "db.internal",
        "DB_PORT": "5432",
        "DB_SSLMODE": "require",
        "REDIS_HOST": "redis.internal",
        "REDIS_PORT": "6379",
        "REDIS_PASSWORD": "Tok3n/with+chars",
        "REDIS_TLS": "true",
        "LOG_LEVEL": "info",
    }
    user = {
        **common,
        "PORT": "8081",
        "SERVER_PORT": "8081",
        "DB_NAME": "wealist_user_db",
        "DB_USER": "wealist_user_service",
        "DB_PASSWORD": HOSTILE,
        "FEATURE_X": "on",
    }
    board = {
        **common,
        "PORT": "8000",
        "SERVER_PORT": "8000",
        "DB_NAME": "wealist_board_db",
        "DB_USER": "wealist_board_service",
        "DB_PASSWORD": "Board1pw",
    }
    for svc, want in (("user-service", user), ("board-service", board)):
        got = dict(envs[svc])
        db, redis = urlsplit(got.pop("DATABASE_URL")), urlsplit(got.pop("REDIS_URL"))
        assert got == want, svc
        assert (db.scheme, unquote(db.username), unquote(db.password), db.hostname, db.port, db.path) == (
            "postgresql",
            want["DB_USER"],
            want["DB_PASSWORD"],
            "db.internal",
            5432,
            "/" + want["DB_NAME"],
        )
        assert parse_qs(db.query) == {"sslmode": ["require"]}
        assert (redis.scheme, redis.username, unquote(redis.password), redis.hostname, redis.port, redis.path) == (
            "rediss",
            "",
            "Tok3n/with+chars",
            "redis.internal",
            6379,
            "/0",
        )


def test_each_service_runs_its_own_repository_and_a_missing_tag_is_not_released(tmp_path):
    values = _backend_values(**{"deploy/user_service_repository": "prod/user-service"})
    del values["deploy/board_service_image_tag"]
    render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)
    env = _env_file(tmp_path / ".env")
    assert env["USER_SERVICE_IMAGE"] == f"{REGISTRY}/prod/user-service:abc"
    assert env["BOARD_SERVICE_IMAGE"] == f"{REGISTRY}/board-service:unreleased"
    assert (tmp_path / "released-services").read_text() == "user-service\n"


def test_an_empty_tag_is_not_released_either(tmp_path):
    render.render_env(_doc(_backend_values(**{"deploy/user_service_image_tag": ""})), str(tmp_path), BACKEND_ENV)
    assert (tmp_path / "released-services").read_text() == "board-service\n"


def test_upper_case_setting_names_keep_their_letters(tmp_path):
    values = _backend_values(**{"app/common/FeatureFlag": "on", "app/board-service/Max.Items": "5"})
    render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)
    board = _env_file(tmp_path / "board-service.env")
    assert board["FEATUREFLAG"] == "on" and board["MAX_ITEMS"] == "5"


def test_a_prefix_given_with_a_trailing_slash_reads_the_same(tmp_path):
    env = dict(BACKEND_ENV, WEALIST_PREFIX="/wealist/prod/")
    render.render_env(_doc(_backend_values()), str(tmp_path), env)
    assert _env_file(tmp_path / ".env")["AWSLOGS_GROUP"] == "/wealist/prod/backend"


def test_every_file_written_is_mode_600_and_grafanas_password_has_its_name(tmp_path):
    backend, mon = tmp_path / "backend", tmp_path / "monitoring"
    backend.mkdir()
    mon.mkdir()
    render.render_env(_doc(_backend_values()), str(backend), BACKEND_ENV)
    render.render_env(_doc({"monitoring/grafana_admin_password": "Gr4fana"}), str(mon), MONITORING_ENV)
    files = list(backend.iterdir()) + list(mon.iterdir())
    assert len(files) == 8 and {stat.S_IMODE(os.stat(f).st_mode) for f in files} == {0o600}
    assert (mon / "grafana.env").read_text() == "GF_SECURITY_ADMIN_PASSWORD=Gr4fana\n"


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\n", "\r"])
def test_a_line_break_of_either_kind_is_refused_with_the_key_named(value):
    with pytest.raises(render.RenderError) as exc:
        render._line("DB_PASSWORD", value)
    assert str(exc.value) == "DB_PASSWORD: multi-line values cannot go into an env file"


@pytest.mark.parametrize("value", ["'x'", '"x"', "''", '""'])
def test_a_docker_env_value_wrapped_in_quotes_is_refused(value):
    with pytest.raises(render.RenderError) as exc:
        render._literal_line("PGPASSWORD", value)
    assert str(exc.value) == "PGPASSWORD: a value wrapped in quotes reads differently across Docker versions"


@pytest.mark.parametrize("value", ["'x", "x'", "'x\"", "XaX", "'", "a"])
def test_a_docker_env_value_not_wrapped_in_quotes_is_taken_as_it_is(value):
    assert render._literal_line("PGPASSWORD", value) == f"PGPASSWORD={value}\n"


@pytest.mark.parametrize("key", ["", "A B", "A=B", "A\tB", "A\0B"])
def test_a_docker_env_key_docker_cannot_read_is_refused(key):
    with pytest.raises(render.RenderError) as exc:
        render._literal_line(key, "v")
    assert str(exc.value) == f"{key}: not a variable name Docker's env-file accepts"


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
def test_a_docker_env_value_with_a_break_or_nul_is_refused(value):
    with pytest.raises(render.RenderError) as exc:
        render._literal_line("PGPASSWORD", value)
    assert str(exc.value) == "PGPASSWORD: a line break or NUL cannot go into a Docker env file"


def test_the_exact_refusals_of_the_boot_values(tmp_path):
    ok = _doc(_backend_values())
    cases = [
        (_doc({}), MONITORING_ENV, "missing parameters: monitoring/grafana_admin_password"),
        (ok, dict(BACKEND_ENV, AWS_REGION="Seoul"), "AWS_REGION 'Seoul' is not an AWS region name"),
        (ok, dict(BACKEND_ENV, INSTANCE_ID="i-12"), "INSTANCE_ID 'i-12' is not an EC2 instance ID"),
        (ok, dict(BACKEND_ENV, ECR_REGISTRY=""), "environment variable ECR_REGISTRY is not set"),
    ]
    values = _backend_values()
    del values["redis/port"], values["db/user_db_user"]
    cases.append((_doc(values), BACKEND_ENV, "missing parameters: db/user_db_user, redis/port"))
    for doc, env, message in cases:
        with pytest.raises(render.RenderError) as exc:
            render.render_env(doc, str(tmp_path), env)
        assert str(exc.value) == message
        assert list(tmp_path.iterdir()) == []


def test_each_database_init_gets_the_master_connection_and_its_own_role(tmp_path):
    render.render_env(_doc(_backend_values()), str(tmp_path), BACKEND_ENV)
    for svc, name, user in (
        ("user-service", "wealist_user_db", "wealist_user_service"),
        ("board-service", "wealist_board_db", "wealist_board_service"),
    ):
        env = _env_file(tmp_path / f"db-init-{svc}.env")
        verifier = env.pop("WEALIST_DB_PASSWORD_VERIFIER")
        assert env == {
            "PGHOST": "db.internal",
            "PGPORT": "5432",
            "PGUSER": "wealist_admin",
            "PGPASSWORD": "Master1pw",
            "PGDATABASE": "wealist",
            "PGSSLMODE": "require",
            "PGCONNECT_TIMEOUT": "10",
            "WEALIST_DB_NAME": name,
            "WEALIST_DB_USER": user,
        }
        assert verifier.startswith("SCRAM-SHA-256$4096:")


def test_the_verifier_uses_the_salt_it_is_given_or_16_random_bytes():
    """PostgreSQL's own verifiers carry a 16-byte salt (SCRAM_DEFAULT_SALT_LEN)."""
    import base64

    given = render.scram_verifier("pw", salt=b"\x01" * 16)
    assert given.split("$")[1] == "4096:" + base64.b64encode(b"\x01" * 16).decode()
    assert given == render.scram_verifier("pw", salt=b"\x01" * 16)
    salts = {render.scram_verifier("pw").split("$")[1].split(":")[1] for _ in range(3)}
    assert len(salts) == 3 and {len(base64.b64decode(s)) for s in salts} == {16}


def test_url_parts_with_a_slash_read_back_whole():
    params = render.parameters(
        _doc(
            _backend_values(
                **{"db/user_db_user": "app/user", "db/user_db_password": "pa/ss", "db/user_db_name": "db/name"}
            )
        ),
        "/wealist/prod",
    )
    env = render.service_envs(params, ("user-service",), {"user-service": "8081"})["user-service"]
    db = urlsplit(env["DATABASE_URL"])
    assert (unquote(db.username), unquote(db.password), unquote(db.path[1:])) == ("app/user", "pa/ss", "db/name")


def test_a_value_with_a_space_and_no_quote_is_single_quoted():
    assert render._line("K", "a b") == "K='a b'\n"
    assert render._literal_line("XKEY", "v") == "XKEY=v\n"


def test_a_secret_file_is_never_readable_by_others_even_while_it_is_written(tmp_path, monkeypatch):
    """The file is created with mode 600 (os.open's mode), not made 600
    afterwards: between the two, another user could open it."""
    modes = []
    real = os.fdopen

    def fdopen(fd, *a, **kw):
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real(fd, *a, **kw)

    monkeypatch.setattr(render.os, "fdopen", fdopen)
    old = os.umask(0)
    try:
        render.render_env(_doc(_backend_values()), str(tmp_path), BACKEND_ENV)
    finally:
        os.umask(old)
    assert len(modes) == 6 and set(modes) == {0o600}


def test_a_parameter_file_without_parameters_counts_as_empty(tmp_path, monkeypatch, capsys):
    """GetParametersByPath's Parameters is optional in its output (SSM API
    reference): a file without it adds nothing, and is no crash."""
    for k, v in BACKEND_ENV.items():
        monkeypatch.setenv(k, v)
    empty = tmp_path / "parameters-app.json"
    empty.write_text("{}")
    full = tmp_path / "parameters-all.json"
    full.write_text(json.dumps(_doc(_backend_values())))
    out = tmp_path / "opt"
    out.mkdir()
    assert render.main(["render.py", "env", str(empty), str(full), str(out)]) == 0
    assert render.main(["render.py", "env", str(empty), str(out)]) == 1
    assert "missing parameters: db/board_db_name" in capsys.readouterr().err


def test_two_missing_values_are_named_together(tmp_path):
    values = _backend_values()
    del values["db/postgres_db"], values["db/postgres_superuser"]
    with pytest.raises(render.RenderError) as exc:
        render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)
    assert str(exc.value) == "missing parameters: db/postgres_db, db/postgres_superuser"
    with pytest.raises(render.RenderError) as exc:
        render.render_template("@@B@@ @@A@@", {})
    assert str(exc.value) == "template variables not set: A, B"
