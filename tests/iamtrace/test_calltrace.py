"""The call recorder (wealist_cfn/aws/calltrace.py): one line per call with
what IAM authorises on, never a secret.

Stand-in: botocore's Stubber answers each call (responses shaped like the
API references); the recorder runs on botocore's before-parameter-build
event, before the Stubber sees the request, as it runs before the HTTP
request against AWS."""

from __future__ import annotations

import json

from botocore.stub import Stubber

from wealist_cfn.aws import Aws, calltrace

SECRET = "s3cr3t-V4lue-that-must-never-be-written"


def test_every_call_is_one_line_and_no_secret_reaches_the_file(tmp_path, monkeypatch):
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(calltrace.ENV, str(trace))
    monkeypatch.setenv(calltrace.PRINCIPAL_ENV, "operator")
    monkeypatch.setenv(calltrace.JOB_ENV, "rotate")
    monkeypatch.setattr("sys.argv", ["build.py", "--params", "params/prod.json", "bootstrap"])
    aws = Aws("ap-northeast-2", local_credentials=True)
    ssm, s3, cfn = aws.client("ssm"), aws.client("s3"), aws.client("cloudformation")
    with Stubber(ssm) as a, Stubber(s3) as b, Stubber(cfn) as c:
        a.add_response("put_parameter", {"Version": 2, "Tier": "Standard"})
        ssm.put_parameter(
            Name="/wealist/prod/db/user_db_password",
            Value=SECRET,
            Type="SecureString",
            KeyId="alias/wealist-prod-secrets",
            Overwrite=True,
        )
        b.add_response("put_object", {})
        s3.put_object(Bucket="wealist-deploy-scripts", Key="config/.env", Body=SECRET.encode())
        c.add_response(
            "create_change_set",
            {
                "Id": "arn:aws:cloudformation:ap-northeast-2:123456789012:changeSet/x/1",
                "StackId": "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/s/1",
            },
        )
        cfn.create_change_set(
            StackName="wealist-prod",
            ChangeSetName="deploy-1",
            TemplateBody="{}",
            RoleARN="arn:aws:iam::123456789012:role/wealist-prod-cfn-role",
            Parameters=[{"ParameterKey": "DbPassword", "ParameterValue": SECRET}],
            Tags=[{"Key": "Project", "Value": "wealist"}],
        )
    text = trace.read_text()
    assert SECRET not in text
    put, obj, change = calltrace.read(trace)
    assert (put["service"], put["operation"], put["principal"], put["job"], put["command"]) == (
        "ssm",
        "PutParameter",
        "operator",
        "rotate",
        "bootstrap",
    )
    assert put["params"] == {
        "Name": "/wealist/prod/db/user_db_password",
        "Type": "SecureString",
        "KeyId": "alias/wealist-prod-secrets",
        "Overwrite": True,
    }
    assert "Value" in put["given"]
    assert obj["params"] == {"Bucket": "wealist-deploy-scripts", "Key": "config/.env"} and "Body" in obj["given"]
    assert change["params"]["RoleARN"].endswith("role/wealist-prod-cfn-role")
    assert change["params"]["ParameterKeys"] == ["DbPassword"]
    assert change["params"]["Tags"] == [{"Key": "Project", "Value": "wealist"}]
    assert all(json.loads(line) for line in text.splitlines())


def test_without_the_variable_nothing_is_recorded(tmp_path, monkeypatch):
    monkeypatch.delenv(calltrace.ENV, raising=False)
    aws = Aws("ap-northeast-2", local_credentials=True)
    assert calltrace.attach(aws.session, "ap-northeast-2") is None
