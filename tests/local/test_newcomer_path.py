"""A newcomer's first session on the local endpoint, command by command as
the docs give them, asserting what the user reads at each step.

Stand-in: moto's server behind ``local up``, with the compat layer. What it
relies on from AWS's rules: a CREATE change set left unexecuted leaves a
REVIEW_IN_PROGRESS stack that the next CREATE change set reuses
(CreateChangeSet, ChangeSetType), so the name keeps one stack; preflight's
failures stop a rehearsal as they stop a deploy. The upsized-instance line is
recomputed by hand from the committed Seoul table: t3.medium $0.052 and
t3.large $0.104 an hour, 2 backend instances, 730 hours: 2 x 0.052 x 730 =
+$75.92 a month, with no item left out.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from .conftest import ROOT, params_with, run_cli

pytestmark = pytest.mark.moto

PARAMS = "params/prod.json"


def _prices() -> dict:
    from wealist_cfn.preflight import cost

    return cost.load_prices("ap-northeast-2").entries


def test_plan_discard_deploy_outputs_and_an_upsized_instance(local_env, tmp_path):
    env = local_env
    assert run_cli("local", "up", env=env).returncode == 0

    # 1. A first look: the plan of a create, thrown away.
    plan = run_cli("plan", "--params", PARAMS, "--local", "--discard", env=env)
    assert plan.returncode == 1, plan.stdout + plan.stderr  # preflight: nothing bootstrapped yet

    # 2. Deploy before bootstrap: stopped where AWS would stop it, with the one command.
    early = run_cli("deploy", "--params", PARAMS, "--local", "--yes", env=env)
    assert early.returncode == 1
    assert (
        early.stderr.strip()
        .splitlines()[-1]
        .endswith(f"need what bootstrap makes; run: python build.py bootstrap --params {PARAMS} --local")
    )
    assert "n/a   database" in early.stdout and "FAIL  database" not in early.stdout
    assert "placeholder" not in early.stdout + early.stderr

    # 3. Bootstrap, look at the plan and leave its change set unexecuted, then deploy.
    assert run_cli("bootstrap", "--params", PARAMS, "--local", env=env).returncode == 0
    looked = run_cli("plan", "--params", PARAMS, "--local", env=env)
    assert looked.returncode == 0, looked.stdout + looked.stderr
    # 15: redis-members joined (moto answers DescribeReplicationGroups: no group yet).
    assert "preflight passed: 15 checks (2 not checkable here: database, cache)" in looked.stdout
    assert "left for review (not executed)" in looked.stdout
    deploy = run_cli("deploy", "--params", PARAMS, "--local", "--yes", env=env)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "final state: CREATE_COMPLETE" in deploy.stdout

    # 4. One stack of that name, and its outputs.
    status = run_cli("local", "status", env=env)
    assert "stacks in ap-northeast-2: 1" in status.stdout
    assert status.stdout.count("wealist-prod  ") == 1
    # Only what the endpoint holds for the account: moto lists AWS's public
    # /aws/service/ parameters too (AWS's DescribeParameters does not).
    assert "/wealist/prod/db/postgres_superuser_password" in status.stdout and "/aws/service/" not in status.stdout
    # A reader that stops early (`| head -1`) ends the command quietly.
    piped = subprocess.run(
        f"{shlex.quote(sys.executable)} build.py local status | head -1",
        shell=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.stdout.startswith("local endpoint: ") and piped.stderr == ""
    outputs = run_cli("outputs", "--params", PARAMS, "--local", "--output", "json", env=env)
    assert outputs.returncode == 0, outputs.stderr
    assert json.loads(outputs.stdout)["VpcId"].startswith("vpc-")

    # 5. Upsizing the backend: the plan's monthly cost difference is the price of the bigger size.
    prices = _prices()
    assert (prices["ec2:t3.medium"]["usd"], prices["ec2:t3.large"]["usd"]) == (0.052, 0.104)
    bigger = params_with(tmp_path, BackendInstanceType="t3.large")
    upsized = run_cli("plan", "--params", str(bigger), "--local", "--discard", env=env)
    assert upsized.returncode == 0, upsized.stdout + upsized.stderr
    assert "monthly cost: BackendInstanceType t3.medium→t3.large: +$75.92/month" in upsized.stdout
    assert "incomplete" not in upsized.stdout.split("monthly cost:", 1)[1].splitlines()[0]
