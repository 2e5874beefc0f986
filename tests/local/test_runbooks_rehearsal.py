"""docs/first-day.md and the runbooks in docs/runbooks/ hold only commands
that work: each of this tool's commands is run on the local endpoint as
written, and each command that needs a real account is marked so, and names
an operation and options the pinned AWS CLI has.

How a page marks its fenced blocks (an HTML comment on the line before):

- no marker: this tool's commands only (``python build.py ...``); run in
  order, each must exit 0. Against the local endpoint the test adds
  ``--local`` where the command takes it, and ``--yes`` to a ``deploy`` (the
  ``y`` a person types at its prompt);
- ``<!-- local: exit N -->``: run the same way, must exit N (a command whose
  stack state the local endpoint does not have, e.g. ``continue-rollback``
  outside UPDATE_ROLLBACK_FAILED, refuses with exit 3);
- ``<!-- aws-only -->``: needs an AWS account; never run here, and may not
  hold a command of this tool (it would escape the run);
- ``<!-- not-run: REASON -->``: runs elsewhere (on an instance, a fresh
  machine), with the reason written down;
- ``<!-- output -->`` before a ``text`` block: each of its lines must appear
  in the output of the block of commands before it, ``…`` standing for
  anything.

Stand-ins: moto's server behind ``local up`` (the same endpoint as
test_docs_rehearsal.py, whose layers are tested in test_updates.py); for the
AWS CLI commands, the command table of the pinned AWS CLI v1 (awscli's own
driver: services, operations, waiters and every option it accepts), with no
call made. What that does not prove: that AWS accepts the values, or the
order of the steps against a real account; each runbook cites the AWS page
its procedure follows.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, pid_alive
from .docs_commands import Block, commands, fenced_blocks, is_tool_command, user_env, without_comment

pytestmark = pytest.mark.moto

FIRST_DAY = ROOT / "docs" / "first-day.md"
RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
PAGES = [FIRST_DAY, *RUNBOOKS]
KNOWN_INFO = {"sh", "text", "json", "yaml"}
# Subcommands that talk to an endpoint and take --local (build.py COMMAND --help).
LOCAL_COMMANDS = {
    "deploy",
    "plan",
    "package",
    "cancel",
    "continue-rollback",
    "changesets",
    "status",
    "bootstrap",
    "rollout",
    "preflight",
    "diff",
    "drift",
    "outputs",
    "events",
    "destroy",
}
TIMEOUT = 300


def _marker_exit(block: Block) -> int | None:
    """The exit status a runnable block must have, or None when it is not run."""
    if block.info != "sh":
        return None
    if block.marker is None:
        return 0
    m = re.fullmatch(r"local: exit (\d+)", block.marker)
    return int(m.group(1)) if m else None


def as_run_locally(command: str) -> list[str]:
    """The words run for a documented tool command on the local endpoint."""
    words = shlex.split(without_comment(command) if "#" in command else command)
    sub = words[2] if len(words) > 2 and not words[2].startswith("-") else None
    if sub in LOCAL_COMMANDS and "--local" not in words:
        words.append("--local")
    if sub == "deploy" and "--yes" not in words and "--change-set" not in words:
        words.append("--yes")
    return words


def _output_blocks(blocks: list[Block]) -> list[tuple[Block, Block]]:
    """(``text`` block marked output, the runnable block before it)."""
    pairs, last = [], None
    for b in blocks:
        if _marker_exit(b) is not None:
            last = b
        elif b.info == "text" and b.marker == "output":
            assert last is not None, f"{b.where}: an output block with no command block before it"
            pairs.append((b, last))
    return pairs


def _line_pattern(line: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in line.strip().split("…")))


# --- what the pages may hold -------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_block_is_marked_for_what_it_needs(page):
    """Nothing escapes: a block of commands is either this tool's (and run),
    or marked as needing AWS or another place, with no tool command hidden in
    it; a marker is one of the known ones."""
    blocks = fenced_blocks(page)
    assert blocks or page.name == "README.md", f"{page.name}: no fenced block"
    for b in blocks:
        assert b.info in KNOWN_INFO, f"{b.where}: fence without a known info string ({b.info!r})"
        if b.marker is not None:
            assert (
                b.marker in ("aws-only", "output")
                or re.fullmatch(r"local: exit \d+", b.marker)
                or re.fullmatch(r"not-run: \S.*", b.marker)
            ), f"{b.where}: unknown marker {b.marker!r}"
        if b.info != "sh":
            assert b.marker in (None, "output"), f"{b.where}: {b.marker!r} on a {b.info} block"
            continue
        assert b.marker != "output", f"{b.where}: <!-- output --> belongs before a text block"
        cmds = commands(b)
        assert cmds, f"{b.where}: an empty command block"
        tool = [c for c in cmds if is_tool_command(c)]
        if _marker_exit(b) is not None:
            others = [c for c in cmds if not is_tool_command(c)]
            assert not others, f"{b.where}: not this tool's command, mark the block <!-- aws-only -->: {others[0]}"
        else:
            assert not tool, f"{b.where}: a tool command in a block that is not run: {tool[0]}"


def test_first_day_has_the_newcomers_commands_in_order():
    """The first-day page's rehearsal is build, local up, bootstrap, plan,
    deploy, status, in that order, all on the local endpoint."""
    run = [c for b in fenced_blocks(FIRST_DAY) if _marker_exit(b) == 0 for c in commands(b)]
    steps = [" ".join(w for w in c.split()[:4] if not w.startswith("-")) for c in run]
    wanted = [
        "python build.py",
        "python build.py local up",
        "python build.py bootstrap",
        "python build.py plan",
        "python build.py deploy",
        "python build.py status",
    ]
    positions = [steps.index(w) for w in wanted]
    assert positions == sorted(positions), steps
    assert all("--local" in c for c in run if c.split()[2:3] and c.split()[2] in LOCAL_COMMANDS), run


def test_runbooks_are_linked_from_the_index_the_first_day_page_and_the_readme():
    index = (ROOT / "docs" / "runbooks" / "README.md").read_text()
    for page in RUNBOOKS:
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/runbooks/README.md does not link {page.name}"
    assert "](runbooks/README.md)" in FIRST_DAY.read_text()
    readme = (ROOT / "README.md").read_text()
    assert "](docs/first-day.md)" in readme and "](docs/runbooks/README.md)" in readme


def test_troubleshooting_covers_every_alarm_the_stack_creates():
    """Each alarm of templates/alarms.yaml (both modes) has its section."""
    names = re.findall(
        r"AlarmName: !Sub '\$\{Project\}-\$\{Environment\}-(alarm-[a-z0-9-]+)'",
        (ROOT / "templates" / "alarms.yaml").read_text(),
    )
    assert len(names) == 22, names
    page = (ROOT / "docs" / "runbooks" / "troubleshooting.md").read_text()
    sections = set(re.findall(r"^### (alarm-[a-z0-9-]+)$", page, re.M))
    assert sections == set(names), (sorted(set(names) - sections), sorted(sections - set(names)))


# --- the AWS CLI commands ----------------------------------------------------------------------


def _aws_commands(block: Block) -> list[str]:
    """Every ``aws ...`` command of a block, those inside ``$(...)`` included."""
    found = []
    for c in commands(block):
        found += [m.group(1) for m in re.finditer(r"\$\((aws [^()]*)\)", c)]
        if c.startswith("aws "):
            found.append(re.sub(r"\"?\$\(aws [^()]*\)\"?", "VALUE", c))
    return found


@pytest.fixture(scope="module")
def aws_cli():
    """The pinned AWS CLI's command table (awscli v1, its own driver): the
    services, operations, waiters and options `aws` accepts."""
    from awscli.clidriver import create_clidriver

    driver = create_clidriver()
    return driver._get_command_table(), set(driver._get_argument_table())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_aws_cli_commands_name_real_operations_and_options(page, aws_cli):
    table, global_options = aws_cli
    for b in fenced_blocks(page):
        if b.info != "sh":
            continue
        for c in _aws_commands(b):
            words = shlex.split(c)
            assert len(words) >= 3, f"{b.where}: {c}"
            service, op = words[1], words[2]
            assert service in table, f"{b.where}: the AWS CLI has no service {service!r}"
            ops = table[service]._get_command_table()
            assert op in ops, f"{b.where}: aws {service} has no command {op!r}"
            command, rest = ops[op], words[3:]
            if op == "wait":
                waiters = command.subcommand_table
                assert rest and rest[0] in waiters, f"{b.where}: aws {service} wait has no waiter {rest[:1]}"
                command, rest = waiters[rest[0]], rest[1:]
            options = set(command.arg_table) | global_options
            for w in rest:
                if w.startswith("--"):
                    assert w[2:] in options, f"{b.where}: aws {service} {op} has no option {w}"


# --- running this tool's commands --------------------------------------------------------------

# The build commands (no subcommand: `python build.py`, `--check`, `--no-lint`) read the checkout
# only, never the endpoint: the same command gives the same result on every page of this run, so
# each is run once (a full lint takes tens of seconds on a busy machine).
_BUILDS: dict[tuple[str, ...], subprocess.CompletedProcess] = {}


def _run(words: list[str], env: dict) -> subprocess.CompletedProcess:
    build_only = len(words) == 2 or words[2].startswith("-")
    if build_only and tuple(words) in _BUILDS:
        return _BUILDS[tuple(words)]
    r = subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if build_only:
        _BUILDS[tuple(words)] = r
    return r


def _run_page(page: Path, env: dict) -> dict[int, str]:
    """Run the page's tool commands in order; the output of each block by its line."""
    out = {}
    for b in fenced_blocks(page):
        want = _marker_exit(b)
        if want is None:
            continue
        texts = []
        for c in commands(b):
            words = as_run_locally(c)
            r = _run(words, env)
            assert r.returncode == want, (
                f"{b.where}: {shlex.join(words)} exited {r.returncode}, the page says {want}\n{r.stdout}\n{r.stderr}"
            )
            texts.append(r.stdout + r.stderr)
        out[b.line] = "\n".join(texts)
    return out


