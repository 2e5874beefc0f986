"""Mutation testing of the modules that hold safety properties (``make mutate``).

Each module runs in its own scratch directory under ``.mutate/<name>/`` with a
``[mutmut]`` section written for it: only that module's functions are mutated
and only the tests that cover it are collected, so one module takes minutes on
two cores instead of the whole suite per mutant. mutmut (pinned in
requirements-dev.txt) then runs, for each mutant, only the tests that reached
the mutated function.

    python scripts/mutate.py run [NAME ...]   mutate NAME (default: every module), then report
    python scripts/mutate.py report [NAME ...] killed / survived / equivalent per module

Equivalent mutants (a change nothing can observe) are listed in
docs/mutation.md as lines ``- `MUTANT`: reason``; the report subtracts them
from the survivors and says how many there were. CI does not run this.
"""

from __future__ import annotations

import argparse
import configparser
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".mutate"
NOTE = ROOT / "docs" / "mutation.md"
# What tests read besides the package and tests/ (templates, parameter files,
# the instance's files, docs they check, the build script, the workflows).
ALSO_COPY = [
    "templates",
    "params",
    "instance-files",
    "docs",
    "build.py",
    "scripts",
    ".github",
    ".cfnlintrc.yaml",
    "README.md",
    "benchmarks",
    "ruff.toml",
    "requirements.txt",
    "requirements-dev.txt",
    "constraints.txt",
    "Makefile",
    ".ci",
]


@dataclass(frozen=True)
class Module:
    """One module under mutation: its file, the mutant names it counts
    (globs; default every function of the file) and the tests that cover it."""

    name: str
    path: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = field(default=())

    @property
    def module(self) -> str:
        # render.py is imported as a top-level module named "render" (it runs
        # on the instance as a script); everything else as wealist_cfn.*.
        return "render" if self.name == "render" else self.path.removesuffix(".py").replace("/", ".")

    @property
    def globs(self) -> list[str]:
        return [f"{self.module}.{f}" for f in self.functions] or [f"{self.module}.*"]


