"""Packaging: the artifact bucket's region and owner, version-pinned
TemplateURLs, and the plan's own key prefix.

What S3 enforces, and how each test stands in for it:

* HeadBucket answers with the bucket's region in ``x-amz-bucket-region``
  (botocore: HeadBucketOutput.BucketRegion); for a bucket in another region a
  regional endpoint answers 301 with the same header (S3 API reference,
  HeadBucket). Stubber responses shaped so.
* ``ExpectedBucketOwner`` makes S3 answer 403 Access Denied when the bucket
  belongs to another account (S3 User Guide, "Verifying bucket ownership with
  bucket owner condition"). moto ignores the parameter, so the moto test
  records every S3 request the packaging makes and asserts the parameter on
  each (CreateBucket takes none); the Stubber test asserts the exact
  parameters and the refusal of a 403.
* In a versioned bucket PutObject and GetObject return ``VersionId`` and a
  version's bytes never change (S3 User Guide, "Retaining multiple versions of
  objects with S3 Versioning"). moto implements versioning; its CloudFormation
  ignores the URL's query string when it reads a nested template, so what
  CloudFormation reads for ``?versionId=`` is proved here on S3's side only:
  GetObject with that VersionId still returns the checked bytes after the key
  is overwritten.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from helpers.deploy import REGION, run_cli, stubbed_aws
from wealist_cfn import cli as main_cli
from wealist_cfn.aws import Aws
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.cli import deploy as deploy_cli
from wealist_cfn.deploy import flow
from wealist_cfn.deploy import package as package_mod
from wealist_cfn.errors import EXIT_USAGE, CommandError
from wealist_cfn.ops import artifacts

ACCOUNT = "123456789012"


# -- region ------------------------------------------------------------------------------------


@pytest.mark.stubbed
def test_bucket_in_another_region_is_refused_before_any_upload():
    """Stubbed: HeadBucket answers 200 with BucketRegion us-west-2 (what
    botocore returns after following S3's redirect). The bucket is refused in
    one line, exit 2; no object is read or written (the Stubber has nothing
    else queued, so any further call would fail differently)."""
    aws, stubs = stubbed_aws()
    stubs["s3"].add_response(
        "head_bucket", {"BucketRegion": "us-west-2"}, {"Bucket": "team-templates", "ExpectedBucketOwner": ACCOUNT}
    )
    with pytest.raises(CommandError) as exc_info:
        package_mod.ensure_bucket(aws, "team-templates", create=False)
    assert exc_info.value.exit_code == EXIT_USAGE
    assert str(exc_info.value) == (
        "S3 bucket team-templates is in us-west-2, the stack in ap-northeast-2: CloudFormation would be given "
        "URLs for the wrong region; use a bucket in ap-northeast-2 or leave out --bucket"
    )
    stubs["s3"].assert_no_pending_responses()


@pytest.mark.stubbed
def test_bucket_redirect_is_refused_with_its_region():
    """Stubbed: HeadBucket answered 301 with ``x-amz-bucket-region`` (the
    redirect itself, when it is not followed): the same one-line refusal."""
    aws, stubs = stubbed_aws()
    stubs["s3"].add_client_error(
        "head_bucket",
        "301",
        "Moved Permanently",
        301,
        response_meta={"HTTPHeaders": {"x-amz-bucket-region": "eu-central-1"}},
    )
    with pytest.raises(CommandError, match="is in eu-central-1, the stack in ap-northeast-2"):
        package_mod.ensure_bucket(aws, "team-templates", create=False)


@pytest.mark.stubbed
def test_bucket_in_the_stack_region_is_used():
    """Stubbed: BucketRegion equal to the stack's region passes."""
    aws, stubs = stubbed_aws()
    stubs["s3"].add_response("head_bucket", {"BucketRegion": REGION})
    assert package_mod.ensure_bucket(aws, "team-templates", create=False) is False


# -- owner ---------------------------------------------------------------------------------------


@pytest.mark.stubbed
def test_bucket_of_another_account_is_refused():
    """Stubbed: HeadBucket with ExpectedBucketOwner answered 403 (the
    predictable default name taken in another account): refused, exit 2,
    nothing created or uploaded."""
    aws, stubs = stubbed_aws()
    stubs["s3"].add_client_error(
        "head_bucket",
        "403",
        "Forbidden",
        403,
        expected_params={"Bucket": "wealist-cfn-artifacts-123456789012-ap-northeast-2", "ExpectedBucketOwner": ACCOUNT},
    )
    with pytest.raises(CommandError) as exc_info:
        package_mod.ensure_bucket(aws, "wealist-cfn-artifacts-123456789012-ap-northeast-2", create=True)
    assert exc_info.value.exit_code == EXIT_USAGE
    assert "is not account 123456789012's" in str(exc_info.value)
    stubs["s3"].assert_no_pending_responses()


@pytest.mark.stubbed
def test_every_call_to_the_bucket_names_its_owner(real_templates):
    """Stubbed: creating the bucket and packaging: every S3 call but
    CreateBucket carries ExpectedBucketOwner (the Stubber checks the exact
    parameters of each)."""
    aws, stubs = stubbed_aws()
    s3, b, own = stubs["s3"], "bkt", {"ExpectedBucketOwner": ACCOUNT}
    s3.add_client_error("head_bucket", "404", "Not Found", 404, expected_params={"Bucket": b, **own})
    s3.add_response("create_bucket", {}, {"Bucket": b, "CreateBucketConfiguration": {"LocationConstraint": REGION}})
    s3.add_response(
        "put_public_access_block",
        {},
        {
            "Bucket": b,
            "PublicAccessBlockConfiguration": pytest.approx(
                {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                }
            ),
            **own,
        },
    )
    s3.add_response(
        "put_bucket_encryption",
        {},
        {
            "Bucket": b,
            "ServerSideEncryptionConfiguration": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
            },
            **own,
        },
    )
    s3.add_response("put_bucket_versioning", {}, {"Bucket": b, "VersioningConfiguration": {"Status": "Enabled"}, **own})
    # The housekeeping rules (ops/artifacts.py), read first and then put.
    s3.add_client_error(
        "get_bucket_lifecycle_configuration",
        "NoSuchLifecycleConfiguration",
        "none",
        404,
        expected_params={"Bucket": b, **own},
    )
    s3.add_response(
        "put_bucket_lifecycle_configuration",
        {},
        {"Bucket": b, "LifecycleConfiguration": {"Rules": artifacts.lifecycle_rules()}, **own},
    )
    assert package_mod.ensure_bucket(aws, b, create=True) is True
    template_set = tpl.read(real_templates)
    children = [n for n in template_set.texts if n != template_set.root_name]
    for _ in children:
        s3.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
        s3.add_response("put_object", {"ETag": '"e"', "VersionId": "v1"})
    calls: list[dict] = []
    aws.s3.meta.events.register(
        "provide-client-params.s3.*", lambda params, model, **_: calls.append((model.name, dict(params)))
    )
    package_mod.package(aws, template_set, b, prefix="deploy/wealist-prod")
    s3.assert_no_pending_responses()
    assert calls and all(p.get("ExpectedBucketOwner") == ACCOUNT for _, p in calls), calls


