"""The smaller first-deploy rules: the compute stack waits for the database
and the cache; the review says what a create-only change to a custom-named
resource really does and that a changed launch template needs a rollout;
the database's engine version is the major only; bootstrap names an
account-unique bucket when the name is taken.

Stand-ins: none for the templates (built and read as data); the review is
fed rows shaped as DescribeChangeSet returns them; S3 is botocore's Stubber
with the CreateBucket error AWS documents (BucketAlreadyExists: "The
requested bucket name is not available ... Select a different name", S3 API
reference, CreateBucket / Error responses)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from wealist_cfn import root
from wealist_cfn.config import load
from wealist_cfn.deploy import review as review_mod
from wealist_cfn.ops import bootstrap
from wealist_cfn.settings import DEFAULT_SETTINGS, PARAMS_DIR
from wealist_cfn.stacks import database


def test_compute_waits_for_the_database_and_the_cache():
    """No output wires them (the boot reads the endpoints from Parameter
    Store), so only DependsOn orders the compute stack after them."""
    built = root.build_all(DEFAULT_SETTINGS)["root.yaml"].to_dict()["Resources"]
    assert sorted(built["ComputeStack"]["DependsOn"]) == ["CacheStack", "DatabaseStack"]


def test_engine_version_is_the_major_only():
    props = json.loads(database.build(DEFAULT_SETTINGS).to_json())["Resources"]["Database"]["Properties"]
    assert props["EngineVersion"].isdigit() and props["AutoMinorVersionUpgrade"] is True


def _review(*changes) -> review_mod.Review:
    r = review_mod.Review("wealist-prod", "UPDATE")
    r.rows = [review_mod.row_from_change(path, {"ResourceChange": c}) for path, c in changes]
    review_mod.analyse(r)
    return r


def _replace(rid, rtype, prop):
    return {"Action": "Modify", "LogicalResourceId": rid, "ResourceType": rtype, "Replacement": "True",
            "PolicyAction": "ReplaceAndSnapshot", "Scope": ["Properties"],
            "Details": [{"Target": {"Attribute": "Properties", "Name": prop, "RequiresRecreation": "Always"},
                         "Evaluation": "Static", "ChangeSource": "DirectModification"}]}


def test_a_create_only_change_to_a_named_database_is_a_failure_to_come_not_a_replacement():
    """The database and the Redis group have fixed names: CloudFormation
    cannot replace them, the update fails. An unnamed stateful resource (a
    subnet) is still reviewed as replaced."""
    r = _review(("DatabaseStack", _replace("Database", "AWS::RDS::DBInstance", "DBName")),
                ("NetworkStack", _replace("PrivateSubnet1", "AWS::EC2::Subnet", "CidrBlock")))
    by_where = {c.where: c for c in r.guarded}
    db = by_where["DatabaseStack/Database"]
    assert "cannot replace it: this update would fail and roll back" in db.message
    assert "data is lost" not in db.message
    assert "replaced" in by_where["NetworkStack/PrivateSubnet1"].message
    assert "cannot replace" not in by_where["NetworkStack/PrivateSubnet1"].message


@pytest.mark.parametrize("rid,hint", [("BackendLaunchTemplate", "rollout --params PARAMS\n"),
                                       ("MonitoringLaunchTemplate", "rollout --params PARAMS --group monitoring\n")])
def test_a_changed_launch_template_says_running_instances_need_a_rollout(rid, hint):
    change = {"Action": "Modify", "LogicalResourceId": rid, "ResourceType": "AWS::EC2::LaunchTemplate",
              "Replacement": "False", "Scope": ["Properties"],
              "Details": [{"Target": {"Attribute": "Properties", "Name": "LaunchTemplateData",
                                      "RequiresRecreation": "Never"},
                           "Evaluation": "Static", "ChangeSource": "ParameterReference",
                           "CausingEntity": "BackendInstanceType"}]}
    [note] = [c for c in _review(("ComputeStack", change)).callouts if c.level == "warning"]
    assert "keep the old launch template version" in note.message
    assert (note.message + "\n").endswith(hint)


def test_a_taken_bucket_name_is_refused_with_an_account_unique_suggestion():
    cfg = load(PARAMS_DIR / "prod.json")
    s3 = boto3.client("s3", region_name="ap-northeast-2", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", "404", http_status_code=404)
        stub.add_client_error("create_bucket", "BucketAlreadyExists", "The requested bucket name is not available.",
                              http_status_code=409)
        with pytest.raises(bootstrap.BootstrapError) as err:
            bootstrap._bucket(cfg, s3, "123456789012", "ap-northeast-2", bootstrap.Report(dry_run=False))
    assert "is taken by another AWS account" in str(err.value)
    assert "wealist-deploy-123456789012-ap-northeast-2" in str(err.value)
    assert str(cfg.path) in str(err.value)


def test_the_grace_period_outlasts_the_slowest_bounded_boot():
    """The backend's grace period covers a cold boot (docs/operations.md,
    "How long a boot takes": about 240 s, assumptions written there) plus
    the longest the database init may wait, computed from the startup
    script's own bounds: its attempts, its doubling delay capped at 60 s,
    and libpq's PGCONNECT_TIMEOUT per attempt (render.py)."""
    import re
    from pathlib import Path

    from wealist_cfn.stacks import compute

    boot = (Path(compute.__file__).resolve().parent.parent / "boot" / "startup.sh").read_text()
    attempts = int(re.search(r"attempts=\$\{WEALIST_DB_ATTEMPTS:-(\d+)\}", boot).group(1))
    delay = int(re.search(r"delay=\$\{WEALIST_RETRY_DELAY:-(\d+)\}", boot).group(1))
    cap = int(re.search(r"delay \* 2 > (\d+) \?", boot).group(1))
    render = (Path(compute.__file__).resolve().parents[2] / "instance-files" / "config" / "render.py").read_text()
    connect = int(re.search(r'"PGCONNECT_TIMEOUT": "(\d+)"', render).group(1))
    waits = []
    for _ in range(attempts - 1):
        waits.append(delay)
        delay = min(delay * 2, cap)
    db_init_worst = sum(waits) + attempts * connect
    cold_boot = 240
    assert compute.BACKEND_GRACE_SECONDS >= cold_boot + db_init_worst
    built = json.loads(compute.build(DEFAULT_SETTINGS).to_json())["Resources"]["BackendAutoScalingGroup"]
    assert built["Properties"]["HealthCheckGracePeriod"] == compute.BACKEND_GRACE_SECONDS


@pytest.mark.parametrize("old,new,words", [
    ("false", "true", ["standby from a snapshot", "adds a replica", "cuts connections", "nothing is replaced"]),
    ("true", "false", ["drops its standby", "removes the replica", "deleted", "nothing is replaced"]),
])
def test_the_review_of_a_mode_switch_says_what_each_part_does(old, new, words):
    r = review_mod.Review("wealist-prod", "UPDATE")
    r.parameters = [review_mod.ParameterChange("EnableMultiAZ", old, new),
                    review_mod.ParameterChange("CacheFailover", "auto", "off")]
    review_mod.analyse(review_mod.analyse(r) or r)  # twice, as the protection switch does: no duplicates
    [switch] = [n for n in r.notes if n.startswith("mode switch")]
    assert all(w in switch for w in words), switch
    assert any(n.startswith("CacheFailover off") for n in r.notes) and len(r.notes) == 2
