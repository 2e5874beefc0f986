"""The options every command of ``build.py`` shares, declared once.

:func:`common_parser` is the argparse parent parser every subcommand (and
the plain build) gets: which environment (``--env``, ``--parameter``), how
much to say (``-q``, ``-v``, ``--debug``) and whether in colour
(``--no-color``). :func:`resolve_environment` turns them, ``WEALIST_ENV``
and the project config file into the parameter file a command reads, and
says where the choice came from.

Which parameter file, first match wins::

    1. flag         --params FILE, or --env NAME (params/NAME.json); not both
    2. environment  WEALIST_ENV=NAME
    3. config file  env = "NAME" in wealist-cfn.toml at the project root
    4. default      none: a command that needs a file says so (the plain
                    build validates every params/*.json)

Each value inside the file: ``--parameter Key=Value`` > the file > the
parameter's default (:meth:`wealist_cfn.config.Config.source`).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from wealist_cfn.core.settings import PARAMS_DIR, ROOT_DIR
from wealist_cfn.errors import EXIT_USAGE, CommandError

ENV_VAR = "WEALIST_ENV"
PROJECT_CONFIG = ROOT_DIR / "wealist-cfn.toml"
# The keys the project config file may set.
CONFIG_KEYS = {"env": "the default environment: params/<env>.json"}
ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

PRECEDENCE_HELP = f"""which parameter file (first match wins):
  1. flag         --params FILE, or --env NAME (params/NAME.json); not both
  2. environment  {ENV_VAR}=NAME
  3. config file  env = "NAME" in wealist-cfn.toml at the project root
  4. default      none: the command asks for one (the plain build checks every params/*.json)
each value in it: --parameter Key=Value > the file > the parameter's default"""

# The defaults of the shared options. The parent parser's own defaults are
# SUPPRESS, so a flag given before the command (`build.py -v deploy`) is not
# overwritten by the command's parser, which has the same options.
DEFAULTS = {"quiet": False, "verbose": False, "debug": False, "no_color": False, "env": None, "parameter": []}


def common_parser() -> argparse.ArgumentParser:
    """The parent parser of the plain build and of every command."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    sup = argparse.SUPPRESS
    g.add_argument(
        "--env",
        metavar="NAME",
        default=sup,
        help=f"use params/NAME.json (default: ${ENV_VAR}, else env in wealist-cfn.toml); not with --params",
    )
    g.add_argument(
        "--parameter",
        action="append",
        metavar="KEY=VALUE",
        default=sup,
        help="override one value of the parameter file, checked like the file (repeatable)",
    )
    talk = g.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true", default=sup, help="print only the result and errors")
    talk.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=sup,
        help="also show each AWS call with its timing (never its parameters)",
    )
    talk.add_argument(
        "--debug",
        action="store_true",
        default=sup,
        help="-v, plus botocore's wire log with secrets redacted, and a traceback for a bug "
        "(WEALIST_CFN_DEBUG=1 does the same)",
    )
    g.add_argument(
        "--no-color",
        action="store_true",
        default=sup,
        help="no colour (also when NO_COLOR is set; colour is only ever used on a terminal)",
    )
    return p


# Every report format a command may write: text for a person; json (the
# document alone on stdout, progress on stderr) for a script; markdown for a
# pull-request comment or $GITHUB_STEP_SUMMARY.
OUTPUTS = ("text", "json", "markdown")

# The options a command shares with others, each declared once, with one help
# text, in its own parent parser (:func:`shared`). A command takes the ones it
# reads and no other (tests/test_cli_face.py walks every parser).
_SHARED = {
    "params": lambda p: p.add_argument(
        "--params",
        type=Path,
        metavar="FILE",
        default=None,
        help="parameter file, e.g. params/prod.json (or --env NAME)",
    ),
    "region": lambda p: p.add_argument(
        "--region",
        help="AWS region (default: the parameter file's, whose availability zones it must match; "
        "without a file, the profile's)",
    ),
    "profile": lambda p: p.add_argument("--profile", help="AWS profile (not with --local)"),
    "endpoint-url": lambda p: p.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="a local AWS endpoint instead of AWS, with its scheme: http://localhost:5000",
    ),
    "local": lambda p: p.add_argument(
        "--local",
        action="store_true",
        help="use the local endpoint of `python build.py local up` (region and dummy credentials set; nothing "
        "reaches AWS)",
    ),
    "output": lambda p: p.add_argument(
        "--output",
        choices=OUTPUTS,
        default="text",
        help="text, or json / markdown: the document alone on stdout, progress on stderr",
    ),
}
SHARED_FLAGS = tuple(f"--{name}" for name in _SHARED)


@functools.cache
def _shared_parser(name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    _SHARED[name](p)
    if name == "params":
        # cli._setup resolves the file from --params, --env, WEALIST_ENV or the
        # config file; a command that needs one sets params_required.
        p.set_defaults(takes_params=True)
    return p


def shared(*names: str) -> list[argparse.ArgumentParser]:
    """The parent parsers of the shared options ``names`` (``params``,
    ``region``, ``profile``, ``endpoint-url``, ``local``, ``output``), for
    ``add_parser(..., parents=shared(...))``. The same option objects each
    time: an option has one declaration and one help text."""
    return [_shared_parser(name) for name in names]


def fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    for key, value in DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, list(value) if isinstance(value, list) else value)
    if os.environ.get("WEALIST_CFN_DEBUG"):
        args.debug = True
    if args.debug:
        args.verbose = True
    return args


def color_enabled(args: argparse.Namespace | None, stream=None) -> bool:
    """Colour only on a terminal, and never with --no-color or a non-empty
    NO_COLOR (https://no-color.org)."""
    stream = stream or sys.stdout
    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Choice:
    """The parameter file a command uses and why."""

    path: Path | None
    source: str  # --params | --env | WEALIST_ENV | wealist-cfn.toml | default
    env: str | None = None

    def to_dict(self) -> dict:
        return {"path": str(self.path) if self.path else None, "from": self.source, "env": self.env}


def read_project_config(path: Path | None = None) -> dict:
    """The project config file's settings ({} when there is none); a
    problem is one line naming the file and the key (exit 2)."""
    path = path or PROJECT_CONFIG
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{_show(path)}: cannot be read: {exc}", EXIT_USAGE) from None
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"{_show(path)}: not valid TOML: {exc}", EXIT_USAGE) from None
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            raise CommandError(f"{_show(path)}: {key}: unknown setting (known: {', '.join(CONFIG_KEYS)})", EXIT_USAGE)
        if not isinstance(value, str):
            raise CommandError(f'{_show(path)}: {key}: must be a string, e.g. {key} = "dev"', EXIT_USAGE)
    return data


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _env_file(name: str, where: str) -> Path:
    if not ENV_NAME.fullmatch(name):
        raise CommandError(f"{where}: {name!r} is not an environment name (letters, digits, - and _)", EXIT_USAGE)
    path = PARAMS_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(PARAMS_DIR.glob("*.json")))
        raise CommandError(f"{where}: no params/{name}.json (environments: {known})", EXIT_USAGE)
    return path.relative_to(ROOT_DIR) if Path.cwd() == ROOT_DIR else path


def choose(params_flag, env_flag: str | None, environ=None, config_path: Path | None = None) -> Choice:
    """Apply the precedence of :data:`PRECEDENCE_HELP` (the flag, then
    ``WEALIST_ENV``, then the config file, then none)."""
    environ = os.environ if environ is None else environ
    if params_flag and env_flag:
        raise CommandError(
            f"--params and --env both name a parameter file: give one (--env {env_flag} is params/{env_flag}.json)",
            EXIT_USAGE,
        )
    if params_flag:
        return Choice(params_flag, "--params")
    if env_flag:
        return Choice(_env_file(env_flag, f"--env {env_flag}"), "--env", env_flag)
    value = environ.get(ENV_VAR, "").strip()
    if value:
        return Choice(_env_file(value, f"{ENV_VAR}={value}"), ENV_VAR, value)
    cfg_path = config_path or PROJECT_CONFIG
    value = read_project_config(cfg_path).get("env", "").strip()
    if value:
        return Choice(_env_file(value, f"{_show(cfg_path)}: env"), cfg_path.name, value)
    return Choice(None, "default")


def resolve_environment(args: argparse.Namespace, *, required: bool, build: bool = False) -> Choice | None:
    """Set ``args.params`` from the flags, the environment and the config
    file. ``build``: the plain build, whose default is every params file
    and which reads only the flags (a WEALIST_ENV in a shell must not narrow
    what the build checks). None when the command takes no parameter file."""
    if not build and not getattr(args, "takes_params", False):
        if args.env or args.parameter:
            flag = "--env" if args.env else "--parameter"
            raise CommandError(f"{flag}: this command takes no parameter file", EXIT_USAGE)
        return None
    if build:
        if args.params and args.env:
            choose(args.params, args.env)  # the one-line refusal
        if args.env:
            args.params = [_env_file(args.env, f"--env {args.env}")]
        choice = (
            Choice(None, "default")
            if not args.params
            else Choice(args.params[0], "--params" if not args.env else "--env", args.env)
        )
    else:
        choice = choose(args.params, args.env)
        args.params = choice.path
        if choice.path is None and required:
            raise CommandError(
                f"no parameter file: give --env NAME (params/NAME.json) or --params FILE, or set "
                f'{ENV_VAR}=NAME or env = "NAME" in wealist-cfn.toml',
                EXIT_USAGE,
            )
    args.params_choice = choice
    if args.parameter and not args.params:
        raise CommandError(
            "--parameter overrides a value of a parameter file: name one with --env NAME or --params FILE", EXIT_USAGE
        )
    return choice


def params_document(args: argparse.Namespace, cfg) -> dict:
    """The ``paramsFile`` and ``parameters`` keys every ``--output json``
    document of a command with a parameter file carries: which file and how
    it was chosen (:class:`Choice`), and every root parameter's effective
    value with its source (``config.Config.effective``: file, --parameter,
    derived, default). ``cfg`` None: the command ran without a file. A NoEcho
    value is never shown."""
    choice = getattr(args, "params_choice", None)
    if choice is None:  # called without cli._setup (a test, a library caller)
        path = getattr(args, "params", None)
        choice = Choice(path, "--params") if path else Choice(None, "default")
    if cfg is None:
        return {"paramsFile": choice.to_dict(), "parameters": []}
    from wealist_cfn.core.parameters import PARAMS_BY_NAME  # troposphere: only once a file is read

    def shown(entry: dict) -> dict:
        spec = PARAMS_BY_NAME.get(entry["key"])
        return dict(entry, value="****") if spec is not None and spec.no_echo else entry

    return {"paramsFile": choice.to_dict(), "parameters": [shown(e) for e in cfg.effective()]}


class _Nowhere:
    """Where -q sends progress: nothing is written."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


NOWHERE = _Nowhere()