LINT_CACHE = "tests/test_lint_cache.py::"
MODULES = [
    Module(
        "health", "wealist_cfn/deploy/health.py", ("tests/deploy/test_health.py", "tests/deploy/test_status_health.py")
    ),
    # The key's properties (test_lint_key.py) and the cache's reads; the
    # build-level tests of test_lint_cache.py run cfn-lint over every
    # template and would take minutes per mutant.
    Module(
        "lintkey",
        "wealist_cfn/lint/__init__.py",
        (
            "tests/test_lint_key.py",
            f"{LINT_CACHE}test_corrupt_or_foreign_entries_are_misses",
            f"{LINT_CACHE}test_cache_entries_are_written_atomically",
            f"{LINT_CACHE}test_a_cfn_lint_version_or_config_change_invalidates_everything",
        ),
        functions=("x_lint_key*", "x__stack_urls*", "x__digest*", "xǁLintCache*"),
    ),
    # One test runs render.py under the system's python3 (as the instance
    # does), which cannot import mutmut's trampolines: it is left out here.
    Module(
        "render",
        "instance-files/config/render.py",
        (
            "tests/ops/test_instance_files.py",
            "tests/ops/test_boot_parameters.py",
            "tests/ops/test_render_cli.py",
            "tests/ops/test_render_values.py",
            "tests/ops/test_grafana.py",
            "tests/ops/test_db_init.py",
        ),
        extra_args=(
            "--deselect",
            "tests/ops/test_grafana.py::test_files_name_only_what_the_startup_script_exports_and_it_renders_them",
        ),
    ),
    Module(
        "policy",
        "wealist_cfn/deploy/policy.py",
        ("tests/deploy/test_policy_paths.py", "tests/deploy/test_engine_edges.py", "tests/deploy/test_guards.py"),
    ),
    # test_bootstrap.py and test_bootstrap_leaks.py run bootstrap against
    # moto's server, seconds a test; the fakes of test_bootstrap_properties.py
    # reach the same paths and the failures moto cannot produce in
    # milliseconds.
    Module(
        "bootstrap",
        "wealist_cfn/ops/bootstrap.py",
        ("tests/ops/test_bootstrap_values.py", "tests/ops/test_bootstrap_properties.py"),
    ),
    # The moto tests that run destroy end to end take a minute each; the
    # fakes of test_destroy_properties.py reach every function in
    # milliseconds.
    Module(
        "destroy",
        "wealist_cfn/daytwo/destroy.py",
        (
            "tests/daytwo/test_daytwo_destroy_cost.py",
            "tests/daytwo/test_daytwo_destroy_wait.py",
            "tests/daytwo/test_destroy_properties.py",
        ),
    ),
    # The proof of a change set this run did not make: the Stubber tests of
    # test_trust.py (not its command-line ones on moto's server) and the
    # fakes of test_verify_properties.py.
    Module(
        "verify",
        "wealist_cfn/deploy/verify.py",
        ("tests/deploy/test_trust.py", "tests/deploy/test_verify_properties.py"),
        extra_args=("-m", "not moto"),
    ),
    # Plain functions over a review's rows: no AWS at all.
    Module("updaterules", "wealist_cfn/cfn/updaterules.py", ("tests/deploy/test_update_rules_properties.py",)),
    Module("sequence", "wealist_cfn/deploy/sequence.py", ("tests/deploy/test_update_rules_properties.py",)),
    # What a deploy reads of the stack and does about its state: fakes of
    # CloudFormation answering by arguments (test_stackstate_properties.py,
    # a fifth of a second) instead of the engine tests that reach it through
    # a whole deploy.
    Module(
        "stackstate",
        "wealist_cfn/deploy/stackstate.py",
        ("tests/deploy/test_change_set_type.py", "tests/deploy/test_stackstate_properties.py"),
    ),
    # Fakes of CloudFormation answering by arguments
    # (test_changeset_properties.py, under a second): the engine tests reach
    # changeset.py through whole deploys, seconds a mutant, and left most of
    # it (candidates, lookup, delete_and_wait ...) to the moto tests.
    Module("changeset", "wealist_cfn/deploy/changeset.py", ("tests/deploy/test_changeset_properties.py",)),
    # Short forms, the parse cache's copies, the template set read from a
    # temporary directory (test_templates_properties.py, half a second).
    Module("templates", "wealist_cfn/cfn/templates.py", ("tests/deploy/test_templates_properties.py",)),
    # The review's judgements (call-outs, grants, counts, parameter values
    # shown) over rows built by hand (test_review_properties.py, half a
    # second); test_review*.py run whole plans on moto's server, seconds
    # each. Not yet here: the rendering (render_text, render_markdown,
    # render_json, _cells, _summary), row_from_change and to_dict.
    Module(
        "review",
        "wealist_cfn/deploy/review.py",
        ("tests/deploy/test_review_properties.py",),
        functions=(
            "x_is_placeholder*",
            "xǁRowǁ*",
            "xǁReviewǁcounts*",
            "xǁReviewǁconditional_replacements*",
            "xǁReviewǁguarded*",
            "x__is_list_type*",
            "x__as_items*",
            "x_list_value*",
            "x_parameter_changes*",
            "x_analyse*",
            "x__security_message*",
            "x__value__*",
            "x__as_list*",
            "x__network*",
            "x__covers*",
            "x__peer_covers*",
            "x__grants*",
        ),
    ),
    Module(
        "flow",
        "wealist_cfn/deploy/flow.py",
        (
            "tests/deploy/test_stubbed.py",
            "tests/deploy/test_engine_edges.py",
            "tests/deploy/test_guards.py",
            "tests/deploy/test_failures.py",
            "tests/deploy/test_approval.py",
        ),
    ),
    # The policy builders, called directly (no build of the whole set, which
    # took seconds a mutant): each group's ingress and egress, each role's
    # grants and trust, the secrets key's policy, asserted as data; and the
    # builder's template compared with the committed one, which catches a
    # change to what reviewers read (descriptions, statement IDs) that no
    # property names.
    Module("security", "wealist_cfn/stacks/security.py", ("tests/test_security_group_rules.py",)),
    Module("iam", "wealist_cfn/stacks/iam.py", ("tests/test_instance_role_policies.py",)),
    # github_oidc.py's policy functions: so far the secrets key's policy,
    # the GitHub roles' trust and the ARN helpers they share (some 560
    # mutants). The roles' own policies (_cloudformation, _plan_reads,
    # _preflight, _release, _bootstrap, _role_boundary) and the service
    # role's handler statements add some 2,000 more; their tests are in the
    # same file, their run is still to do: add their globs.
    Module(
        "githubpolicy",
        "wealist_cfn/stacks/github_oidc.py",
        ("tests/test_github_access_policies.py",),
        functions=(
            "x__trust*",
            "x__key_policy*",
            "x__secret_readers*",
            "x__all_secrets*",
            "x__stack_arns*",
            "x__deploy_bucket*",
            "x__bucket*",
            "x__arn*",
            "x__param_arn*",
            "x__role_arn*",
            "x__in_region*",
            "x__doc*",
        ),
    ),
    # The alarm topic's key policy (alarms.py _add_topic); the alarms
    # themselves are not mutated here.
    Module(
        "alarmkey", "wealist_cfn/stacks/alarms.py", ("tests/test_alarm_key_policy.py",), functions=("x__add_topic*",)
    ),
]
BY_NAME = {m.name: m for m in MODULES}

