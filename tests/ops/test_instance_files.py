"""The files the instances run with: env files as Docker Compose reads them
back, the compose files against the Compose specification (Compose V2's own
`config`), prometheus.yml through promtool, Grafana's provisioning, and the
health paths the load balancer checks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from helpers.instance_files import (  # instance-files/config/render.py, run by the instances' python3
    BACKEND_ENV,
    HOSTILE,
    INSTANCE,
    MONITORING_ENV,
    STANDINS,
    _backend_values,
    _compose_config,
    _doc,
    load_script,
    render,
)

from .tools import ROOT, compose_binary, require

FILES = ROOT / "instance-files"


def test_env_files_read_back_verbatim_by_docker_compose(tmp_path):
    """Compose V2 reads every rendered value back exactly, quotes, $ and # included."""
    render.render_env(_doc(_backend_values()), str(tmp_path), BACKEND_ENV)
    shutil.copy(FILES / "config" / "docker-compose.prod.yml", tmp_path)

    config = _compose_config(tmp_path, tmp_path / "docker-compose.prod.yml")

    user = {k: v.replace("$$", "$") for k, v in config["services"]["user-service"]["environment"].items()}
    assert user["DB_PASSWORD"] == HOSTILE
    assert user["DB_NAME"] == "wealist_user_db" and user["DB_SSLMODE"] == "require"
    assert user["REDIS_URL"] == "rediss://:Tok3n%2Fwith%2Bchars@redis.internal:6379/0"
    assert user["LOG_LEVEL"] == "info" and user["FEATURE_X"] == "on" and user["PORT"] == "8081"
    assert "Board1pw" not in json.dumps(config["services"]["user-service"])
    assert config["services"]["user-service"]["image"] == (
        "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/user-service:abc"
    )
    assert config["services"]["board-service"]["ports"][0]["published"] == "8000"


def _stack_written_parameters() -> set[str]:
    """Names (relative to /<project>/<env>/) of the parameters the stacks write."""
    from wealist_cfn.core.settings import DEFAULT_SETTINGS
    from wealist_cfn.stacks import cache, database

    out = set()
    for stack in (database, cache):
        for r in json.loads(stack.build(DEFAULT_SETTINGS).to_json())["Resources"].values():
            if r["Type"] == "AWS::SSM::Parameter":
                out.add(r["Properties"]["Name"]["Fn::Sub"].removeprefix("/${Project}/${Environment}/"))
    return out


def test_the_backend_needs_only_what_bootstrap_and_the_stacks_write(tmp_path):
    """render.py, given exactly the parameters bootstrap creates and the stacks
    publish (and released image tags), renders every file: no name it reads
    is one nobody writes."""
    from wealist_cfn.ops.bootstrap import PARAMETERS

    written = {p.name for p in PARAMETERS} | _stack_written_parameters()
    assert {"db/postgres_host", "redis/host"} <= written
    values = {name: "Value1" for name in written}
    values.update({name: "abc" for name in written if name.endswith("_image_tag")})

    files = render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)

    assert set(files) == {
        ".env",
        "released-services",
        *(f"{svc}.env" for svc in render.SERVICES),
        *(f"db-init-{svc}.env" for svc in render.SERVICES),
    }
    assert (tmp_path / "released-services").read_text().split() == list(render.SERVICES)


def test_the_instances_run_the_services_the_settings_name():
    """render.py and the startup script run without the project, so they name
    the services themselves; they must be the settings' services."""
    from wealist_cfn.core.settings import DEFAULT_SETTINGS

    names = tuple(s.name for s in DEFAULT_SETTINGS.services)
    assert render.SERVICES == names
    startup = (ROOT / "wealist_cfn" / "boot" / "startup.sh").read_text()
    [loop] = re.findall(r"^\s*for svc in (.+); do$", startup, re.MULTILINE)
    assert tuple(loop.split()) == names
    compose = yaml.safe_load((FILES / "config" / "docker-compose.prod.yml").read_text())
    assert set(compose["services"]) == {*names, "node-exporter"}


def test_an_unreleased_service_is_left_out_with_a_note_and_the_others_start(tmp_path):
    """The first release of one service must finish while the other is still
    unreleased: render.py lists only the released services and says why the
    other is missing; its database files are still written."""
    notes = []
    out = tmp_path / "out"
    out.mkdir()
    render.render_env(
        _doc(_backend_values(**{"deploy/user_service_image_tag": "unreleased"})), str(out), BACKEND_ENV, notes
    )
    assert (out / "released-services").read_text() == "board-service\n"
    assert notes == [
        "user-service: no image released yet (/wealist/prod/deploy/user_service_image_tag is "
        "'unreleased'); left out until its release"
    ]
    assert (out / "db-init-user-service.env").exists()


