"""``destroy --local`` honours the database's deletion protection as AWS does.

Stand-in: moto's server started by ``local up`` with the project's compat
layer (rehearsal/compat.py piece 16 records the template's DeletionProtection on
the RDS instance, as CloudFormation passes it to RDS). params/prod.json sets
DeletionProtection true. In AWS a protected DB instance cannot be deleted
("Cannot delete protected DB Instance, please disable deletion protection and
try again.", InvalidParameterCombination); destroy reads the protection
first and refuses until --disable-protection, which turns it off and then
deletes. Before piece 16 the local destroy deleted the stack without it.
"""

from __future__ import annotations

from .conftest import run_cli


def test_destroy_local_refuses_a_protected_database_then_deletes_with_disable_protection(local_env):
    assert run_cli("local", "up", env=local_env).returncode == 0
    assert run_cli("bootstrap", "--params", "params/prod.json", "--local", env=local_env).returncode == 0
    made = run_cli("deploy", "--params", "params/prod.json", "--local", "--yes", env=local_env)
    assert made.returncode == 0, made.stdout + made.stderr
    base = (
        "destroy",
        "--params",
        "params/prod.json",
        "--local",
        "--production",
        "--yes",
        "--confirm-stack",
        "wealist-prod",
    )
    refused = run_cli(*base, env=local_env)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "refused: protection is on: database protection on DatabaseStack/Database" in refused.stderr
    still = run_cli("outputs", "--params", "params/prod.json", "--local", env=local_env)
    assert still.returncode == 0 and "VpcId" in still.stdout, still.stdout + still.stderr
    done = run_cli(*base, "--disable-protection", env=local_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "database protection of DatabaseStack/Database turned off" in done.stdout
    assert "wealist-prod deleted" in done.stdout