def _check_outputs(page: Path, ran: dict[int, str]) -> None:
    for shown, before in _output_blocks(fenced_blocks(page)):
        printed = ran[before.line].splitlines()
        for line in shown.text.splitlines():
            pattern = _line_pattern(line)
            assert any(pattern.fullmatch(p.rstrip()) for p in printed), (
                f"{shown.where}: the page shows a line the commands at {before.where} did not print:\n{line}\n"
                "printed:\n" + "\n".join(printed)
            )


@pytest.fixture
def shell(tmp_path):
    """A user's shell with the virtualenv active and a local-endpoint state
    folder of this test's own; an endpoint left running is stopped."""
    env = user_env(tmp_path / "state")
    yield env
    state = tmp_path / "state" / "endpoint.json"
    if state.exists():
        pid = json.loads(state.read_text())["pid"]
        subprocess.run(["python", "build.py", "local", "down"], cwd=ROOT, env=env, timeout=60)
        if pid_alive(pid):  # `local down` itself failed (a broken interpreter): stop the test's own server
            os.kill(pid, signal.SIGTERM)


# A full build and lint (CI=true lints every template), then an endpoint's first deploy.
@pytest.mark.timeout(400)
def test_first_day_runs_as_written_from_a_fresh_checkout(shell):
    """A newcomer's session, from the page alone: build, local up, bootstrap,
    plan, deploy, status, outputs, events, local down; each exits 0, the
    lines the page shows are printed, and no endpoint is left running."""
    ran = _run_page(FIRST_DAY, shell)
    _check_outputs(FIRST_DAY, ran)
    up = next(text for text in ran.values() if "local endpoint running" in text)
    pid = int(re.search(r"PID (\d+)\)", up).group(1))
    assert not pid_alive(pid), "the page's local down left the endpoint running"