# -- version pinning and the plan prefix (moto) ----------------------------------------------------


def _deployment(endpoint, params, templates, area="deploy"):
    opts = flow.Options(
        stack_name="wealist-prod", params=params, endpoint_url=endpoint, templates_dir=templates, artifact_area=area
    )
    return flow.Deployment(opts, aws=Aws(REGION, endpoint_url=endpoint))


def _nested_urls(packaged):
    root = tpl.load(packaged.root_body)
    return {lid: props["TemplateURL"] for lid, props in tpl.nested_stacks(root).items()}


@pytest.mark.moto
def test_template_urls_are_pinned_to_the_checked_version(moto_endpoint, prod_params, real_templates):
    """moto: the default (versioned) bucket; every nested TemplateURL names a
    versionId. After someone overwrites one key with other bytes, GetObject
    with the pinned version still returns the packaged bytes, and the next
    package finds the difference, uploads again and pins the new version.
    Every S3 request carries ExpectedBucketOwner (moto does not check it:
    recorded here)."""
    dep = _deployment(moto_endpoint, prod_params, real_templates)
    calls: list[tuple[str, dict]] = []
    dep.aws.s3.meta.events.register(
        "provide-client-params.s3.*", lambda params, model, **_: calls.append((model.name, dict(params)))
    )
    list(dep.package())
    urls = _nested_urls(dep.packaged)
    assert urls
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    by_key = {o.key: o for o in dep.packaged.objects}
    for url in urls.values():
        parts = urlsplit(url)
        version = parse_qs(parts.query)["versionId"][0]
        key = parts.path.split(f"/{dep.bucket}/", 1)[1]
        assert key.startswith("deploy/wealist-prod/")
        assert by_key[key].version_id == version
    assert {name for name, _ in calls} >= {"HeadBucket", "CreateBucket", "PutObject", "PutBucketVersioning"}
    assert all(p.get("ExpectedBucketOwner") == ACCOUNT for name, p in calls if name != "CreateBucket"), calls

    victim = next(iter(urls.values()))
    key = urlsplit(victim).path.split(f"/{dep.bucket}/", 1)[1]
    pinned = parse_qs(urlsplit(victim).query)["versionId"][0]
    original = s3.get_object(Bucket=dep.bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=dep.bucket, Key=key, Body=b"Resources: {}\n")
    assert s3.get_object(Bucket=dep.bucket, Key=key, VersionId=pinned)["Body"].read() == original

    again = _deployment(moto_endpoint, prod_params, real_templates)
    infos = [i.message for i in again.package()]
    assert any("held other bytes" in m for m in infos)
    new_url = next(u for u in _nested_urls(again.packaged).values() if key in u)
    new_version = parse_qs(urlsplit(new_url).query)["versionId"][0]
    assert new_version != pinned
    assert s3.get_object(Bucket=dep.bucket, Key=key, VersionId=new_version)["Body"].read() == original


