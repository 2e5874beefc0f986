"""What IAM authorises for each AWS call the project makes: the action(s),
the resource ARN(s) and the request context, from one recorded call
(wealist_cfn/aws/calltrace.py) and the table in :data:`DATA_FILE`.

The table is data, one entry per ``service:Operation`` (botocore's service
name), each a list of needs: ``action``, ``resource`` (an ARN pattern; none
for an action whose Service Authorization Reference entry lists no resource
type, so ``*``), ``context`` (condition keys the request carries), and when
a need applies: ``if`` / ``unless`` a parameter is given, ``equals`` (a
parameter's value), ``each`` (one need per element of a list parameter),
``secure`` (only for a SecureString parameter), ``tags`` (the parameter whose
tags become ``aws:RequestTag/*`` and ``aws:TagKeys``). ``sources`` names the
page each service's mapping is taken from; a need's own ``source`` names a
page beyond that one (S3's GetObject with ``versionId``, Parameter Store's
use of KMS, CloudFormation's service role).

Some operations need more than one action: GetObject with a VersionId is
s3:GetObjectVersion; CreateChangeSet with a RoleARN also needs iam:PassRole
(to cloudformation.amazonaws.com) and CloudFormation reads its TemplateURL
with the caller's credentials; PutParameter of a SecureString under a
customer key needs kms:Encrypt with Parameter Store's encryption context
(``PARAMETER_ARN``) through ``kms:ViaService ssm.<region>.amazonaws.com``,
and reading one WithDecryption kms:Decrypt likewise.

A call the table does not know is an error (:class:`Unmapped`), never
silently allowed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATA_FILE = Path(__file__).with_name("iamcalls.json")
# A stack's or group's ID is part of its ARN; IAM patterns match any.
SOME_ID = "0a1b2c3d-1111-2222-3333-444455556666"


class Unmapped(LookupError):
    """A recorded call the table has no entry for."""


@dataclass(frozen=True)
class Need:
    """One authorisation a call needs."""

    action: str
    resource: str
    context: dict = field(default_factory=dict, hash=False, compare=False)
    source: str = ""

    def line(self) -> str:
        return f"{self.action} on {self.resource}"


@cache
def table() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def key(call: dict) -> str:
    return f"{call['service']}:{call['operation']}"


def mapped(call: dict) -> bool:
    return key(call) in table()["calls"]


def _parameter_arn(name: str, region: str, account: str) -> str:
    if name.startswith("/aws/service/"):
        return f"arn:aws:ssm:{region}::parameter{name}"
    return f"arn:aws:ssm:{region}:{account}:parameter{name if name.startswith('/') else '/' + name}"


def _template_object(url: str) -> tuple[str, str]:
    """(object ARN, versionId) of an S3 TemplateURL, path- or virtual-host style."""
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path.lstrip("/")
    if ".s3." in host or host.endswith(".s3.amazonaws.com"):
        bucket, key_ = host.split(".s3", 1)[0], path
    else:
        bucket, _, key_ = path.partition("/")
    version = parse_qs(parts.query).get("versionId", [""])[0]
    return f"arn:aws:s3:::{bucket}/{key_}", version


def _stack_arn(params: dict, region: str, account: str, stacks: dict) -> str | None:
    name = params.get("StackName")
    if not name and str(params.get("ChangeSetName", "")).startswith("arn:"):
        # A change set named by its ARN: the stack it belongs to, from its CreateChangeSet.
        name = stacks.get(params["ChangeSetName"].split(":changeSet/", 1)[1].split("/")[0])
    if not name:
        return None
    if name.startswith("arn:"):
        return name
    return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{SOME_ID}"


def _fill(text: str, fields: dict) -> str | None:
    """``text`` with each ``{name}`` replaced; None when a field is missing."""
    missing = []

    def one(m):
        value = fields.get(m[1])
        if value is None or value == "":
            missing.append(m[1])
            return ""
        return str(value)

    out = re.sub(r"\{(\w+)\}", one, text)
    return None if missing else out


def needs(
    call: dict, *, account: str, secure: dict | None = None, keys: dict | None = None, stacks: dict | None = None
) -> list[Need]:
    """The authorisations one recorded call needs.

    ``secure``: SecureString parameter name -> the ARN of the key it is
    encrypted under; ``keys``: a key alias -> its key ARN (KMS authorises on
    the key); ``stacks``: change-set name -> stack name (calls that name a
    change set by its ARN are authorised on its stack)."""
    try:
        entries = table()["calls"][key(call)]
    except KeyError:
        raise Unmapped(
            f"{key(call)}: no entry in {DATA_FILE.name}: add what IAM authorises for it "
            f"(Service Authorization Reference)"
        ) from None
    secure, keys, stacks = secure or {}, keys or {}, stacks or {}
    params, region = call.get("params", {}), call.get("region", "")
    base = {
        **{k: v for k, v in params.items() if isinstance(v, (str, int, bool))},
        "region": region,
        "account": account,
        "uuid": SOME_ID,
        "stack": _stack_arn(params, region, account, stacks),
    }
    if "KeyId" in params:
        base["KeyId"] = keys.get(params["KeyId"], params["KeyId"])
    if "Path" in params:
        base["path"] = _parameter_arn(params["Path"], region, account)
    if params.get("TemplateURL"):
        base["template_object"], base["template_version"] = _template_object(params["TemplateURL"])
    out = []
    for entry in entries:
        if "if" in entry and not (base.get(entry["if"]) or params.get(entry["if"])):
            continue
        if "unless" in entry and (base.get(entry["unless"]) or params.get(entry["unless"])):
            continue
        if any(params.get(k) != v for k, v in entry.get("equals", {}).items()):
            continue
        items = params.get(entry["each"], []) if "each" in entry else [None]
        for item in items:
            fields = dict(base)
            if entry.get("each") == "Names" or (item is None and "Name" in params):
                fields["Name"] = item if item is not None else params["Name"]
                fields["parameter"] = _parameter_arn(fields["Name"], region, account)
                fields["parameter_key"] = secure.get(fields["Name"])
            elif item is not None:
                fields[entry["each"].removesuffix("s")] = item
            if entry.get("secure") and not fields.get("parameter_key"):
                continue
            resource = _fill(entry.get("resource", "*"), fields)
            if resource is None:
                raise Unmapped(
                    f"{key(call)}: {entry['action']} names its resource by "
                    f"{entry['resource']}, which this call does not give"
                )
            # IAM's one endpoint is in us-east-1, the region its requests name
            # (IAM User Guide, "aws:RequestedRegion"); STS's answers in the call's region.
            context = {"aws:RequestedRegion": "us-east-1" if call["service"] == "iam" else region}
            for k, v in entry.get("context", {}).items():
                filled = _fill(v, fields)
                if filled is not None:
                    context[k] = filled
            if entry.get("tags") and params.get(entry["tags"]):
                # Key/Value in most APIs; TagKey/TagValue in KMS's.
                tags = {
                    t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue", "")) for t in params[entry["tags"]]
                }
                context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
                context["aws:TagKeys"] = sorted(tags)
            out.append(Need(entry["action"], resource, context, entry.get("source", call["service"])))
    return out


def source(name: str) -> str:
    """The documentation page a need's source names."""
    return table()["sources"].get(name, "")
