"""Every value the instances need at boot, missing one at a time: render.py
(instance-files/config/render.py, what the startup script runs) refuses,
naming exactly what is missing, and writes no file. A service must not start
with an empty database password or Redis host because one parameter was not
there. No stand-in: render.py is run in-process on a GetParametersByPath
answer shaped like the SSM API reference (Parameters: Name, Type, Value).
"""

from __future__ import annotations

import pytest

from helpers.instance_files import BACKEND_ENV, MONITORING_ENV, _backend_values, _doc, render

# Optional by design: the repository defaults to the service's name, a
# missing image tag reads as "unreleased" (the service waits for its first
# release), and app/* are extra settings.
OPTIONAL = {
    "deploy/user_service_image_tag",
    "deploy/board_service_image_tag",
    "app/common/log_level",
    "app/user-service/feature-x",
}
REQUIRED = sorted(set(_backend_values()) - OPTIONAL)


def test_the_required_ones_are_the_databases_the_caches_and_each_services_credentials():
    master = [
        "db/postgres_host",
        "db/postgres_port",
        "db/postgres_superuser",
        "db/postgres_superuser_password",
        "db/postgres_db",
    ]
    redis = ["redis/host", "redis/port", "redis/auth_token"]
    own = [f"db/{k}_db_{x}" for k in ("user", "board") for x in ("name", "user", "password")]
    assert REQUIRED == sorted(master + redis + own)


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_backend_parameter_is_named_and_nothing_is_written(tmp_path, name):
    values = _backend_values()
    del values[name]
    with pytest.raises(render.RenderError) as exc:
        render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)
    assert str(exc.value) == f"missing parameters: {name}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("a,b", [("db/user_db_password", "redis/auth_token"), ("db/postgres_host", "db/board_db_user")])
def test_several_missing_parameters_are_all_named(tmp_path, a, b):
    values = _backend_values()
    del values[a], values[b]
    with pytest.raises(render.RenderError) as exc:
        render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)
    assert a in str(exc.value) and b in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_a_parameter_of_another_environment_does_not_stand_in_for_ours(tmp_path):
    """/wealist/dev/redis/host is not /wealist/prod/redis/host, nor is
    /wealist/prod-old/redis/host (a prefix of ours followed by more)."""
    values = _backend_values()
    del values["redis/host"]
    doc = _doc(values)
    doc["Parameters"] += _doc({"redis/host": "dev-redis"}, "/wealist/dev")["Parameters"]
    doc["Parameters"] += _doc({"redis/host": "old-redis"}, "/wealist/prod-old")["Parameters"]
    with pytest.raises(render.RenderError, match="missing parameters: redis/host"):
        render.render_env(doc, str(tmp_path), BACKEND_ENV)


@pytest.mark.parametrize("name", sorted(BACKEND_ENV))
def test_a_missing_boot_variable_is_named_and_nothing_is_written(tmp_path, name):
    env = {k: v for k, v in BACKEND_ENV.items() if k != name}
    with pytest.raises(render.RenderError, match=name):
        render.render_env(_doc(_backend_values()), str(tmp_path), env)
    assert list(tmp_path.iterdir()) == []


def test_monitoring_without_grafanas_password_writes_nothing(tmp_path):
    with pytest.raises(render.RenderError, match="missing parameters: monitoring/grafana_admin_password"):
        render.render_env(_doc({}), str(tmp_path), MONITORING_ENV)
    assert list(tmp_path.iterdir()) == []