# exit codes mutmut records per mutant (mutmut/stats.py)
KILLED, SURVIVED = {1, 3, 37}, {0}
TIMEOUT = {36, -24, 24, 152, 255}
NO_TESTS = {5, 33}


def equivalents() -> dict[str, str]:
    """``{mutant name: reason}`` from docs/mutation.md."""
    if not NOTE.exists():
        return {}
    return dict(re.findall(r"^- `([^`]+)`: (.+)$", NOTE.read_text(), flags=re.M))


def _scratch(m: Module) -> Path:
    """A directory that looks like the repository to mutmut and the tests,
    with a [mutmut] section for this module only."""
    d = SCRATCH / m.name
    d.mkdir(parents=True, exist_ok=True)
    for entry in ["wealist_cfn", "tests", *ALSO_COPY]:
        link = d / entry
        if entry == "instance-files" and m.name == "render":
            continue
        if not link.exists() and (ROOT / entry).exists():
            link.symlink_to(ROOT / entry)
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    for section in list(cfg.sections()):
        if section != "tool:pytest":
            cfg.remove_section(section)
    also = [e for e in ALSO_COPY if (ROOT / e).exists()]
    if m.name == "render":
        # The tests find render.py under instance-files/config/; mutmut names
        # a module by its path, and the tests import it as "render". So the
        # mutated copy sits at the top, and instance-files/config/render.py
        # in the copy the tests run from points at it.
        src = d / "render.py"
        if not src.exists():
            src.symlink_to(ROOT / m.path)
        files = d / "instance-files"
        if not files.exists():
            shutil.copytree(
                ROOT / "instance-files",
                files,
                ignore=lambda p, names: [n for n in names if Path(p, n) == ROOT / m.path],
            )
        link = d / "mutants" / "instance-files" / "config" / "render.py"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to("../../render.py")
        sources = "render.py"
        also.append("wealist_cfn")  # the tests' fixtures import it; not mutated here
    else:
        sources = "wealist_cfn"
    cfg["mutmut"] = {
        "source_paths": sources,
        "only_mutate": "render.py" if m.name == "render" else m.path,
        "pytest_add_cli_args_test_selection": "\n" + "\n".join(m.tests),
        "pytest_add_cli_args": "\n" + "\n".join(["-p", "no:cacheprovider", *m.extra_args]),
        "also_copy": "\n" + "\n".join(also),
        "use_git_change_detection": "false",
    }
    with open(d / "setup.cfg", "w") as f:
        cfg.write(f)
    return d


