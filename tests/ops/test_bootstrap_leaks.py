"""No value bootstrap knows reaches what it prints: every parameter's value,
the generated secrets and the plain String values alike, including a secret
an operator stored as a plain String (the warning path) and values an
operator set first (the "kept" path).

Stand-in: moto's server with the strict layer (tests/ops/conftest.py).
Parameter Store stores a String's value as given and returns it to anyone
with ssm:GetParameter, without decryption (PutParameter API reference,
Type: "String ... SecureString"); a plain String that holds a secret is
therefore readable by every role that may read parameters, and printing it
would put it in CI logs as well.
"""

from __future__ import annotations

import re
import secrets
import string

import boto3
import pytest

from wealist_cfn import cli
from wealist_cfn.ops.bootstrap import PARAMETERS, SECRET, SYNCED

from .tools import ROOT

pytestmark = pytest.mark.moto

PIECE = 6
PLAIN_SECRET = "redis/auth_token"  # stored by the operator as a String: bootstrap warns about it
OPERATOR_VALUE = "db/user_db_user"  # an operator's own value: bootstrap keeps it


def _values(target) -> dict[str, tuple[str, str]]:
    ssm = boto3.client("ssm", region_name=target.region, endpoint_url=target.endpoint_url)
    out = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/wealist/prod", Recursive=True, WithDecryption=True
    ):
        out.update({p["Name"]: (p["Type"], p["Value"]) for p in page["Parameters"]})
    return out


def leaks(printed: str, values: dict[str, tuple[str, str]]) -> list[str]:
    """Names whose value shows in ``printed``: any 6-character piece of a
    secret (whatever its type), the whole of any other value that is not
    itself part of a parameter name or the project's own public content
    (SYNCED: the ECR repository names, printed in their own right)."""
    secret_names = {f"/wealist/prod/{p.name}" for p in PARAMETERS if p.kind == SECRET}
    public = {f"/wealist/prod/{p.name}" for p in PARAMETERS if p.kind == SYNCED}
    names = " ".join(values)
    found = []
    for name, (_, value) in values.items():
        if name in public:
            continue
        if name in secret_names:
            pieces = {value[i : i + PIECE] for i in range(len(value) - PIECE + 1)}
            if any(p in printed for p in pieces):
                found.append(name)
        elif value in printed and value not in names and value != "unreleased":
            found.append(name)
    return found


def test_nothing_bootstrap_prints_holds_a_value_plain_or_secure(target, monkeypatch, capsys):
    from wealist_cfn.core import rules

    ssm = boto3.client("ssm", region_name=target.region, endpoint_url=target.endpoint_url)
    plain_secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    operator_value = "opsowner_" + secrets.token_hex(4)
    ssm.put_parameter(Name=f"/wealist/prod/{OPERATOR_VALUE}", Value=operator_value, Type="String")
    with monkeypatch.context() as m:
        # AWS accepts a secret as a plain String; only the strict layer's own
        # rule refuses it, lifted while the operator writes it.
        m.setattr(rules, "SECRET_WORDS", re.compile("(?!)"))
        ssm.put_parameter(Name=f"/wealist/prod/{PLAIN_SECRET}", Value=plain_secret, Type="String")
    argv = ["bootstrap", "--params", str(ROOT / "params/prod.json"), "--endpoint-url", target.endpoint_url]

    printed = []
    for extra in ([], ["--dry-run"], ["--rotate", "db/postgres_superuser_password"]):
        assert cli.main(argv + extra) == 0
        o = capsys.readouterr()
        printed.append(o.out + o.err)
    text = "\n".join(printed)

    values = _values(target)
    assert values[f"/wealist/prod/{PLAIN_SECRET}"] == ("String", plain_secret)
    assert values[f"/wealist/prod/{OPERATOR_VALUE}"] == ("String", operator_value)
    assert f"/wealist/prod/{PLAIN_SECRET}" in text and "not a SecureString" in text  # the warning ran
    assert len(values) == len(PARAMETERS)
    assert leaks(text, values) == []


def test_the_leak_check_finds_a_plain_value_and_a_piece_of_a_secret():
    values = {
        "/wealist/prod/redis/auth_token": ("String", "Zq8Lm2Xv9Rt4Wp7Ks3Nd"),
        "/wealist/prod/db/user_db_user": ("String", "opsowner_1a2b3c4d"),
        "/wealist/prod/db/user_db_name": ("String", "wealist_user_db"),
    }
    assert leaks("warning: is a String (value Rt4Wp7K...)", values) == ["/wealist/prod/redis/auth_token"]
    assert leaks("kept opsowner_1a2b3c4d", values) == ["/wealist/prod/db/user_db_user"]
    assert leaks("created /wealist/prod/db/user_db_name String", values) == []