def test_env_rendering_refuses_missing_parameters(tmp_path):
    values = _backend_values()
    del values["redis/host"]
    with pytest.raises(render.RenderError, match="missing parameters: redis/host"):
        render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)
    assert list(tmp_path.iterdir()) == [], "nothing half-written"


def test_compose_files_fail_loudly_without_the_rendered_environment(tmp_path):
    """Compose V2: with no .env, the image references are errors, not empty strings."""
    shutil.copy(FILES / "config" / "docker-compose.prod.yml", tmp_path)
    for name in ("user-service.env", "board-service.env"):
        (tmp_path / name).write_text("")
    result = subprocess.run(
        [compose_binary(), "-f", "docker-compose.prod.yml", "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
    )
    # Compose names the first missing variable it meets; which one varies.
    assert result.returncode != 0 and "is missing a value: set by the startup script" in result.stderr


def test_monitoring_compose_file_is_valid_and_serves_under_the_load_balancer_paths(tmp_path):
    """Compose V2 validates it; Prometheus and Grafana are served under the
    prefixes whose health paths the load balancer checks."""
    shutil.copytree(FILES / "monitoring", tmp_path / "monitoring")
    render.render_env(_doc({"monitoring/grafana_admin_password": "x"}), str(tmp_path / "monitoring"), MONITORING_ENV)
    config = _compose_config(tmp_path / "monitoring", tmp_path / "monitoring" / "docker-compose.yml")

    prom, grafana = config["services"]["prometheus"], config["services"]["grafana"]
    assert "--web.route-prefix=/prometheus" in prom["command"]
    assert grafana["environment"]["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    assert grafana["environment"]["GF_SERVER_ROOT_URL"].endswith("/grafana/")
    lb = (ROOT / "templates" / "loadbalancer.yaml").read_text()
    health = set(re.findall(r"HealthCheckPath: (/\S+)", lb))
    assert {"/prometheus/-/healthy", "/grafana/api/health"} <= health
    assert "http://127.0.0.1:9090/prometheus/-/healthy" in prom["healthcheck"]["test"]
    assert "http://127.0.0.1:3000/grafana/api/health" in grafana["healthcheck"]["test"]


@pytest.mark.parametrize("params", ["prod", "dev"])
def test_rendered_prometheus_config_passes_promtool(tmp_path, params):
    """promtool (Debian prometheus) accepts prometheus.yml as each environment renders it."""
    promtool = require("promtool")
    from wealist_cfn import config as cfgmod
    from wealist_cfn.core.settings import DEFAULT_SETTINGS
    from wealist_cfn.ops.rollout import group_name

    cfg = cfgmod.load(ROOT / "params" / f"{params}.json")
    env = {
        "PROJECT": cfg.project,
        "ENVIRONMENT": cfg.environment,
        "AWS_REGION": cfg.region,
        "USER_SERVICE_PORT": cfg.values["UserServicePort"],
        "BOARD_SERVICE_PORT": cfg.values["BoardServicePort"],
    }
    text = render.render_template((FILES / "monitoring" / "prometheus.yml").read_text(), env)
    out = tmp_path / "prometheus.yml"
    out.write_text(text)

    result = subprocess.run([promtool, "check", "config", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    doc = yaml.safe_load(text)
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert set(jobs) == {"prometheus", "node", "user-service", "board-service"}
    for name in ("node", "user-service", "board-service"):
        sd = jobs[name]["ec2_sd_configs"][0]
        assert {"name": "tag:aws:autoscaling:groupName", "values": [group_name(cfg, "backend")]} in sd["filters"]
        assert any(r.get("target_label") == "instance" for r in jobs[name]["relabel_configs"])
    assert jobs["node"]["ec2_sd_configs"][0]["port"] == DEFAULT_SETTINGS.node_exporter_port
    assert jobs["user-service"]["ec2_sd_configs"][0]["port"] == int(cfg.values["UserServicePort"])
    assert jobs["board-service"]["ec2_sd_configs"][0]["port"] == int(cfg.values["BoardServicePort"])


def test_prometheus_template_names_only_what_the_startup_script_exports():
    names = set(re.findall(r"@@([A-Z_]+)@@", (FILES / "monitoring" / "prometheus.yml").read_text()))
    assert names == {"PROJECT", "ENVIRONMENT", "AWS_REGION", "USER_SERVICE_PORT", "BOARD_SERVICE_PORT"}
    with pytest.raises(render.RenderError, match="AWS_REGION"):
        render.render_template("region: @@AWS_REGION@@", {})


def test_grafana_reaches_prometheus_under_its_route_prefix():
    """The dashboards themselves are checked in test_grafana.py."""
    ds = yaml.safe_load((FILES / "monitoring/grafana/provisioning/datasources/prometheus.yml").read_text())
    [source] = ds["datasources"]
    assert source["url"] == "http://prometheus:9090/prometheus"


def test_db_init_env_files_read_back_exactly_by_dockers_env_file_rules(tmp_path):
    """`docker run --env-file` takes each value literally (docker/cli
    pkg/kvfile), quotes included: the db-init files hold the exact master
    credentials and the SCRAM verifier (whose `$` made render.py quote it
    once). Read back with the docker stand-in's kvfile parser."""
    parse_env_file = load_script(STANDINS / "docker.py", "docker_standin").parse_env_file

    values = _backend_values(**{"db/postgres_superuser_password": "Pa$$ w0rd #1 'x'"})
    render.render_env(_doc(values), str(tmp_path), BACKEND_ENV)

    for svc in render.SERVICES:
        env = parse_env_file(str(tmp_path / f"db-init-{svc}.env"))
        assert env["PGPASSWORD"] == "Pa$$ w0rd #1 'x'"
        assert env["PGUSER"] == "wealist_admin" and env["PGHOST"] == "db.internal"
        assert re.fullmatch(
            r"SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+", env["WEALIST_DB_PASSWORD_VERIFIER"]
        )


@pytest.mark.parametrize("value", ["'wrapped'", '"wrapped"', "two\nlines"])
def test_a_value_docker_would_misread_is_refused(tmp_path, value):
    """A value Docker's env-file cannot carry, or reads differently across
    versions (quotes around the whole value), stops the render: nothing written."""
    with pytest.raises(render.RenderError, match="PGPASSWORD"):
        render.render_env(
            _doc(_backend_values(**{"db/postgres_superuser_password": value})), str(tmp_path), BACKEND_ENV
        )
    assert list(tmp_path.iterdir()) == []


# -- Container logs: Docker's awslogs driver ---------------------------------
# https://docs.docker.com/engine/logging/drivers/awslogs/ (options),
# https://docs.docker.com/engine/logging/configure/ (mode, max-buffer-size),
# https://docs.docker.com/engine/logging/dual-logging/ (`docker logs` through
# the local cache; cache-* options).


def _rendered_compose(tmp_path, role) -> dict:
    if role == "backend":
        work = tmp_path / "config"
        work.mkdir()
        shutil.copy(FILES / "config" / "docker-compose.prod.yml", work)
        render.render_env(_doc(_backend_values()), str(work), BACKEND_ENV)
        return _compose_config(work, work / "docker-compose.prod.yml")
    work = tmp_path / "monitoring"
    shutil.copytree(FILES / "monitoring", work)
    render.render_env(_doc({"monitoring/grafana_admin_password": "x"}), str(work), MONITORING_ENV)
    return _compose_config(work, work / "docker-compose.yml")


@pytest.mark.parametrize("role", ["backend", "monitoring"])
def test_every_container_logs_to_its_groups_log_group_in_non_blocking_mode(tmp_path, role):
    """Compose V2's own `config`, from the .env render.py writes: every
    container uses the awslogs driver, into /<project>/<env>/<role> in the
    instance's region, stream <instance-id>/<service>, never creating the
    group, non-blocking with a bounded buffer, and `docker logs` kept by the
    dual-logging cache (not disabled, bounded)."""
    config = _rendered_compose(tmp_path, role)

    assert config["services"]
    for name, svc in config["services"].items():
        opts = svc["logging"]["options"]
        assert svc["logging"]["driver"] == "awslogs", name
        assert opts["awslogs-group"] == f"/wealist/prod/{role}", name
        assert opts["awslogs-region"] == "ap-northeast-2"
        assert opts["awslogs-stream"] == f"{INSTANCE}/{name}"
        assert opts["awslogs-create-group"] == "false"
        assert opts["mode"] == "non-blocking" and re.fullmatch(r"\d+[kmg]", opts["max-buffer-size"])
        assert opts.get("cache-disabled", "false") == "false" and opts["cache-max-size"] and opts["cache-max-file"]


def test_the_backend_env_carries_the_logging_values_and_the_instance_id_is_checked(tmp_path):
    """render.py: .env gets the region, the group and the instance ID; an
    instance ID or region that is not one (IMDS answered something else) is
    refused before any file is written."""
    render.render_env(_doc(_backend_values()), str(tmp_path), BACKEND_ENV)
    env = (tmp_path / ".env").read_text().splitlines()
    assert {"AWSLOGS_REGION=ap-northeast-2", "AWSLOGS_GROUP=/wealist/prod/backend", f"INSTANCE_ID={INSTANCE}"} <= set(
        env
    )

    for key, value in (("INSTANCE_ID", "<html>"), ("INSTANCE_ID", ""), ("AWS_REGION", "Seoul")):
        out = tmp_path / key / (value or "empty")
        out.mkdir(parents=True)
        with pytest.raises(render.RenderError, match=key):
            render.render_env(_doc(_backend_values()), str(out), dict(BACKEND_ENV, **{key: value}))
        assert list(out.iterdir()) == []


# -- images pinned by digest ----------------------------------------------------------------------

# Images that keep a tag only, each with the reason; anything else unpinned fails.
UNPINNED_IMAGES = {
    # One public source gives a digest for v2.53.2 (and for prom/, not quay.io/);
    # unconfirmed, it is not written here.
    "quay.io/prometheus/prometheus:v2.53.2": "no second source for its digest",
    # Both services' images come from this project's ECR repositories, tagged
    # with the source commit; those tags are immutable (ImageTagMutability
    # IMMUTABLE in templates/registry.yaml), so the tag names one image.
    "${USER_SERVICE_IMAGE:?set by the startup script}": "own ECR image, immutable commit tag",
    "${BOARD_SERVICE_IMAGE:?set by the startup script}": "own ECR image, immutable commit tag",
}
STARTUP_UNPINNED = {
    # wealist_cfn/boot/startup.sh runs the database init with this image:
    # 17-alpine moves with every 17.x release, public sources disagree on its
    # digest, and whether ECR Public's mirror keeps Docker Hub's digest is
    # unconfirmed. Pinning it also changes the launch template's UserData.
    "public.ecr.aws/docker/library/postgres:17-alpine": "moving tag, mirror digest unconfirmed",
}
DIGEST = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")


def unpinned_images(compose: dict) -> list[str]:
    """The services' images that are neither `name:tag@sha256:<64 hex>` nor a known exception."""
    return [
        s["image"]
        for s in compose.get("services", {}).values()
        if not DIGEST.match(s["image"]) and s["image"] not in UNPINNED_IMAGES
    ]


@pytest.mark.parametrize("path", ["config/docker-compose.prod.yml", "monitoring/docker-compose.yml"])
def test_every_instance_image_is_pinned_by_digest_or_a_known_exception(path):
    compose = yaml.safe_load((FILES / path).read_text())
    assert unpinned_images(compose) == []
    text = (FILES / path).read_text()
    for line in text.splitlines():
        if "@sha256:" in line:
            tag = line.split("image:")[1].split("@")[0].split(":")[-1]
            assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{path}: {line.strip()} names no exact version"


# Where a digest was confirmed, by repository: the image pinned must name that repository, not
# another that may hold the same image under its own manifest list.
CONFIRMED_REPOSITORY = {
    # Grafana's docs: grafana/grafana and grafana/grafana-oss hold the same OSS images ("Run
    # Grafana Docker image", grafana.com/docs/grafana/latest/setup-grafana/installation/docker/);
    # three public files give sha256:d5133220... for grafana/grafana:11.2.2, one for grafana-oss.
    "grafana": "docker.io/grafana/grafana",
}


def test_each_digest_names_the_repository_it_was_confirmed_for():
    compose = yaml.safe_load((FILES / "monitoring/docker-compose.yml").read_text())
    for service, repository in CONFIRMED_REPOSITORY.items():
        image = compose["services"][service]["image"]
        assert DIGEST.match(image) and image.split("@")[0].rsplit(":", 1)[0] == repository, image


@pytest.mark.parametrize(
    "image",
    [
        "quay.io/prometheus/node-exporter:v1.8.2",
        "grafana/grafana-oss:latest",
        "quay.io/prometheus/node-exporter:v1.8.2@sha256:4032c6d5",
    ],
)
def test_the_image_check_refuses_a_tag_and_a_short_digest(image):
    assert unpinned_images({"services": {"x": {"image": image}}}) == [image]


def test_the_exceptions_are_still_there_and_nothing_else_in_boot_is_unpinned():
    """An exception that no file uses any more goes from the list."""
    used = {
        s["image"]
        for path in ("config/docker-compose.prod.yml", "monitoring/docker-compose.yml")
        for s in yaml.safe_load((FILES / path).read_text())["services"].values()
    }
    assert set(UNPINNED_IMAGES) <= used
    startup = (ROOT / "wealist_cfn" / "boot" / "startup.sh").read_text()
    images = set(re.findall(r"\b((?:[\w.-]+\.[a-z]{2,}/)[\w./-]+:[\w.-]+(?:@sha256:[0-9a-f]{64})?)", startup))
    assert {i for i in images if "@sha256:" not in i} == set(STARTUP_UNPINNED)