def run(m: Module, children: int, survivors_only: bool = False) -> float:
    """Mutate ``m`` (every mutant it counts, or with ``survivors_only`` the
    survivors of the last run, after new tests were written to kill them);
    the time taken is kept beside the results."""
    d = _scratch(m)
    names = m.globs
    if survivors_only:
        last = counts(m, equivalents())
        names = last["survivors"] if last else []
        if not names:
            return 0.0
    start = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *names], cwd=d, env=env, check=False
    )
    took = time.monotonic() - start
    took_file = d / "took.json"
    if survivors_only and took_file.exists():
        previous = json.loads(took_file.read_text())
        took_file.write_text(json.dumps({**previous, "rerun_seconds": round(took)}))
    else:
        took_file.write_text(json.dumps({"seconds": round(took)}))
    return took


def counts(m: Module, equivalent: dict[str, str]) -> dict | None:
    meta = SCRATCH / m.name / "mutants" / ((m.path if m.name != "render" else "render.py") + ".meta")
    if not meta.exists():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    mine = {k: v for k, v in codes.items() if any(fnmatch.fnmatchcase(k, g) for g in m.globs)}
    c = {
        "total": len(mine),
        "killed": 0,
        "survived": 0,
        "equivalent": 0,
        "timeout": 0,
        "no tests": 0,
        "not checked": 0,
        "other": 0,
        "survivors": [],
    }
    for k, v in sorted(mine.items()):
        if v in KILLED:
            c["killed"] += 1
        elif v in TIMEOUT:
            c["timeout"] += 1  # the mutant hangs a test: caught, as pytest-timeout would
        elif v is None:
            c["not checked"] += 1
        elif k in equivalent:
            c["equivalent"] += 1
        elif v in SURVIVED:
            c["survived"] += 1
            c["survivors"].append(k)
        elif v in NO_TESTS:
            c["no tests"] += 1
            c["survivors"].append(k)
        else:
            c["other"] += 1
    took = SCRATCH / m.name / "took.json"
    c["seconds"] = json.loads(took.read_text())["seconds"] if took.exists() else None
    return c


def report(names: list[str], show: bool) -> int:
    equivalent = equivalents()
    print(
        f"{'module':<11} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} "
        f"{'equiv':>5} {'unrun':>5} {'score':>6} {'time':>6}"
    )
    for name in names:
        m = BY_NAME[name]
        c = counts(m, equivalent)
        if c is None:
            print(f"{name:<11} not run")
            continue
        decided = c["total"] - c["equivalent"] - c["not checked"]
        score = f"{100 * (c['killed'] + c['timeout']) / decided:5.1f}%" if decided else "  -"
        took = f"{c['seconds']}s" if c["seconds"] is not None else "-"
        print(
            f"{name:<11} {c['total']:>7} {c['killed']:>6} {c['timeout']:>7} {c['survived']:>8} {c['no tests']:>8} "
            f"{c['equivalent']:>5} {c['not checked']:>5} {score:>6} {took:>6}"
        )
        if show:
            for s in c["survivors"]:
                print(f"    survived: {s}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["run", "report"])
    p.add_argument("names", nargs="*", metavar="NAME", help="modules: " + ", ".join(BY_NAME))
    p.add_argument("--children", type=int, default=2, help="mutants run at once (default 2)")
    p.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    p.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="run only the last run's survivors again (after adding tests to kill them)",
    )
    a = p.parse_args(argv)
    names = a.names or list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        p.error(f"unknown module {', '.join(unknown)}; one of {', '.join(BY_NAME)}")
    if a.command == "run":
        for name in names:
            run(BY_NAME[name], a.children, a.rerun_survivors)
    return report(names, a.survivors or a.command == "run")


if __name__ == "__main__":
    sys.exit(main())
