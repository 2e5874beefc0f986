"""Code that runs on the instances, loaded in-process from its file for the
tests, and the parameter documents and environments it is rendered with:
instance-files/config/render.py (run by the instances' python3 at boot) and the
docker stand-in's env-file parser (tests/ops/standins/docker.py).

They are scripts, not a package; each is loaded once by its path and kept in
``sys.modules`` under its file's name, so every test module sees the same
module object (a monkeypatch in one is what the others see), as the
``sys.path`` insert before it did, without putting their folders on the
import path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from ops.tools import compose_binary

ROOT = Path(__file__).resolve().parents[2]
RENDER_PATH = ROOT / "instance-files" / "config" / "render.py"
STANDINS = ROOT / "tests" / "ops" / "standins"


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """The module of a script file, loaded once."""
    name = name or path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


render = load_script(RENDER_PATH)


HOSTILE = 'it\'s "q" $HOME `x` \\n # #no-comment ${X} a=b'


def _doc(values: dict[str, str], prefix="/wealist/prod") -> dict:
    return {"Parameters": [{"Name": f"{prefix}/{k}", "Type": "SecureString", "Value": v} for k, v in values.items()]}


def _backend_values(**overrides):
    values = {
        "db/postgres_host": "db.internal",
        "db/postgres_port": "5432",
        "db/postgres_superuser": "wealist_admin",
        "db/postgres_superuser_password": "Master1pw",
        "db/postgres_db": "wealist",
        "redis/host": "redis.internal",
        "redis/port": "6379",
        "redis/auth_token": "Tok3n/with+chars",
        "deploy/user_service_image_tag": "abc",
        "deploy/board_service_image_tag": "def",
        "db/user_db_name": "wealist_user_db",
        "db/user_db_user": "wealist_user_service",
        "db/user_db_password": HOSTILE,
        "db/board_db_name": "wealist_board_db",
        "db/board_db_user": "wealist_board_service",
        "db/board_db_password": "Board1pw",
        "app/common/log_level": "info",
        "app/user-service/feature-x": "on",
    }
    values.update(overrides)
    return values


INSTANCE = "i-0123456789abcdef0"


BACKEND_ENV = {
    "WEALIST_PREFIX": "/wealist/prod",
    "WEALIST_ROLE": "backend",
    "USER_SERVICE_PORT": "8081",
    "BOARD_SERVICE_PORT": "8000",
    "ECR_REGISTRY": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com",
    "AWS_REGION": "ap-northeast-2",
    "INSTANCE_ID": INSTANCE,
}


MONITORING_ENV = {
    "WEALIST_PREFIX": "/wealist/prod",
    "WEALIST_ROLE": "monitoring",
    "AWS_REGION": "ap-northeast-2",
    "INSTANCE_ID": INSTANCE,
}


def _compose_config(workdir: Path, compose_file: Path, env: dict | None = None) -> dict:
    result = subprocess.run(
        [compose_binary(), "-f", str(compose_file), "--project-directory", str(workdir), "config", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={"PATH": os.environ["PATH"], **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
