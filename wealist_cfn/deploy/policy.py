"""Stack policies that keep CloudFormation itself from replacing or deleting
stateful resources, root and nested stacks alike.

A stack policy covers only the resources of the stack it is set on. On the
root that means the ``AWS::CloudFormation::Stack`` resources (so a child that
holds the database cannot be removed or replaced), and nothing inside the
children. So every nested stack gets its own policy too, set by its stack ID
(SetStackPolicy) after it exists. ExecuteChangeSet takes no
``StackPolicyDuringUpdateBody``; a deploy given ``--allow-replace`` therefore
swaps in an allow-all policy on exactly the stacks whose guarded changes were
approved, executes, and puts the protective policy back once the operation
reaches a final state (``status`` does the same if the watch was
interrupted).
"""

from __future__ import annotations

import json

import botocore.exceptions

from wealist_cfn.cfn.model import NESTED

from ..aws import Aws, error_message
from ..errors import CommandError
from .review import GUARDED_TYPES

PROTECT = {
    "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["Update:Replace", "Update:Delete"],
            "Resource": "*",
            "Condition": {"StringEquals": {"ResourceType": sorted(GUARDED_TYPES)}},
        },
    ]
}
ALLOW_ALL = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}]}


def stack_ids(aws: Aws, root: str) -> dict[str, str]:
    """Path -> stack ID of the root ("") and every nested stack below it."""
    out = {"": root}
    queue = [("", root)]
    while queue:
        path, sid = queue.pop(0)
        for page in aws.cfn.get_paginator("list_stack_resources").paginate(StackName=sid):
            for r in page.get("StackResourceSummaries", []):
                phys = r.get("PhysicalResourceId") or ""
                if (
                    r.get("ResourceType") == NESTED
                    and phys
                    and not r.get("ResourceStatus", "").startswith("DELETE_COMPLETE")
                ):
                    child = f"{path}/{r['LogicalResourceId']}" if path else r["LogicalResourceId"]
                    out[child] = phys
                    queue.append((child, phys))
    return out


def _set(aws: Aws, stack: str, body: dict) -> None:
    try:
        aws.cfn.set_stack_policy(StackName=stack, StackPolicyBody=json.dumps(body))
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"SetStackPolicy on {stack}: {error_message(exc)}") from None


def protect(aws: Aws, root: str) -> list[str]:
    """Set the protective policy on the root and every nested stack; return
    the paths that did not already carry it."""
    changed = []
    want = json.dumps(PROTECT, sort_keys=True)
    for path, sid in stack_ids(aws, root).items():
        try:
            current = aws.cfn.get_stack_policy(StackName=sid).get("StackPolicyBody")
        except botocore.exceptions.ClientError:
            current = None
        if current and json.dumps(json.loads(current), sort_keys=True) == want:
            continue
        _set(aws, sid, PROTECT)
        changed.append(path)
    return changed


def relax(aws: Aws, root: str, paths: set[str]) -> list[str]:
    """Allow every update on the stacks at ``paths`` (for an approved
    replacement); returns the paths relaxed."""
    ids = stack_ids(aws, root)
    done = []
    for path in sorted(paths):
        if path in ids:
            _set(aws, ids[path], ALLOW_ALL)
            done.append(path)
    return done