@pytest.fixture(scope="module")
def runbook_shell(tmp_path_factory):
    """A user's shell with one local endpoint running for every runbook page
    (``local up`` and ``local down`` themselves are run by the first-day page
    and test_lifecycle.py); ``(environment, endpoint URL)``. Stopped at the end."""
    state = tmp_path_factory.mktemp("runbooks") / "state"
    env = user_env(state)
    r = subprocess.run(
        ["python", "build.py", "local", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert r.returncode == 0, f"local up: {r.stdout}\n{r.stderr}"
    ep = json.loads((state / "endpoint.json").read_text())
    try:
        yield env, ep["url"]
    finally:
        subprocess.run(["python", "build.py", "local", "down"], cwd=ROOT, env=env, timeout=60)
        if pid_alive(ep["pid"]):  # `local down` itself failed: stop the module's own server
            os.kill(ep["pid"], signal.SIGTERM)


def _as_fresh(url: str) -> None:
    """Empty the endpoint and seed moto's ID generator as a new ``local up``
    does (moto's own /moto-api/reset and /moto-api/seed; the layers patch
    classes and hold no state of their own)."""
    from wealist_cfn.rehearsal.server import SEED

    for path in ("/moto-api/reset", f"/moto-api/seed?a={SEED}"):
        urllib.request.urlopen(urllib.request.Request(url + path, method="POST"), timeout=60).read()


# Each page bootstraps and deploys the stack on the emptied endpoint, then runs up to a dozen
# commands of a second or more each: above the suite's 150 s on the shared machine under load.
@pytest.mark.timeout(400)
@pytest.mark.parametrize("page", [p for p in RUNBOOKS if p.name != "README.md"], ids=lambda p: p.name)
def test_runbook_commands_run_on_a_deployed_stack(page, runbook_shell):
    """Each runbook's tool commands, on a local endpoint holding wealist-prod
    as the first deploy left it (one endpoint for all pages, emptied before
    each), exit as the page says and print what it shows."""
    shell, url = runbook_shell
    _as_fresh(url)
    for args in (
        ["bootstrap", "--params", "params/prod.json", "--local"],
        ["deploy", "--params", "params/prod.json", "--local", "--yes"],
    ):
        r = subprocess.run(
            ["python", "build.py", *args], cwd=ROOT, env=shell, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
    _check_outputs(page, _run_page(page, shell))
