"""The templates and ``params/prod.json`` work with the plain AWS CLI, as
docs/commands.md's "Package and deploy with the plain AWS CLI" says.

Every test here relies on moto's server (except the one marked "No endpoint")
and runs the real ``aws`` executable (the pinned ``awscli``, v1) as a
subprocess with an isolated environment: fake credentials, no config files,
``--endpoint-url`` on every command and ``AWS_ENDPOINT_URL_S3`` for the
uploads of ``package``, which ignore ``--endpoint-url`` in v1. The commands
run are the ones in that section's fenced block, with only the bucket and the
output path substituted, so the page cannot drift from what is proved.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.deploy import REGION, client
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.settings import TEMPLATES_DIR

pytestmark = pytest.mark.moto

REPO = Path(__file__).resolve().parents[2]
AWS_CLI = Path(sys.executable).with_name("aws")
SECTION = "## Package and deploy with the plain AWS CLI"
# The placeholders in the documented commands.
BUCKET_WORD, PACKAGED_PATH, ACCOUNT_WORD = "MY-ARTIFACT-BUCKET", "/tmp/root.packaged.yaml", "ACCOUNT-ID"
BUCKET = "wealist-cli-artifacts"
MOTO_ACCOUNT = "123456789012"  # moto's default account


def _commands(text: str) -> list[list[str]]:
    """The shell commands of the first fenced block in ``text``, continuation
    lines joined and comments dropped, each split into words."""
    block = re.search(r"```[a-z]*\n(.*?)```", text, re.S)
    assert block, "no fenced block"
    cmds = []
    for line in block.group(1).replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            cmds.append(words)
    return cmds


def _documented_commands() -> dict[str, list[str]]:
    """The documented plain-CLI commands by subcommand (``package``, ``create-change-set``, ...)."""
    section = (REPO / "docs" / "commands.md").read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    cmds = _commands(section)
    assert all(c[:2] == ["aws", "cloudformation"] for c in cmds), cmds
    return {c[2]: c for c in cmds}


def _aws(words: list[str], endpoint: str, tmp_path: Path, out: Path) -> subprocess.CompletedProcess:
    """Run one documented command with the real CLI against ``endpoint``."""
    argv = [str(AWS_CLI)] + [
        w.replace(BUCKET_WORD, BUCKET).replace(PACKAGED_PATH, str(out)).replace(ACCOUNT_WORD, MOTO_ACCOUNT)
        for w in words[1:]
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        # v1's package uploads with its own S3 client, which ignores
        # --endpoint-url; "localhost" makes it write path-style URLs.
        "AWS_ENDPOINT_URL_S3": endpoint,
    }
    return subprocess.run(
        argv + ["--endpoint-url", endpoint], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )


def _package(endpoint: str, tmp_path: Path) -> Path:
    client("s3", endpoint).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    out = tmp_path / "root.packaged.yaml"
    r = _aws(_documented_commands()["package"], endpoint, tmp_path, out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(autouse=True)
def _needs_templates_and_cli():
    assert (TEMPLATES_DIR / "root.yaml").exists(), "templates/ is committed; run `python build.py`"
    assert AWS_CLI.exists(), f"{AWS_CLI} missing: the pinned awscli is part of requirements-dev.txt"


def test_documented_commands_are_the_ones_this_file_runs():
    """No endpoint: the documented block packages the committed root, and creates a
    CREATE change set from the packaged template with params/prod.json as it
    is; docs/deploy.md shows the same commands."""
    cmds = _documented_commands()
    package, create = cmds["package"], cmds["create-change-set"]
    assert package[package.index("--template-file") + 1] == "templates/root.yaml"
    assert package[package.index("--s3-bucket") + 1] == BUCKET_WORD
    assert package[package.index("--output-template-file") + 1] == PACKAGED_PATH
    # Where the service role may read nested templates (the artifact
    # bucket's deploy/<project>-<env>/, templates/github-oidc.yaml).
    assert package[package.index("--s3-prefix") + 1] == "deploy/wealist-prod"
    assert create[create.index("--template-body") + 1] == f"file://{PACKAGED_PATH}"
    # Without a role CloudFormation acts as the caller, whom the secrets key
    # refuses: the ssm-secure references of RDS and Redis would fail.
    assert create[create.index("--role-arn") + 1] == f"arn:aws:iam::{ACCOUNT_WORD}:role/wealist-prod-cfn-role"
    assert create[create.index("--parameters") + 1] == "file://params/prod.json"
    assert create[create.index("--change-set-type") + 1] == "CREATE"
    i = create.index("--capabilities")
    assert create[i + 1 : i + 3] == ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert list(cmds) == ["package", "create-change-set", "describe-change-set", "execute-change-set"]

    doc = (REPO / "docs" / "deploy.md").read_text().split("## The plain AWS CLI path", 1)[1]
    assert _commands(doc) == list(cmds.values())


def test_package_rewrites_every_nested_template_url(moto_endpoint, tmp_path):
    """moto: ``aws cloudformation package`` uploads every child of the
    committed root to the bucket and points each TemplateURL at it."""
    out = _package(moto_endpoint, tmp_path)
    committed = tpl.load((TEMPLATES_DIR / "root.yaml").read_text())
    children = tpl.nested_stacks(committed)
    assert len(children) == 9
    packaged = tpl.load(out.read_text())
    s3 = client("s3", moto_endpoint)
    for lid, props in children.items():
        assert tpl.is_local_url(props["TemplateURL"]), f"{lid}: committed root should name a local file"
        url = packaged["Resources"][lid]["Properties"]["TemplateURL"]
        prefix = f"{moto_endpoint}/{BUCKET}/"
        assert url.startswith(prefix), f"{lid}: {url}"
        body = s3.get_object(Bucket=BUCKET, Key=url[len(prefix) :])["Body"].read().decode()
        # The CLI uploads its own long-form re-serialisation of each child
        # (keys sorted, short-form tags expanded), not the committed bytes:
        # the same template, compared as data.
        assert tpl.load(body) == tpl.load((TEMPLATES_DIR / props["TemplateURL"]).read_text()), lid
    # Nothing but the nested TemplateURLs was changed.
    for lid in children:
        packaged["Resources"][lid]["Properties"].pop("TemplateURL")
        committed["Resources"][lid]["Properties"].pop("TemplateURL")
    assert packaged == committed
    assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 9


def test_create_change_set_accepts_the_params_file_unchanged(moto_endpoint, tmp_path):
    """moto: ``aws cloudformation create-change-set --parameters
    file://params/prod.json`` with the packaged root is accepted, and the
    change set carries every parameter of the file with its value (not
    executed: moto cannot run the nested stacks without the local compat
    patches, and this is about the CLI accepting the files)."""
    out = _package(moto_endpoint, tmp_path)
    cmds = _documented_commands()
    r = _aws(cmds["create-change-set"], moto_endpoint, tmp_path, out)
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert ":changeSet/review-1/" in created["Id"]

    cs = client("cloudformation", moto_endpoint).describe_change_set(StackName="wealist-prod", ChangeSetName="review-1")
    expected = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads((REPO / "params" / "prod.json").read_text())}
    got = {p["ParameterKey"]: p.get("ParameterValue") for p in cs["Parameters"]}
    assert {k: got.get(k) for k in expected} == expected
    assert cs["Status"] == "CREATE_COMPLETE" and cs["ExecutionStatus"] == "AVAILABLE"
    assert {c["ResourceChange"]["LogicalResourceId"] for c in cs["Changes"]} == set(
        tpl.nested_stacks(tpl.load((TEMPLATES_DIR / "root.yaml").read_text()))
    )

    # The page's next command, describe-change-set, reads it back through the CLI too.
    r = _aws(cmds["describe-change-set"], moto_endpoint, tmp_path, out)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ChangeSetId"] == created["Id"]