@pytest.mark.moto
def test_plan_writes_only_under_its_own_prefix(moto_endpoint, prod_params, real_templates):
    """moto: a plan's packaging puts every object under plan/<Project>-<Env>/
    and the deploy's under deploy/<Project>-<Env>/; the deploy never names a
    plan object in a TemplateURL."""
    plan = _deployment(moto_endpoint, prod_params, real_templates, area="plan")
    list(plan.package())
    deploy = _deployment(moto_endpoint, prod_params, real_templates)
    list(deploy.package())
    assert plan.packaged.objects and all(o.key.startswith("plan/wealist-prod/") for o in plan.packaged.objects)
    assert all(o.key.startswith("deploy/wealist-prod/") for o in deploy.packaged.objects)
    assert deploy.packaged.uploads == len(deploy.packaged.objects)  # nothing reused from the plan's area
    assert not any("/plan/" in u for u in _nested_urls(deploy.packaged).values())


@pytest.mark.moto
def test_plan_refers_to_what_the_deploy_stored_and_writes_only_changed_templates(
    moto_endpoint, prod_params, real_templates
):
    """moto: after a deploy's packaging, a plan of the same templates names
    the deploy's objects at the same versions (so no nested stack shows a
    change for its URL alone) and writes nothing; with one child edited it
    writes that child and its parent, under plan/ only."""
    deploy = _deployment(moto_endpoint, prod_params, real_templates)
    list(deploy.package())
    plan = _deployment(moto_endpoint, prod_params, real_templates, area="plan")
    list(plan.package())
    assert plan.packaged.uploads == 0
    assert _nested_urls(plan.packaged) == _nested_urls(deploy.packaged)

    network = real_templates / "network.yaml"
    network.write_text(network.read_text() + "Metadata:\n  Edited: 'yes'\n")
    edited = _deployment(moto_endpoint, prod_params, real_templates, area="plan")
    list(edited.package())
    written = sorted(o.key.split("/")[2].split(".")[0] for o in edited.packaged.objects if o.uploaded)
    assert written == ["network"]
    assert all(o.key.startswith("plan/") for o in edited.packaged.objects if o.uploaded)
    before, after = _nested_urls(deploy.packaged), _nested_urls(edited.packaged)
    assert {lid for lid in after if after[lid] != before[lid]} == {"NetworkStack"}


def test_plan_command_uses_the_plan_area(prod_params):
    """No AWS call: ``plan`` packages into the plan area, ``deploy`` and
    ``package`` into the deploy area."""
    parser = main_cli._parser()
    area = {
        cmd: deploy_cli._options(parser.parse_args([cmd, "--params", str(prod_params)])).artifact_area
        for cmd in ("plan", "deploy", "package")
    }
    assert area == {"plan": "plan", "deploy": "deploy", "package": "deploy"}


@pytest.mark.moto
def test_package_command_prints_a_pinned_url(moto_endpoint, prod_params):
    """moto: ``package`` prints the root's URL with its versionId."""
    code, out, err = run_cli("package", "--params", prod_params, "--endpoint-url", moto_endpoint)
    assert code == 0, err
    assert "/deploy/wealist-prod/root." in out and "?versionId=" in out


@pytest.mark.moto
def test_cli_refuses_a_bucket_in_another_region(moto_endpoint, prod_params):
    """moto: a bucket made in us-west-2 (moto's HeadBucket reports its region
    in x-amz-bucket-region, as S3 does). ``package --bucket`` against an
    ap-northeast-2 stack is one line, exit 2, and nothing is uploaded."""
    s3 = boto3.client("s3", region_name="us-west-2", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="team-templates", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    code, out, err = run_cli(
        "package", "--params", prod_params, "--bucket", "team-templates", "--endpoint-url", moto_endpoint
    )
    assert code == 2
    assert err.strip() == (
        "error: S3 bucket team-templates is in us-west-2, the stack in ap-northeast-2: "
        "CloudFormation would be given URLs for the wrong region; use a bucket in "
        "ap-northeast-2 or leave out --bucket"
    )
    assert s3.list_objects_v2(Bucket="team-templates").get("KeyCount", 0) == 0


@pytest.mark.moto
def test_unversioned_bucket_is_named_as_unpinned(moto_endpoint, prod_params):
    """moto: a --bucket without versioning returns no VersionId (S3 returns
    none, or "null", for an unversioned object): the URLs carry no versionId
    and the package says they are not pinned, instead of pretending."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="plain-templates", CreateBucketConfiguration={"LocationConstraint": REGION})
    code, out, err = run_cli(
        "package", "--params", prod_params, "--bucket", "plain-templates", "--endpoint-url", moto_endpoint
    )
    assert code == 0, err
    assert "reported no object versions (versioning off?): the TemplateURLs are not pinned" in out
    assert "versionId" not in out.strip().splitlines()[-1]
