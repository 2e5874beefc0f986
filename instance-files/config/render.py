#!/usr/bin/env python3
"""Renders what a Wealist instance needs from Parameter Store and its boot
environment; run by the startup script with the instance's system Python
(Amazon Linux 2023: 3.9, standard library only).

``render.py env PARAMS_JSON... OUT_DIR``
    Each PARAMS_JSON is the output of ``aws ssm get-parameters-by-path
    --recursive --with-decryption`` for one sub-path the instance's role may
    read. Writes, each mode 600:

    * ``.env``: what ``docker compose`` interpolates (image references, ports;
      on both roles, the awslogs driver's region, group and this instance's
      ID, see :func:`logging_env`);
    * ``<service>.env`` per service: only that service's database credentials,
      Redis over TLS, its port, and the operator's own settings under
      ``app/common/`` and ``app/<service>/``;
    * ``db-init-<service>.env``: the master credentials and that service's
      database, user and password verifier, read only by the one-shot
      database init container (``docker run --env-file``, whose format is
      not Compose's: see :func:`_literal_line`);
    * ``released-services``: the services that have a released image, one a
      line; a service whose image tag is still ``unreleased`` is left out,
      with a line on stderr saying so, and the others start without it;
    * ``grafana.env``: Grafana's admin password (monitoring; with ``.env``).

``render.py template FILE``
    Prints FILE with every ``@@NAME@@`` replaced by the environment variable
    NAME; an unset or empty variable is an error.

Secret values are written to the files only, never printed.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import sys
from urllib.parse import quote

# The services the backend runs: settings.py's, copied because this file runs
# on the instance without the project (tests/ops keep the two in step).
SERVICES = ("user-service", "board-service")
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./:@?=&%+,-]*$")
# EC2 instance IDs (i- and 8 or 17 hex digits) and AWS region names.
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8}([0-9a-f]{9})?$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
TOKEN = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")


class RenderError(Exception):
    pass


def _require(env, name):
    value = env.get(name, "")
    if not value:
        raise RenderError("environment variable %s is not set" % name)
    return value


def _line(key, value):
    """One KEY=VALUE line that Compose's env-file parser reads back verbatim."""
    if "\n" in value or "\r" in value:
        raise RenderError("%s: multi-line values cannot go into an env file" % key)
    if SAFE_VALUE.match(value):
        return "%s=%s\n" % (key, value)
    if "'" not in value:
        return "%s='%s'\n" % (key, value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '%s="%s"\n' % (key, escaped)


def _literal_line(key, value):
    """One KEY=VALUE line for ``docker run --env-file``. Docker reads that
    file with its own ``kvfile`` rules (docker/cli pkg/kvfile; docs: "docker
    container run --env-file"), not Compose's: the value is everything after
    the first ``=``, taken as it is, quotes included, without interpolation;
    a line cannot continue. Newer Docker CLIs (v28) drop one pair of quotes
    that wraps the whole value; older ones (Amazon Linux 2023 ships 25)
    keep it: a value so wrapped is refused, as its meaning would depend on
    the Docker version."""
    if not key or any(c in key for c in " \t=\0"):
        raise RenderError("%s: not a variable name Docker's env-file accepts" % key)
    if any(c in value for c in "\n\r\0"):
        raise RenderError("%s: a line break or NUL cannot go into a Docker env file" % key)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        raise RenderError("%s: a value wrapped in quotes reads differently across Docker versions" % key)
    return "%s=%s\n" % (key, value)


def _env_text(values, line=_line):
    return "".join(line(key, values[key]) for key in sorted(values))


def _write(path, text):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def _env_name(relative):
    return re.sub(r"[^A-Za-z0-9]", "_", relative).upper()


def parameters(doc, prefix):
    """``{relative name: value}`` for the parameters under ``prefix``."""
    prefix = prefix.rstrip("/") + "/"
    out = {}
    for p in doc.get("Parameters", []):
        if p["Name"].startswith(prefix):
            out[p["Name"][len(prefix):]] = p["Value"]
    return out


def logging_env(environ):
    """What the compose files' awslogs options interpolate: the region, the
    role's log group (``<WEALIST_PREFIX>/<role>``, created by the compute
    stack) and this instance's ID, which starts every stream's name."""
    region, instance = _require(environ, "AWS_REGION"), _require(environ, "INSTANCE_ID")
    if not REGION.match(region):
        raise RenderError("AWS_REGION %r is not an AWS region name" % region)
    if not INSTANCE_ID.match(instance):
        raise RenderError("INSTANCE_ID %r is not an EC2 instance ID" % instance)
    group = "%s/%s" % (_require(environ, "WEALIST_PREFIX").rstrip("/"), _require(environ, "WEALIST_ROLE"))
    return {"AWSLOGS_REGION": region, "AWSLOGS_GROUP": group, "INSTANCE_ID": instance}


def service_envs(params, services, ports):
    missing = []

    def get(name):
        if name not in params:
            missing.append(name)
            return ""
        return params[name]

    db_host, db_port = get("db/postgres_host"), get("db/postgres_port")
    redis_host, redis_port = get("redis/host"), get("redis/port")
    redis_token = get("redis/auth_token")
    common = {_env_name(k[len("app/common/"):]): v for k, v in params.items() if k.startswith("app/common/")}
    envs = {}
    for svc in services:
        key = svc.split("-")[0]  # user-service -> user
        name, user = get("db/%s_db_name" % key), get("db/%s_db_user" % key)
        password = get("db/%s_db_password" % key)
        own = {_env_name(k[len("app/%s/" % svc):]): v for k, v in params.items()
               if k.startswith("app/%s/" % svc)}
        env = dict(common)
        env.update({
            "PORT": ports[svc], "SERVER_PORT": ports[svc],
            "DB_HOST": db_host, "DB_PORT": db_port, "DB_NAME": name, "DB_USER": user, "DB_PASSWORD": password,
            # rds.force_ssl is on: every connection must use TLS.
            "DB_SSLMODE": "require",
            "DATABASE_URL": "postgresql://%s:%s@%s:%s/%s?sslmode=require" % (
                quote(user, safe=""), quote(password, safe=""), db_host, db_port, quote(name, safe="")),
            # ElastiCache has in-transit encryption and an AUTH token.
            "REDIS_HOST": redis_host, "REDIS_PORT": redis_port, "REDIS_PASSWORD": redis_token, "REDIS_TLS": "true",
            "REDIS_URL": "rediss://:%s@%s:%s/0" % (quote(redis_token, safe=""), redis_host, redis_port),
        })
        env.update(own)
        envs[svc] = env
    if missing:
        raise RenderError("missing parameters: %s" % ", ".join(sorted(set(missing))))
    return envs


def render_env(doc, out_dir, environ, notes=None):
    prefix = _require(environ, "WEALIST_PREFIX")
    role = _require(environ, "WEALIST_ROLE")
    params = parameters(doc, prefix)
    logs = logging_env(environ)
    if role == "monitoring":
        if "monitoring/grafana_admin_password" not in params:
            raise RenderError("missing parameters: monitoring/grafana_admin_password")
        files = {".env": _env_text(logs),
                 "grafana.env": _env_text({"GF_SECURITY_ADMIN_PASSWORD": params["monitoring/grafana_admin_password"]})}
        for name, text in files.items():
            _write(os.path.join(out_dir, name), text)
        return list(files)

    # USER_SERVICE_PORT, BOARD_SERVICE_PORT: set by UserData from the stack's parameters.
    ports = {svc: _require(environ, "%s_PORT" % svc.replace("-", "_").upper()) for svc in SERVICES}
    registry = _require(environ, "ECR_REGISTRY")
    compose = {"%s_PORT" % svc.replace("-", "_").upper(): port for svc, port in ports.items()}
    compose.update(logs)
    released = []
    for svc in SERVICES:
        var = svc.replace("-", "_")
        repo = params.get("deploy/%s_repository" % var, svc)
        tag = params.get("deploy/%s_image_tag" % var, "") or "unreleased"
        if tag == "unreleased":
            # The first release of one service must not wait for the other's:
            # the released ones start, this one joins at its own release.
            if notes is not None:
                notes.append("%s: no image released yet (%s/deploy/%s_image_tag is 'unreleased'); left out "
                             "until its release" % (svc, prefix, var))
        else:
            released.append(svc)
        # Compose interpolates every service's image, started or not.
        compose["%s_IMAGE" % var.upper()] = "%s/%s:%s" % (registry, repo, tag)
    envs = service_envs(params, SERVICES, ports)
    sources = {"PGHOST": "db/postgres_host", "PGPORT": "db/postgres_port", "PGUSER": "db/postgres_superuser",
               "PGPASSWORD": "db/postgres_superuser_password", "PGDATABASE": "db/postgres_db"}
    missing = sorted(name for name in sources.values() if not params.get(name))
    if missing:
        raise RenderError("missing parameters: %s" % ", ".join(missing))
    master = {var: params[name] for var, name in sources.items()}
    master.update({"PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "10"})
    # Every file is rendered before the first is written: a value no file
    # can carry leaves nothing half-written.
    files = {".env": _env_text(compose), "released-services": "".join("%s\n" % svc for svc in released)}
    for svc, env in envs.items():
        files["%s.env" % svc] = _env_text(env)
        db_init = dict(master)
        # The role's password travels as a SCRAM verifier, so the clear
        # password never reaches the server (nor its statement log).
        db_init.update({"WEALIST_DB_NAME": env["DB_NAME"], "WEALIST_DB_USER": env["DB_USER"],
                        "WEALIST_DB_PASSWORD_VERIFIER": scram_verifier(env["DB_PASSWORD"])})
        files["db-init-%s.env" % svc] = _env_text(db_init, line=_literal_line)
    for name, text in files.items():
        _write(os.path.join(out_dir, name), text)
    return list(files)


def scram_verifier(password, salt=None, iterations=4096):
    """PostgreSQL's SCRAM-SHA-256 password verifier (what ``\\password`` sends)."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(hashlib.sha256(client_key).digest()),
                                          b64(server_key))


def render_template(text, environ):
    missing = sorted({m for m in TOKEN.findall(text) if not environ.get(m)})
    if missing:
        raise RenderError("template variables not set: %s" % ", ".join(missing))
    return TOKEN.sub(lambda m: environ[m.group(1)], text)


def main(argv):
    try:
        if len(argv) >= 4 and argv[1] == "env":
            doc = {"Parameters": []}
            for path in argv[2:-1]:
                with open(path) as f:
                    doc["Parameters"] += json.load(f).get("Parameters", [])
            notes = []
            written = render_env(doc, argv[-1], os.environ, notes)
            for note in notes:
                print("render.py: %s" % note, file=sys.stderr)
            print("rendered %s in %s (mode 600)" % (", ".join(written), argv[-1]))
            return 0
        if len(argv) == 3 and argv[1] == "template":
            with open(argv[2]) as f:
                sys.stdout.write(render_template(f.read(), os.environ))
            return 0
    except (RenderError, OSError, ValueError, KeyError) as exc:
        print("render.py: error: %s" % exc, file=sys.stderr)
        return 1
    print("usage: render.py env PARAMS_JSON... OUT_DIR | render.py template FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
